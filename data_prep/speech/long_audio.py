"""Audio of any length, read in blocks and cut at pauses into segments a model can take.

Why webrtcvad (the `webrtcvad-wheels` build of Google's WebRTC voice activity detector, the
one DeepSpeech's VAD transcriber uses): it classifies 30 ms frames as speech or not with a
model of speech, so a steady noise floor (a fan, a phone line) stays "no speech" where an
energy threshold (librosa's `effects.split`) would need its level set per recording, and it
runs frame by frame, so a file is never held whole. Its frames must be 16-bit mono at 8, 16,
32 or 48 kHz; audio at another model rate is resampled for the detector only.

Memory stays bounded: `read_blocks` reads a few seconds at a time (resampled with soxr's
streaming resampler), and `segments` keeps at most one segment's audio plus its padding.

A stretch of speech longer than `max_seconds` with no pause in it is cut into windows that
overlap by `overlap_seconds`; the recognizer decodes both sides of a cut and keeps each word
from one side only (`pipelines.tasks.asr.long_transcription.stitch`).
"""

import dataclasses
import io
import itertools
import os
import shutil
import sys
import tempfile

import numpy as np
import soundfile as sf
import soxr

from data_prep.speech.audio import AudioError
from data_prep.validation import validate

VAD_RATES = (8000, 16000, 32000, 48000)


@dataclasses.dataclass(frozen=True)
class SegmentConfig:
    """How long audio is cut.

    Args:
        max_seconds: longest segment (the model's `max_frames` of features, in seconds).
        min_pause: seconds of non-speech that end a segment.
        padding: seconds of audio kept before and after each stretch of speech.
        overlap_seconds: overlap of the windows a pause-free stretch is cut into.
        aggressiveness: webrtcvad's mode, 0 (keeps most audio as speech) to 3.
        frame_ms: the detector's frame, 10, 20 or 30 ms.
        block_seconds: audio read at a time.
    """

    max_seconds: float = 20.0
    min_pause: float = 0.3
    padding: float = 0.2
    overlap_seconds: float = 1.0
    aggressiveness: int = 2
    frame_ms: int = 30
    block_seconds: float = 10.0

    def __post_init__(self):
        overlap = 2 * self.overlap_seconds + self.padding
        validate(
            self,
            "segment",
            [
                ("frame_ms", self.frame_ms in (10, 20, 30), "10, 20 or 30 (webrtcvad's frames)"),
                ("aggressiveness", self.aggressiveness in range(4), "0 to 3"),
                ("overlap_seconds", overlap >= 0, "0 or more"),
                (
                    "max_seconds",
                    overlap < self.max_seconds,
                    f"more than twice overlap_seconds plus padding ({overlap:g})",
                ),
            ],
        )


@dataclasses.dataclass
class Segment:
    """A piece of a recording: mono audio from `start` seconds; `overlap_before` and
    `overlap_after` are the seconds it shares with its neighbours (0 at a pause);
    `speech_end` the end of the last frame the detector called speech, in seconds of the
    recording, where the piece ends at a pause (None where it ends at a window cut)."""

    start: float
    audio: np.ndarray
    sample_rate: int
    overlap_before: float = 0.0
    overlap_after: float = 0.0
    speech_end: float | None = None

    @property
    def end(self) -> float:
        return self.start + len(self.audio) / self.sample_rate


def open_source(source, spool_bytes: int = 16 << 20):
    """A readable, seekable file for `source`: a path, a binary file object (as it is), or
    "-" for standard input (spooled to a temporary file past `spool_bytes`, since libsndfile
    needs to seek)."""
    if hasattr(source, "read"):  # a file object already
        return source
    if str(source) != "-":
        return str(source)
    spool = tempfile.SpooledTemporaryFile(max_size=spool_bytes)
    shutil.copyfileobj(sys.stdin.buffer, spool)
    if spool.tell() == 0:
        raise AudioError("stdin: no audio (an empty stream)")
    spool.seek(0)
    return spool


