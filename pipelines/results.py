"""Results from committed files: `record` keeps what a finished run measured, `build` writes
every results page and the README's headline tables from what was kept.

    python -m pipelines.results record --run-dir runs/asr_voices --name voices --task asr \\
        --command "make voices"
    python -m pipelines.results build            # docs/results/*.md and the README's tables
    python -m pipelines.results build --check    # exit status 1 if a checked-in page differs

`record` copies the run's resolved `config.yaml`, its `history.csv`, every
`eval/<set>/report.json` and a pretrained encoder's `encoder.json` (no weights) into
`results/<task>/<name>/` and writes
`environment.json` there: the git commit, dates, CPU model and the flags that matter for speed
(avx2, avx512*, amx*), cores, GPUs, Python, TensorFlow and Keras versions, the exact commands,
epochs and training time (from the history). The pages are in `pipelines.reports.results_pages`
and `pipelines.reports.speed_page`; a test checks that the checked-in ones match.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASK_KINDS = {"translate": "translation", "asr": "speech"}  # --task: the config's kind
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
SPEED_FLAGS = re.compile(r"avx2|avx512\w*|amx\w*")


def cpu(cpuinfo: str) -> dict:
    """The CPU model, core count and speed-relevant flags of a /proc/cpuinfo text."""
    fields = dict(
        line.split(":", 1) for line in cpuinfo.splitlines() if ":" in line and line[0] != " "
    )
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags = sorted({f for f in fields.get("flags", "").split() if SPEED_FLAGS.fullmatch(f)})
    return {
        "model": fields.get("model name", platform.processor() or platform.machine()),
        "cores": os.cpu_count(),
        "flags": flags,
    }


def _run(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict:
    """What every `environment.json` records about the code and the machine: the date, the git
    commit (and local changes), the CPU, the Python, TensorFlow and Keras versions."""
    info = Path("/proc/cpuinfo")
    return {
        "recorded": datetime.date.today().isoformat(),
        "commit": _run(["git", "rev-parse", "HEAD"]) or None,
        "dirty": bool(_run(["git", "status", "--porcelain", "--untracked-files=no"])),
        "cpu": cpu(info.read_text(encoding="utf-8") if info.exists() else ""),
        "python": platform.python_version(),
        "tensorflow": _version("tensorflow"),
        "keras": _version("keras"),
    }


def environment(run_dir: Path, commands: list[str], history: list[dict]) -> dict:
    """What `environment.json` records about the machine, the code and the run."""
    complete = run_dir / "TRAINING_COMPLETE"
    gpus = (
        _run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"])
        if shutil.which("nvidia-smi")
        else ""
    )
    return {
        **machine(),
        "trained": datetime.date.fromtimestamp(complete.stat().st_mtime).isoformat(),
        "gpus": [line for line in gpus.splitlines() if line],
        "commands": commands,
        "epochs": len(history),
        "training_minutes": round(history[-1]["elapsed_minutes"], 1)
        if history and "elapsed_minutes" in history[-1]
        else None,
        "run_dir": str(run_dir),
    }


def record(run_dir, name: str, task: str, commands, results=None, **extra) -> Path:
    """Copies a finished run's config, history, evaluation reports (and `encoder.json`, the
    LM's `lm.json` where they exist) into `results/<task>/<name>/` and writes its
    `environment.json` (with `extra`: `note`, `wall_minutes`). Refuses an unfinished run, one
    without reports, a config of the other task and an existing result. Returns the folder."""
    import yaml

    from seq2seq.training.run_dir import RunDir

    run = RunDir(run_dir)
    if not NAME.fullmatch(name):
        raise ValueError(f"--name {name!r}: letters, digits, _ and - only")
    if not run.complete.exists():
        raise ValueError(f"{run.path}: training has not finished (no {run.complete.name})")
    reports = sorted(run.path.glob("eval/*/report.json"))
    if not reports:
        raise ValueError(f"{run.path}: no eval/*/report.json; run evaluate first")
    config = yaml.safe_load(run.config.read_text(encoding="utf-8"))
    kind = "speech" if "features" in config else "translation"
    if kind != TASK_KINDS[task]:
        raise ValueError(f"{run.path} is a {kind} run, not --task {task}")
    out = Path(results or ROOT / "results") / task / name
    if out.exists():
        raise ValueError(f"{out} exists: remove it to record {name} again")
    env = environment(run.path, list(commands), run.history())
    env.update({k: v for k, v in extra.items() if v is not None})
    out.mkdir(parents=True)
    shutil.copyfile(run.config, out / "config.yaml")
    shutil.copyfile(run.history_csv, out / "history.csv")
    if (run.path / "encoder.json").exists():  # a pretrained encoder: what it is, who trained it
        shutil.copyfile(run.path / "encoder.json", out / "encoder.json")
    if (run.path / "lm" / "lm.json").exists():  # the word LM: its source, weights tuned on dev
        shutil.copyfile(run.path / "lm" / "lm.json", out / "lm.json")
    for report in reports:
        target = out / "eval" / report.parent.name / "report.json"
        target.parent.mkdir(parents=True)
        shutil.copyfile(report, target)
    text = json.dumps({"name": name, "task": task, **env}, indent=2, ensure_ascii=False)
    (out / "environment.json").write_text(text + "\n", encoding="utf-8")
    return out


def record_chain(reports, name: str, commands, results=None, **extra) -> Path:
    """Copies speech-translation reports (folders written by `speech_translate --evaluate`,
    each holding report.json) into `results/speech_translate/<name>/<folder name>/` and writes
    `environment.json` (the commit, CPU, versions and commands; with `extra`: `note`,
    `wall_minutes`). Refuses a folder without a report and an existing result."""
    if not NAME.fullmatch(name):
        raise ValueError(f"--name {name!r}: letters, digits, _ and - only")
    folders = [Path(r) for r in reports]
    for folder in folders:
        if not (folder / "report.json").is_file():
            raise FileNotFoundError(f"{folder / 'report.json'} not found: run --evaluate first")
    out = Path(results or ROOT / "results") / "speech_translate" / name
    if out.exists():
        raise ValueError(f"{out} exists: remove it to record {name} again")
    env = {
        "name": name,
        "task": "speech_translate",
        **machine(),
        "commands": list(commands),
        **{k: v for k, v in extra.items() if v is not None},
    }
    for folder in folders:
        (out / folder.name).mkdir(parents=True)
        shutil.copyfile(folder / "report.json", out / folder.name / "report.json")
    text = json.dumps(env, indent=2, ensure_ascii=False)
    (out / "environment.json").write_text(text + "\n", encoding="utf-8")
    return out


def expected_files(root) -> dict[Path, str]:
    """{path: content} of every file `build` writes under `root`."""
    from pipelines.reports import chain_page, results_pages, speed_page

    root = Path(root)
    pages = {
        root / "docs/results" / page: results_pages.page(root, task)
        for task, (page, _, _) in results_pages.TASKS.items()
    }
    pages[root / "docs/results/speed.md"] = speed_page.page(root)
    pages[root / "docs/results" / chain_page.PAGE] = chain_page.page(root)
    readme = root / "README.md"
    text = results_pages.with_headlines(readme.read_text(encoding="utf-8"), root)
    pages[readme] = chain_page.with_headline(text, root)
    return pages


def build(root=ROOT, check: bool = False) -> list[Path]:
    """Writes the pages (or with `check`, writes nothing); returns the files that differed."""
    differing = []
    for path, text in expected_files(root).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            differing.append(path)
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    return differing


def _add_record_options(parser, what: str):
    """--name, --command, --note, --wall-minutes and --results: what both records take."""
    parser.add_argument("--name", required=True, help="the result's name (letters, digits, _ -)")
    parser.add_argument(
        "--command",
        dest="commands",
        action="append",
        required=True,
        metavar="CMD",
        help=f"a command that produced {what}, exactly as run (repeat, in order)",
    )
    parser.add_argument("--note", help="a sentence every table of this result shows")
    parser.add_argument("--wall-minutes", type=float, help="the commands' wall time, if measured")
    parser.add_argument("--results", default=None, help="results folder (default: results/)")


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.results",
        description="Results from committed files: record a finished run's config, history, "
        "evaluation reports and environment into results/<task>/<name>/; build the results "
        "pages (docs/results/) and the README's headline tables from those files only.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser(
        "record",
        help="copy a finished, evaluated run into results/<task>/<name>/",
        description="Copies RUN/config.yaml, RUN/history.csv, every RUN/eval/*/report.json "
        "and, where they exist, RUN/encoder.json and RUN/lm/lm.json (no weights) into "
        "results/<task>/<name>/ and writes environment.json (commit, dates, "
        "CPU and its avx2/avx512/amx flags, cores, GPUs, Python/TensorFlow/Keras versions, the "
        "commands, epochs and training time). Then run `build`.",
    )
    rec.add_argument("--run-dir", required=True, help="a finished run with eval/ reports")
    rec.add_argument("--task", required=True, choices=sorted(TASK_KINDS))
    _add_record_options(rec, "the run")
    chain = commands.add_parser(
        "record-chain",
        help="copy speech translation reports into results/speech_translate/<name>/",
        description="Copies each REPORT folder's report.json (written by `python -m "
        "pipelines.speech_translate --evaluate MANIFEST --out REPORT`) into "
        "results/speech_translate/<name>/<folder name>/ and writes environment.json. Record "
        "the recognizer and the translator runs with `record`. Then run `build`.",
    )
    chain.add_argument("--report", dest="reports", action="append", required=True)
    _add_record_options(chain, "the reports")
    bld = commands.add_parser(
        "build",
        help="write docs/results/*.md and the README's tables from the committed files",
        description="Writes docs/results/translation.md and speech.md from results/, "
        "docs/results/speed.md from benchmarks/results/*.json, and the README's headline "
        "tables between its <!-- results:<task> begin/end --> markers.",
    )
    bld.add_argument("--check", action="store_true", help="write nothing; exit 1 if any differs")
    bld.add_argument("--root", default=str(ROOT), help="repository root (default: this one)")
    return parser


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "record":
            extra = {"note": args.note, "wall_minutes": args.wall_minutes}
            out = record(args.run_dir, args.name, args.task, args.commands, args.results, **extra)
            print(f"recorded {out}; now run: python -m pipelines.results build")
            return
        if args.command == "record-chain":
            extra = {"note": args.note, "wall_minutes": args.wall_minutes}
            out = record_chain(args.reports, args.name, args.commands, args.results, **extra)
            print(f"recorded {out}; now run: python -m pipelines.results build")
            return
        differing = build(args.root, args.check)
    except (ValueError, FileNotFoundError) as err:
        parser.exit(2, f"error: {err}\n")
    for path in differing:
        verb = "differs from what build writes" if args.check else "written"
        print(f"{path}: {verb}", file=sys.stderr if args.check else sys.stdout)
    if args.check and differing:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
