"""Acoustic augmentation of 16 kHz mono float32 speech: speed, tempo, pitch, vocal-tract length,
room reverberation, additive noise (ambience recordings or coloured noise), a telephone channel
and gain.

`augment(audio, rng, sample_rate, config)` applies the chain of a `WaveAugmentation` config in
the order a signal meets them: the talker (speed, tempo, pitch, vocal tract), the room
(reverberation), the background (noise), the channel (telephone band and codec), the recording
level (gain). Each transform happens with its probability and draws its parameters from its
(low, high) range with the given `np.random.Generator`, so the same seed gives the same output;
the returned dict records what was applied (`count_applied` sums it over a cache's utterances).

Where it runs, and why: on the *source audio of cached copies*, once, in the feature cache's
worker processes (`data_prep.speech.feature_cache`, `augment.perturbed_copies` copies per training
utterance, each with its own fixed draw), not on the fly in the tf.data pipeline. A codec round
trip is two subprocesses (8-40 ms of CPU with sox, 160-230 ms with ffmpeg's start-up), a room
impulse response costs 0.05-2 s (hence a bank computed once per process), and the librosa
features must then be recomputed (about 17 ms for 4 s of audio): the voices.yaml chain costs
about 60 ms of CPU per copy of a 4 s utterance, features included. On the fly (a Python step
in tf.data) that is 12 CPU-minutes per epoch of 12,000 utterances, taken from training on 2
cores every epoch, while a cache built once is read at memory speed. Each
cached copy has a fresh draw (its own room, noise, SNR, codec, ...), which gives the variety;
SpecAugment (feature masks, cheap) stays on the fly. Transforms that keep the length (pitch,
vtlp, reverb, noise, telephone, gain) return exactly `len(audio)` samples (see each for what
is cut or padded); speed and tempo change the length by 1/factor.
"""

import dataclasses
import functools
import hashlib
import logging
import math
import os
from collections import Counter
from pathlib import Path

import librosa
import numpy as np
import scipy.fft
import soundfile as sf

from data_prep.speech.audio import AudioError, load_audio
from data_prep.speech.channels import (
    CODECS,
    AugmentError,
    fit_length,
    reverberate,
    rir_bank,
    sox_effect,
    telephone,
    vocal_tract_warp,
)
from data_prep.validation import validate

logger = logging.getLogger(__name__)

NOISE_TYPES = ("ambience", "white", "pink", "brown")
COLOURS = ("white", "pink", "brown")
# Debian's megaglest-data (CC-BY-SA-3.0): forest, rain, wind, desert, night ambiences.
DEFAULT_NOISE_DIR = "/usr/share/games/megaglest/tilesets"
AUDIO_SUFFIXES = (".wav", ".ogg", ".flac")
MIN_AMBIENCE_SECONDS = 3.0  # shorter files are one-shot effects (a wolf, a rooster)
PEAK_LIMIT = 0.99  # gain never drives a sample beyond this
# in the order applied
_TRANSFORMS = ("speed", "tempo", "pitch", "vtlp", "reverb", "noise", "telephone", "gain")


