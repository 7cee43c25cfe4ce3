"""Builds an English speech corpus with espeak-ng, holding test voices out of training.

    python -m data_prep.synth_speech --text data/bible/train.tsv --column 2 \\
        --test-text data/bible/test.tsv --dev-text data/bible/dev.tsv --out data/speech

Lines are split into utterances of a few seconds (clauses joined up to `--max-words` words).
Each utterance is spoken with a sampled accent, voice variant, speed and pitch, resampled to
16 kHz mono WAV, and listed in `train.jsonl`, `dev.jsonl` and `test.jsonl` with its voice.
The voice variants of dev and of test never occur in training (nor in each other), so WER on
test measures generalization to unseen speakers. With `--festival` (and festival installed),
the test text is also spoken by festival's voice into `test_festival.jsonl`: an unseen
synthesizer, a harder test. Workers run in parallel with a progress bar; a rerun skips the
WAV files that exist.
"""

import argparse
import logging
import os
import random
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import soundfile as sf
import soxr
from tqdm import tqdm

from data_prep.manifest import write_manifest

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
ACCENTS = (
    "en-us",
    "en-gb",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
)
# espeak-ng voice variants (espeak-ng-data/voices/!v), disjoint per split.
VARIANTS = {
    "train": (
        "m1 m2 m3 m4 m5 m6 f1 f2 f3 klatt klatt2 klatt3 Alex Annie adam david edward john "
        "linda max norbert paul robert steph travis victor Lee"
    ).split(),
    "dev": ["m8", "klatt5", "shelby", "Mike"],
    "test": ["m7", "f4", "klatt4", "belinda", "quincy", "Michael"],
}
FESTIVAL = "festival"  # the voice name of festival utterances (split "test_festival")
SPEED = (130, 200)  # words per minute
PITCH = (25, 75)


def split_utterances(line: str, max_words: int = 14, min_words: int = 3) -> list[str]:
    """Splits a line at clause punctuation and joins clauses into utterances of at most
    `max_words` words (longer clauses are cut at word boundaries); a last piece shorter than
    `min_words` joins the previous utterance."""
    clauses = [c.strip() for c in re.split(r"(?<=[.;:?!,])\s+", line.strip()) if c.strip()]
    pieces = []
    for clause in clauses:
        words = clause.split()
        pieces += [" ".join(words[i : i + max_words]) for i in range(0, len(words), max_words)]
    utterances = []
    for piece in pieces:
        if utterances and len(utterances[-1].split()) + len(piece.split()) <= max_words:
            utterances[-1] += " " + piece
        else:
            utterances.append(piece)
    if len(utterances) > 1 and len(utterances[-1].split()) < min_words:
        last = utterances.pop()
        utterances[-1] += " " + last
    return utterances


def read_lines(path, column: int | None = None) -> list[str]:
    """Lines of a text file, or one TAB-separated column (1-based) of a TSV file."""
    lines = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if column:
                fields = line.split("\t")
                if len(fields) < column:
                    raise ValueError(f"{path}:{number}: no column {column}")
                line = fields[column - 1]
            if line.strip():
                lines.append(line)
    return lines


def _speak(job) -> dict | None:
    """Worker: speaks one utterance to a 16 kHz WAV (unless it exists); returns its entry."""
    path, text, voice, speed, pitch = job
    path = Path(path)
    if not path.exists():
        with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
            if voice == FESTIVAL:  # speed as a duration stretch; festival keeps its pitch
                stretch = f"(Parameter.set 'Duration_Stretch {160 / speed:.3f})"
                command = ["text2wave", "-eval", stretch, "-o", tmp.name]
                result = subprocess.run(command, input=text, capture_output=True, text=True)
            else:
                command = ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch)]
                command += ["-w", tmp.name, "--", text]
                result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                return {"error": f"{command[0]} {voice}: {result.stderr.strip()}", "text": text}
            audio, rate = sf.read(tmp.name, dtype="float32")
        if audio.ndim > 1:
            audio = audio.mean(axis=1)
        audio = soxr.resample(audio, rate, SAMPLE_RATE)
        partial = path.with_suffix(".tmp.wav")
        sf.write(partial, audio, SAMPLE_RATE, subtype="PCM_16")
        os.replace(partial, path)
        duration = len(audio) / SAMPLE_RATE
    else:
        duration = sf.info(str(path)).duration
    entry = {"audio_filepath": str(path), "duration": round(duration, 3), "text": text}
    synthesizer = "festival" if voice == FESTIVAL else "espeak-ng"
    return {**entry, "voice": voice, "speed": speed, "pitch": pitch, "synthesizer": synthesizer}


