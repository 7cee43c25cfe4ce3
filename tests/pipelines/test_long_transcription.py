"""Long recordings: segments at pauses, overlapping windows stitched without doubled or lost
words, times on the recording's clock, and the output formats parsed back by subtitle
libraries. The acoustic model here is an oracle that knows when each word is said, so that
what is tested is the cutting and stitching, not a tiny model's accuracy."""

import json
import types

import numpy as np
import pytest
import srt
import webvtt

from data_prep.speech.long_audio import SegmentConfig
from data_prep.speech.transcripts import ALPHABET
from pipelines.tasks.asr import long_transcription, transcript_formats
from pipelines.tasks.asr.long_transcription import Transcript, stitch, transcribe_long
from seq2seq.speech.alignment import Word
from seq2seq.speech.lm_decoding import LMDecoder
from tests.data_prep.speech.test_long_audio import RATE, long_recording

FRAME = 0.01  # seconds per output frame: room for a blank between letters


def word_timeline(spans):
    """(word, start, end) for every word of every utterance, spread evenly over its span."""
    timeline = []
    for start, end, text in spans:
        words = [w.strip(".,").lower() for w in text.split()]
        step = (end - start) / len(words)
        for i, word in enumerate(words):
            timeline.append((word, start + i * step + 0.02, start + (i + 1) * step - 0.02))
    return timeline


class Oracle:
    """A recognizer whose posteriors spell, in each segment, the words said inside it: a word
    cut by the segment's edge comes out as a garbled fragment, as a real model would hear it."""

    def __init__(self, timeline, pieces):
        self.timeline, self.pieces = timeline, pieces
        self.frame_seconds = FRAME
        self.config = types.SimpleNamespace(
            features=types.SimpleNamespace(sample_rate=RATE, hop_length=160),
            decode=types.SimpleNamespace(batch_frames=2000, word_end_pad=0.0),  # no spike lag
            data=types.SimpleNamespace(max_frames=600, language="en"),
        )

    def waveform_log_probs(self, waveforms):
        return [self._posteriors(p) for p in self.pieces[-len(waveforms) :]]

    def _posteriors(self, piece):
        frames = int(np.ceil((piece.end - piece.start) / FRAME))
        best = np.zeros(frames, int)  # blank
        for word, start, end in self.timeline:
            if end <= piece.start or start >= piece.end:
                continue
            cut_start = start < piece.start and piece.overlap_before
            cut_end = end > piece.end and piece.overlap_after
            if cut_start or cut_end:
                word = "qq"  # a window's edge cuts it: only part of it is heard
            elif not piece.start <= (start + end) / 2 < piece.end:
                continue  # a pause's cut: the other segment has it
            start, end = max(start, piece.start), min(end, piece.end)
            first, last = (int(round((t - piece.start) / FRAME)) for t in (start, end))
            positions = np.linspace(first, last - 1, len(word)).round().astype(int)
            best[max(first - 1, 0)] = ALPHABET.index(" ") + 1
            best[np.minimum(positions, frames - 1)] = [ALPHABET.index(c) + 1 for c in word]
        probs = np.full((frames, len(ALPHABET) + 1), 0.1 / len(ALPHABET))
        probs[np.arange(frames), best] = 0.9
        return np.log(probs)


@pytest.fixture
def oracle_run(tiny_speech, monkeypatch, tmp_path):
    audio, spans = long_recording(tiny_speech)
    path = tmp_path / "long.wav"
    import soundfile as sf

    sf.write(path, audio, RATE)
    pieces = []
    cut = long_transcription.segments

    def recording(*args, **kwargs):
        for piece in cut(*args, **kwargs):
            pieces.append(piece)
            yield piece

    monkeypatch.setattr(long_transcription, "segments", recording)
    timeline = word_timeline(spans)
    return path, timeline, Oracle(timeline, pieces), pieces


@pytest.mark.parametrize("beam", [False, True])
def test_no_word_is_doubled_or_lost_and_times_are_the_recordings(oracle_run, beam):
    path, timeline, oracle, pieces = oracle_run
    decoder = LMDecoder(None, beam_size=4) if beam else None
    transcript = transcribe_long(
        oracle, str(path), decoder, segmenting=SegmentConfig(max_seconds=6.0)
    )
    assert any(p.overlap_before for p in pieces), "the unpaused stretch must be windowed"
    assert [w.word for w in transcript.words] == [w for w, _, _ in timeline]
    # The last word before a pause lasts until the detector's speech end (`end_at_speech`).
    speech_ends = {
        id(segment["words"][-1]): piece.speech_end
        for segment, piece in zip(transcript.segments, pieces, strict=True)
        if segment["words"] and piece.speech_end is not None
    }
    assert len(speech_ends) >= len(pieces) - 3
    for word, (_, start, end) in zip(transcript.words, timeline, strict=True):
        end = max(end, speech_ends.get(id(word), end))
        assert abs(word.start - start) <= 3 * FRAME and abs(word.end - end) <= 3 * FRAME
        assert word.confidence == pytest.approx(0.9)
    starts = [s["start"] for s in transcript.segments]
    assert starts == sorted(starts) and transcript.duration == pytest.approx(
        len(oracle_run[0].read_bytes()) / 2 / RATE, abs=0.01
    )