@dataclasses.dataclass(frozen=True)
class WaveAugmentation:
    """The waveform augmentation chain: a probability and a (low, high) range per transform.

    The field names are the `augment.*` keys of the ASR config. A probability of 0 disables a
    transform, as does a null `speed` or `noise_snr_db`. The defaults reproduce the earlier
    `Perturbation` (speed always, white noise always); everything else is off.

    Args:
        speed, speed_prob: resampling factor (tempo and pitch change together; 1.1 = faster).
        tempo, tempo_prob: tempo factor with the pitch kept (sox `tempo -s`, WSOLA).
        pitch_semitones, pitch_prob: pitch shift with the tempo kept (sox `pitch`); the
            formants stay.
        vtlp_alpha, vtlp_prob: vocal-tract length perturbation, a warp of the spectral
            envelope's frequency axis by alpha (> 1: formants up, a shorter tract) with the
            pitch and tempo kept (`channels.vocal_tract_warp`; Jaitly & Hinton 2013).
        reverb_rt60, reverb_room_m, reverb_bank, reverb_prob: reverberation time in seconds,
            floor side lengths in metres, and how many shoebox-room impulse responses the bank
            holds (computed once per process; see `rir_bank`).
        noise_snr_db, noise_prob, noise_types, noise_dir: signal-to-noise ratio in dB, and the
            kinds of noise drawn uniformly (`ambience`: a random segment, looped if short, of
            a recording of at least 3 s under `noise_dir`; `white`, `pink`, `brown`:
            generated). Without usable recordings, ambience falls back to coloured noise.
        telephone_codecs, telephone_prob: 300-3400 Hz band, 8 kHz, and a codec round trip
            drawn from these (`CODECS`).
        gain_db, gain_prob: level change in dB, reduced where it would clip.
    """

    speed: tuple[float, float] | None = (0.9, 1.1)
    speed_prob: float = 1.0
    tempo: tuple[float, float] = (0.9, 1.1)
    tempo_prob: float = 0.0
    pitch_semitones: tuple[float, float] = (-2.0, 2.0)
    pitch_prob: float = 0.0
    vtlp_alpha: tuple[float, float] = (0.9, 1.1)
    vtlp_prob: float = 0.0
    reverb_rt60: tuple[float, float] = (0.2, 0.7)
    reverb_room_m: tuple[float, float] = (3.0, 10.0)
    reverb_bank: int = 64
    reverb_prob: float = 0.0
    noise_snr_db: tuple[float, float] | None = (10.0, 30.0)
    noise_prob: float = 1.0
    noise_types: tuple[str, ...] = ("white",)
    noise_dir: str | None = DEFAULT_NOISE_DIR
    telephone_codecs: tuple[str, ...] = tuple(CODECS)
    telephone_prob: float = 0.0
    gain_db: tuple[float, float] = (-6.0, 6.0)
    gain_prob: float = 0.0

    def __post_init__(self):
        for field in dataclasses.fields(WaveAugmentation):  # YAML lists -> hashable tuples
            value = getattr(self, field.name)
            if isinstance(value, list):
                object.__setattr__(self, field.name, tuple(value))
        rules = [(f"{name}_prob", "a probability in [0, 1]") for name in _TRANSFORMS]
        rules = [(key, 0 <= getattr(self, key) <= 1, expected) for key, expected in rules]
        bounded = (("speed", 0), ("tempo", 0), ("vtlp_alpha", 0), ("reverb_rt60", 0))
        for key, low in (*bounded, ("reverb_room_m", 2)):
            rules.append((key, _range(self, key, low), f"[low, high] with {low} < low <= high"))
        for key in ("pitch_semitones", "noise_snr_db", "gain_db"):
            rules.append((key, _range(self, key), "[low, high] with low <= high"))
        for key, names in (("noise_types", NOISE_TYPES), ("telephone_codecs", tuple(CODECS))):
            value = getattr(self, key)
            rules.append((key, value and set(value) <= set(names), f"a non-empty list of {names}"))
        rules.append(("reverb_bank", self.reverb_bank >= 1, "1 or more"))
        validate(self, "augment", rules)

    @property
    def legacy(self) -> bool:
        """Whether the chain does only what `audio.perturb` does (speed, then white noise, each
        always): the feature cache then keeps `perturb`, so earlier caches stay valid."""
        others = [getattr(self, f"{name}_prob") for name in _TRANSFORMS[1:] if name != "noise"]
        return (
            self.speed_prob == 1 and self.noise_prob == 1 and self.noise_types == ("white",)
        ) and not any(others)


def _range(config, key, low=None):
    value = getattr(config, key)
    if value is None:
        return key in ("speed", "noise_snr_db")
    if not isinstance(value, tuple) or len(value) != 2:
        return False
    return value[0] <= value[1] and (low is None or value[0] > low)