def read_blocks(source, sample_rate: int, block_seconds: float = 10.0, name: str | None = None):
    """Yields float32 mono blocks at `sample_rate` from an audio file or file object (any
    rate and channels libsndfile reads). Raises AudioError naming the recording (`name`, else
    the path, or "stdin" for a file object) when it cannot be read, is empty, or ends before
    its header says (a truncated file)."""
    name = name or ("stdin" if not isinstance(source, str) else source)
    _check_wav_length(source, name)
    try:
        handle = sf.SoundFile(source)
    except Exception as err:  # libsndfile raises several types for corrupt files
        raise AudioError(f"{name}: cannot read audio ({err})") from None
    with handle:
        declared, rate = handle.frames, handle.samplerate
        resampler = None if rate == sample_rate else soxr.ResampleStream(rate, sample_rate, 1)
        read = 0
        block = max(int(block_seconds * rate), 1)
        while True:
            try:
                audio = handle.read(block, dtype="float32", always_2d=True)
            except Exception as err:
                raise AudioError(f"{name}: audio ends early or is corrupt ({err})") from None
            last = len(audio) < block
            read += len(audio)
            audio = audio.mean(axis=1)
            if not np.all(np.isfinite(audio)):
                raise AudioError(f"{name}: audio holds NaN or infinite samples")
            if resampler is not None:
                audio = resampler.resample_chunk(audio, last=last)
            if len(audio):
                yield audio.astype(np.float32)
            if last:
                break
    if read == 0:
        raise AudioError(f"{name}: empty audio")
    if read < declared:
        raise AudioError(f"{name}: truncated: {read / rate:.2f} of {declared / rate:.2f} s read")


def _check_wav_length(source, name: str) -> None:
    """A WAV file whose data chunk is shorter than its header says is truncated (libsndfile
    reads what is there without a word). Streams that do not know their length (a size of 0
    or 0xFFFFFFFF, as a pipe writer leaves it) pass."""
    if isinstance(source, str):
        with open(source, "rb") as f:
            header, size = f.read(1 << 16), os.fstat(f.fileno()).st_size
    else:
        header = source.read(1 << 16)
        size = source.seek(0, io.SEEK_END)
        source.seek(0)
    if header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        return
    position = 12
    while position + 8 <= len(header):
        chunk, length = (
            header[position : position + 4],
            int.from_bytes(header[position + 4 : position + 8], "little"),
        )
        if chunk == b"data":
            available = size - position - 8
            if 0 < length < 0xFFFFFFFF and available < length:
                raise AudioError(
                    f"{name}: truncated: the WAV header declares {length} bytes of audio, "
                    f"the file holds {available}"
                )
            return
        position += 8 + length + (length & 1)


class _Detector:
    """webrtcvad on frames of `frame_ms` at the model rate (resampled to 16 kHz for the
    detector where that rate is not one it takes)."""

    def __init__(self, sample_rate: int, config: SegmentConfig):
        import webrtcvad

        self.vad = webrtcvad.Vad(config.aggressiveness)
        self.rate = sample_rate if sample_rate in VAD_RATES else 16000
        self.resample = self.rate != sample_rate
        self.sample_rate = sample_rate

    def __call__(self, frame: np.ndarray) -> bool:
        if self.resample:
            frame = soxr.resample(frame, self.sample_rate, self.rate)
        pcm = (np.clip(frame, -1.0, 1.0) * 32767).astype("<i2")
        expected = self.rate * len(frame) // self.sample_rate if self.resample else len(frame)
        pcm = np.resize(pcm, expected) if len(pcm) != expected else pcm
        return self.vad.is_speech(pcm.tobytes(), self.rate)


