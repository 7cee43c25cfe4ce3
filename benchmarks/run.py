"""The benchmark suite: speed and memory of both pipelines in one JSON file and one table.

    python -m benchmarks.run --suite cpu [--translate-run RUN] [--asr-run RUN] [--quick]

For the translation and speech configs it measures training throughput, the input pipeline
alone (it must deliver at least 5x what training consumes), the padding left after bucketing,
greedy and beam decoding speed, the transcription real-time factor, the exported models' speed
(with trained runs), peak resident memory, and, as a reference point measured in the same run,
the same-size model written as plainly as the TensorFlow tutorial writes it
(`benchmarks/reference.py`), so the table shows our speed as a ratio. It ends with the
profiles of `benchmarks/op_profile.py` (training step and decoding call): on a GPU (`--suite
gpu`) the table shows whether every recurrent layer ran the cuDNN kernel. Writes
`benchmarks/results/<machine>-<date>.json` and `.md`.

With `--torch`, the same-size models written in PyTorch (`benchmarks/torch_reference.py`,
with our fresh models' weights) train on the same batches, one step of ours and one of
PyTorch's in turn, and the trained translation model (`--translate-run`, or the fresh one)
decodes the same sentences greedily in both: the table shows the ratios. Every repeat also
measures the machine's float32 matrix-multiply rate, and each training step's useful FLOP rate
(`benchmarks/flops.py`) as a fraction of it (utilization).

With `--repeats N` the throughput measurements (ours and the references', interleaved) run N
times and the JSON and table give the median of each figure, ratios taken within each repeat,
plus the range of the main figures: on a shared machine one run can be off by 20-50%.
"""

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks import asr_speed, flops, op_profile, reference, translate_speed


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--suite",
        choices=["cpu", "gpu"],
        default="cpu",
        help="gpu: the same measurements, refused without a GPU; the table shows cuDNN use",
    )
    parser.add_argument("--translate-config", default="configs/translate/bible_small.yaml")
    parser.add_argument("--translate-run", default=None, help="trained run: decoding, export")
    parser.add_argument("--translate-set", nargs="+", default=[], metavar="KEY=VALUE")
    parser.add_argument("--asr-config", default="configs/asr/synth_small.yaml")
    parser.add_argument("--asr-run", default=None, help="trained run: transcription, export")
    parser.add_argument("--asr-set", nargs="+", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--out", default="benchmarks/results", help="folder for <suite><cpus>-<date>.json/.md"
    )
    parser.add_argument(
        "--trace-dir", default="runs/profile", help="where the profiler traces go (large files)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="few batches and sentences: a smoke test"
    )
    parser.add_argument(
        "--torch",
        action="store_true",
        help="also measure the same-size PyTorch models (the optional `bench` extra)",
    )
    parser.add_argument(
        "--torch-threads", type=_positive, default=None, help="PyTorch threads (default: its own)"
    )
    parser.add_argument(
        "--repeats",
        type=_positive,
        default=1,
        help="run the throughput measurements N times and report medians and ranges",
    )
    return parser


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def median_of(samples: list):
    """The samples (equal-shaped JSON values) merged: numbers by their median, anything else
    (names, settings) from the first sample."""
    first = samples[0]
    if isinstance(first, dict):
        return {key: median_of([s[key] for s in samples]) for key in first}
    if _is_number(first) and len(set(samples)) > 1:
        return round(statistics.median(samples), 4)
    return first


def ranges_of(samples: list[dict], prefix: str = "") -> dict:
    """`{"dotted.key": [min, max]}` for every number that differed between the samples."""
    ranges = {}
    for key, value in samples[0].items():
        values = [s[key] for s in samples]
        if isinstance(value, dict):
            ranges.update(ranges_of(values, f"{prefix}{key}."))
        elif _is_number(value) and len(set(values)) > 1:
            ranges[prefix + key] = [min(values), max(values)]
    return ranges


# The figures whose range the table shows after a run with --repeats.
RANGE_ROWS = [
    "translation.train_target_tokens_per_second",
    "translation.tutorial_reference.train_target_tokens_per_second",
    "translation.train_speedup_over_tutorial",
    "translation.decode_sentences_per_second.greedy",
    "translation.tutorial_reference.decode_greedy_sentences_per_second",
    "translation.greedy_decode_speedup_over_tutorial",
    "speech.train_input_frames_per_second",
    "translation.train_speedup_over_torch",
    "translation.greedy_decode_speedup_over_torch",
    "speech.train_speedup_over_torch",
    "matmul_gflops_per_second",
]


def _machine(tf) -> dict:
    return {
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "tensorflow": tf.__version__,
    }