def _happens(rng, probability, value_range=True) -> bool:
    """Draws nothing for probabilities 0 and 1, so other transforms' draws do not shift."""
    if value_range is None or probability <= 0:
        return False
    return probability >= 1 or rng.random() < probability


def _choose(rng, options):
    """One of `options`, uniformly; no draw for a single option."""
    return options[int(rng.integers(len(options)))] if len(options) > 1 else options[0]


def augment(audio: np.ndarray, rng: np.random.Generator, sample_rate: int, config):
    """Applies the chain of `config` (a `WaveAugmentation`) to float32 mono `audio`; returns
    (float32 audio, {transform: what was drawn}), e.g. `{"speed": 1.04, "noise": {"type":
    "pink", "snr_db": 12.5}}`. `sample_rate` is the rate of the input and of the output."""
    applied = {}
    audio = np.asarray(audio, np.float32)
    if not len(audio):
        return audio, applied
    if _happens(rng, config.speed_prob, config.speed):
        applied["speed"] = round(float(rng.uniform(*config.speed)), 4)
        rate = int(round(sample_rate * applied["speed"]))  # played at sample_rate: faster
        audio = librosa.resample(audio, orig_sr=rate, target_sr=sample_rate)
    if _happens(rng, config.tempo_prob):
        applied["tempo"] = round(float(rng.uniform(*config.tempo)), 4)
        audio = sox_effect(audio, sample_rate, "tempo", "-s", str(applied["tempo"]))
    if _happens(rng, config.pitch_prob):
        applied["pitch_semitones"] = round(float(rng.uniform(*config.pitch_semitones)), 3)
        cents = str(round(100 * applied["pitch_semitones"], 1))
        audio = fit_length(sox_effect(audio, sample_rate, "pitch", cents), len(audio))
    if _happens(rng, config.vtlp_prob):
        applied["vtlp_alpha"] = round(float(rng.uniform(*config.vtlp_alpha)), 4)
        audio = vocal_tract_warp(audio, sample_rate, applied["vtlp_alpha"])
    if _happens(rng, config.reverb_prob):
        bank = rir_bank(config.reverb_rt60, config.reverb_room_m, config.reverb_bank, sample_rate)
        index = int(rng.integers(len(bank)))
        audio = reverberate(audio, bank[index][0])
        applied["reverb"] = {"rir": index, **bank[index][1]}
    if _happens(rng, config.noise_prob, config.noise_snr_db):
        noise, source = _draw_noise(len(audio), rng, sample_rate, config)
        snr = float(rng.uniform(*config.noise_snr_db))
        audio = add_noise(audio, noise, snr)
        applied["noise"] = {**source, "snr_db": round(snr, 2)}
    if _happens(rng, config.telephone_prob):
        applied["telephone"] = _choose(rng, config.telephone_codecs)
        audio = telephone(audio, sample_rate, applied["telephone"])
    if _happens(rng, config.gain_prob):
        audio, applied["gain_db"] = apply_gain(audio, float(rng.uniform(*config.gain_db)))
    return audio.astype(np.float32), applied


def count_applied(utterances) -> dict:
    """{transform: count, "noise:pink": count, "telephone:gsm": count, ...} over the `augment`
    records of cached utterances (the clean originals hold none)."""
    counts = Counter()
    for utterance in utterances:
        for name, value in utterance.get("augment", {}).items():
            counts[name] += 1
            detail = value.get("type") if isinstance(value, dict) else value
            if isinstance(detail, str):
                counts[f"{name}:{detail}"] += 1
    return dict(sorted(counts.items()))


