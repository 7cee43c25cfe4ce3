"""Speech manifests (JSONL, the NeMo convention) and converters from common corpus layouts.

One utterance a line: `{"audio_filepath": ..., "duration": seconds, "text": ...}` plus
optional fields such as `"voice"` or `"speaker"`. Relative audio paths are relative to the
manifest's folder. Converters write manifests from:

- `ljspeech`: `ROOT/metadata.csv` (`id|text|normalized text`) and `ROOT/wavs/<id>.wav`
- `librispeech`: `ROOT/**/<speaker>-<chapter>.trans.txt` (`<utt id> TEXT`) and `<utt id>.flac`
- `commonvoice`: `ROOT/<split>.tsv` (columns `client_id`, `path`, `sentence`) and `ROOT/clips/`
- `tsv`: a file of `path<TAB>text` lines (paths relative to the file)

Unreadable audio and malformed lines are reported with file and line and skipped, with counts.
"""

import csv
import json
import logging
import os
from pathlib import Path

import soundfile as sf

logger = logging.getLogger(__name__)

FORMATS = ("ljspeech", "librispeech", "commonvoice", "tsv")
REQUIRED = ("audio_filepath", "duration", "text")


def read_manifest(path) -> list[dict]:
    """Reads a JSONL manifest; audio paths come back absolute. Malformed lines raise
    ValueError with the file and line number."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"manifest {path} not found")
    entries = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{number}: not valid JSON ({err.msg})") from None
            missing = [k for k in REQUIRED if k not in entry] if isinstance(entry, dict) else 0
            if missing or not isinstance(entry, dict):
                raise ValueError(f"{path}:{number}: a manifest line needs the keys {REQUIRED}")
            audio = Path(entry["audio_filepath"])
            entry["audio_filepath"] = os.path.normpath(
                audio if audio.is_absolute() else path.parent / audio
            )
            entry["line"] = number
            entries.append(entry)
    return entries


def write_manifest(entries, path, relative: bool = True) -> int:
    """Writes entries as JSONL (audio paths relative to the manifest's folder when
    `relative`); returns the number written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(path, "w", encoding="utf-8") as f:
        for entry in entries:
            entry = {k: v for k, v in entry.items() if k != "line"}
            if relative:
                entry["audio_filepath"] = os.path.relpath(entry["audio_filepath"], path.parent)
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            count += 1
    return count


def _entry(audio_path: Path, text: str, where: str, **extra) -> dict | None:
    """A manifest entry with the audio's duration, or None (logged) when unusable."""
    text = text.strip()
    if not text:
        logger.warning("%s: empty transcript, skipped", where)
        return None
    try:
        duration = sf.info(str(audio_path)).duration
    except Exception as err:
        logger.warning("%s: cannot read %s (%s), skipped", where, audio_path, err)
        return None
    if duration <= 0:
        logger.warning("%s: %s is empty, skipped", where, audio_path)
        return None
    return {
        "audio_filepath": str(audio_path),
        "duration": round(duration, 3),
        "text": text,
        **extra,
    }


def _ljspeech(root: Path):
    path = root / "metadata.csv"
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            fields = line.rstrip("\n").split("|")
            if len(fields) < 2:
                logger.warning("%s:%d: expected id|text|normalized text, skipped", path, number)
                yield None
                continue
            text = fields[2] if len(fields) > 2 and fields[2].strip() else fields[1]
            yield _entry(root / "wavs" / f"{fields[0]}.wav", text, f"{path}:{number}")


def _librispeech(root: Path):
    for path in sorted(root.rglob("*.trans.txt")):
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                utterance, _, text = line.strip().partition(" ")
                speaker = utterance.split("-")[0]
                audio = path.parent / f"{utterance}.flac"
                yield _entry(audio, text, f"{path}:{number}", speaker=speaker)


def _commonvoice(root: Path, split: str):
    path = root / f"{split}.tsv"
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        for number, row in enumerate(reader, 2):
            if not row.get("path") or row.get("sentence") is None:
                logger.warning("%s:%d: missing path or sentence, skipped", path, number)
                yield None
                continue
            audio = root / "clips" / row["path"]
            yield _entry(audio, row["sentence"], f"{path}:{number}", speaker=row.get("client_id"))


def _tsv(path: Path):
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            audio, tab, text = line.rstrip("\n").partition("\t")
            if not tab:
                logger.warning("%s:%d: expected path<TAB>text, skipped", path, number)
                yield None
                continue
            audio = Path(audio)
            yield _entry(
                audio if audio.is_absolute() else path.parent / audio, text, f"{path}:{number}"
            )


def convert(format: str, root, out, split: str = "train") -> tuple[int, int]:
    """Writes a manifest at `out` from a corpus in `format` under `root` (for `tsv`, `root`
    is the TSV file; for `commonvoice`, `split` names the TSV). Returns (written, skipped)."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"{root} not found")
    readers = {
        "ljspeech": lambda: _ljspeech(root),
        "librispeech": lambda: _librispeech(root),
        "commonvoice": lambda: _commonvoice(root, split),
        "tsv": lambda: _tsv(root),
    }
    if format not in readers:
        raise ValueError(f"unknown manifest format {format!r}; expected one of {FORMATS}")
    entries, skipped = [], 0
    for entry in readers[format]():
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    if not entries:
        raise ValueError(f"no usable utterances found in {root} ({format} layout)")
    if skipped:
        logger.warning(
            "skipped %d of %d utterances (see the warnings above)", skipped, skipped + len(entries)
        )
    return write_manifest(entries, out), skipped
