"""The packaged recordings that `data_prep.corpora.real_speech` converts: one reader per source,
each returning `Recording`s (file, exact text, speaker, licence); see `real_speech` for the
sources and what is taken from each."""

import glob
import hashlib
import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

SAMPLE_RATE = 16000
APT_PACKAGES = {
    "klettres": ("klettres-data", "klettres/en"),
    "ktuberling": ("ktuberling-data", "ktuberling/sounds/en.soundtheme"),
    "tuxpaint": ("tuxpaint-stamps-default", "tuxpaint/stamps"),
    "alsa": ("alsa-utils", "sounds/alsa"),
}
LICENCES = {
    "pocketsphinx": "BSD-2-Clause (pocketsphinx source distribution, CMU)",
    "librivox": "public domain (LibriVox recording, in the BSD-2-Clause pocketsphinx sdist)",
    "klettres": "GPL-2+ (Debian klettres-data)",
    "ktuberling": "GPL-2+ (Debian ktuberling-data)",
    "tuxpaint": "GPL-2 (Debian tuxpaint-stamps-default)",
    "alsa": "GPL-2 (Debian alsa-utils)",
}
POCKETSPHINX_SDIST = "pocketsphinx==5.1.1"
# Headerless 16 kHz int16 recordings of the sdist: (path under test/data, text, speaker).
POCKETSPHINX_RAW = (
    ("goforward.raw", "go forward ten meters", "goforward"),
    ("tidigits/dhd.2934z.raw", "two nine three four zero", "dhd"),
)
PHONICS = {"AW", "CH", "TH"}  # klettres syllables that are sounds, not words
KTUBERLING_TEXT = {
    "palmtree": "palm tree",
    "fallingstar": "falling star",
    "sphynx": "sphinx",
    "brocolli": "broccoli",
    "ufo": "UFO",
}
_TRANSCRIPTION = re.compile(r"^<s>\s*(.*?)\s*</s>\s*\((\S+)\)\s*$")
_ENGLISH = re.compile(r"(.+)_(en(?:_[A-Z]{2})?)")  # NAME_en_GB.ogg
_LOCALE = re.compile(r"[a-z]{2}(?:_[A-Za-z]{2,})?")  # a translated sound, not _desc_xx
_LETTER = re.compile(r"^The letter (\w)\.?$")


@dataclass(frozen=True)
class Recording:
    """One packaged recording: its file, text and origin. `name` is the WAV file name (no
    suffix) under `wavs/<source>/`; `raw_rate` is set for headerless int16 files."""

    source: str
    path: Path
    text: str
    speaker: str
    name: str
    licence: str = ""
    raw_rate: int | None = None

    def __post_init__(self):
        if not self.licence:
            object.__setattr__(self, "licence", LICENCES[self.source])


def _transcriptions(path: Path):
    """(utterance id, text) from a sphinx `<s> text </s> (id)` file."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            match = _TRANSCRIPTION.match(line.strip())
            if not match:
                raise ValueError(f"{path}:{number}: expected '<s> text </s> (id)'")
            yield match.group(2), match.group(1)


def pocketsphinx_recordings(root, skipped: Counter) -> list[Recording]:
    """Recordings under an extracted pocketsphinx sdist (the folder holding `test/data`)."""
    data, out = Path(root) / "test" / "data", []
    for folder, table in (("librivox", "transcription"), ("cards", "cards.transcription")):
        licence = LICENCES["librivox"] if folder == "librivox" else ""
        for utt, text in _transcriptions(data / folder / table):
            wav, speaker = data / folder / f"{utt}.wav", f"pocketsphinx-{folder}"
            out.append(Recording("pocketsphinx", wav, text, speaker, f"{folder}_{utt}", licence))
    for path, text, speaker in POCKETSPHINX_RAW:
        name = re.sub(r"[^\w-]", "_", path.removesuffix(".raw"))
        speaker = f"pocketsphinx-{speaker}"
        out.append(Recording("pocketsphinx", data / path, text, speaker, name, "", SAMPLE_RATE))
    return out


def klettres_recordings(share, skipped: Counter) -> list[Recording]:
    root, out = Path(share) / "klettres", []
    for xml in sorted(root.glob("en*/sounds.xml")):
        voice = xml.parent.name
        for sound in ET.parse(xml).iter("sound"):
            text, path = sound.get("name", "").strip(), root / sound.get("file", "")
            if text.upper() in PHONICS:
                skipped["klettres phonics sound, not a word"] += 1
                continue
            name = f"{voice}_{path.stem}"
            out.append(Recording("klettres", path, text, f"klettres-{voice}", name))
    return out


def ktuberling_recordings(share, skipped: Counter) -> list[Recording]:
    root, out = Path(share) / "ktuberling" / "sounds", []
    for sound in ET.parse(root / "en.soundtheme").iter("sound"):
        word, path = sound.get("name", "").split("_", 1)[-1], root / sound.get("file", "")
        text = KTUBERLING_TEXT.get(word, word)
        out.append(Recording("ktuberling", path, text, "ktuberling-en", path.stem))
    return out


def _first_line(path: Path) -> str:
    if not path.exists():
        return ""
    return path.read_text(encoding="utf-8", errors="replace").partition("\n")[0].strip()


def _is_localized_sound(ogg: Path) -> bool:
    """NAME.ogg is English speech when the stamp also has NAME_<locale>.ogg translations of
    it (in this package: the digits); other NAME.ogg files are sound effects."""
    if not (ogg.parent / f"{ogg.stem}.txt").exists():
        return False
    siblings = ogg.parent.glob(f"{glob.escape(ogg.stem)}_*.ogg")
    return sum(bool(_LOCALE.fullmatch(p.stem[len(ogg.stem) + 1 :])) for p in siblings) >= 3


def tuxpaint_recordings(share, skipped: Counter) -> list[Recording]:
    root = Path(share) / "tuxpaint" / "stamps"
    found = []  # (ogg, stem of its .txt, speaker)
    for ogg in sorted(root.rglob("*.ogg")):
        if ogg.stem.endswith("_desc"):
            found.append((ogg, ogg.stem.removesuffix("_desc"), "desc"))
        elif match := _ENGLISH.fullmatch(ogg.stem):
            found.append((ogg, match.group(1), match.group(2)))
        elif _is_localized_sound(ogg):
            found.append((ogg, ogg.stem, "numbers"))
    out, seen = [], set()
    for ogg, stem, speaker in found:
        text = _first_line(ogg.parent / f"{stem}.txt")
        if not text:
            skipped["tuxpaint recording without English text"] += 1
            continue
        if speaker != "desc" and (letter := _LETTER.match(text)):
            text = letter.group(1)  # the localized letter sounds say the letter only
        digest = hashlib.sha1(ogg.read_bytes()).hexdigest()
        if digest in seen:
            skipped["tuxpaint duplicate recording"] += 1
            continue
        seen.add(digest)
        name = str(ogg.relative_to(root).with_suffix("")).replace("/", "-")
        out.append(Recording("tuxpaint", ogg, text, f"tuxpaint-{speaker}", name))
    return out


def alsa_recordings(share, skipped: Counter) -> list[Recording]:
    out = []
    for wav in sorted((Path(share) / "sounds" / "alsa").glob("*.wav")):
        if wav.stem == "Noise":
            skipped["alsa noise test signal"] += 1
            continue
        text = wav.stem.replace("_", " ")
        out.append(Recording("alsa", wav, text, "alsa", wav.stem))
    return out
