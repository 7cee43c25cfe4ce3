"""Builds a small test set of HUMAN English recordings with exact transcripts from packages.

    python -m data_prep.real_speech --out data/real [--sources pocketsphinx alsa ...]

No registry ships a real English ASR corpus, but a few packages ship recordings of people
reading a known text. This module converts them to 16 kHz mono WAV files under
`OUT/wavs/<source>/` and lists them in `OUT/real.jsonl` (NeMo convention: `audio_filepath`,
`duration`, `text`, plus `speaker`, `source`, `licence`). Minutes of speech, for testing only;
never train on it. Texts are kept as the package writes them; `normalize_transcript` is applied
at scoring, and an utterance whose normalized text is empty is skipped (and counted).

Sources (the apt package, what is taken, the licence):

- `pocketsphinx`: the PyPI source distribution `pocketsphinx==5.1.1` (fetched with `pip
  download --no-binary`), `test/data/`: `librivox/*.wav` + `transcription` (a LibriVox reader,
  Sense and Sensibility; public domain), `cards/*.wav` + `cards.transcription`, `goforward.raw`
  ("go forward ten meters", what its tests expect) and `tidigits/dhd.2934z.raw` (TIDIGITS
  naming: "two nine three four zero"). BSD-2-Clause.
- `klettres` (`klettres-data`): `/usr/share/klettres/en*/sounds.xml`, letters and short words
  in two voices (`en`, `en_GB`); the phonics sounds AW, CH, TH are skipped. GPL-2+.
- `ktuberling` (`ktuberling-data`): `/usr/share/ktuberling/sounds/en.soundtheme`, one word per
  object, the text being the sound name without its playground prefix (`egypt_palmtree` ->
  "palm tree"). GPL-2+.
- `tuxpaint` (`tuxpaint-stamps-default`): `/usr/share/tuxpaint/stamps/`: `NAME_desc.ogg` with
  the first line of `NAME.txt` ("A frog."); `NAME_en_GB.ogg` (a British voice: digits, and
  letters, which say the letter only, not the text's "The letter A."); `NAME.ogg` where
  translations `NAME_<locale>.ogg` exist (the digits). Byte-identical files are kept once. GPL-2.
- `alsa` (`alsa-utils`): `/usr/share/sounds/alsa/*.wav`, "Front Left" ... (not `Noise.wav`).
  GPL-2.

All licences allow redistribution; the derived WAV files stay local (`data/` is not committed).
Left out: the other pocketsphinx test audio (no transcript shipped, or `forever/`, drawn-out
words of unknown origin), non-English recordings, and sound effects. The ktuberling and
tuxpaint texts come from file names and text files, not from listening: a few may differ from
what is said (an article, a plural). A rerun skips the WAV files that exist.
"""

import argparse
import glob
import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
from tqdm import tqdm

from data_prep.audio import AudioError, load_audio
from data_prep.manifest import write_manifest
from data_prep.transcripts import normalize_transcript

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
SOURCES = ("pocketsphinx", "klettres", "ktuberling", "tuxpaint", "alsa")
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


def fetch_pocketsphinx(cache, sdist=None) -> Path:
    """Extracts the sdist's `test/data` (downloaded with pip into `cache` unless `sdist` names
    a tar.gz) into `cache`; returns the extracted folder. Reuses what is there."""
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    version = POCKETSPHINX_SDIST.partition("==")[2]
    sdist = Path(sdist) if sdist else cache / f"pocketsphinx-{version}.tar.gz"
    root = cache / sdist.name.removesuffix(".tar.gz")
    if (root / "test" / "data").is_dir():
        return root
    if not sdist.exists():
        options = "download --no-deps --no-binary pocketsphinx --dest".split()
        command = [sys.executable, "-m", "pip", *options, str(cache), POCKETSPHINX_SDIST]
        print(f"downloading {POCKETSPHINX_SDIST} (source distribution) from PyPI with pip")
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode or not sdist.exists():
            raise RuntimeError(
                f"could not download {POCKETSPHINX_SDIST} with pip (is PyPI reachable? offline, "
                f"pass --pocketsphinx-sdist FILE.tar.gz or leave out the source with --sources):"
                f"\n{result.stderr[-1500:]}"
            )
    with tarfile.open(sdist) as tar:
        members = [
            m for m in tar.getmembers() if "/test/data/" in m.name or m.name.endswith("/LICENSE")
        ]
        if not members:
            raise ValueError(f"{sdist}: no test/data folder in this archive")
        tar.extractall(cache, members=members, filter="data")
    return cache / members[0].name.split("/")[0]


def check_packages(sources, share) -> None:
    """Raises FileNotFoundError naming the apt packages that the chosen sources lack."""
    missing = [
        (source, *APT_PACKAGES[source])
        for source in sources
        if source in APT_PACKAGES and not (Path(share) / APT_PACKAGES[source][1]).exists()
    ]
    if missing:
        lines = [f"  {s}: {Path(share) / p} not found (apt package {a})" for s, a, p in missing]
        packages = " ".join(a for _, a, _ in missing)
        raise FileNotFoundError(
            "missing Debian packages for the sources:\n"
            + "\n".join(lines)
            + f"\ninstall them with: sudo apt-get install {packages}"
            + "\n(or leave those sources out with --sources)"
        )


