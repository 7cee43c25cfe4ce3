"""Rooms, telephone channels and vocal tracts for speech augmentation (`data_prep.speech.augment`):
shoebox room impulse responses (pyroomacoustics), a telephone band with a codec round trip
through sox or ffmpeg pipes, and a vocal-tract length perturbation (a warp of the spectral
envelope). All work on float32 mono audio and keep its length.
"""

import functools
import hashlib
import json
import subprocess

import librosa
import numpy as np
import scipy.signal

MAX_IMAGE_ORDER = 40  # image-source order cap: cost grows with its cube (see rir_bank)
TELEPHONE_BAND_HZ = (300.0, 3400.0)
VTLP_BOUNDARY = 0.6  # of the Nyquist frequency: 4.8 kHz at 16 kHz, as in Jaitly & Hinton (2013)
VTLP_MAX_GAIN_DB = 40.0  # bounds the envelope ratio where an envelope is nearly silent

# -R: sox seeds its random numbers the same in every run (its default does not); -D: no dither
# (random noise): the same input always gives the same output.
SOX = ["sox", "-V1", "-R", "-D"]
_PCM8K = ["-t", "raw", "-e", "signed", "-b", "16", "-r", "8000", "-c", "1", "-"]
_FFMPEG_PCM8K = ["-f", "s16le", "-ar", "8000", "-ac", "1"]


def _sox_codec(*coded):
    stream = [*coded, "-r", "8000", "-c", "1", "-"]
    return [*SOX, *_PCM8K, *stream], [*SOX, *stream, *_PCM8K]


def _ffmpeg_codec(encode, decode=()):
    return (
        ["ffmpeg", "-v", "error", *_FFMPEG_PCM8K, "-i", "pipe:0", *encode, "pipe:1"],
        ["ffmpeg", "-v", "error", *decode, "-i", "pipe:0", *_FFMPEG_PCM8K, "pipe:1"],
    )


# name: (encoder, decoder) commands; both read stdin and write stdout, PCM is 8 kHz 16-bit.
CODECS = {
    "mulaw": _sox_codec("-t", "raw", "-e", "u-law", "-b", "8"),
    "alaw": _sox_codec("-t", "raw", "-e", "a-law", "-b", "8"),
    "gsm": _sox_codec("-t", "gsm"),
    "amr-nb": _sox_codec("-t", "amr-nb"),
    "opus": _ffmpeg_codec(["-c:a", "libopus", "-b:a", "12k", "-f", "ogg"]),
    "speex": _ffmpeg_codec(["-c:a", "libspeex", "-f", "ogg"]),
    "g726": _ffmpeg_codec(
        ["-c:a", "g726", "-b:a", "32k", "-f", "g726"], ["-f", "g726", "-code_size", "4"]
    ),
}


class AugmentError(RuntimeError):
    """A transform's external tool (sox, ffmpeg) is missing or failed; the message says which."""


def fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """Trims or zero-pads the end to `length` samples."""
    return np.pad(audio[:length], (0, max(0, length - len(audio))))


def run_tool(command, data: bytes, what: str) -> bytes:
    """Runs `command` with `data` on stdin; returns its stdout (AugmentError if it fails)."""
    try:
        done = subprocess.run(command, input=data, capture_output=True, check=False)
    except FileNotFoundError:
        raise AugmentError(
            f"{what} needs {command[0]!r}, which is not installed "
            "(Debian: apt install sox libsox-fmt-all ffmpeg)"
        ) from None
    if done.returncode:
        error = done.stderr.decode(errors="replace").strip()[-400:]
        raise AugmentError(f"{what}: `{' '.join(command)}` failed: {error}")
    return done.stdout


def sox_effect(audio: np.ndarray, sample_rate: int, *effect: str) -> np.ndarray:
    """float32 mono `audio` through a sox effect, e.g. `sox_effect(a, 16000, "pitch", "150")`."""
    raw = ["-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1"]
    command = [*SOX, *raw, "-r", str(sample_rate), "-", *raw, "-", *effect]
    out = run_tool(command, audio.astype("<f4").tobytes(), f"sox {effect[0]}")
    return np.frombuffer(out, "<f4").astype(np.float32)


