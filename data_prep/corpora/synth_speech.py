"""Builds an English speech corpus with several synthesizers, holding whole speakers out.

    python -m data_prep.corpora.synth_speech --text data/bible/train.tsv --column 2 \\
        --test-text data/bible/test.tsv --dev-text data/bible/dev.tsv --out data/speech --festival

Lines are split into utterances of a few seconds (clauses joined up to 14 words); with
`--short-share`, that share of the training utterances is cut to a few words
(`data_prep.text.normalize.short_pieces`), and with `--word-share` that share is replaced by
phrases of 1-3 general English words (`data_prep.speech.word_list`). Each utterance is
spoken by one speaker of its split (`data_prep.corpora.voices.SPEAKERS`) with the engine's
sampled speaking rate and pitch (`data_prep.corpora.engines`), resampled to 16 kHz mono WAV,
and listed in `<split>.jsonl` with its engine, voice, speaker and parameters. A speaker is a
person whose recordings built the voice (or one espeak-ng variant), and each is heard in one
split only:

- train: espeak-ng train variants, flite awb and slt, festival slt (HTS), piper joe, hibari's
  derived voices (pitch and vocal-tract variants of one person) and Kokoro style blends, mixed
  by `--engine-shares` (espeak-ng a minority; Kokoro, slow, a small share);
- dev: espeak-ng dev variants and flite rms (a held-out person); dev_words
  (`--dev-word-utterances`): general words never trained on, by the same speakers;
- test: espeak-ng held-out variants, exactly as first built (the baseline);
- test_voices: the test text spoken by persons never heard in train or dev (festival ked, the
  Kokoro style jf_nezumi, and MBROLA / SVOX Pico / RHVoice voices when installed);
- test_festival (`--festival`): the test text spoken by festival kal, as first built.

Workers run in parallel with a progress bar; a rerun skips the WAV files that exist (train,
dev and test_voices file names carry a digest of what is spoken, so a changed plan never
reuses a stale file). A summary of utterances, hours and CPU seconds per utterance per engine
closes the run.
"""

import logging
import os
import resource
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import soundfile as sf
import soxr
from tqdm import tqdm

