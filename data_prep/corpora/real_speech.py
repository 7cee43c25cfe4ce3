"""Builds a small test set of HUMAN English recordings with exact transcripts from packages.

    python -m data_prep.corpora.real_speech --out data/real [--sources pocketsphinx alsa ...]

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
import json
import logging
import os
import subprocess
import sys
import tarfile
from collections import Counter
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
from tqdm import tqdm

from data_prep.corpora.real_sources import (
    APT_PACKAGES,
    LICENCES,
    POCKETSPHINX_SDIST,
    SAMPLE_RATE,
    Recording,
    alsa_recordings,
    klettres_recordings,
    ktuberling_recordings,
    pocketsphinx_recordings,
    tuxpaint_recordings,
)
from data_prep.speech.audio import AudioError, load_audio
from data_prep.speech.manifest import write_manifest
from data_prep.speech.transcripts import normalize_transcript

logger = logging.getLogger(__name__)

SOURCES = ("pocketsphinx", "klettres", "ktuberling", "tuxpaint", "alsa")


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
        prog="python -m data_prep.corpora.real_speech",
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