@functools.lru_cache(maxsize=4)
def rir_bank(rt60, room_m, size: int, sample_rate: int) -> tuple:
    """`size` room impulse responses, each ((samples,) float32 starting at the direct path,
    {"rt60", "room", "distance"}), of shoebox rooms with floor sides in `room_m` metres, a
    height of 2.4-4 m, a reverberation time drawn from `rt60` (Sabine) and a talker and a
    microphone at random places at least 0.5 m from the walls.

    The bank is seeded from its arguments, so every worker process (and every rerun) computes
    the same one, once: an image-source RIR costs 0.05-2 s, too much per utterance. The image
    order is capped at `MAX_IMAGE_ORDER` (16 RIRs of the default ranges: about 1 s in all), which
    ends the response of a long RT60 in a small room early, after a decay of 35-50 dB (0.7 s in
    a 3 m room). pyroomacoustics' ray-traced tail is cheap, but not reproducible."""
    import pyroomacoustics as pra  # imported here: it takes a second or two

    seed = hashlib.sha1(json.dumps([rt60, room_m, size, sample_rate]).encode()).hexdigest()
    rng = np.random.default_rng(int(seed[:12], 16))
    bank = []
    while len(bank) < size:
        room = [*rng.uniform(*room_m, size=2), rng.uniform(2.4, 4.0)]
        target = float(rng.uniform(*rt60))
        try:
            absorption, order = pra.inverse_sabine(target, room)
        except ValueError:  # no absorption gives this RT60 in this room: draw another room
            continue
        talker = [rng.uniform(0.5, side - 0.5) for side in room[:2]] + [rng.uniform(1.2, 1.9)]
        microphone = [rng.uniform(0.5, side - 0.5) for side in room[:2]] + [rng.uniform(0.7, 1.5)]
        shoebox = pra.ShoeBox(
            room,
            fs=sample_rate,
            materials=pra.Material(absorption),
            max_order=min(order, MAX_IMAGE_ORDER),
        )
        shoebox.add_source(talker)
        shoebox.add_microphone(microphone)
        shoebox.compute_rir()
        rir = np.asarray(shoebox.rir[0][0], np.float32)
        info = {
            "rt60": round(target, 3),
            "room": [round(float(side), 2) for side in room],
            "distance": round(float(np.linalg.norm(np.subtract(talker, microphone))), 2),
        }
        bank.append((rir[int(np.argmax(np.abs(rir))) :], info))
    return tuple(bank)