from data_prep.corpora import engines as tts
from data_prep.corpora.plans import HELD_OUT_VOICES, VERSE_SPLITS, WORD_SPLIT, Job, plan_split
from data_prep.corpora.speech_options import build_parser
from data_prep.corpora.voices import (
    SPANISH_ENGINES,
    engine_list,
    parse_shares,
)
from data_prep.speech.manifest import write_manifest
from data_prep.text.normalize import read_lines, read_pairs

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished subprocesses (the engines' programs)."""
    own, kids = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _speak(job: Job) -> dict:
    """Worker: speaks one utterance to a 16 kHz WAV (unless it exists); returns its entry, or
    {"error": ...} naming the engine and voice."""
    path, seconds = Path(job.path), None
    if not path.exists():
        start = _cpu_seconds()
        try:
            audio, rate = tts.speak(job.engine, job.voice, job.text, job.params)
        except RuntimeError as err:
            return {"error": str(err), "text": job.text}
        audio = soxr.resample(audio, rate, SAMPLE_RATE)
        partial = path.with_suffix(".tmp.wav")
        sf.write(partial, audio, SAMPLE_RATE, subtype="PCM_16")
        os.replace(partial, path)
        duration, seconds = len(audio) / SAMPLE_RATE, _cpu_seconds() - start
    else:
        duration = sf.info(str(path)).duration
    entry = {"audio_filepath": str(path), "duration": round(duration, 3), "text": job.text}
    entry |= {"engine": job.engine, "voice": job.voice, "speaker": job.speaker, **job.params}
    entry |= job.extra
    return {"entry": entry, "seconds": seconds}


def summarize(entries: dict[str, list[dict]], seconds: dict) -> str:
    """A table of utterances, hours and CPU seconds per utterance (of those spoken in this
    run, loading included) per split and engine, and per engine over all splits."""
    rows, overall = defaultdict(lambda: [0, 0.0]), defaultdict(lambda: [0, 0.0])
    for split, items in entries.items():
        for e in items:
            for table, key in ((rows, (split, e["engine"])), (overall, ("all", e["engine"]))):
                table[key][0] += 1
                table[key][1] += e["duration"] / 3600
    lines = [f"{'split':<20}{'engine':<11}{'utterances':>11}{'hours':>8}{'cpu s/utt':>10}"]
    for (split, engine), (count, hours) in (rows | overall).items():
        spoken = seconds.get((split, engine), [])
        if split == "all":
            spoken = [
                x for (_, other), values in seconds.items() if other == engine for x in values
            ]
        rate = f"{sum(spoken) / len(spoken):10.2f}" if spoken else f"{'-':>10}"
        lines.append(f"{split:<20}{engine:<11}{count:>11}{hours:>8.2f}{rate}")
    return "\n".join(lines)


def synthesize(
    splits: dict[str, list[str]],
    out,
    limits: dict,
    workers=None,
    seed: int = 0,
    engines=("espeak-ng",),
    shares: dict | None = None,
    short_share: float = 0.0,
    language: str = "en",
    translations: dict[str, list[str]] | None = None,
    word_share: float = 0.0,
):
    """Speaks each split's texts and writes `<split>.jsonl`; returns {split: manifest path}.
    `limits` caps each split's utterances (random draws) and, under "voices", keeps the first
    ones of the held-out persons' splits (test_voices, test_verses_voices).
    `engines` are those train, dev and test_voices may use (the CLI's default: all installed);
    test is always espeak-ng and test_festival festival kal. `language` picks the speaker
    table (`voices.speakers`); `translations` holds each verse split's translations, one
    per line of its text; `word_share` of train are general-word phrases, and dev_words (when
    in `splits`) holds `limits["dev_words"]` of them (`plans.plan_split`). A split left
    without speakers (test_voices without festival) is skipped with a warning."""
    out = Path(out)
    manifests, entries, seconds = {}, {}, defaultdict(list)
    for split, texts in splits.items():
        jobs = plan_split(
            texts,
            split,
            out,
            limits.get(split),
            seed,
            engines,
            shares,
            short_share,
            language,
            (translations or {}).get(split) if split in VERSE_SPLITS else None,
            word_share,
        )
        if split in HELD_OUT_VOICES and limits.get("voices") is not None:
            jobs = jobs[: limits["voices"]]
        if texts and not jobs:
            logger.warning("%s: no speakers among the engines %s, skipped", split, engines)
            continue
        (out / "wavs" / split).mkdir(parents=True, exist_ok=True)
        entries[split], failed = [], []
        with ProcessPoolExecutor(workers or os.cpu_count()) as pool:
            results = pool.map(_speak, jobs, chunksize=4)
            for result in tqdm(results, total=len(jobs), desc=f"speaking {split}", unit="utt"):
                if "error" in result:
                    failed.append(result)
                    continue
                entries[split].append(result["entry"])
                if result["seconds"] is not None:
                    seconds[split, result["entry"]["engine"]].append(result["seconds"])
        if failed:
            logger.warning("%s: %d utterances failed, e.g. %s", split, len(failed), failed[0])
        manifests[split] = out / f"{split}.jsonl"
        write_manifest(entries[split], manifests[split])
        hours = sum(e["duration"] for e in entries[split]) / 3600
        print(f"{split}: {len(entries[split])} utterances, {hours:.2f} h -> {manifests[split]}")
    print(summarize(entries, seconds))
    return manifests


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        for name in ("short_share", "word_share"):
            if not 0 <= getattr(args, name) <= 1:
                option = "--" + name.replace("_", "-")
                raise ValueError(f"{option} {getattr(args, name)}: expected 0 to 1")
        if args.festival and args.language != "en":
            raise ValueError("--festival: festival's kal speaks English only")
        if args.verses and not (args.test_text and args.translation_column):
            raise ValueError("--verses needs --test-text and its --translation-column")
        if args.dev_verses and not (args.dev_text and args.translation_column):
            raise ValueError("--dev-verses needs --dev-text and its --translation-column")
        if args.language == "en":
            engines = engine_list(args.engines)
        else:
            engines = engine_list(args.engines or ",".join(SPANISH_ENGINES))
        shares = None
        if args.engine_shares:
            shares = parse_shares(args.engine_shares, args.language)
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
        if args.dev_word_utterances:
            splits[WORD_SPLIT] = []  # phrases drawn from the held-out general words
        if not args.no_test_voices:
            splits["test_voices"] = splits["test"]
        if args.festival:
            splits["test_festival"] = splits["test"]
        translations = {}
        verse_splits = [("dev_verses", args.dev_verses, args.dev_text)]
        verse_splits.append(("test_verses", args.verses, args.test_text))
        if not args.no_test_voices:
            verse_splits.append(("test_verses_voices", args.verses, args.test_text))
        for split, count, path in verse_splits:
            if count:
                pairs = read_pairs(path, args.column, args.translation_column)
                splits[split] = [p[0] for p in pairs]
                translations[split] = [p[1] for p in pairs]
        limits = {
            "train": args.train_utterances,
            "dev": args.dev_utterances,
            **dict.fromkeys(("test", "test_voices", "test_festival"), args.test_utterances),
            "voices": args.voices_utterances,
            **dict.fromkeys(VERSE_SPLITS, args.verses),
            "dev_verses": args.dev_verses,
            WORD_SPLIT: args.dev_word_utterances,
        }
        synthesize(
            splits,
            args.out,
            limits,
            args.workers,
            args.seed,
            engines,
            shares,
            args.short_share,
            args.language,
            translations,
            args.word_share,
        )
    except (ValueError, FileNotFoundError) as err:
        parser.exit(2, f"error: {err}\n")


if __name__ == "__main__":
    main()
