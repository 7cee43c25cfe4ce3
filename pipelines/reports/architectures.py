"""Architecture comparison: train variants of one config (LSTM, GRU, simple RNN, Transformer)
under the same budget, evaluate each on the test split, and write one table and two plots.

`python -m pipelines.compare` drives `compare`. Each variant is an ordinary run directory
(`OUT/<variant>/`), so an interrupted comparison resumes where it stopped.
"""

import dataclasses
import json
import math
from pathlib import Path

import yaml

from pipelines.reports import figures
from seq2seq.config import load_config
from seq2seq.files import write_text
from seq2seq.recurrent import CELLS
from seq2seq.training.fit import load_model
from seq2seq.training.run_dir import RunDir

VARIANTS = (*CELLS, "transformer")


def variant_overrides(task: str, variant: str) -> list[str]:
    """The `--set` values that turn a base config into `variant`. In translation the `model`
    keys that only the other model type reads go back to their defaults (a config refuses
    them otherwise): a Transformer variant of a recurrent config drops its embedding size."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected some of {VARIANTS}")
    if task == "translate":
        from pipelines.tasks.translation import config

        unused = config.RECURRENT_ONLY if variant == "transformer" else config.TRANSFORMER_ONLY
        defaults = {f.name: f.default for f in dataclasses.fields(config.ModelConfig)}
        resets = [f"model.{key}={yaml.safe_dump(defaults[key]).split()[0]}" for key in unused]
    if variant == "transformer":
        if task != "translate":
            raise ValueError("the transformer variant exists for --task translate only")
        return ["model.type=transformer", *resets]
    if task == "translate":
        return [f"model.cell={variant}", "model.type=recurrent", *resets]
    return [f"model.cell={variant}"]


def compare(
    task: str,
    config_path,
    variants,
    budget_minutes: float,
    out_dir,
    overrides=(),
    epochs: int | None = None,
) -> Path:
    """Trains, evaluates and tabulates each variant; returns the Markdown table's path.

    Args:
        task: `translate` or `asr`.
        config_path: the base YAML config.
        variants: names from `VARIANTS`.
        budget_minutes: each variant's training budget (`train.max_minutes`).
        out_dir: one run directory per variant, plus `comparison.{json,md}` and the plots.
        overrides: `--set` values applied to every variant.
        epochs: the same number of epochs (so the same steps) for every variant; default: the
            config's, cut by the budget.
    """
    if task == "translate":
        from pipelines.tasks import translation as runner

        config_class = runner.TranslationConfig
    elif task == "asr":
        from pipelines.tasks import asr as runner

        config_class = runner.ASRConfig
    else:
        raise ValueError(f"unknown task {task!r}; expected translate or asr")
    for variant in variants:  # refuse a bad list before training anything
        variant_overrides(task, variant)
    out_dir = Path(out_dir)
    rows = []
    for variant in variants:
        run = out_dir / variant
        settings = [*overrides, *variant_overrides(task, variant)]
        settings += [f"train.max_minutes={budget_minutes}"]
        settings += [f"train.epochs={epochs}"] if epochs else []
        config = load_config(config_class, config_path, settings)
        print(f"== {variant}: training into {run} ({budget_minutes} min budget)", flush=True)
        runner.train(config, run)
        if task == "translate":
            report = runner.evaluate(run, "test", config.decode.beam_size)
        else:
            report = runner.evaluate(run, config.data.test, config.decode.beam_size)
        rows.append(_row(task, variant, run, json.loads(report.with_suffix(".json").read_text())))
    return _write(task, rows, out_dir, budget_minutes)


def _row(task: str, variant: str, run: Path, report: dict) -> dict:
    # One row per epoch, on the run's clock: a variant interrupted and resumed counts each
    # epoch once and its minutes add up across the resume.
    history = RunDir(run).history()
    summary = json.loads(RunDir(run).data_summary.read_text())["train"]
    model = load_model(RunDir(run).model)
    minutes = history[-1].get("elapsed_minutes", float("nan"))
    dev_loss = min(h["val_loss"] for h in history)
    per_epoch = summary["target_tokens_per_epoch" if task == "translate" else "kept_frames"]
    results = report["results"]
    row = {
        "variant": variant,
        "parameters": model.count_params(),
        "epochs": len(history),
        "train_minutes": round(minutes, 2),
        "train_units_per_second": round(per_epoch * len(history) / (60 * minutes), 1),
        "best_dev_loss": round(dev_loss, 4),
        "curve": [(h.get("elapsed_minutes"), h["val_loss"]) for h in history],
    }
    if task == "translate":
        row.update(
            dev_perplexity=round(math.exp(dev_loss), 2),
            bleu=results[-1]["bleu"],
            chrf=results[-1]["chrf"],
            decode_sentences_per_second={
                r["decoding"]["strategy"]: r["sentences_per_second"] for r in results
            },
            by_length={
                k: v["bleu"][list(v["bleu"])[-1]] for k, v in report["by_source_length"].items()
            },
        )
    else:
        row.update(
            wer=results[-1]["wer"],
            cer=results[-1]["cer"],
            real_time_factor={r["decoding"]["strategy"]: r["real_time_factor"] for r in results},
            by_length={k: v["wer"][-1] for k, v in report["by_duration"].items()},
        )
    return row


def _write(task: str, rows: list[dict], out_dir: Path, budget: float) -> Path:
    translate = task == "translate"
    unit = "target tokens/s" if translate else "input frames/s"
    scores = ["BLEU", "chrF", "dev perplexity"] if translate else ["WER %", "CER %"]
    header = ["variant", "parameters", "epochs", "train min", unit, "best dev loss", *scores]
    header += ["greedy sent/s", "beam sent/s"] if translate else ["RTF greedy", "RTF beam"]
    lines = [
        f"# Architecture comparison ({task}, {budget} min budget per variant)",
        "",
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
    ]
    for r in rows:
        speed = r["decode_sentences_per_second"] if translate else r["real_time_factor"]
        values = [r["bleu"], r["chrf"], r["dev_perplexity"]] if translate else [r["wer"], r["cer"]]
        cells = [
            r["variant"],
            f"{r['parameters']:,}",
            r["epochs"],
            r["train_minutes"],
            r["train_units_per_second"],
            r["best_dev_loss"],
            *values,
            speed.get("greedy", ""),
            speed.get("beam", ""),
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    figures.curves(
        {r["variant"]: r["curve"] for r in rows},
        out_dir / "dev_loss_vs_time.png",
        "Dev loss against training time",
        "training minutes",
        "dev loss",
    )
    buckets = list(dict.fromkeys(k for r in rows for k in r["by_length"]))
    figures.grouped_bars(
        buckets,
        {r["variant"]: [r["by_length"].get(b, 0.0) for b in buckets] for r in rows},
        out_dir / "by_length.png",
        "BLEU by source length" if translate else "WER by utterance duration",
        "BLEU" if translate else "WER %",
    )
    lines += [
        "",
        "![dev loss against training time](dev_loss_vs_time.png)",
        "",
        f"Long-dependency probe: {'BLEU by source length' if translate else 'WER by duration'}.",
        "",
        "![by length](by_length.png)",
    ]
    write_text(out_dir / "comparison.json", json.dumps(rows, indent=2))
    return write_text(out_dir / "comparison.md", "\n".join(lines) + "\n")
