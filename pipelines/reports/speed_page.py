"""The speed page (`docs/results/speed.md`), written from the committed benchmark JSON in
`benchmarks/results/` only: the newest benchmark suite run (`python -m benchmarks.run`) in
full, the implementation variants, the server under load and the GPU timings, and every other
measurement file in a folded table of its values.
"""

import json
from pathlib import Path

from pipelines.reports.results_pages import GENERATED, table

# (label, this toolkit, reference, ratio): dotted paths into a suite run's JSON.
TUTORIAL_ROWS = [
    (
        "translation: training target tokens/s",
        "translation.train_target_tokens_per_second",
        "translation.tutorial_reference.train_target_tokens_per_second",
        "translation.train_speedup_over_tutorial",
    ),
    (
        "translation: greedy decoding, sentences/s",
        "translation.decode_sentences_per_second.greedy",
        "translation.tutorial_reference.decode_greedy_sentences_per_second",
        "translation.greedy_decode_speedup_over_tutorial",
    ),
]
TORCH_ROWS = [
    (
        "translation: training target tokens/s",
        "translation.train_target_tokens_per_second",
        "translation.torch_reference.train_target_tokens_per_second",
        "translation.train_speedup_over_torch",
    ),
    (
        "translation: training utilization of the matmul rate",
        "translation.train_utilization",
        "translation.torch_reference.train_utilization",
        None,
    ),
    (
        "translation: greedy decoding, sentences/s (the same weights)",
        "translation.decode_sentences_per_second.greedy",
        "translation.torch_reference.decode_greedy_sentences_per_second",
        "translation.greedy_decode_speedup_over_torch",
    ),
    (
        "speech: training input frames/s",
        "speech.train_input_frames_per_second",
        "speech.torch_reference.train_input_frames_per_second",
        "speech.train_speedup_over_torch",
    ),
    (
        "speech: training utilization of the matmul rate",
        "speech.train_utilization",
        "speech.torch_reference.train_utilization",
        None,
    ),
]
OWN_ROWS = [
    (
        "translation: input pipeline alone / training, batches/s",
        "translation.input_pipeline_headroom",
    ),
    ("translation: padding left after bucketing", "translation.padding_fraction"),
    (
        "speech: feature extraction (1 process), audio s/s",
        "speech.feature_extraction_audio_seconds_per_second",
    ),
    ("speech: input pipeline alone / training, batches/s", "speech.input_pipeline_headroom"),
    ("speech: padding left after bucketing", "speech.padding_fraction"),
    ("peak resident memory of the suite process, MB", "peak_memory_mb"),
]
# Per-decoding rows: (label, dotted path of a {decoding: value} mapping).
DECODING_ROWS = [
    ("translation: decoding, sentences/s", "translation.decode_sentences_per_second"),
    ("translation: exported SavedModel, sentences/s", "translation.exported_sentences_per_second"),
    ("speech: real-time factor", "speech.transcribe_real_time_factor"),
    ("speech: exported SavedModel, real-time factor", "speech.exported_real_time_factor"),
]