def segments(blocks, sample_rate: int, config: SegmentConfig = SegmentConfig()):
    """Cuts a stream of audio blocks into `Segment`s of speech: a segment ends at a pause of
    `min_pause`, keeps `padding` of audio on each side, and is at most `max_seconds` long
    (longer speech is cut into overlapping windows). A recording no longer than
    `max_seconds` is one segment, whole, as the model met its training utterances; pure
    silence (no frame of speech) gives no segment."""
    blocks = iter(blocks)
    head, total = [], 0
    for block in blocks:
        head.append(block)
        total += len(block)
        if total > config.max_seconds * sample_rate:
            break
    else:  # the whole recording fits one segment
        audio = np.concatenate(head) if head else np.zeros(0, np.float32)
        speech_end = _speech_end(audio, sample_rate, config)
        if speech_end is not None:
            yield Segment(0.0, audio, sample_rate, speech_end=speech_end)
        return
    yield from _split(itertools.chain(head, blocks), sample_rate, config)


def _speech_end(audio, sample_rate: int, config: SegmentConfig) -> float | None:
    """Seconds at the end of the last frame of speech in `audio` (None: no speech). The
    frames are judged in order, as `_split` does: the detector adapts to what it has heard."""
    frame = sample_rate * config.frame_ms // 1000
    is_speech = _Detector(sample_rate, config)
    ends = [
        i + frame
        for i in range(0, len(audio) - frame + 1, frame)
        if is_speech(audio[i : i + frame])
    ]
    return ends[-1] / sample_rate if ends else None


def _split(blocks, sample_rate: int, config: SegmentConfig):
    frame = sample_rate * config.frame_ms // 1000
    is_speech = _Detector(sample_rate, config)
    pause_frames = max(int(round(config.min_pause * 1000 / config.frame_ms)), 1)
    pad = int(config.padding * sample_rate)
    longest = int(config.max_seconds * sample_rate)
    overlap = int(config.overlap_seconds * sample_rate)

    buffer, buffer_start = np.zeros(0, np.float32), 0  # audio from sample `buffer_start` on
    speech_start = None  # first sample of the current segment's speech
    voiced_end = 0  # end of the last speech frame
    silent = 0  # non-speech frames since then
    carried = 0.0  # overlap of the current window with the previous one
    position = 0  # samples classified so far

    def piece(start, end, before, after):
        audio = buffer[start - buffer_start : end - buffer_start]
        speech_end = None if after else voiced_end / sample_rate
        return Segment(start / sample_rate, audio.copy(), sample_rate, before, after, speech_end)

    pending = np.zeros(0, np.float32)
    for block in _with_end(blocks):
        if block is not None:
            pending = np.concatenate([pending, block])
            buffer = np.concatenate([buffer, block])
        else:  # end of stream: the last partial frame is judged as it is
            if len(pending):
                pending = np.pad(pending, (0, frame - len(pending)))
        while len(pending) >= frame:
            voiced = is_speech(pending[:frame])
            pending = pending[frame:]
            frame_end = min(position + frame, buffer_start + len(buffer))
            if voiced:
                if speech_start is None:
                    speech_start, carried = max(position - pad, buffer_start, 0), 0.0
                voiced_end, silent = frame_end, 0
            elif speech_start is not None:
                silent += 1
            position += frame
            if speech_start is not None and silent >= pause_frames:
                end = min(voiced_end + pad, buffer_start + len(buffer))
                yield piece(speech_start, end, carried, 0.0)
                speech_start = None
            elif speech_start is not None and frame_end - speech_start >= longest - pad:
                end = frame_end  # a window, with room for no trailing padding
                yield piece(speech_start, end, carried, overlap / sample_rate)
                speech_start, carried = end - overlap, overlap / sample_rate
            # Keep only what a segment may still need.
            keep_from = speech_start if speech_start is not None else max(position - pad, 0)
            if keep_from - buffer_start > 4 * frame:
                buffer = buffer[keep_from - buffer_start :]
                buffer_start = keep_from
    if speech_start is not None:
        end = min(voiced_end + pad, buffer_start + len(buffer))
        if end > speech_start:
            yield piece(speech_start, end, carried, 0.0)


def _with_end(blocks):
    yield from blocks
    yield None


def write_wav_bytes(audio: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> bytes:
    """WAV bytes of `audio` (for tests and for feeding `-` in a pipeline)."""
    out = io.BytesIO()
    sf.write(out, audio, sample_rate, format="WAV", subtype=subtype)
    return out.getvalue()
