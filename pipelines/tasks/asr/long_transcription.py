"""Transcription of recordings of any length: segments at pauses, batched decoding, words
with times and confidences, stitched back into one transcript.

`transcribe_long(recognizer, source)` reads the audio in blocks
(`data_prep.speech.long_audio`), cuts it at pauses into segments of at most the model's
`data.max_frames`, decodes groups of segments of about `decode.batch_frames` frames together,
and returns a `Transcript`. Memory is bounded by one group of segments, whatever the length of
the file.

Decoding: greedy is the best path of the log-probabilities (what TensorFlow's greedy decoder
gives); beam search (`beam_size` > 1, with or without the word LM) is pyctcdecode's prefix
beam search, which returns each word's frames and the n best hypotheses. Word times and
confidences: `seq2seq.speech.alignment`.
"""

import dataclasses
import itertools

from data_prep.speech.long_audio import SegmentConfig, open_source, read_blocks, segments
from data_prep.speech.transcripts import ALPHABET, language
from seq2seq.speech.alignment import forced_words, greedy_words, timed_words, utterance_confidence
from seq2seq.speech.lm_decoding import LMDecoder

MAX_END_SHIFT = 0.5  # seconds `end_at_speech` may move a word's end


@dataclasses.dataclass
class Transcript:
    """The result of one recording: `segments` are dicts {start, end, text, confidence, words
    (`Word`s), n_best ([{text, score}], beam search only)}; `settings` the decoding's."""

    source: str
    duration: float
    segments: list
    settings: dict

    @property
    def text(self) -> str:
        return " ".join(s["text"] for s in self.segments if s["text"])

    @property
    def words(self) -> list:
        return [w for s in self.segments for w in s["words"]]

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "duration": round(self.duration, 3),
            "text": self.text,
            "confidence": _round(utterance_confidence(self.words)),
            "settings": self.settings,
            "segments": [
                {
                    **{k: v for k, v in s.items() if k != "words"},
                    "start": round(s["start"], 3),
                    "end": round(s["end"], 3),
                    "confidence": _round(s["confidence"]),
                    "words": [w.as_dict() for w in s["words"]],
                }
                for s in self.segments
            ],
        }


def _round(value):
    return None if value is None else round(value, 4)


def segment_config(config, **overrides) -> SegmentConfig:
    """Segments no longer than the model's training utterances (`data.max_frames` model
    input frames: `front_stride` feature frames each)."""
    features = config.features
    longest = config.data.max_frames * config.front_stride * features.hop_length
    longest /= features.sample_rate
    return SegmentConfig(max_seconds=overrides.pop("max_seconds", None) or longest, **overrides)


def decode_segment(
    log_probs,
    frame_seconds,
    offset,
    beam: LMDecoder | None,
    n_best=1,
    end_pad=0.0,
    alphabet: str = ALPHABET,
):
    """Words (with times from `offset`, ends padded by `end_pad` seconds) and, for beam
    search, the n-best list of one segment's log-probabilities (class i is
    `alphabet[i - 1]`)."""
    if beam is None:
        spans, hypotheses = greedy_words(log_probs, alphabet), None
    else:
        hypotheses = beam.beams(log_probs, n_best)
        spans = forced_words(log_probs, hypotheses[0]["text"], alphabet)
    words = timed_words(log_probs, spans, alphabet, frame_seconds, offset, end_pad)
    return words, None if hypotheses is None else [
        {"text": h["text"], "score": round(h["score"], 3)} for h in hypotheses
    ]


def stitch(previous: dict, current: dict, overlap: float) -> None:
    """Two windows of one pause-free stretch share `overlap` seconds at `current["start"]`:
    keeps each word from one side only. The cut is the gap between two of `current`'s words
    nearest the middle of the overlap (the middle itself when no gap falls inside), and a
    word goes to the side its centre is on. Edits both segments in place."""
    low, high = current["start"], current["start"] + overlap
    middle = (low + high) / 2
    gaps = [
        (a.end + b.start) / 2
        for a, b in itertools.pairwise(current["words"])
        if low <= (a.end + b.start) / 2 <= high
    ]
    cut = min(gaps, key=lambda g: abs(g - middle)) if gaps else middle
    previous["words"] = [w for w in previous["words"] if (w.start + w.end) / 2 < cut]
    current["words"] = [w for w in current["words"] if (w.start + w.end) / 2 >= cut]
    previous["end"], current["start"] = cut, cut
    _summarize(previous)
    _summarize(current)


def _summarize(segment: dict) -> None:
    """Sets a segment's text and confidence from its words."""
    segment["text"] = " ".join(w.word for w in segment["words"])
    segment["confidence"] = utterance_confidence(segment["words"])


