"""A run directory: every path a training run writes, and the one reader of its history.

RUN/
  config.yaml               the resolved config the run was trained with
  data_summary.json         what the data preparation kept and left out
  tokenizers/               translation: source.model, target.model
  feature_stats.json        speech: the features' mean and deviation
  model.keras               the best model (by train.select_by: dev loss, BLEU or chrF)
  model.previous.keras      the best model before it (a fallback if model.keras is damaged)
  epochs/epoch-N.weights.h5 train.average_last: the weights of the last epochs
  model.averaged.keras      their average (evaluate, translate and export use it when present)
  backup/epoch-N/           resumable state after N epochs (deleted when training ends)
  history.csv               one row per epoch (an epoch rerun after a resume: the last row
                            counts); `elapsed_minutes` is the run's training time at the
                            end of the epoch, counted across resumes
  logs/                     TensorBoard
  training_curves.png
  TRAINING_COMPLETE         written when training ends (finished, stopped early, or out of
                            its time budget): a rerun of `train` then refuses
  eval/<split>/report.*     evaluation reports
"""

import csv
import math
from pathlib import Path


class RunDir:
    """The paths of one run directory and its history (`history.csv`)."""

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self):
        return f"RunDir({str(self.path)!r})"

    config = property(lambda self: self.path / "config.yaml")
    data_summary = property(lambda self: self.path / "data_summary.json")
    tokenizers = property(lambda self: self.path / "tokenizers")
    feature_stats = property(lambda self: self.path / "feature_stats.json")
    model = property(lambda self: self.path / "model.keras")
    previous_model = property(lambda self: self.path / "model.previous.keras")
    averaged_model = property(lambda self: self.path / "model.averaged.keras")
    epoch_weights = property(lambda self: self.path / "epochs")
    backup = property(lambda self: self.path / "backup")
    history_csv = property(lambda self: self.path / "history.csv")
    logs = property(lambda self: self.path / "logs")
    curves = property(lambda self: self.path / "training_curves.png")
    complete = property(lambda self: self.path / "TRAINING_COMPLETE")

    def eval_dir(self, name: str) -> Path:
        return self.path / "eval" / name

    def is_trained(self) -> bool:
        return self.complete.exists()

    def _rows(self) -> list[dict]:
        """Every row of `history.csv` as written (numbers as floats, `epoch` an int)."""
        if not self.history_csv.exists():
            return []
        with open(self.history_csv, encoding="utf-8", newline="") as f:
            rows = [{k: float(v) for k, v in row.items() if v} for row in csv.DictReader(f)]
        return [{**row, "epoch": int(row["epoch"])} for row in rows]

    def history(self) -> list[dict]:
        """One row per epoch in epoch order. The CSV logger appends, so an epoch that ran again
        after a resume from an older backup has two rows: the last one counts."""
        rows = {row["epoch"]: row for row in self._rows()}
        return [rows[epoch] for epoch in sorted(rows)]

    def dev_losses(self) -> dict[int, float]:
        """{epoch (0-based): dev loss} of the epochs in the history."""
        return self.dev_values("val_loss")

    def dev_values(self, column: str) -> dict[int, float]:
        """{epoch (0-based): value} of a history column (val_loss, val_bleu, ...)."""
        return {r["epoch"]: r[column] for r in self.history() if column in r}

    def best_dev_value(self, column: str = "val_loss", mode: str = "min") -> float:
        """The best finite value of a history column in any row (lowest for `mode` min,
        highest for max; inf or -inf if none); a rerun epoch's first row counts too:
        `model.keras` may hold the model it saved."""
        values = [r[column] for r in self._rows() if column in r and math.isfinite(r[column])]
        if mode == "min":
            return min(values, default=math.inf)
        return max(values, default=-math.inf)

    def minutes_spent(self, epochs: int) -> float:
        """The run's training minutes at the end of its first `epochs` epochs (0 for none): the
        clock a resumed run continues from. Time lost in an epoch that a kill cut short is not
        counted; it produced nothing the run kept."""
        rows = {r["epoch"]: r for r in self.history()}
        if epochs <= 0 or epochs - 1 not in rows:
            return 0.0
        return rows[epochs - 1].get("elapsed_minutes", 0.0)

    def backup_epochs(self) -> list[int]:
        """The epoch counts of the resumable states in `backup/`, newest first."""
        return [state_epoch(state) for state in backup_states(self.backup)]


def state_epoch(state: Path) -> int:
    """The epoch count of a resumable state folder `epoch-N`."""
    return int(state.name.split("-")[-1])


def backup_states(folder) -> list[Path]:
    """The resumable state folders (`epoch-N`) in a backup folder, newest first."""
    states = [p for p in Path(folder).glob("epoch-*") if p.name.split("-")[-1].isdigit()]
    return sorted(states, key=state_epoch, reverse=True)