def collect(sources, share="/usr/share", cache="data/real/cache", sdist=None):
    """The recordings of the chosen sources and a Counter of skipped ones by reason."""
    unknown = set(sources) - set(SOURCES)
    if unknown:
        raise ValueError(f"unknown sources {sorted(unknown)}; expected some of {SOURCES}")
    check_packages(sources, share)
    readers = {
        "pocketsphinx": lambda s: pocketsphinx_recordings(fetch_pocketsphinx(cache, sdist), s),
        "klettres": lambda s: klettres_recordings(share, s),
        "ktuberling": lambda s: ktuberling_recordings(share, s),
        "tuxpaint": lambda s: tuxpaint_recordings(share, s),
        "alsa": lambda s: alsa_recordings(share, s),
    }
    recordings, skipped = [], Counter()
    for source in sources:
        for recording in readers[source](skipped):
            if normalize_transcript(recording.text):
                recordings.append(recording)
            else:
                skipped["empty text after normalization"] += 1
    return recordings, skipped


def _read(recording: Recording) -> np.ndarray:
    """The recording as float32 mono at SAMPLE_RATE."""
    if recording.raw_rate is None:
        return load_audio(recording.path, SAMPLE_RATE)
    audio = np.fromfile(recording.path, dtype="<i2").astype(np.float32) / 32768
    if audio.size == 0:
        raise AudioError(f"{recording.path}: empty audio")
    return librosa.resample(audio, orig_sr=recording.raw_rate, target_sr=SAMPLE_RATE)


def convert(recordings, out) -> list[dict]:
    """Writes each recording as a 16 kHz mono 16-bit WAV (skipping those that exist); returns
    manifest entries. Unreadable files are logged and skipped."""
    out, entries = Path(out), []
    for rec in tqdm(recordings, desc="converting", unit="utt"):
        wav = out / "wavs" / rec.source / f"{rec.name}.wav"
        if not wav.exists():
            try:
                audio = _read(rec)
            except (AudioError, OSError) as err:
                logger.warning("%s: skipped (%s)", rec.path, err)
                continue
            wav.parent.mkdir(parents=True, exist_ok=True)
            sf.write(wav, np.clip(audio, -1, 1), SAMPLE_RATE, subtype="PCM_16")
        duration = round(sf.info(str(wav)).duration, 3)
        fields = {k: getattr(rec, k) for k in ("text", "speaker", "source", "licence")}
        entries.append({"audio_filepath": str(wav), "duration": duration, **fields})
    return entries


def summarize(entries) -> dict:
    """{source: {utterances, minutes, speakers}} plus "all"."""
    summary = {}
    for source in [*dict.fromkeys(e["source"] for e in entries), "all"]:
        chosen = [e for e in entries if source in ("all", e["source"])]
        summary[source] = {
            "utterances": len(chosen),
            "minutes": round(sum(e["duration"] for e in chosen) / 60, 2),
            "speakers": sorted({e["speaker"] for e in chosen}),
        }
    return summary


def build(out, sources=SOURCES, share="/usr/share", cache=None, sdist=None) -> dict:
    """Collects, converts and lists the recordings; writes `real.jsonl` and `summary.json`."""
    out = Path(out)
    recordings, skipped = collect(sources, share, cache or out / "cache", sdist)
    entries = convert(recordings, out)
    if not entries:
        raise ValueError(f"no recordings found for the sources {list(sources)}")
    write_manifest(entries, out / "real.jsonl")
    summary = {"sources": summarize(entries), "skipped": dict(skipped)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m data_prep.real_speech",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__.split("\n\n")[2],
        epilog="sources, packages and licences:\n"
        + "\n".join(
            f"  {s:<13}{APT_PACKAGES.get(s, ('PyPI sdist, pip',))[0]:<25}{LICENCES[s]}"
            for s in SOURCES
        )
        + "\nA test set only (minutes of speech): never train on it.",
    )
    parser.add_argument("--out", default="data/real", help="folder for wavs/ and real.jsonl")
    parser.add_argument("--sources", nargs="+", choices=SOURCES, default=list(SOURCES))
    parser.add_argument("--share", default="/usr/share", help="where Debian installs the data")
    parser.add_argument("--cache", help="download folder for the pocketsphinx sdist (OUT/cache)")
    parser.add_argument("--pocketsphinx-sdist", help="use this pocketsphinx-*.tar.gz, no pip")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        summary = build(args.out, args.sources, args.share, args.cache, args.pocketsphinx_sdist)
    except (FileNotFoundError, RuntimeError, ValueError) as err:
        parser.exit(1, f"error: {err}\n")
    print(f"{'source':<14}{'utterances':>11}{'minutes':>9}  speakers")
    for source, row in summary["sources"].items():
        speakers = f"{len(row['speakers'])}: {', '.join(row['speakers'])}"
        print(f"{source:<14}{row['utterances']:>11}{row['minutes']:>9.2f}  {speakers}")
    for reason, count in summary["skipped"].items():
        print(f"skipped {count}: {reason}")
    print(f"manifest: {Path(args.out) / 'real.jsonl'}")


if __name__ == "__main__":
    main()
