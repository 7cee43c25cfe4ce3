"""A comparison report of several run directories (translation and speech) in Markdown and
self-contained HTML, with bar charts of their scores and speed.

Reads what the pipelines wrote: `config.yaml`, `history.csv`, `training_curves.png` and every
`eval/<name>/report.json`; runs nothing. Per evaluated set it also shows what the model wrote:
a few inputs with their reference and output (`pipelines.reports.samples`: a seeded draw, the
worst and the best by sentence score). `python -m pipelines.report RUN [RUN ...]` and the
results notebook drive it.
"""

import base64
import dataclasses
import html
import json
import shutil
from pathlib import Path

import yaml

from pipelines.reports import figures
from pipelines.reports.evaluation import decoding_name
from pipelines.reports.samples import sample_table
from seq2seq.files import write_text
from seq2seq.training.run_dir import RunDir

TRANSLATION_COLUMNS = ("BLEU", "chrF", "TER", "sentences/s")
SPEECH_COLUMNS = ("WER %", "CER %", "real-time factor")


def summarize_run(run_dir) -> dict:
    """What a run directory says about itself: {"run", "kind" (translation | speech),
    "model", "epochs", "best_dev_loss", "evaluations": [{"eval", "decoding", <metrics>}],
    "samples": [{"eval", "header", "rows"}] (sets whose report keeps its outputs)}."""
    run = RunDir(run_dir)
    if not run.config.exists():
        raise FileNotFoundError(f"{run_dir}: not a run directory (no config.yaml)")
    config = yaml.safe_load(run.config.read_text(encoding="utf-8"))
    kind = "speech" if "features" in config else "translation"
    history = run.history()
    dev_losses = list(run.dev_losses().values())
    evaluations, samples = [], []
    for path in sorted(run.path.glob("eval/*/report.json")):
        report = json.loads(path.read_text(encoding="utf-8"))
        table = sample_table(report)
        if table:
            samples.append({"eval": path.parent.name, "header": table[0], "rows": table[1]})
        for row in report["results"]:
            decoding = row["decoding"]
            name = decoding_name(decoding)
            if kind == "translation":
                metrics = [row["bleu"], row["chrf"], row["ter"], row["sentences_per_second"]]
            else:
                metrics = [row["wer"], row["cer"], row["real_time_factor"]]
            columns = TRANSLATION_COLUMNS if kind == "translation" else SPEECH_COLUMNS
            evaluations.append(
                {
                    "eval": path.parent.name,
                    "decoding": name,
                    **dict(zip(columns, metrics, strict=True)),
                }
            )
    return {
        "run": str(run_dir),
        "kind": kind,
        "model": config.get("model", {}),
        "epochs": len(history),
        "best_dev_loss": min(dev_losses) if dev_losses else None,
        "evaluations": evaluations,
        "samples": samples,
    }


@dataclasses.dataclass
class Section:
    """A report section: a heading, an optional table and figures (file names in the report
    folder)."""

    title: str
    header: list = dataclasses.field(default_factory=list)
    rows: list = dataclasses.field(default_factory=list)
    images: list = dataclasses.field(default_factory=list)
    text: str = ""


def _model_summary(summary: dict) -> str:
    model = summary["model"]
    text = f"{model.get('num_layers', '?')}×{model.get('units', '?')} {model.get('cell', '')}"
    if summary["kind"] == "translation":
        text += f", attention {model.get('attention', 'output')}"
    else:
        text += f", subsampling {model.get('subsampling', '?')}"
    return text


def _results_section(summaries, kind, columns, out_dir) -> Section | None:
    items = [(s["run"], e) for s in summaries if s["kind"] == kind for e in s["evaluations"]]
    if not items:
        return None
    section = Section(
        "Translation" if kind == "translation" else "Speech recognition",
        ["run", "eval set", "decoding", *columns],
        [[run, e["eval"], e["decoding"], *(f"{e[c]:g}" for c in columns)] for run, e in items],
    )
    groups = [f"{Path(run).name}\n{e['eval']}\n{e['decoding']}" for run, e in items]
    scores, speed = columns[:2], columns[-1]
    name = f"{kind}_scores.png"
    figures.grouped_bars(
        groups, {c: [e[c] for _, e in items] for c in scores}, out_dir / name, section.title, ""
    )
    speed_name = f"{kind}_speed.png"
    figures.grouped_bars(
        groups,
        {speed: [e[speed] for _, e in items]},
        out_dir / speed_name,
        f"{section.title}: speed",
        speed + (" (lower is faster)" if kind == "speech" else ""),
    )
    section.images = [name, speed_name]
    return section