def reverberate(audio: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """`audio` convolved with `rir` (which starts at the direct path, so nothing is delayed),
    cut to the input length (the tail after the last sample is dropped), at the input's RMS."""
    wet = scipy.signal.fftconvolve(audio, rir)[: len(audio)]
    level = np.sqrt(np.mean(np.square(wet, dtype=np.float64)))
    if level == 0:
        return audio
    return (wet * np.sqrt(np.mean(np.square(audio, dtype=np.float64))) / level).astype(np.float32)


def telephone(audio: np.ndarray, sample_rate: int, codec: str) -> np.ndarray:
    """A telephone channel: the 300-3400 Hz band, 8 kHz, a round trip through `codec` (one of
    `CODECS`, through stdin/stdout pipes of sox or ffmpeg) and back to `sample_rate`. The
    output has the input's length: codec padding is trimmed (or the end zero-padded)."""
    band = scipy.signal.butter(4, TELEPHONE_BAND_HZ, "bandpass", fs=sample_rate, output="sos")
    narrow = librosa.resample(
        scipy.signal.sosfilt(band, audio).astype(np.float32),
        orig_sr=sample_rate,
        target_sr=8000,
    )
    scale = max(float(np.max(np.abs(narrow), initial=0)) / 0.9, 1e-9)  # 16-bit without clipping
    pcm = np.round(narrow / scale * 32767).astype("<i2").tobytes()
    encoder, decoder = CODECS[codec]
    coded = run_tool(encoder, pcm, f"telephone codec {codec!r}")
    decoded = np.frombuffer(run_tool(decoder, coded, f"telephone codec {codec!r}"), "<i2")
    back = decoded.astype(np.float32) * (scale / 32767)
    back = librosa.resample(back, orig_sr=8000, target_sr=sample_rate)
    return fit_length(back, len(audio)).astype(np.float32)


def vtlp_warp(frequencies: np.ndarray, alpha: float, nyquist: float) -> np.ndarray:
    """Where VTLP sends each frequency: `alpha * f` up to a boundary (`VTLP_BOUNDARY` of the
    Nyquist frequency, times min(alpha, 1)), then the straight line that ends at the Nyquist
    frequency, so the band stays full and nothing folds (Jaitly & Hinton 2013; Kaldi's VTLN)."""
    corner = VTLP_BOUNDARY * nyquist * min(alpha, 1.0) / alpha
    slope = (nyquist - alpha * corner) / (nyquist - corner)
    return np.where(
        frequencies <= corner, alpha * frequencies, nyquist - slope * (nyquist - frequencies)
    )


def lpc_log_envelope(power: np.ndarray, order: int) -> np.ndarray:
    """Log spectral envelopes, up to a constant per frame, of (bins, frames) power spectra: the
    all-pole model of `order` (Levinson-Durbin on each frame's autocorrelation, all frames at
    once), with a noise floor 40 dB down so that every frame, silent ones too, is well posed."""
    n_fft = 2 * (len(power) - 1)
    autocorrelation = np.fft.irfft(power, n=n_fft, axis=0)[: order + 1]
    autocorrelation[0] = autocorrelation[0] * (1 + 1e-4) + 1e-12
    predictor = np.zeros_like(autocorrelation)
    predictor[0], error = 1.0, autocorrelation[0].copy()
    for i in range(1, order + 1):
        reflection = -(predictor[:i] * autocorrelation[i:0:-1]).sum(axis=0) / error
        predictor[: i + 1] = predictor[: i + 1] + reflection * predictor[: i + 1][::-1]
        error *= 1 - reflection**2
    return -np.log(np.abs(np.fft.rfft(predictor, n=n_fft, axis=0)) + 1e-12)


def vocal_tract_warp(
    audio: np.ndarray, sample_rate: int, alpha: float, n_fft: int = 512
) -> np.ndarray:
    """Vocal-tract length perturbation of a waveform: the spectral envelope of each STFT frame
    is warped along frequency by `vtlp_warp` (alpha > 1: formants move up, a shorter tract)
    while the harmonics, and so the pitch, the phases and the timing, stay.

    The envelope is each frame's all-pole (LPC) model of order 2 + kHz (`lpc_log_envelope`),
    the formants' usual order; each frame is multiplied by the ratio of its warped envelope to
    its own (bounded to +-`VTLP_MAX_GAIN_DB`), the inverse STFT restores `len(audio)` samples,
    and the output has the input's RMS. alpha = 1 is an STFT round trip (near identity)."""
    hop = n_fft // 4
    spectrum = librosa.stft(audio, n_fft=n_fft, hop_length=hop)  # (bins, frames) complex
    envelope = lpc_log_envelope(np.abs(spectrum) ** 2, 2 + sample_rate // 1000)
    bins = np.arange(len(envelope))
    # The output envelope at bin b is the input's at the frequency that the warp sends to b.
    source = np.interp(bins, vtlp_warp(bins, alpha, bins[-1]), bins)
    low = np.minimum(np.floor(source).astype(int), bins[-1] - 1)
    fraction = (source - low)[:, None]
    warped = envelope[low] * (1 - fraction) + envelope[low + 1] * fraction
    limit = VTLP_MAX_GAIN_DB / 20 * np.log(10)
    spectrum *= np.exp(np.clip(warped - envelope, -limit, limit))
    out = librosa.istft(spectrum, hop_length=hop, n_fft=n_fft, length=len(audio))
    level = np.sqrt(np.mean(np.square(out, dtype=np.float64)))
    if level == 0:
        return audio
    return (out * np.sqrt(np.mean(np.square(audio, dtype=np.float64))) / level).astype(np.float32)
