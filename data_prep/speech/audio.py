"""Audio loading and librosa features (log-mel or MFCC).

Any sample rate, mono or multichannel, in any format libsndfile reads (WAV, FLAC, OGG, ...) is
mixed down to mono and resampled to the model's rate. Unreadable, corrupt or empty files raise
`AudioError` naming the path, so callers can skip them with a count.

Mel filters are librosa's defaults (Slaney scale and area normalization); the exported model's
`tf.signal` front end must match these, and a parity test checks it. The `whisper` kind is
Whisper's own log-mel (what its pretrained encoder was trained on, `whisper/audio.py`): the
same Slaney filters over a 400-point STFT with reflect padding, the last frame dropped, then
log10, a floor 8 below the utterance's maximum, and (x + 4) / 4. It is computed on the
unpadded utterance (Whisper pads every input to 30 s; the encoders here run on true lengths).
"""

import dataclasses
import hashlib
import json

import librosa
import numpy as np
import soundfile as sf

from data_prep.validation import validate

FEATURE_KINDS = ("logmel", "mfcc", "whisper")
# What Whisper's encoders were trained on; `kind: whisper` must use exactly these.
WHISPER_FEATURES = {
    "sample_rate": 16000,
    "win_length": 400,
    "hop_length": 160,
    "n_fft": 400,
    "n_mels": 80,
    "fmin": 0.0,
    "fmax": 8000.0,
    "normalization": "none",
}
NORMALIZATIONS = ("utterance", "global", "none")


class AudioError(ValueError):
    """An audio file that cannot be used; the message names the file."""


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """What the feature extractor computes; its hash names the feature cache.

    Args:
        kind: `"logmel"` (log of mel power), `"mfcc"` (DCT of the log-mel) or `"whisper"`
            (Whisper's log-mel, for a pretrained Whisper encoder: the other keys then take
            `WHISPER_FEATURES`' values).
        sample_rate: audio is resampled to this rate.
        win_length: analysis window in samples (400 = 25 ms at 16 kHz), Hann, zero-padded to
            `n_fft`.
        hop_length: frame shift in samples (160 = 10 ms at 16 kHz).
        n_fft: FFT size.
        n_mels: mel bands (the feature size for `logmel`).
        n_mfcc: coefficients (the feature size for `mfcc`).
        fmin, fmax: mel filter range in Hz (`fmax` None = Nyquist).
        normalization: `"utterance"` (mean/variance per utterance and band), `"global"`
            (training-set statistics, applied in the input pipeline) or `"none"`.
    """

    kind: str = "logmel"
    sample_rate: int = 16000
    win_length: int = 400
    hop_length: int = 160
    n_fft: int = 512
    n_mels: int = 80
    n_mfcc: int = 13
    fmin: float = 20.0
    fmax: float | None = None
    normalization: str = "utterance"

    def __post_init__(self):
        rules = []
        if self.kind == "whisper":
            # Keys left at their defaults take Whisper's values; any other value is an error.
            defaults = {f.name: f.default for f in dataclasses.fields(self)}
            for key, value in WHISPER_FEATURES.items():
                if getattr(self, key) == defaults[key]:
                    object.__setattr__(self, key, value)
                expected = f"Whisper's own value {value!r} under features.kind whisper"
                rules.append((key, getattr(self, key) == value, expected + " (leave it out)"))
        rules += [
            ("kind", self.kind in FEATURE_KINDS, f"one of {FEATURE_KINDS}"),
            ("normalization", self.normalization in NORMALIZATIONS, f"one of {NORMALIZATIONS}"),
            ("win_length", self.win_length <= self.n_fft, f"at most n_fft ({self.n_fft})"),
        ]
        validate(self, "features", rules)

    @classmethod
    def whisper(cls) -> "FeatureConfig":
        """The front end of Whisper's pretrained encoders."""
        return cls(kind="whisper", **WHISPER_FEATURES)

    @property
    def feature_size(self) -> int:
        return self.n_mfcc if self.kind == "mfcc" else self.n_mels

    def digest(self) -> str:
        """A short hash of everything that changes the features."""
        text = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:12]


