"""The callbacks of a training run: the fault handling that makes a run safe to kill,
interrupt and resume, the best-model checkpoint, early stopping, logs and a time budget.

The resumable state (`backup/epoch-N/`, weights with the optimizer state and the epoch) is
written into a fresh folder renamed into place, the previous state is kept, and a state that
does not load is reported and skipped; the best model (`model.keras`) is replaced by an atomic
rename, keeping the one it replaces as `model.previous.keras`; weights that are not finite are
never saved. A resumed run goes on counting early stopping's patience from `history.csv`.
"""

import csv
import json
import logging
import math
import os
import shutil
import sys
import time
from pathlib import Path

import keras
import numpy as np

from seq2seq.distributed import gather_from_workers
from seq2seq.files import atomic_write

logger = logging.getLogger(__name__)


class ElapsedTime(keras.callbacks.Callback):
    """Adds `elapsed_minutes` (training time since this call of fit started, validation
    included) to each epoch's logs, so `history.csv` records when each epoch ended."""

    def on_train_begin(self, logs=None):
        self.start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["elapsed_minutes"] = (time.monotonic() - self.start) / 60


class TimeLimit(keras.callbacks.Callback):
    """Stops training at the end of the first epoch that ends past `max_minutes` of training
    time (counted from the start of this call of fit), so a run keeps to a time budget."""

    def __init__(self, max_minutes: float):
        super().__init__()
        self.max_seconds = max_minutes * 60
        self.start = None

    def on_train_begin(self, logs=None):
        self.start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.monotonic() - self.start
        if elapsed >= self.max_seconds:
            print(
                f"\ntime budget of {self.max_seconds / 60:.1f} min reached after epoch {epoch + 1}"
            )
            self.model.stop_training = True


class ProgressLog(keras.callbacks.Callback):
    """Prints a progress line every `every_seconds` when output is not a terminal (CI, logs),
    where Keras's live progress bar cannot redraw."""

    def __init__(self, every_seconds: float = 30.0):
        super().__init__()
        self.every_seconds = every_seconds

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.last = epoch + 1, time.monotonic()
        self.epoch_start = self.last

    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        if now - self.last >= self.every_seconds:
            self.last = now
            metrics = "  ".join(f"{k} {v:.4f}" for k, v in (logs or {}).items())
            print(
                f"epoch {self.epoch} batch {batch + 1}  {metrics}  "
                f"({(now - self.epoch_start) / 60:.1f} min)",
                flush=True,
            )


class NaNGuard(keras.callbacks.Callback):
    """Stops training at the first batch whose loss is NaN or infinite and remembers where
    (`self.fault`), so `fit` can say so; the backup and checkpoint callbacks then save
    nothing more."""

    def __init__(self):
        super().__init__()
        self.fault = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            step = int(self.model.optimizer.iterations.numpy())
            self.fault = (
                f"the loss became {float(loss)} at epoch {self.epoch}, batch {batch + 1} "
                f"(step {step})"
            )
            self.model.stop_training = True


def _finite_weights(model) -> bool:
    return all(np.isfinite(w).all() for w in model.get_weights())


def _epoch(state: Path) -> int:
    return int(state.name.split("-")[-1])