def write_comparison(run_dirs, out_dir, title: str = "Run comparison") -> tuple[Path, Path]:
    """Writes `report.md`, `report.html` (images inlined, opens anywhere) and the figures into
    `out_dir`. Returns the Markdown and HTML paths."""
    if not run_dirs:
        raise ValueError("no run directories to compare")
    summaries = [summarize_run(r) for r in run_dirs]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = [
        Section(
            "Runs",
            ["run", "kind", "model", "epochs", "best dev loss", "evaluations"],
            [
                [
                    s["run"],
                    s["kind"],
                    _model_summary(s),
                    s["epochs"],
                    "" if s["best_dev_loss"] is None else f"{s['best_dev_loss']:.4g}",
                    len({e["eval"] for e in s["evaluations"]}),
                ]
                for s in summaries
            ],
        )
    ]
    for kind, columns in [("translation", TRANSLATION_COLUMNS), ("speech", SPEECH_COLUMNS)]:
        section = _results_section(summaries, kind, columns, out_dir)
        if section:
            sections.append(section)
    for summary in summaries:
        sections += [
            Section(f"What {summary['run']} wrote: {item['eval']}", item["header"], item["rows"])
            for item in summary["samples"]
        ]
    curves = Section("Training curves")
    for i, summary in enumerate(summaries, 1):
        png = Path(summary["run"]) / "training_curves.png"
        if png.exists():
            curves.images.append(f"curves_{i}_{png.parent.name}.png")
            shutil.copyfile(png, out_dir / curves.images[-1])
    if curves.images:
        sections.append(curves)
    write_text(
        out_dir / "comparison.json", json.dumps(summaries, indent=2, ensure_ascii=False) + "\n"
    )
    md, page = out_dir / "report.md", out_dir / "report.html"
    write_text(md, _markdown(title, sections))
    write_text(page, _html(title, sections, out_dir))
    return md, page


def check_report(out_dir, kinds=("translation", "speech")) -> list[str]:
    """What a written report lacks: for each kind in `kinds`, a run of that kind with at least
    one evaluation whose main score (BLEU, WER %) is a number, and the report's files. Returns
    one line per problem (empty when the report holds every kind); `make demo`'s check in CI."""
    out_dir = Path(out_dir)
    problems = [
        f"{out_dir / name}: missing"
        for name in ("report.md", "report.html", "comparison.json")
        if not (out_dir / name).exists()
    ]
    if problems:
        return problems
    summaries = json.loads((out_dir / "comparison.json").read_text(encoding="utf-8"))
    main_score = {"translation": "BLEU", "speech": "WER %"}
    for kind in kinds:
        if kind not in main_score:
            raise ValueError(f"kind {kind!r}: expected one of {sorted(main_score)}")
        runs = [s for s in summaries if s["kind"] == kind]
        scored = [
            s["run"]
            for s in runs
            if any(isinstance(e.get(main_score[kind]), (int, float)) for e in s["evaluations"])
        ]
        if not runs:
            problems.append(f"{out_dir}: no {kind} run in the report")
        elif not scored:
            problems.append(
                f"{out_dir}: no {main_score[kind]} for the {kind} runs "
                f"({', '.join(s['run'] for s in runs)}): evaluate them first"
            )
    report = (out_dir / "report.md").read_text(encoding="utf-8")
    problems += [
        f"{out_dir / 'report.md'}: run {s['run']} not shown"
        for s in summaries
        if s["run"] not in report
    ]
    return problems


def _markdown(title: str, sections: list[Section]) -> str:
    lines = [f"# {title}"]
    for section in sections:
        lines += ["", f"## {section.title}", ""]
        if section.header:
            lines += [
                "| " + " | ".join(section.header) + " |",
                "|" + "---|" * len(section.header),
                *("| " + " | ".join(_cell(c) for c in row) + " |" for row in section.rows),
            ]
        if section.header and section.images:
            lines.append("")
        lines += [f"![{name}]({name})" for name in section.images]
    return "\n".join(lines) + "\n"


def _cell(value) -> str:
    """A Markdown table cell: a pipe or a line break in model output would break the row."""
    return str(value).replace("|", "\\|").replace("\n", " ")


STYLE = """body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: left; }
th { background: #f0f0f0; }
img { max-width: 100%; margin: 0.5em 0; display: block; }"""


def _html(title: str, sections: list[Section], folder: Path) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        if section.header:
            parts.append("<table><tr>")
            parts += [f"<th>{html.escape(str(c))}</th>" for c in section.header]
            parts.append("</tr>")
            for row in section.rows:
                cells = "".join(f"<td>{html.escape(str(c))}</td>" for c in row)
                parts.append(f"<tr>{cells}</tr>")
            parts.append("</table>")
        for name in section.images:
            data = base64.b64encode((folder / name).read_bytes()).decode("ascii")
            parts.append(f'<img alt="{html.escape(name)}" src="data:image/png;base64,{data}">')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