def _get(data: dict, path: str | None):
    """The value at a dotted `path` of nested mappings (None where there is none)."""
    if not path:
        return None
    for key in path.split("."):
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def number(value) -> str:
    """A figure as the page prints it: thousands separated, four significant digits below
    100."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _with_range(run: dict, path: str | None) -> str:
    """The value at `path` with its range over the repeats (`ranges` holds dotted keys);
    fractions (utilization, padding) as percentages."""
    value = _get(run, path)
    spread = run.get("ranges", {}).get(path) if path else None
    if path and path.endswith(("utilization", "fraction")):
        show = lambda v: f"{100 * v:.1f}%"  # noqa: E731
    else:
        show = number
    if value is None:
        return ""
    text = show(value)
    if isinstance(spread, list) and len(spread) == 2:
        text += f" ({show(spread[0])}–{show(spread[1])})"
    return text


def suite_section(name: str, run: dict) -> list[str]:
    machine = run.get("machine", {})
    tr, sp = run.get("translation", {}), run.get("speech", {})
    torch = _get(run, "translation.torch_reference.torch")
    lines = [
        "",
        f"## Benchmark suite `{run.get('suite')}`, {run.get('date')}",
        "",
        f"- file: [`benchmarks/results/{name}`](../../benchmarks/results/{name}), written by "
        "`python -m benchmarks.run`",
        f"- machine: {machine.get('cpus')} CPUs, GPUs: {machine.get('gpus') or 'none'}, "
        f"TensorFlow {machine.get('tensorflow')}; matmul rate "
        f"{number(run.get('matmul_gflops_per_second'))} GFLOP/s (float32)",
        f"- repeats: {run.get('repeats', 1)} (medians, the range over the repeats in brackets; "
        "ratios taken within each repeat)",
        f"- translation: `{tr.get('config')}` ({number(tr.get('parameters'))} parameters), "
        f"decoding with `{tr.get('decode_model')}`",
        f"- speech: `{sp.get('config')}` ({number(sp.get('parameters'))} parameters), "
        f"the model transcribing: {sp.get('transcribe_model')}",
        "",
    ]
    rows = [
        [label, _with_range(run, a), _with_range(run, b), _with_range(run, c)]
        for label, a, b, c in TUTORIAL_ROWS
    ]
    for label, path in DECODING_ROWS:
        rows += [
            [f"{label}, {k.replace('_', ' ')}", _with_range(run, f"{path}.{k}"), "", ""]
            for k in _get(run, path) or {}
            if (path, k) != (TUTORIAL_ROWS[1][1].rsplit(".", 1)[0], "greedy")  # in a row above
        ]
    rows += [[label, _with_range(run, path), "", ""] for label, path in OWN_ROWS]
    lines += table(
        ["measure", "this toolkit", "TF-tutorial-style reference", "ratio"], rows, "lrrr"
    )
    if torch:
        rows = [
            [label, _with_range(run, a), _with_range(run, b), _with_range(run, c)]
            for label, a, b, c in TORCH_ROWS
        ]
        threads = _get(run, "translation.torch_reference.threads")
        lines += [
            "",
            *table(
                ["measure", "this toolkit", f"PyTorch {torch}, {threads} threads", "ratio"],
                rows,
                "lrrr",
            ),
        ]
    return lines


def variants_section(name: str, data: dict) -> list[str]:
    variants = data.get("variants", {})
    unit = next(iter(next(iter(variants.values()), {})), "throughput")
    rows = [
        [v, number(m.get(unit)), number(m.get("median_batch_time_relative_to_fast"))]
        for v, m in variants.items()
    ]
    return [
        "",
        f"## Implementation variants: {data.get('task')} (`{name}`)",
        "",
        f"`{' '.join([data.get('config', '?'), *data.get('overrides', [])])}`, "
        f"{data.get('batches')} batches, variants taking turns per batch "
        "(`python -m benchmarks.variants`).",
        "",
        *table(["variant", unit.replace("_", " "), "batch time vs fast"], rows, "lrr"),
    ]


def serve_section(name: str, data: dict) -> list[str]:
    rows = [
        [
            r["model"],
            "yes" if r["batching"] else "no",
            r["clients"],
            number(r["requests_per_second"]),
            " / ".join(number(r["latency_ms"][p]) for p in ("p50", "p95", "p99")),
            r["failed"],
        ]
        for r in data.get("results", [])
    ]
    return [
        "",
        f"## The server under load (`{name}`)",
        "",
        f"`{data.get('command')}` on {data.get('machine', {}).get('cpus')} CPUs.",
        "",
        *table(
            ["model", "batching", "clients", "req/s", "p50 / p95 / p99 ms", "failed"],
            rows,
            "llrrrr",
        ),
    ]


def gpu_section(name: str, data: dict) -> list[str]:
    machine = data.get("machine", {})
    rows = [
        [
            run,
            r.get("batches"),
            number(r.get("seconds")),
            number(r.get("ms_per_batch")),
            number(r.get("input_frames_per_second")),
            number(r.get("peak_memory_gib")),
        ]
        for run, r in data.get("runs", {}).items()
    ]
    return [
        "",
        f"## The same-size PyTorch recognizer on a GPU, {data.get('date')} (`{name}`)",
        "",
        f"{machine.get('device')}, PyTorch {machine.get('torch')}, cuDNN {machine.get('cudnn')}: "
        "one epoch of real batch shapes, compute only (`python -m benchmarks.torch_gpu`).",
        "",
        *table(
            ["precision", "batches", "seconds", "ms/batch", "input frames/s", "peak GiB"],
            rows,
            "lrrrrr",
        ),
    ]


def _flat(data, prefix=""):
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _flat(value, f"{prefix}{key}.")
    elif isinstance(data, list) and any(isinstance(v, dict | list) for v in data):
        for i, value in enumerate(data):
            yield from _flat(value, f"{prefix}{i}.")
    else:
        yield prefix.rstrip("."), data


MAX_VALUES = 80  # a longer file (per-utterance lists) is linked, not tabulated


def other_section(name: str, data) -> list[str]:
    rows = [
        [key, ", ".join(map(number, v)) if isinstance(v, list) else number(v)]
        for key, v in _flat(data)
    ]
    link = f"[`{name}`](../../benchmarks/results/{name})"
    if len(rows) > MAX_VALUES:
        return ["", f"- {link}: {len(rows)} values, too many to list here."]
    return [
        "",
        f"- {link}:",
        "",
        f"<details><summary>{len(rows)} values</summary>",
        "",
        *table(["value", ""], rows, "lr"),
        "",
        "</details>",
    ]


def page(root) -> str:
    """The whole speed page from `root/benchmarks/results/*.json`."""
    files = {
        p.name: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(Path(root, "benchmarks/results").glob("*.json"))
    }
    suites = [n for n, d in files.items() if isinstance(d, dict) and "suite" in d]
    newest = {}
    for n in sorted(suites, key=lambda n: (files[n].get("date", ""), n)):
        if not files[n].get("quick"):
            newest[files[n]["suite"]] = n
    lines = ["# Speed", "", GENERATED.format(folder="benchmarks/results/"), ""]
    lines.append(
        "Measured by the benchmark commands (`benchmarks/`), which write the JSON files this page "
        "is built from; what each measures is explained in [docs/scaling.md](../scaling.md)."
    )
    done = set(newest.values())
    for n in newest.values():
        lines += suite_section(n, files[n])
    for prefix, section in [
        ("variants-", variants_section),
        ("serve_load", serve_section),
        ("torch_gpu", gpu_section),
    ]:
        for n in [n for n in files if n.startswith(prefix)]:
            lines += section(n, files[n])
            done.add(n)
    rest = [n for n in files if n not in done]
    if rest:
        lines += [
            "",
            "## Other measurements",
            "",
            "Earlier suite runs and single measurements, each with every value it holds.",
        ]
        for n in rest:
            lines += other_section(n, files[n])
    return "\n".join(lines) + "\n"