def batch_groups(pieces, config):
    """Consecutive groups of segments decoded together: about `decode.batch_frames` feature
    frames of audio each."""
    budget_seconds = config.decode.batch_frames * config.features.hop_length
    budget_seconds /= config.features.sample_rate
    group, seconds = [], 0.0
    for piece in pieces:
        group.append(piece)
        seconds += piece.end - piece.start
        if seconds >= budget_seconds:
            yield group
            group, seconds = [], 0.0
    if group:
        yield group


def transcribe_long(
    recognizer,
    source,
    beam: LMDecoder | None = None,
    n_best: int = 1,
    segmenting: SegmentConfig | None = None,
    progress=None,
    name: str | None = None,
) -> Transcript:
    """Transcribes one recording (a path, "-" for WAV/FLAC bytes on standard input, or a
    binary file object).

    Args:
        recognizer: a `Recognizer` or `ExportedRecognizer` (anything with `config` (its
            `data.language` gives the alphabet), `frame_seconds` and
            `waveform_log_probs(list of waveforms)`).
        beam: pyctcdecode's beam search (with or without a word LM); None: greedy.
        n_best: hypotheses kept per segment (beam search).
        segmenting: how the audio is cut (default: `segment_config(recognizer.config)`).
        progress: a tqdm bar to advance by the seconds of audio decoded.
        name: what errors and the transcript call the recording (default: the path, or
            "stdin").
    """
    config = recognizer.config
    rate = config.features.sample_rate
    segmenting = segmenting or segment_config(config)
    blocks = read_blocks(open_source(source), rate, segmenting.block_seconds, name)
    results, duration = [], 0.0
    counted = _Counter(blocks)
    for group in batch_groups(segments(counted, rate, segmenting), config):
        for piece, decoded in zip(
            group, decode_pieces(recognizer, group, beam, n_best), strict=True
        ):
            add_segment(results, piece, *decoded)
        if progress is not None:
            progress.update(round(counted.seconds(rate) - duration, 2))
            duration = counted.seconds(rate)
    if name is None:
        name = "stdin" if str(source) == "-" else str(source)
    return Transcript(name, counted.seconds(rate), results, settings(config, beam, segmenting))


def decode_pieces(recognizer, pieces, beam: LMDecoder | None = None, n_best: int = 1):
    """[(words, n-best list or None)] of segments (`data_prep.speech.long_audio.Segment`s) decoded
    in one batch of the network."""
    log_probs = recognizer.waveform_log_probs([piece.audio for piece in pieces])
    end_pad = recognizer.config.decode.word_end_pad
    alphabet = language(recognizer.config.data.language).alphabet
    decoded = []
    for piece, scores in zip(pieces, log_probs, strict=True):
        words, hypotheses = decode_segment(
            scores, recognizer.frame_seconds, piece.start, beam, n_best, end_pad, alphabet
        )
        decoded.append((end_at_speech(words, piece.speech_end), hypotheses))
    return decoded


def end_at_speech(words: list, speech_end: float | None, most: float = MAX_END_SHIFT) -> list:
    """Moves the last word's end to `speech_end` (where the voice activity detector heard
    the speech before a pause end) when that is later, by at most `most` seconds. The sound
    of the word before a pause trails its last CTC spike most (a held vowel, a fading nasal:
    `benchmarks.long_audio` found such ends 0.15-0.31 s early), and a subtitle or a word
    search wants the word to last until the voice stops (as stable-ts snaps word edges to
    the detected silence). Edits and returns `words`."""
    if words and speech_end is not None and speech_end > words[-1].end:
        words[-1].end = min(speech_end, words[-1].end + most)
    return words


def add_segment(results: list, piece, words, hypotheses) -> None:
    """Appends a decoded piece to a recording's `results` (segment dicts, in time order),
    stitching it to the window before when the two overlap."""
    segment = {"start": piece.start, "end": piece.end, "words": words}
    if hypotheses is not None:
        segment["n_best"] = hypotheses
    if piece.overlap_before and results:
        stitch(results[-1], segment, piece.overlap_before)  # sets both texts
    else:
        _summarize(segment)
    results.append(segment)


def settings(config, beam: LMDecoder | None, segmenting: SegmentConfig) -> dict:
    """The decoding settings a transcript reports."""
    lm = beam is not None and beam.lm_path is not None
    return {
        "decoder": "greedy" if beam is None else "beam",
        "beam_size": 1 if beam is None else beam.beam_size,
        "lm": str(beam.lm_path) if lm else None,
        "alpha": beam.alpha if lm else None,
        "beta": beam.beta if lm else None,
        "max_segment_seconds": segmenting.max_seconds,
        "min_pause_seconds": segmenting.min_pause,
        "vad": f"webrtcvad mode {segmenting.aggressiveness}",
        "word_end_pad_seconds": config.decode.word_end_pad,
    }


class _Counter:
    """Passes blocks through, counting their samples (the recording's duration)."""

    def __init__(self, blocks):
        self.blocks, self.samples = blocks, 0

    def __iter__(self):
        for block in self.blocks:
            self.samples += len(block)
            yield block

    def seconds(self, rate: int) -> float:
        return self.samples / rate
