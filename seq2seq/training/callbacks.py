"""The callbacks of a training run: the fault handling that makes a run safe to kill,
interrupt and resume, the task's dev scores, the best-model checkpoint, early stopping, logs
and a time budget.

The resumable state (`backup/epoch-N/`, weights with the optimizer state and the epoch) is
written into a fresh folder renamed into place, the previous state is kept, and a state that
does not load is reported and skipped; the best model (`model.keras`) is replaced by an atomic
rename, keeping the one it replaces as `model.previous.keras`; weights that are not finite are
never saved. A resumed run goes on counting early stopping's patience from `history.csv`.
"""

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

from seq2seq import keras_private
from seq2seq.files import atomic_write
from seq2seq.training.distributed import gather_from_workers
from seq2seq.training.run_dir import RunDir, backup_states, state_epoch

logger = logging.getLogger(__name__)


class TrainingClock(keras.callbacks.Callback):
    """The run's training clock and time budget. Adds `elapsed_minutes` to each epoch's logs:
    the run's training time (validation included) at the end of the epoch, continuing across
    resumes from the minutes the kept epochs took (`RunDir.minutes_spent`), so `history.csv`
    records when each epoch ended on the run's clock. With `max_minutes`, stops training at the
    end of the first epoch that ends past it: the budget is the run's, not the process's.

    Args:
        run: the `RunDir` (its history gives a resumed run's minutes spent).
        max_minutes: the time budget, or None.
    """

    clock = staticmethod(time.monotonic)  # seconds

    def __init__(self, run: RunDir, max_minutes: float | None = None):
        super().__init__()
        self.run, self.max_minutes = run, max_minutes
        self.start = None

    def on_train_begin(self, logs=None):
        self.start = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.start is None:  # the first epoch of this process: the run's clock so far
            self.spent = self.run.minutes_spent(epoch)
            self.start = self.clock()

    def on_epoch_end(self, epoch, logs=None):
        elapsed = self.spent + (self.clock() - self.start) / 60
        if logs is not None:
            logs["elapsed_minutes"] = elapsed
        if self.max_minutes is not None and elapsed >= self.max_minutes:
            print(f"\ntime budget of {self.max_minutes:.1f} min reached after epoch {epoch + 1}")
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
        state = ["_load_model", "_weights_path", "_training_metadata_path", "_current_epoch"]
        keras_private.require(self, [*state, "_last_batch_seen"], "the resumable backup")

    def _states(self) -> list[Path]:
        return backup_states(self.backup_dir)

    def on_train_begin(self, logs=None):
        strategy = self.model.distribute_strategy
        states = self._states()
        # Multi-worker: resume from the newest epoch that every worker has kept.
        newest = min(gather_from_workers(strategy, state_epoch(states[0]) if states else -1))
        states = [s for s in states if state_epoch(s) <= newest]
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
            loaded = state_epoch(state)
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


class DevScores(keras.callbacks.Callback):
    """After each epoch, adds the task's dev scores to the epoch's logs as `val_<name>` (so
    the checkpoint, early stopping, history.csv and TensorBoard see them) and the seconds they
    took as `dev_score_seconds`.

    Args:
        score: `score(model) -> {name: value}` (translation: greedy-decode the dev split and
            score it with sacrebleu).
        guard: the run's `NaNGuard` (nothing is scored after a fault).
    """

    def __init__(self, score, guard: NaNGuard):
        super().__init__()
        self.score, self.guard = score, guard

    def on_epoch_end(self, epoch, logs=None):
        if self.guard.fault or logs is None:
            return
        start = time.monotonic()
        scores = self.score(self.model)
        logs["dev_score_seconds"] = time.monotonic() - start
        logs.update({f"val_{name}": value for name, value in scores.items()})
        shown = "  ".join(f"{name} {value:.2f}" for name, value in scores.items())
        print(f"epoch {epoch + 1} dev {shown} ({logs['dev_score_seconds']:.1f} s)", flush=True)