def add_noise(audio: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """`audio` plus `noise` scaled so that their power ratio is exactly `snr_db` (silent
    audio or noise is returned unchanged)."""
    signal = float(np.mean(np.square(audio, dtype=np.float64)))
    power = float(np.mean(np.square(noise, dtype=np.float64)))
    if signal == 0 or power == 0:
        return audio
    return (audio + noise * math.sqrt(signal / (power * 10 ** (snr_db / 10)))).astype(np.float32)


def coloured_noise(length: int, colour: str, rng: np.random.Generator) -> np.ndarray:
    """White, pink (power ~ 1/f) or brown (1/f^2) Gaussian noise, shaped in the spectrum."""
    if colour == "white" or length < 2:
        return rng.standard_normal(length).astype(np.float32)
    size = scipy.fft.next_fast_len(length, real=True)  # an awkward length is slow
    frequencies = np.fft.rfftfreq(size)
    frequencies[0] = frequencies[1]  # no infinite DC gain
    exponent = 0.5 if colour == "pink" else 1.0  # of the amplitude: power ~ 1/f or 1/f^2
    shaped = np.fft.rfft(rng.standard_normal(size)) / frequencies**exponent
    return np.fft.irfft(shaped, size)[:length].astype(np.float32)


@functools.lru_cache(maxsize=8)
def ambience_files(folder: str) -> tuple[str, ...]:
    """Audio files of at least `MIN_AMBIENCE_SECONDS` under `folder` (recursively), one per
    distinct content (the megaglest tilesets share recordings), sorted: the draw by index is
    the same on every machine with the same files."""
    unique = {}
    for path in sorted(Path(folder).rglob("*")):
        if path.suffix.lower() not in AUDIO_SUFFIXES or not path.is_file():
            continue
        try:
            if sf.info(str(path)).duration < MIN_AMBIENCE_SECONDS:
                continue
        except Exception as err:  # libsndfile raises several types
            logger.warning("ambience: skipping unreadable %s (%s)", path, err)
            continue
        unique.setdefault(hashlib.sha1(path.read_bytes()).hexdigest(), str(path))
    return tuple(sorted(unique.values()))


@functools.lru_cache(maxsize=64)
def _load_ambience(path: str, sample_rate: int) -> np.ndarray:
    return load_audio(path, sample_rate)


@functools.lru_cache(maxsize=8)
def _warn_no_ambience(folder) -> None:  # cached: once per folder and process
    logger.warning(
        "no ambience recordings of %ss or more under %s (Debian: apt install megaglest-data); "
        "using generated coloured noise instead",
        MIN_AMBIENCE_SECONDS,
        folder,
    )


def _draw_noise(length, rng, sample_rate, config):
    """(noise of `length` samples, {"type": ...[, "file": ambience file under noise_dir]})."""
    kind = _choose(rng, config.noise_types)
    if kind == "ambience":
        files = ambience_files(config.noise_dir) if config.noise_dir else ()
        if files:
            path = files[int(rng.integers(len(files)))]
            try:
                recording = _load_ambience(path, sample_rate)
            except AudioError as err:
                raise AugmentError(f"ambience noise: {err}") from None
            start = int(rng.integers(len(recording)))
            noise = np.take(recording, np.arange(start, start + length), mode="wrap")
            if np.any(noise):  # else a silent stretch: coloured noise instead
                return noise, {"type": "ambience", "file": os.path.relpath(path, config.noise_dir)}
        else:
            _warn_no_ambience(config.noise_dir)
        kind = _choose(rng, COLOURS)
    return coloured_noise(length, kind, rng), {"type": kind}


def apply_gain(audio: np.ndarray, gain_db: float):
    """(audio scaled by `gain_db`, the gain applied in dB): less than asked where the peak
    would exceed `PEAK_LIMIT` (a signal already beyond it is not boosted at all)."""
    peak = float(np.max(np.abs(audio), initial=0))
    factor = 10 ** (gain_db / 20)
    if peak * factor > PEAK_LIMIT:
        factor = max(min(factor, 1.0), PEAK_LIMIT / peak)
    return (audio * factor).astype(np.float32), round(20 * math.log10(factor), 3)
