"""Training machinery shared by the pipelines: optimizer, schedule, callbacks, and the fault
handling that makes a run safe to kill, interrupt and resume.

A run directory's checkpoints are written so that no fault loses more than the epoch in
progress: the resumable state (`backup/epoch-N/`, weights with the optimizer state and the
epoch) is written into a fresh folder renamed into place, the previous state is kept, and a
state that does not load is reported and skipped; the best model (`model.keras`) is replaced
by an atomic rename, keeping the one it replaces as `model.previous.keras`; weights that are
not finite are never saved.
"""

import csv
import dataclasses
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
import tensorflow as tf

from seq2seq import figures
from seq2seq.config import load_config, validate
from seq2seq.distributed import gather_from_workers, shard_by_data
from seq2seq.files import atomic_write, write_text

logger = logging.getLogger(__name__)
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The `train` section shared by the pipelines (each subclass sets its own defaults)."""

    epochs: int = 10
    learning_rate: float = 0.001
    warmup_steps: int = 100
    clipnorm: float = 1.0
    patience: int = 3
    max_minutes: float | None = None  # stop after the epoch that crosses this budget
    seed: int = 42
    deterministic: bool = False  # deterministic TensorFlow ops: identical weights per seed
    precision: str = "float32"  # or mixed_float16 (GPU), mixed_bfloat16; logits stay float32

    def __post_init__(self):
        validate(self, "train", self.rules())

    def rules(self) -> list:
        return [
            ("epochs", self.epochs >= 1, "at least 1"),
            ("learning_rate", self.learning_rate > 0, "a positive number"),
            ("warmup_steps", self.warmup_steps >= 0, "0 or more"),
            ("clipnorm", self.clipnorm >= 0, "0 (off) or more"),
            ("patience", self.patience >= 1, "at least 1"),
            ("max_minutes", self.max_minutes is None or self.max_minutes > 0, "null or > 0"),
            ("precision", self.precision in PRECISIONS, f"one of {PRECISIONS}"),
        ]


# Written when fit returns (finished, early-stopped or out of time budget): BackupAndRestore
# deletes its backup then, so a rerun would otherwise start over and overwrite model.keras.
COMPLETE = "TRAINING_COMPLETE"


def make_optimizer(learning_rate: float, total_steps: int, warmup_steps: int, clipnorm: float):
    """Adam with linear warmup then cosine decay to 1% of the peak rate, and clipping of the
    global gradient norm."""
    warmup_steps = min(warmup_steps, max(1, total_steps // 2))
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=learning_rate * 0.01,
        decay_steps=max(1, total_steps - warmup_steps),
        alpha=0.01,
        warmup_target=learning_rate,
        warmup_steps=warmup_steps,
    )
    return keras.optimizers.Adam(schedule, global_clipnorm=clipnorm or None)


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


def _best_dev_loss(history_csv: Path) -> float:
    """The lowest dev loss recorded by earlier epochs of a resumed run (inf if none)."""
    if not history_csv.exists():
        return math.inf
    with open(history_csv, encoding="utf-8", newline="") as f:
        losses = [float(r["val_loss"]) for r in csv.DictReader(f) if r.get("val_loss")]
    return min([x for x in losses if math.isfinite(x)], default=math.inf)


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
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience),
        ElapsedTime(),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
        keras.callbacks.TensorBoard(str(run_dir / "logs"), profile_batch=0),
    ]
    if max_minutes:
        callbacks.append(TimeLimit(max_minutes))
    if not sys.stdout.isatty():
        callbacks.append(ProgressLog())
    return callbacks


def seed_everything(seed: int, deterministic: bool = False):
    """Seeds Python, NumPy and TensorFlow; `deterministic` also makes TensorFlow's ops
    deterministic (identical weights from two runs, somewhat slower)."""
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def is_trained(run_dir) -> bool:
    """True (and says so) if `run_dir` holds a finished training run."""
    marker = Path(run_dir) / COMPLETE
    if marker.exists():
        print(f"{run_dir} is already trained ({marker} exists); use a new --run-dir to train again")
        return True
    return False


def with_known_length(ds):
    """Counts the batches of a dataset and tells tf.data, so Keras shows the epoch length and
    does not warn when the data ends. Bucket sizes do not depend on the shuffle order, so every
    epoch has the same number of batches."""
    return ds.apply(tf.data.experimental.assert_cardinality(int(ds.reduce(0, lambda n, _: n + 1))))


def drop_small_batches(ds, min_rows: int, split: str):
    """Leaves out batches of fewer than `min_rows` rows (logging how many rows that is per
    epoch) and tells tf.data the number of batches left. Data parallelism splits each batch
    between the replicas: a batch of fewer rows than replicas leaves one replica an empty
    batch, which oneDNN's convolution and cuDNN's RNN kernels reject. With bucketing only a
    bucket's last batch is smaller, and its size does not depend on the shuffle order, so the
    same rows per epoch are left out (not the same utterances or pairs: they are shuffled)."""

    def count(state, element):
        rows = tf.shape(tf.nest.flatten(element)[-1])[0]
        small = tf.cast(rows < min_rows, tf.int64)
        return state[0] + 1 - small, state[1] + small * tf.cast(rows, tf.int64)

    zero = tf.constant(0, tf.int64)
    batches, rows = (int(x) for x in ds.reduce((zero, zero), count))
    if rows:
        logger.warning(
            "%s: %d rows per epoch are in batches smaller than the %d replicas and left out",
            split,
            rows,
            min_rows,
        )
    kept = ds.filter(lambda *element: tf.shape(tf.nest.flatten(element)[-1])[0] >= min_rows)
    return kept.apply(tf.data.experimental.assert_cardinality(batches))


def fit(model, train_ds, dev_ds, run_dir, train_config):
    """`model.fit` with the shared callbacks (`epochs`, `patience`, `max_minutes` from
    `train_config`); writes the COMPLETE marker and `training_curves.png` when training ends.
    Returns the History.

    Ctrl-C stops with the backup of the last finished epoch kept (rerun to resume); a NaN or
    infinite loss raises FloatingPointError naming the step, with the best checkpoint and the
    last good backup kept."""
    run_dir = Path(run_dir)
    replicas = model.distribute_strategy.num_replicas_in_sync
    if replicas > 1:
        train_ds = drop_small_batches(train_ds, replicas, "training data")
        dev_ds = drop_small_batches(dev_ds, replicas, "dev data")
    callbacks = make_callbacks(run_dir, train_config.patience, train_config.max_minutes)
    guard, backup = callbacks[0], callbacks[2]  # NaNGuard, Backup
    try:
        history = model.fit(
            shard_by_data(train_ds),
            validation_data=shard_by_data(dev_ds),
            epochs=train_config.epochs,
            shuffle=False,  # the datasets shuffle themselves
            callbacks=callbacks,
            # A live bar on a terminal; elsewhere one line per epoch plus ProgressLog.
            verbose=1 if sys.stdout.isatty() else 2,
        )
    except KeyboardInterrupt:
        states = backup._states()
        kept = f"{states[0]} is kept" if states else "no epoch had finished"
        print(f"\ninterrupted: {kept}; rerun the same command to resume", flush=True)
        raise
    if guard.fault:
        raise FloatingPointError(
            f"{guard.fault}; training stopped. {run_dir / 'model.keras'} (best dev loss) and "
            "the backup of the last finished epoch are kept: lower train.learning_rate or "
            "train.clipnorm and rerun the same command to resume"
        )
    write_text(
        run_dir / COMPLETE,
        f"training finished after epoch {history.epoch[-1] + 1 if history.epoch else 0}\n",
    )
    curves = figures.training_curves(run_dir / "history.csv", run_dir / "training_curves.png")
    if curves:
        print(f"training curves: {curves}")
    return history


def load_run(run_dir, config_class):
    """The resolved config and the best model of a trained run directory. An unreadable
    `model.keras` is reported and `model.previous.keras` (the best before it) used."""
    run_dir = Path(run_dir)
    path, previous = run_dir / "model.keras", run_dir / "model.previous.keras"
    if not path.exists() and not previous.exists():
        raise FileNotFoundError(f"{path} not found: train first")
    config = load_config(config_class, run_dir / "config.yaml")
    try:
        return config, keras.saving.load_model(path, safe_mode=True)
    except Exception as err:
        if not previous.exists():
            raise ValueError(f"{path} cannot be loaded: {err}") from err
        logger.warning("%s cannot be loaded (%s); using %s", path, err, previous.name)
        return config, keras.saving.load_model(previous, safe_mode=True)
