"""Reading audio in blocks and cutting it at pauses (data_prep.speech.long_audio), on
espeak-ng speech concatenated with pauses of known length."""

import io
import json

import librosa
import numpy as np
import pytest
import soundfile as sf

from data_prep.speech.audio import AudioError
from data_prep.speech.long_audio import (
    SegmentConfig,
    open_source,
    read_blocks,
    segments,
    write_wav_bytes,
)

RATE = 16000


def long_recording(tiny_speech, pause=0.8, unpaused=(3, 6)):
    """The tiny corpus's dev and test utterances, trimmed of their own silence, joined by
    `pause` seconds of silence, except utterances unpaused[0]..unpaused[1] (exclusive), joined
    with none. Returns (audio, [(start, end, text)] of each utterance)."""
    entries = [
        json.loads(line)
        for split in ("dev", "test")
        for line in open(tiny_speech / f"{split}.jsonl", encoding="utf-8")
    ]
    pieces, spans, position = [], [], 0
    for i, entry in enumerate(entries):
        audio, _ = librosa.load(tiny_speech / entry["audio_filepath"], sr=RATE)
        audio, _ = librosa.effects.trim(audio, top_db=40)
        gap = 0 if unpaused[0] < i < unpaused[1] else int(pause * RATE)
        pieces += [np.zeros(gap, np.float32), audio]
        position += gap
        spans.append((position / RATE, (position + len(audio)) / RATE, entry["text"]))
        position += len(audio)
    pieces.append(np.zeros(int(pause * RATE), np.float32))
    return np.concatenate(pieces).astype(np.float32), spans


def test_segments_hold_each_utterance_and_stay_short(tiny_speech):
    audio, spans = long_recording(tiny_speech)
    config = SegmentConfig(max_seconds=6.0)
    blocks = [audio[i : i + 16000] for i in range(0, len(audio), 16000)]
    pieces = list(segments(blocks, RATE, config))
    assert all(p.end - p.start <= 6.0 + 1e-6 for p in pieces)
    for p in pieces:  # the audio is the recording's, at the segment's place
        start = round(p.start * RATE)
        np.testing.assert_array_equal(p.audio, audio[start : start + len(p.audio)])
    # Every utterance lies inside one segment, or (the unpaused stretch) inside a run of
    # windows that overlap by what they say.
    for start, end, _ in spans:
        inside = [p for p in pieces if p.start < end and p.end > start]
        assert inside, (start, end)
        assert inside[0].start <= start + 0.03 and inside[-1].end >= end - 0.03
        for a, b in zip(inside, inside[1:], strict=False):
            assert a.overlap_after == b.overlap_before == pytest.approx(1.0)
            assert b.start == pytest.approx(a.end - 1.0, abs=0.031)
    # The pauses of 0.8 s cut: utterances with pauses around them are their own segments.
    assert len(pieces) >= len(spans) - 3
    assert any(p.overlap_after for p in pieces), "the 3-utterance stretch needs windows"
    # A segment that ends at a pause knows where its speech ended: near the end of its last
    # utterance (trimmed at 40 dB below its peak; the detector's 30 ms frames also hear the
    # fainter tail), within the 0.15 s asked of word times; a window cut does not.
    for p in pieces:
        if p.overlap_after:
            assert p.speech_end is None
        else:
            last_end = max(end for start, end, _ in spans if p.start < end <= p.end)
            assert last_end - 0.03 <= p.speech_end <= min(last_end + 0.15, p.end)


def test_a_short_recording_is_one_segment_and_silence_none(tiny_speech):
    audio, _ = long_recording(tiny_speech)
    short = audio[: 4 * RATE]
    (piece,) = segments([short], RATE, SegmentConfig(max_seconds=6.0))
    assert piece.start == 0 and len(piece.audio) == len(short)
    speech = np.flatnonzero(np.abs(short) > 1e-3)  # the silence between utterances is zeros
    assert speech[-1] / RATE - 0.03 <= piece.speech_end <= speech[-1] / RATE + 0.15
    assert list(segments([np.zeros(30 * RATE, np.float32)], RATE, SegmentConfig())) == []
    assert list(segments([np.zeros(3 * RATE, np.float32)], RATE, SegmentConfig())) == []
    assert list(segments([], RATE, SegmentConfig())) == []


def test_blocks_are_mono_at_the_model_rate(tmp_path):
    seconds = 25.0
    t = np.arange(int(seconds * 44100)) / 44100
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)], 1) * 0.3
    sf.write(tmp_path / "a.flac", stereo.astype(np.float32), 44100)
    blocks = list(read_blocks(str(tmp_path / "a.flac"), RATE, block_seconds=10.0))
    assert len(blocks) == 3 and all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)
    assert abs(sum(len(b) for b in blocks) - seconds * RATE) <= 2
    joined = np.concatenate(blocks)
    whole = librosa.resample(stereo.mean(1), orig_sr=44100, target_sr=RATE)
    np.testing.assert_allclose(joined[1000:-1000], whole[1000:-1000], atol=2e-3)


def test_bad_streams_get_clear_errors(tmp_path, monkeypatch):
    audio = np.random.default_rng(0).uniform(-0.5, 0.5, 2 * RATE).astype(np.float32)
    wav = write_wav_bytes(audio, RATE)
    with pytest.raises(AudioError, match="stdin: truncated"):
        list(read_blocks(io.BytesIO(wav[: len(wav) // 2]), RATE))
    (tmp_path / "cut.wav").write_bytes(wav[: len(wav) // 2])
    with pytest.raises(AudioError, match="cut.wav: truncated"):
        list(read_blocks(str(tmp_path / "cut.wav"), RATE))
    flac = io.BytesIO()
    sf.write(flac, audio, RATE, format="FLAC")
    with pytest.raises(AudioError, match="ends early or is corrupt"):
        list(read_blocks(io.BytesIO(flac.getvalue()[:3000]), RATE))
    with pytest.raises(AudioError, match="empty audio"):
        list(read_blocks(io.BytesIO(write_wav_bytes(np.zeros(0, np.float32), RATE)), RATE))
    with pytest.raises(AudioError, match="cannot read audio"):
        list(read_blocks(io.BytesIO(b"not audio at all" * 10), RATE))
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"")))
    with pytest.raises(AudioError, match="no audio"):
        open_source("-")
    # A stream of unknown length (size 0xFFFFFFFF, as a pipe writer leaves it) is read whole.
    unknown = bytearray(wav)
    data = unknown.index(b"data")
    unknown[data + 4 : data + 8] = (0xFFFFFFFF).to_bytes(4, "little")
    assert sum(len(b) for b in read_blocks(io.BytesIO(bytes(unknown)), RATE)) == 2 * RATE