def _words(*spec):
    return [Word(w, s, e, 0.9) for w, s, e in spec]


def test_the_word_before_a_pause_ends_where_the_speech_does():
    def ends(speech_end, **kwargs):
        words = _words(("a", 1.0, 1.2), ("b", 1.3, 1.6))
        return [w.end for w in long_transcription.end_at_speech(words, speech_end, **kwargs)]

    assert ends(1.8) == [1.2, 1.8]  # later: moved
    assert ends(1.5) == [1.2, 1.6]  # earlier: never shortened
    assert ends(None) == [1.2, 1.6]  # a window cut: no pause, nothing known
    assert ends(3.0, most=0.5) == [1.2, 2.1]  # at most `most` seconds
    assert long_transcription.end_at_speech([], 2.0) == []


def test_stitch_cuts_in_a_gap_near_the_middle_of_the_overlap():
    # Windows [0, 10] and [9, 19]: "c" (8.9-9.3) is cut by the second window's start.
    first = {
        "start": 0.0,
        "end": 10.0,
        "words": _words(("a", 8.0, 8.5), ("c", 8.9, 9.3), ("d", 9.45, 9.9), ("q", 9.95, 10.0)),
    }
    second = {
        "start": 9.0,
        "end": 19.0,
        "words": _words(("q", 9.0, 9.3), ("d", 9.45, 9.9), ("e", 10.0, 10.4)),
    }
    stitch(first, second, overlap=1.0)
    assert [w.word for w in first["words"] + second["words"]] == ["a", "c", "d", "e"]
    # Gaps of the second window inside [9, 10]: 9.375 (q|d) and 9.95 (d|e); 9.375 is nearer 9.5.
    assert first["end"] == second["start"] == pytest.approx(9.375)
    assert first["text"] + " " + second["text"] == "a c d e"


def _transcript():
    words = [Word(f"word{i}", i * 0.5, i * 0.5 + 0.4, 0.5 + i / 100) for i in range(40)]
    segments = [
        {"start": 0.0, "end": 10.0, "words": words[:20], "text": "", "confidence": 0.6},
        {
            "start": 12.0,
            "end": 20.0,
            "words": words[20:],
            "text": "",
            "confidence": 0.7,
            "n_best": [{"text": "a", "score": -1.0}, {"text": "b", "score": -2.0}],
        },
    ]
    for s in segments:
        s["text"] = " ".join(w.word for w in s["words"])
    return Transcript("x.wav", 20.0, segments, {"decoder": "beam"})


def test_subtitles_parse_back_with_readable_lines():
    transcript = _transcript()
    subtitles = list(srt.parse(transcript_formats.render(transcript, "srt")))
    vtt = webvtt.from_buffer(
        __import__("io").StringIO(transcript_formats.render(transcript, "vtt"))
    )
    assert len(subtitles) == len(vtt.captions) > 2
    said = " ".join(s.content.replace("\n", " ") for s in subtitles)
    assert said == transcript.text
    for sub, caption in zip(subtitles, vtt.captions, strict=True):
        lines = sub.content.split("\n")
        assert len(lines) <= 2 and all(len(line) <= 42 for line in lines)
        assert sub.end > sub.start and (sub.end - sub.start).total_seconds() <= 7.0 + 0.8
        assert caption.text == sub.content
        assert caption.start == srt.timedelta_to_srt_timestamp(sub.start).replace(",", ".")
        assert caption.end == srt.timedelta_to_srt_timestamp(sub.end).replace(",", ".")
    ends = [s.end for s in subtitles]
    assert all(a <= b.start for a, b in zip(ends, subtitles[1:], strict=False))


def test_text_tsv_and_json_formats():
    transcript = _transcript()
    assert transcript_formats.render(transcript, "text") == f"x.wav\t{transcript.text}\n"
    assert transcript_formats.render(transcript, "text", n_best=2) == (
        "x.wav\t12.00\t1\t-1.0\ta\nx.wav\t12.00\t2\t-2.0\tb\n"
    )
    rows = [line.split("\t") for line in transcript_formats.render(transcript, "tsv").split("\n")]
    assert rows[-1] == [""] and len(rows) == 41
    assert rows[1] == ["x.wav", "0.500", "0.900", "0.5100", "word1"]
    data = json.loads(transcript_formats.render(transcript, "json"))
    assert data["text"] == transcript.text and data["settings"] == {"decoder": "beam"}
    assert data["segments"][1]["n_best"][1] == {"text": "b", "score": -2.0}
    assert data["segments"][0]["words"][2] == {
        "word": "word2",
        "start": 1.0,
        "end": 1.4,
        "confidence": 0.52,
    }
    assert data["confidence"] == pytest.approx(np.mean([0.5 + i / 100 for i in range(40)]))
    with pytest.raises(ValueError, match="expected one of"):
        transcript_formats.render(transcript, "docx")