def _measure_once(args, pairs, dev, config) -> dict:
    """One pass of the throughput measurements: the matmul rate, ours, then the reference's."""
    quick = args.quick
    matmul = flops.matmul_gflops(seconds=0.3 if quick else 2.0)
    torch_options = ["--torch"] * args.torch + (
        ["--torch-threads", str(args.torch_threads)] if args.torch_threads else []
    )
    mt = translate_speed.measure(
        translate_speed.make_parser().parse_args(
            ["--config", args.translate_config]
            + (["--set", *args.translate_set] if args.translate_set else [])
            + (["--run-dir", args.translate_run] if args.translate_run else [])
            + (["--train-batches", "4", "--warmup-batches", "2", "--sentences", "8"] * quick)
            + (["--pipeline-batches", "10"] * quick)
            + torch_options
        )
    )
    tutorial = reference.measure(
        pairs,
        dev,
        (config.data.source_vocab_size, config.data.target_vocab_size),
        config.model.embedding_dim,
        config.model.units,
        train_batches=4 if quick else 40,
        warmup=2 if quick else 8,
    )
    asr = asr_speed.measure(
        asr_speed.make_parser().parse_args(
            ["--config", args.asr_config]
            + (["--set", *args.asr_set] if args.asr_set else [])
            + (["--run-dir", args.asr_run] if args.asr_run else [])
            + (["--train-batches", "2", "--warmup-batches", "1", "--utterances", "8"] * quick)
            + (["--pipeline-batches", "10"] * quick)
            + torch_options
        )
    )
    return {
        "matmul_gflops_per_second": matmul,
        "translation": {
            **_utilization(mt, matmul),
            "input_pipeline_headroom": round(
                mt["input_pipeline_batches_per_second"] / mt["train_batches_per_second"], 1
            ),
            "tutorial_reference": tutorial,
            "train_speedup_over_tutorial": round(
                mt["train_target_tokens_per_second"] / tutorial["train_target_tokens_per_second"],
                2,
            ),
            "greedy_decode_speedup_over_tutorial": round(
                mt["decode_sentences_per_second"]["greedy"]
                / tutorial["decode_greedy_sentences_per_second"],
                2,
            ),
        },
        "speech": {
            **_utilization(asr, matmul),
            "input_pipeline_headroom": round(
                asr["input_pipeline_batches_per_second"] / asr["train_batches_per_second"], 1
            ),
        },
    }


def _utilization(result: dict, matmul: float) -> dict:
    """`result` with the training steps' useful FLOP rate as a fraction of the matmul rate,
    and, with the PyTorch reference, the speed-ups over it."""
    result = dict(result)
    result["train_utilization"] = round(result["train_gflops_per_second"] / matmul, 3)
    torch_result = result.get("torch_reference")
    if torch_result:
        result["torch_reference"] = {
            **torch_result,
            "train_utilization": round(torch_result["train_gflops_per_second"] / matmul, 3),
        }
        per_second = (
            "train_target_tokens_per_second"
            if "train_target_tokens_per_second" in torch_result
            else "train_input_frames_per_second"
        )
        result["train_speedup_over_torch"] = round(result[per_second] / torch_result[per_second], 2)
        if "decode_greedy_sentences_per_second" in torch_result:
            result["greedy_decode_speedup_over_torch"] = round(
                result["decode_sentences_per_second"]["greedy"]
                / torch_result["decode_greedy_sentences_per_second"],
                2,
            )
    return result


