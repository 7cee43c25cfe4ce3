"""Training machinery shared by the pipelines: optimizer, schedule and callbacks."""

import sys
import time
from pathlib import Path

import keras
import tensorflow as tf

from seq2seq import figures
from seq2seq.config import load_config

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


def make_callbacks(run_dir, patience: int, max_minutes: float | None = None):
    """Checkpoint of the best model (on val_loss), resumable backups, early stopping,
    TensorBoard and CSV logs, NaN guard and an optional time budget."""
    run_dir = Path(run_dir)
    callbacks = [
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.BackupAndRestore(str(run_dir / "backup")),
        keras.callbacks.ModelCheckpoint(
            str(run_dir / "model.keras"), monitor="val_loss", save_best_only=True
        ),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
        keras.callbacks.TensorBoard(str(run_dir / "logs"), profile_batch=0),
    ]
    if max_minutes:
        callbacks.append(TimeLimit(max_minutes))
    if not sys.stdout.isatty():
        callbacks.append(ProgressLog())
    return callbacks


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


def fit(model, train_ds, dev_ds, run_dir, train_config):
    """`model.fit` with the shared callbacks (`epochs`, `patience`, `max_minutes` from
    `train_config`); writes the COMPLETE marker and `training_curves.png` when training ends.
    Returns the History."""
    run_dir = Path(run_dir)
    history = model.fit(
        train_ds,
        validation_data=dev_ds,
        epochs=train_config.epochs,
        shuffle=False,  # the datasets shuffle themselves
        callbacks=make_callbacks(run_dir, train_config.patience, train_config.max_minutes),
        # A live bar on a terminal; elsewhere one line per epoch plus ProgressLog.
        verbose=1 if sys.stdout.isatty() else 2,
    )
    (run_dir / COMPLETE).write_text(
        f"training finished after epoch {history.epoch[-1] + 1 if history.epoch else 0}\n",
        encoding="utf-8",
    )
    curves = figures.training_curves(run_dir / "history.csv", run_dir / "training_curves.png")
    if curves:
        print(f"training curves: {curves}")
    return history


def load_run(run_dir, config_class):
    """The resolved config and the best model of a trained run directory."""
    run_dir = Path(run_dir)
    if not (run_dir / "model.keras").exists():
        raise FileNotFoundError(f"{run_dir / 'model.keras'} not found: train first")
    config = load_config(config_class, run_dir / "config.yaml")
    return config, keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