def load_audio(path, sample_rate: int) -> np.ndarray:
    """Reads an audio file as float32 mono at `sample_rate`; raises AudioError if unusable."""
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:  # libsndfile raises several types for corrupt files
        raise AudioError(f"{path}: cannot read audio ({err})") from None
    if audio.size == 0:
        raise AudioError(f"{path}: empty audio")
    audio = audio.mean(axis=1)  # (samples, channels) -> mono
    if not np.all(np.isfinite(audio)):
        raise AudioError(f"{path}: audio holds NaN or infinite samples")
    if rate != sample_rate:
        audio = librosa.resample(audio, orig_sr=rate, target_sr=sample_rate)
    return audio.astype(np.float32)


def load_audio_files(paths, sample_rate: int):
    """Reads many files; returns (audios, readable paths, [(path, error)] for the others)."""
    audios, done, errors = [], [], []
    for path in paths:
        try:
            audios.append(load_audio(path, sample_rate))
            done.append(str(path))
        except AudioError as err:
            errors.append((str(path), str(err)))
    return audios, done, errors


def pad_batch(arrays: list[np.ndarray]):
    """Arrays of different lengths (waveforms, or feature frames) -> (float32 batch right-
    padded with zeros along the first axis, int32 lengths)."""
    lengths = np.array([len(a) for a in arrays], np.int32)
    batch = np.zeros(
        (len(arrays), max(lengths.max(initial=0), 1), *arrays[0].shape[1:]), np.float32
    )
    for row, array in enumerate(arrays):
        batch[row, : len(array)] = array
    return batch, lengths


def whisper_log_mel(audio: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """Whisper's log-mel (frames, n_mels) of mono audio: `1 + len // hop` centered frames with
    reflect padding, less the last one (as `whisper.audio.log_mel_spectrogram` does)."""
    minimum = config.n_fft  # shorter input is zero-padded to one window
    if len(audio) < minimum:
        audio = np.pad(audio, (0, minimum - len(audio)))
    stft = librosa.stft(
        audio, n_fft=config.n_fft, hop_length=config.hop_length, window="hann", pad_mode="reflect"
    )
    power = np.abs(stft[:, :-1]) ** 2  # (n_fft // 2 + 1, frames)
    mel = librosa.filters.mel(sr=config.sample_rate, n_fft=config.n_fft, n_mels=config.n_mels)
    log_spec = np.log10(np.maximum(mel @ power, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).T.astype(np.float32)


def compute_features(audio: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """Mono audio at `config.sample_rate` -> float32 features (frames, feature_size)."""
    if config.kind == "whisper":
        return whisper_log_mel(audio, config)
    mel = librosa.feature.melspectrogram(
        y=audio,
        sr=config.sample_rate,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        win_length=config.win_length,
        window="hann",
        center=True,
        power=2.0,
        n_mels=config.n_mels,
        fmin=config.fmin,
        fmax=config.fmax,
    )
    features = np.log(mel + 1e-6)  # (n_mels, frames)
    if config.kind == "mfcc":
        features = librosa.feature.mfcc(S=features, n_mfcc=config.n_mfcc)
    features = features.T.astype(np.float32)  # (frames, feature_size)
    if config.normalization == "utterance":
        features = (features - features.mean(0)) / (features.std(0) + 1e-5)
    return features


def num_frames(num_samples: int, config: FeatureConfig) -> int:
    """Frames `compute_features` returns for `num_samples` samples (centered frames)."""
    if config.kind == "whisper":
        return max(num_samples, config.n_fft) // config.hop_length
    return 1 + num_samples // config.hop_length


def perturb(audio: np.ndarray, rng: np.random.Generator, sample_rate: int, speed=None, snr_db=None):
    """Speed perturbation (resampling, as Kaldi does: tempo and pitch change together) and
    white noise at a random signal-to-noise ratio, each drawn from a (low, high) range."""
    if speed:
        factor = rng.uniform(*speed)
        rate = int(round(sample_rate * factor))  # played back at sample_rate: factor x faster
        audio = librosa.resample(audio, orig_sr=rate, target_sr=sample_rate)
    if snr_db:
        snr = rng.uniform(*snr_db)
        power = float(np.mean(audio**2)) or 1e-10
        noise = rng.standard_normal(len(audio)).astype(np.float32)
        audio = audio + noise * np.sqrt(power / 10 ** (snr / 10))
    return audio.astype(np.float32)
