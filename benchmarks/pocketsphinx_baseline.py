"""A baseline recognizer beside ours: CMU PocketSphinx with its bundled US English models.

    python -m benchmarks.pocketsphinx_baseline --manifest data/real/real.jsonl \\
        [--manifest data/speech/test.jsonl ...] --out benchmarks/results/pocketsphinx.json

Transcribes each manifest with the `pocketsphinx` PyPI package (5.x) and its defaults
(`Decoder()`: the bundled en-us acoustic model, CMU dictionary and n-gram language model), on
16 kHz mono 16-bit audio, one whole utterance at a time. References and hypotheses both go
through `normalize_transcript` and are scored with `pipelines.reports.evaluation.score_transcripts`
(corpus WER and CER, %). The real-time factor is decoding wall-clock seconds over audio
seconds (one thread; audio loading and the model load excluded); `cpu_real_time_factor` counts
the process's CPU seconds instead, steadier on a shared machine. With `--by source speaker`
(the default) the JSON also breaks the scores down by those manifest fields. Utterances whose
normalized reference is empty are skipped and counted.
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SAMPLE_RATE = 16000


def make_decoder():
    """A pocketsphinx Decoder with its default (bundled en-us) configuration, quiet."""
    from pocketsphinx import Decoder

    return Decoder(loglevel="FATAL")


def transcribe(decoder, audio) -> str:
    """The hypothesis for float32 mono 16 kHz audio ("" when nothing is recognized)."""
    import numpy as np

    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    decoder.start_utt()
    decoder.process_raw(pcm.tobytes(), full_utt=True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    return hypothesis.hypstr if hypothesis is not None else ""


def _score(rows) -> dict:
    from pipelines.reports.evaluation import score_transcripts

    audio = sum(r["duration"] for r in rows)
    seconds = sum(r["seconds"] for r in rows)
    cpu = sum(r["cpu_seconds"] for r in rows)
    scores = score_transcripts([r["reference"] for r in rows], [r["normalized"] for r in rows])
    return {
        "utterances": len(rows),
        "audio_minutes": round(audio / 60, 3),
        **scores,
        "real_time_factor": round(seconds / audio, 4) if audio else None,
        "cpu_real_time_factor": round(cpu / audio, 4) if audio else None,
    }


def evaluate_manifest(path, decoder, by=("source", "speaker")) -> dict:
    """Transcribes and scores one manifest: the overall figures, a breakdown per value of
    each field in `by` that the entries carry, and every utterance's hypothesis."""
    from data_prep.speech.audio import AudioError, load_audio
    from data_prep.speech.manifest import read_manifest
    from data_prep.speech.transcripts import normalize_transcript

    rows, skipped = [], {"empty reference": 0, "unreadable audio": 0}
    for entry in read_manifest(path):
        reference = normalize_transcript(entry["text"])
        if not reference:
            skipped["empty reference"] += 1
            continue
        try:
            audio = load_audio(entry["audio_filepath"], SAMPLE_RATE)
        except AudioError as err:
            print(f"{path}:{entry['line']}: {err}, skipped", file=sys.stderr)
            skipped["unreadable audio"] += 1
            continue
        start, cpu = time.perf_counter(), time.process_time()
        hypothesis = transcribe(decoder, audio)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        rows.append(
            {
                "audio_filepath": entry["audio_filepath"],
                "text": entry["text"],
                "reference": reference,
                "hypothesis": hypothesis,
                "normalized": normalize_transcript(hypothesis),
                "seconds": seconds,
                "cpu_seconds": cpu,
                "duration": len(audio) / SAMPLE_RATE,
                **{field: entry[field] for field in by if field in entry},
            }
        )
    if not rows:
        raise ValueError(f"{path}: no utterance to score")
    result = {"manifest": str(path), **_score(rows), "skipped": skipped}
    for field in by:
        values = sorted({r[field] for r in rows if field in r})
        if values:
            groups = {v: [r for r in rows if r.get(field) == v] for v in values}
            result[f"by_{field}"] = {v: _score(group) for v, group in groups.items()}
    for row in rows:  # relative to the working directory, not tied to this machine
        row["audio_filepath"] = os.path.relpath(row["audio_filepath"])
    result["utterances_detail"] = [
        {k: r[k] for k in ("audio_filepath", "text", "hypothesis", *by) if k in r} for r in rows
    ]
    return result


def run(manifests, by=("source", "speaker")) -> dict:
    """Evaluates each manifest with one decoder; returns the JSON-ready results."""
    from importlib.metadata import version

    start = time.perf_counter()
    decoder = make_decoder()
    load_seconds = time.perf_counter() - start
    return {
        "recognizer": f"pocketsphinx {version('pocketsphinx')}",
        "model": "bundled en-us (default Decoder() configuration)",
        "model_load_seconds": round(load_seconds, 3),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "manifests": [evaluate_manifest(path, decoder, by) for path in manifests],
    }


def report(results) -> str:
    """A plain-text table of WER, CER and real-time factors (wall clock, CPU) per manifest
    and per group."""
    lines = [
        f"{'manifest / group':<44}{'utts':>6}{'min':>7}{'WER %':>8}{'CER %':>8}{'RTF':>7}{'CPU':>6}"
    ]
    for m in results["manifests"]:
        groups = [(m["manifest"], m)]
        for key in [k for k in m if k.startswith("by_")]:
            groups += [(f"  {key[3:]}={value}", row) for value, row in m[key].items()]
        for name, row in groups:
            lines.append(
                f"{name[:44]:<44}{row['utterances']:>6}{row['audio_minutes']:>7.2f}"
                f"{row['wer']:>8.2f}{row['cer']:>8.2f}{row['real_time_factor']:>7.2f}"
                f"{row['cpu_real_time_factor']:>6.2f}"
            )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pocketsphinx_baseline",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__.split("\n\n")[2],
    )
    parser.add_argument("--manifest", action="append", required=True, help="a JSONL manifest")
    parser.add_argument("--out", required=True, help="JSON file for the results")
    parser.add_argument(
        "--by", nargs="*", default=["source", "speaker"], help="manifest fields to group by"
    )
    args = parser.parse_args(argv)
    try:
        results = run(args.manifest, tuple(args.by))
    except (FileNotFoundError, ValueError) as err:
        parser.exit(1, f"error: {err}\n")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(report(results))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