class Backup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` that survives kills and corrupt files.

    Each state (weights with the optimizer state, and the epoch) is written at the end of an
    epoch into `backup/.epoch-N.partial/`, then renamed to `backup/epoch-N/`; the newest two are
    kept. At the start the newest state that loads is restored; one that does not is reported
    and the one before it used. Weights that are not finite (after a NaN loss) are not saved.
    The backup is deleted when training ends normally, kept when it stops on a fault.

    Args:
        backup_dir: the folder of the states.
        guard: the run's `NaNGuard`.
    """

    def __init__(self, backup_dir, guard: NaNGuard):
        super().__init__(backup_dir)
        self.guard = guard

    def _states(self) -> list[Path]:
        folder = Path(self.backup_dir)
        states = [p for p in folder.glob("epoch-*") if p.name.split("-")[-1].isdigit()]
        return sorted(states, key=_epoch, reverse=True)

    def on_train_begin(self, logs=None):
        strategy = self.model.distribute_strategy
        states = self._states()
        # Multi-worker: resume from the newest epoch that every worker has kept.
        newest = min(gather_from_workers(strategy, _epoch(states[0]) if states else -1))
        states = [s for s in states if _epoch(s) <= newest]
        loaded = -1
        for state in states:
            self._weights_path = str(state / "model.weights.h5")
            self._training_metadata_path = str(state / "state.json")
            try:
                self._load_model()
                epoch = json.loads((state / "state.json").read_text())["epoch"]
            except Exception as err:  # h5py, JSON and Keras errors alike
                logger.warning("backup %s is unreadable (%s); trying the one before it", state, err)
                continue
            print(f"resuming after epoch {epoch} from {state}")
            loaded = _epoch(state)
            break
        if states and loaded < 0:
            raise ValueError(
                f"no backup in {self.backup_dir} could be read; delete the folder to start over"
            )
        if len(set(gather_from_workers(strategy, loaded))) > 1:
            raise ValueError(
                "the workers' backups are of different epochs; delete RUN/backup and "
                "RUN/workers/*/backup to start over"
            )

    def _save_model(self):
        if self.guard.fault or not _finite_weights(self.model):
            logger.error(
                "weights are not finite: backup of epoch %d not written", self._current_epoch
            )
            return
        folder = Path(self.backup_dir)
        final = folder / f"epoch-{self._current_epoch}"
        tmp = folder / f".epoch-{self._current_epoch}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            self.model.save_weights(tmp / "model.weights.h5")
            metadata = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
            (tmp / "state.json").write_text(json.dumps(metadata))
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        for old in self._states()[2:]:
            shutil.rmtree(old, ignore_errors=True)

    def on_train_end(self, logs=None):
        if not self.guard.fault:
            super().on_train_end(logs)


class BestCheckpoint(keras.callbacks.Callback):
    """Saves the model whenever the dev loss improves on the best so far (a finite value only),
    atomically; the model it replaces is kept as `model.previous.keras`.

    Args:
        path: the `.keras` file.
        best: the best dev loss of earlier epochs (a resumed run passes its history's).
    """

    def __init__(self, path, best: float = math.inf):
        super().__init__()
        self.path, self.best = Path(path), best

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("val_loss")
        if loss is None or not math.isfinite(loss) or loss >= self.best:
            return
        if not _finite_weights(self.model):
            return
        self.best = loss

        def save(tmp):
            self.model.save(tmp)
            if self.path.exists():
                os.replace(self.path, self.path.with_name("model.previous.keras"))

        atomic_write(self.path, save)


def read_history(history_csv) -> list[dict]:
    """The rows of a run's `history.csv` (empty if none), one per epoch in epoch order. The
    CSV logger appends, so an epoch that ran again after a resume from an older backup has
    two rows: the last one counts."""
    if not Path(history_csv).exists():
        return []
    with open(history_csv, encoding="utf-8", newline="") as f:
        rows = {int(r["epoch"]): r for r in csv.DictReader(f)}
    return [rows[epoch] for epoch in sorted(rows)]


def _dev_losses(history_csv: Path) -> dict[int, float]:
    """{epoch (0-based): dev loss} of the epochs recorded in `history.csv`."""
    rows = read_history(history_csv)
    return {int(r["epoch"]): float(r["val_loss"]) for r in rows if r.get("val_loss")}


def _best_dev_loss(history_csv: Path) -> float:
    """The lowest dev loss recorded by earlier epochs of a resumed run (inf if none); every
    row counts, a rerun epoch's first one too: `model.keras` may hold the model it saved."""
    if not history_csv.exists():
        return math.inf
    with open(history_csv, encoding="utf-8", newline="") as f:
        losses = [float(r["val_loss"]) for r in csv.DictReader(f) if r.get("val_loss")]
    return min([x for x in losses if math.isfinite(x)], default=math.inf)


class EarlyStopping(keras.callbacks.EarlyStopping):
    """Keras's early stopping on the dev loss, counting on across a resume: at the first
    epoch of a resumed run the best dev loss and the epochs since it come from the earlier
    epochs' rows of `history.csv` (Keras alone would start counting from zero again, so a run
    killed and resumed would train up to `patience` epochs longer than one left alone).

    Args:
        history_csv: the run's `history.csv`.
        patience: epochs without a lower dev loss before training stops.
    """

    def __init__(self, history_csv, patience: int):
        super().__init__(monitor="val_loss", patience=patience)
        self.history_csv = Path(history_csv)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._first_epoch = True

    def on_epoch_begin(self, epoch, logs=None):
        if not self._first_epoch:
            return
        self._first_epoch = False
        losses = _dev_losses(self.history_csv).items()
        finite = {e: x for e, x in losses if e < epoch and math.isfinite(x)}
        if finite:
            self.best_epoch = min(finite, key=lambda e: (finite[e], e))
            self.best = finite[self.best_epoch]
            self.wait = epoch - 1 - self.best_epoch  # every epoch since, as Keras counts


def make_callbacks(run_dir, patience: int, max_minutes: float | None = None):
    """NaN guard, resumable backups, checkpoint of the best model (on val_loss), early
    stopping, TensorBoard and CSV logs and an optional time budget."""
    run_dir = Path(run_dir)
    guard = NaNGuard()
    callbacks = [
        guard,
        keras.callbacks.TerminateOnNaN(),
        Backup(str(run_dir / "backup"), guard),
        BestCheckpoint(run_dir / "model.keras", _best_dev_loss(run_dir / "history.csv")),
        EarlyStopping(run_dir / "history.csv", patience),
        ElapsedTime(),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
        keras.callbacks.TensorBoard(str(run_dir / "logs"), profile_batch=0),
    ]
    if max_minutes:
        callbacks.append(TimeLimit(max_minutes))
    if not sys.stdout.isatty():
        callbacks.append(ProgressLog())
    return callbacks