def plan_split(texts: list[str], split: str, out: Path, limit: int | None, seed: int):
    """Utterances of a split with their sampled voice settings (deterministic given seed)."""
    # test_festival draws the same utterances as test: one text, two synthesizers.
    rng = random.Random(f"{seed}-{'test' if split == 'test_festival' else split}")
    utterances = [u for text in texts for u in split_utterances(text)]
    if limit is not None and len(utterances) > limit:
        utterances = rng.sample(utterances, limit)
    jobs = []
    for i, text in enumerate(utterances):
        if split == "test_festival":
            voice = FESTIVAL
        else:
            voice = f"{rng.choice(ACCENTS)}+{rng.choice(VARIANTS[split])}"
        path = out / "wavs" / split / f"{split}-{i:06d}.wav"
        jobs.append((str(path), text, voice, rng.randint(*SPEED), rng.randint(*PITCH)))
    return jobs


def synthesize(splits: dict[str, list[str]], out, limits: dict, workers=None, seed: int = 0):
    """Speaks each split's texts and writes `<split>.jsonl`; returns {split: manifest path}."""
    if shutil.which("espeak-ng") is None:
        raise FileNotFoundError("espeak-ng is not installed (apt-get install espeak-ng)")
    if "test_festival" in splits and shutil.which("text2wave") is None:
        raise FileNotFoundError(
            "festival is not installed (apt-get install festival festvox-kallpc16k)"
        )
    out = Path(out)
    manifests = {}
    for split, texts in splits.items():
        jobs = plan_split(texts, split, out, limits.get(split), seed)
        (out / "wavs" / split).mkdir(parents=True, exist_ok=True)
        entries, failed = [], []
        with ProcessPoolExecutor(workers or os.cpu_count()) as pool:
            results = pool.map(_speak, jobs, chunksize=16)
            for result in tqdm(results, total=len(jobs), desc=f"speaking {split}", unit="utt"):
                (failed if "error" in result else entries).append(result)
        if failed:
            logger.warning("%s: %d utterances failed, e.g. %s", split, len(failed), failed[0])
        manifests[split] = out / f"{split}.jsonl"
        write_manifest(entries, manifests[split])
        hours = sum(e["duration"] for e in entries) / 3600
        print(f"{split}: {len(entries)} utterances, {hours:.2f} h -> {manifests[split]}")
    return manifests


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m data_prep.synth_speech",
        description="Build a synthetic English speech corpus with espeak-ng: 16 kHz WAV files "
        "and train/dev/test JSONL manifests, with dev and test voices held out of training.",
    )
    parser.add_argument("--text", required=True, help="text file, one or more sentences a line")
    parser.add_argument("--column", type=int, help="read this TAB-separated column (1-based)")
    parser.add_argument(
        "--dev-text", help="text for dev (same --column); default: a share of --text"
    )
    parser.add_argument("--test-text", help="text for test; default: a share of --text")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--train-utterances", type=int, default=None, help="at most N (random)")
    parser.add_argument("--dev-utterances", type=int, default=300, help="at most N (random)")
    parser.add_argument("--test-utterances", type=int, default=500, help="at most N (random)")
    parser.add_argument(
        "--festival",
        action="store_true",
        help="also speak the test text with festival (an unseen synthesizer) into "
        "test_festival.jsonl",
    )
    parser.add_argument("--workers", type=int, default=None, help="processes (default: cores)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        texts = read_lines(args.text, args.column)
        splits = {"train": texts}
        for split in ("dev", "test"):
            path = getattr(args, f"{split}_text")
            if path:
                splits[split] = read_lines(path, args.column)
            else:  # hold out every 20th line (whole lines, so no clause leaks across splits)
                offset = 0 if split == "dev" else 1
                splits[split] = splits["train"][offset::20]
        if not args.dev_text or not args.test_text:
            held = set(splits["dev"]) | set(splits["test"])
            splits["train"] = [t for t in splits["train"] if t not in held]
        if args.festival:
            splits["test_festival"] = splits["test"]
        limits = {
            "train": args.train_utterances,
            "dev": args.dev_utterances,
            "test": args.test_utterances,
            "test_festival": args.test_utterances,
        }
        synthesize(splits, args.out, limits, args.workers, args.seed)
    except (ValueError, FileNotFoundError) as err:
        parser.exit(2, f"error: {err}\n")


if __name__ == "__main__":
    main()