def run(args) -> dict:
    import tensorflow as tf

    from pipelines.tasks import translation
    from seq2seq.config import load_config

    if args.suite == "gpu" and not tf.config.list_physical_devices("GPU"):
        raise SystemExit("error: --suite gpu needs a GPU; this machine has none")
    quick = args.quick
    config = load_config(translation.TranslationConfig, args.translate_config, args.translate_set)
    pairs, _ = translation.read_split(config.data, "train")
    dev = [s for s, _ in translation.read_split(config.data, "dev")[0]][: 8 if quick else 200]
    samples = []
    for repeat in range(args.repeats):
        if args.repeats > 1:
            print(f"repeat {repeat + 1} of {args.repeats}", file=sys.stderr, flush=True)
        samples.append(_measure_once(args, pairs, dev, config))
    profiles = op_profile.run(
        op_profile.make_args(
            ["--translate-config", args.translate_config, "--asr-config", args.asr_config]
            + (["--translate-set", *args.translate_set] if args.translate_set else [])
            + (["--asr-set", *args.asr_set] if args.asr_set else [])
            + ["--trace-dir", args.trace_dir]
            + ["--quick"] * quick
        )
    )
    return {
        "suite": args.suite,
        "quick": quick,
        "date": datetime.date.today().isoformat(),
        "machine": _machine(tf),
        "repeats": args.repeats,
        **median_of(samples),
        "ranges": ranges_of(samples) if args.repeats > 1 else {},
        "profile": {"translation": profiles["translation"], "speech": profiles["speech"]},
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def markdown(results: dict) -> str:
    mt, asr = results["translation"], results["speech"]
    ref = mt["tutorial_reference"]
    exported = mt["exported_sentences_per_second"]
    rows = [
        (
            "translation: training target tokens/s",
            mt["train_target_tokens_per_second"],
            ref["train_target_tokens_per_second"],
            mt["train_speedup_over_tutorial"],
        ),
        (
            "translation: greedy decoding sentences/s",
            mt["decode_sentences_per_second"]["greedy"],
            ref["decode_greedy_sentences_per_second"],
            mt["greedy_decode_speedup_over_tutorial"],
        ),
        (
            "translation: beam-5 decoding sentences/s",
            mt["decode_sentences_per_second"]["beam_5"],
            "",
            "",
        ),
        (
            "translation: exported model, greedy sentences/s",
            exported["greedy"] if isinstance(exported, dict) else "",
            "",
            "",
        ),
        (
            "translation: input pipeline headroom (pipeline / training batches/s)",
            mt["input_pipeline_headroom"],
            "",
            "",
        ),
        ("translation: padding fraction after bucketing", mt["padding_fraction"], "", ""),
        ("speech: training input frames/s", asr["train_input_frames_per_second"], "", ""),
        (
            "speech: feature extraction, audio s/s (1 process)",
            asr["feature_extraction_audio_seconds_per_second"],
            "",
            "",
        ),
        ("speech: real-time factor, greedy", asr["transcribe_real_time_factor"]["greedy"], "", ""),
        ("speech: input pipeline headroom", asr["input_pipeline_headroom"], "", ""),
        ("speech: padding fraction after bucketing", asr["padding_fraction"], "", ""),
        ("peak resident memory, MB", results["peak_memory_mb"], "", ""),
    ]
    for task in ("translation", "speech"):
        step = results["profile"][task]["train_step"]
        on_cudnn = step["recurrent_layers_on_cudnn"]
        rows += [
            (
                f"{task}: recurrent layers on cuDNN kernels in training",
                f"{sum(on_cudnn.values())} of {len(on_cudnn)}",
                "",
                "",
            ),
            (
                f"{task}: training step in TensorFlow functions (not Python)",
                f"{step['in_graph_fraction']:.0%}",
                "",
                "",
            ),
        ]
    lines = [
        f"Benchmark suite `{results['suite']}`, {results['date']}, {results['machine']['cpus']} "
        f"CPUs, GPUs: {results['machine']['gpus'] or 'none'}"
        + (" (quick smoke run: figures not meaningful)" if results["quick"] else "")
        + (
            f"; medians of {results['repeats']} repeats (ratios taken within each repeat)"
            if results["repeats"] > 1
            else ""
        ),
        "",
        "| measure | this toolkit | TF-tutorial-style reference | ratio |",
        "|---|---:|---:|---:|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
    ]
    lines += ["", *_torch_table(results)]
    shown = [key for key in RANGE_ROWS if key in results["ranges"]]
    if shown:
        lines += ["", "| range over the repeats | min | max |", "|---|---:|---:|"]
        lines += [
            f"| {key} | {low} | {high} |" for key in shown for low, high in [results["ranges"][key]]
        ]
    return "\n".join(lines) + "\n"


def _torch_table(results: dict) -> list[str]:
    """The comparison with the same-size PyTorch models, and the utilization of both."""
    mt, asr = results["translation"], results["speech"]
    matmul = results["matmul_gflops_per_second"]
    none = {}
    mt_torch, asr_torch = mt.get("torch_reference", none), asr.get("torch_reference", none)
    rows = [
        (
            "translation: training target tokens/s",
            mt["train_target_tokens_per_second"],
            mt_torch.get("train_target_tokens_per_second", ""),
            mt.get("train_speedup_over_torch", ""),
        ),
        (
            "translation: greedy decoding sentences/s (the same weights)",
            mt["decode_sentences_per_second"]["greedy"],
            mt_torch.get("decode_greedy_sentences_per_second", ""),
            mt.get("greedy_decode_speedup_over_torch", ""),
        ),
        (
            "speech: training input frames/s",
            asr["train_input_frames_per_second"],
            asr_torch.get("train_input_frames_per_second", ""),
            asr.get("train_speedup_over_torch", ""),
        ),
        (
            f"translation: training utilization ({mt['train_flops_per_target_token'] / 1e6:.1f} "
            f"MFLOP per target token, of {matmul} GFLOP/s matmul)",
            f"{mt['train_utilization']:.0%} ({mt['train_gflops_per_second']} GFLOP/s)",
            f"{mt_torch['train_utilization']:.0%}" if mt_torch else "",
            "",
        ),
        (
            f"speech: training utilization ({asr['train_flops_per_input_frame'] / 1e6:.2f} "
            "MFLOP per input frame)",
            f"{asr['train_utilization']:.0%} ({asr['train_gflops_per_second']} GFLOP/s)",
            f"{asr_torch['train_utilization']:.0%}" if asr_torch else "",
            "",
        ),
    ]
    header = "PyTorch " + mt_torch.get("torch", "(not measured: --torch)")
    if mt_torch:
        header += f", {mt_torch['threads']} threads"
    return [
        f"| measure | this toolkit | {header} | ratio |",
        "|---|---:|---:|---:|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
    ]


def main(argv=None):
    args = _parser().parse_args(argv)
    results = run(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = f"{args.suite}{os.cpu_count()}-{results['date']}" + ("-quick" if args.quick else "")
    (out / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out / f"{name}.md").write_text(markdown(results), encoding="utf-8")
    print(markdown(results))
    print(f"written: {out / name}.json and .md")


if __name__ == "__main__":
    main()
