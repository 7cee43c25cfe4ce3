"""PNG figures for the reports: training curves, attention heatmaps, bar charts of scores by
group, character substitutions and CTC posteriors.

Built on `matplotlib.figure.Figure` directly (not pyplot): no display, no global figure state,
and importing this module selects no backend. Every function saves one PNG and returns its path.
"""

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure


def _save(fig: Figure, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path


def training_curves(rows: list[dict], path) -> Path | None:
    """Loss and metric curves per epoch (train and dev) from a run's history (`RunDir.history`:
    an epoch run twice, after a resume, drawn once); one panel per quantity. Returns None when
    the history holds no epoch."""
    if not rows:
        return None
    epochs = [r["epoch"] + 1 for r in rows]
    names = [
        k for k in rows[0] if k not in ("epoch", "elapsed_minutes") and not k.startswith("val_")
    ]
    fig = Figure(figsize=(5 * len(names), 3.6))
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        for key, label in [(name, "train"), (f"val_{name}", "dev")]:
            if key in rows[0]:
                ax.plot(epochs, [r[key] for r in rows], marker="o", label=label)
        ax.set(xlabel="epoch", ylabel=name, title=name.replace("_", " "))
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


def attention_heatmap(source_tokens, target_tokens, weights, path, title=None) -> Path:
    """Attention weights (target tokens x source tokens): row i is where the model looked while
    producing target token i."""
    weights = np.asarray(weights)
    fig = Figure(
        figsize=(max(4, 0.35 * len(source_tokens) + 2), max(3, 0.3 * len(target_tokens) + 1.5))
    )
    ax = fig.add_subplot()
    image = ax.imshow(weights, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(source_tokens)), source_tokens, rotation=90, fontsize=8)
    ax.set_yticks(range(len(target_tokens)), target_tokens, fontsize=8)
    ax.set(xlabel="source", ylabel="target")
    if title:
        ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.03)
    return _save(fig, path)


def grouped_bars(groups, series: dict, path, title, ylabel, counts=None) -> Path:
    """A bar per group and series (e.g. WER by voice for greedy and beam search), with the
    values written on the bars and the group sizes (`counts`) beside the group names. More than
    12 groups are drawn as horizontal bars, one row per group, so the figure stays readable."""
    groups = [str(g) for g in groups]
    if counts is not None:
        groups = [f"{g} (n={n})" for g, n in zip(groups, counts, strict=True)]
    horizontal = len(groups) > 12
    x = np.arange(len(groups))
    width = 0.8 / max(1, len(series))
    if horizontal:
        fig = Figure(figsize=(7, 0.22 * len(groups) * max(1, len(series)) + 1.5))
    else:
        labels = [g.replace(" (n=", "\n(n=") for g in groups]
        fig = Figure(figsize=(max(5, len(groups) * max(1.5, 0.8 * len(series)) + 1.5), 3.8))
    ax = fig.add_subplot()
    for i, (name, values) in enumerate(series.items()):
        offset = x + (i - (len(series) - 1) / 2) * width
        bars = (ax.barh if horizontal else ax.bar)(offset, values, width, label=name)
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    if horizontal:
        ax.set_yticks(x, groups, fontsize=7)
        ax.invert_yaxis()  # first group on top
        ax.set(xlabel=ylabel, title=title)
        ax.grid(axis="x", alpha=0.3)
    else:
        ax.set_xticks(x, labels, fontsize=8, rotation=30 if len(groups) > 8 else 0)
        ax.set(ylabel=ylabel, title=title)
        ax.grid(axis="y", alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=8)
    return _save(fig, path)


def substitutions_chart(substitutions, path, title) -> Path:
    """Horizontal bars of the most frequent (reference, hypothesis, count) character
    substitutions; a space is shown as '␣'."""
    names = [f"{_show(r)} → {_show(h)}" for r, h, _ in substitutions][::-1]
    counts = [n for _, _, n in substitutions][::-1]
    fig = Figure(figsize=(5, max(2, 0.28 * len(names) + 1)))
    ax = fig.add_subplot()
    bars = ax.barh(range(len(names)), counts, color="tab:red")
    ax.bar_label(bars, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=9, family="monospace")
    ax.set(xlabel="count", title=title)
    return _save(fig, path)


def _show(char: str) -> str:
    return "␣" if char == " " else char


def ctc_posteriors(probabilities, labels, path, title=None) -> Path:
    """CTC posteriors (characters x output frames) with the greedy path (the most probable
    label per frame) drawn over them; `labels` names the classes, index 0 being the blank."""
    probabilities = np.asarray(probabilities)  # (frames, classes)
    fig = Figure(figsize=(max(6, 0.06 * len(probabilities) + 2), 5))
    ax = fig.add_subplot()
    image = ax.imshow(probabilities.T, cmap="magma", vmin=0, vmax=1, aspect="auto", origin="lower")
    path_ids = probabilities.argmax(axis=-1)
    ax.plot(np.arange(len(path_ids)), path_ids, color="cyan", linewidth=0.8, label="greedy path")
    ax.set_yticks(range(len(labels)), [_show(c) for c in labels], fontsize=7, family="monospace")
    ax.set(xlabel="output frame", ylabel="character")
    ax.legend(loc="upper right", fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.03)
    return _save(fig, path)


def curves(series: dict, path, title, xlabel, ylabel) -> Path:
    """One line per series of (x, y) points, e.g. dev loss against training minutes per
    architecture; points without an x are left out."""
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    for name, points in series.items():
        points = [(x, y) for x, y in points if x is not None]
        ax.plot([x for x, _ in points], [y for _, y in points], marker="o", label=name)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def encoder_lines(encoder: dict | None) -> list[str]:
    """The line a report over a pretrained encoder carries: whose model the figures rest on."""
    if not encoder:
        return []
    return [
        f"**Pretrained encoder `{encoder['name']}` ({encoder['package']}, {encoder['licence']}):"
        " trained by others on real speech**; only the head above it was trained here. "
        f"{encoder['description']}.",
        "",
    ]