def _better(value, best, mode: str) -> bool:
    return value < best if mode == "min" else value > best


class BestCheckpoint(keras.callbacks.Callback):
    """Saves the model whenever the monitored dev value improves on the best so far (a finite
    value only), atomically; the model it replaces is kept as `model.previous.keras`.

    Args:
        path: the `.keras` file.
        best: the best value of earlier epochs (a resumed run passes its history's).
        monitor, mode: the logs key (val_loss, val_bleu, ...) and "min" or "max".
    """

    def __init__(self, path, best: float = math.inf, monitor="val_loss", mode="min"):
        super().__init__()
        self.path, self.best, self.monitor, self.mode = Path(path), best, monitor, mode

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(value) or not _better(value, self.best, self.mode):
            return
        if not _finite_weights(self.model):
            return
        self.best = value

        def save(tmp):
            self.model.save(tmp)
            if self.path.exists():
                os.replace(self.path, self.path.with_name("model.previous.keras"))

        atomic_write(self.path, save)


class EarlyStopping(keras.callbacks.EarlyStopping):
    """Keras's early stopping on a dev value, counting on across a resume: at the first
    epoch of a resumed run the best value and the epochs since it come from the earlier
    epochs' rows of `history.csv` (Keras alone would start counting from zero again, so a run
    killed and resumed would train up to `patience` epochs longer than one left alone).

    Args:
        run: the `RunDir`.
        patience: epochs without a better value before training stops.
        monitor, mode: the logs key (val_loss, val_bleu, ...) and "min" or "max".
    """

    def __init__(self, run: RunDir, patience: int, monitor="val_loss", mode="min"):
        super().__init__(monitor=monitor, mode=mode, patience=patience)
        self.run = run

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._first_epoch = True

    def on_epoch_begin(self, epoch, logs=None):
        if not self._first_epoch:
            return
        self._first_epoch = False
        values = self.run.dev_values(self.monitor).items()
        finite = {e: x for e, x in values if e < epoch and math.isfinite(x)}
        if finite:
            sign = 1 if self.mode == "min" else -1
            self.best_epoch = min(finite, key=lambda e: (sign * finite[e], e))
            self.best = finite[self.best_epoch]
            self.wait = epoch - 1 - self.best_epoch  # every epoch since, as Keras counts


def make_callbacks(
    run: RunDir,
    patience: int,
    max_minutes: float | None = None,
    monitor: tuple[str, str] = ("val_loss", "min"),
    dev_scores=None,
) -> dict:
    """The callbacks of a run by name, in the order they run: NaN guard, resumable backups,
    the task's dev scores (`dev_scores(model)`, when given), checkpoint of the best model and
    early stopping (both on `monitor`: (logs key, "min" or "max")), the run's clock and time
    budget, CSV and TensorBoard logs, and a progress line when the output is not a terminal."""
    guard = NaNGuard()
    column, mode = monitor
    callbacks = {
        "guard": guard,
        "terminate_on_nan": keras.callbacks.TerminateOnNaN(),
        "backup": Backup(str(run.backup), guard),
    }
    if dev_scores is not None:  # before the checkpoint, early stopping, clock and logs
        callbacks["dev_scores"] = DevScores(dev_scores, guard)
    callbacks |= {
        "checkpoint": BestCheckpoint(run.model, run.best_dev_value(column, mode), column, mode),
        "early_stopping": EarlyStopping(run, patience, column, mode),
        "clock": TrainingClock(run, max_minutes),  # before the CSV logger: it adds a column
        "csv": keras.callbacks.CSVLogger(str(run.history_csv), append=True),
        "tensorboard": keras.callbacks.TensorBoard(str(run.logs), profile_batch=0),
    }
    if not sys.stdout.isatty():
        callbacks["progress"] = ProgressLog()
    return callbacks
