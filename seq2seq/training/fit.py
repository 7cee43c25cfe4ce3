"""Training machinery shared by the tasks: the `train` config section, optimizer and
schedule, `fit` (with the callbacks of `seq2seq.training.callbacks`, which make a run safe to
kill, interrupt and resume) and loading a trained run.
"""

import dataclasses
import importlib
import logging
import sys
from typing import ClassVar

import keras
import tensorflow as tf

from seq2seq.config import load_config, validate
from seq2seq.files import write_text
from seq2seq.training.averaging import EpochWeights, write_average
from seq2seq.training.callbacks import make_callbacks
from seq2seq.training.distributed import shard_by_data
from seq2seq.training.run_dir import RunDir

logger = logging.getLogger(__name__)
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16", "auto")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The `train` section shared by the pipelines (each subclass sets its own defaults).

    Args:
        epochs: the most epochs to train.
        learning_rate: peak learning rate of Adam (after warmup; cosine decay to 1% of it).
        warmup_steps: steps of linear warmup.
        clipnorm: clip the global gradient norm to this (0: off).
        patience: epochs without a better dev value (`select_by`) before early stopping.
        max_minutes: the run's time budget (null: none): training stops after the epoch that
            crosses it, counted across resumes.
        seed: random seed of weights, shuffling and augmentation.
        deterministic: deterministic TensorFlow ops: identical weights from the same seed
            (somewhat slower).
        precision: float32, mixed_float16 (GPU), mixed_bfloat16, or auto (mixed_bfloat16
            on a CPU with bfloat16 instructions and no GPU, else float32); logits and losses
            stay float32.
        average_last: keep the weights of the last N epochs and, when training ends, write
            their average as model.averaged.keras, the model the run is then evaluated,
            used and exported with (translation: `--checkpoint best` for the best single
            epoch, `average` to average other kept epochs); 0: off.
        select_by: what picks the best epoch (model.keras) and what early stopping
            watches: loss (the dev loss), or a dev score the task computes after each epoch
            (translation: bleu or chrf, greedy decoding of the dev split), logged to
            history.csv and TensorBoard as val_bleu / val_chrf.
    """

    SELECT_BY: ClassVar[tuple] = ("loss",)  # a task that scores its dev split adds its scores

    epochs: int = 10
    learning_rate: float = 0.001
    warmup_steps: int = 100
    clipnorm: float = 1.0
    patience: int = 3
    max_minutes: float | None = None
    seed: int = 42
    deterministic: bool = False
    precision: str = "float32"
    average_last: int = 0
    select_by: str = "loss"

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
            ("average_last", self.average_last == 0 or self.average_last >= 2, "0 (off) or >= 2"),
            ("select_by", self.select_by in self.SELECT_BY, f"one of {self.SELECT_BY}"),
        ]

    @property
    def monitor(self) -> tuple[str, str]:
        """(history column, "min" or "max") of `select_by`: val_loss is lowest-best, a score
        highest-best."""
        if self.select_by == "loss":
            return "val_loss", "min"
        return f"val_{self.select_by}", "max"


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


def seed_everything(seed: int, deterministic: bool = False):
    """Seeds Python, NumPy and TensorFlow; `deterministic` also makes TensorFlow's ops
    deterministic (identical weights from two runs, somewhat slower)."""
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def is_trained(run_dir) -> bool:
    """True (and says so) if `run_dir` holds a finished training run."""
    run = RunDir(run_dir)
    if run.is_trained():
        print(f"{run_dir} is already trained ({run.complete} exists); train into a new --run-dir")
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


def fit(model, train_ds, dev_ds, run_dir, train_config, dev_scores=None):
    """`model.fit` with the shared callbacks (`epochs`, `patience`, `max_minutes`,
    `select_by` from `train_config`); writes the COMPLETE marker when training ends. Returns
    the History (None when a resumed run's time budget was already spent).

    `dev_scores(model) -> {name: value}`: the task's dev scores after each epoch (logged as
    val_<name>); `train_config.select_by` other than loss needs it.

    Ctrl-C stops with the backup of the last finished epoch kept (rerun to resume); a NaN or
    infinite loss raises FloatingPointError naming the step, with the best checkpoint and the
    last good backup kept."""
    run = RunDir(run_dir)
    replicas = model.distribute_strategy.num_replicas_in_sync
    if replicas > 1:
        train_ds = drop_small_batches(train_ds, replicas, "training data")
        dev_ds = drop_small_batches(dev_ds, replicas, "dev data")
    # The time budget is the run's: BackupAndRestore, TensorBoard and the CSV logger's
    # (appending) header would otherwise rerun bookkeeping for an epoch that cannot start.
    resumed = (run.backup_epochs() or [0])[0]
    spent = run.minutes_spent(resumed)
    if train_config.max_minutes is not None and resumed and spent >= train_config.max_minutes:
        print(
            f"time budget of {train_config.max_minutes:.1f} min already spent "
            f"({spent:.1f} min over {resumed} epochs)"
        )
        return _finish(run, resumed)
    if train_config.select_by != "loss" and dev_scores is None:
        raise ValueError(f"train.select_by {train_config.select_by}: this task has no dev scores")
    callbacks = make_callbacks(
        run, train_config.patience, train_config.max_minutes, train_config.monitor, dev_scores
    )
    if train_config.average_last:
        callbacks["epoch_weights"] = EpochWeights(run, train_config.average_last)
    try:
        history = model.fit(
            shard_by_data(train_ds),
            validation_data=shard_by_data(dev_ds),
            epochs=train_config.epochs,
            shuffle=False,  # the datasets shuffle themselves
            callbacks=list(callbacks.values()),
            # A live bar on a terminal; elsewhere one line per epoch plus ProgressLog.
            verbose=1 if sys.stdout.isatty() else 2,
        )
    except KeyboardInterrupt:
        states = callbacks["backup"]._states()
        kept = f"{states[0]} is kept" if states else "no epoch had finished"
        print(f"\ninterrupted: {kept}; rerun the same command to resume", flush=True)
        raise
    if callbacks["guard"].fault:
        raise FloatingPointError(
            f"{callbacks['guard'].fault}; training stopped. {run.model} (the best epoch) and "
            "the backup of the last finished epoch are kept: lower train.learning_rate or "
            "train.clipnorm and rerun the same command to resume"
        )
    if train_config.average_last:
        epochs, path = write_average(model, run)
        print(f"averaged the weights of epochs {', '.join(map(str, epochs))}: {path}")
    _finish(run, history.epoch[-1] + 1 if history.epoch else 0)
    return history


def _finish(run: RunDir, epochs: int):
    """Marks the run complete: BackupAndRestore deletes its backup when fit returns, so a rerun
    would otherwise start over and overwrite model.keras."""
    write_text(run.complete, f"training finished after epoch {epochs}\n")


CHECKPOINTS = ("auto", "best", "averaged")


def load_run(run_dir, config_class, checkpoint: str = "auto"):
    """The resolved config and a model of a trained run directory: `checkpoint` "best" (the
    best epoch by `train.select_by`), "averaged" (`train.average_last`'s average) or "auto"
    (the averaged model when the run has one, else the best). An unreadable `model.keras`
    is reported and `model.previous.keras` (the best before it) used."""
    run = RunDir(run_dir)
    if checkpoint not in CHECKPOINTS:
        raise ValueError(f"checkpoint {checkpoint!r}: expected one of {CHECKPOINTS}")
    if checkpoint == "averaged" or (checkpoint == "auto" and run.averaged_model.exists()):
        if not run.averaged_model.exists():
            raise FileNotFoundError(
                f"{run.averaged_model} not found: train with train.average_last, or run the "
                "average command"
            )
        return load_config(config_class, run.config), _load(run.averaged_model)
    path, previous = run.model, run.previous_model
    if not path.exists() and not previous.exists():
        raise FileNotFoundError(f"{path} not found: train first")
    config = load_config(config_class, run.config)
    try:
        return config, load_model(path)
    except Exception as err:
        if not previous.exists():
            raise ValueError(f"{path} cannot be loaded: {err}") from err
        logger.warning("%s cannot be loaded (%s); using %s", path, err, previous.name)
        return config, load_model(previous)


def resolve_checkpoint(run_dir, checkpoint: str = "auto") -> str:
    """Which model `load_run` loads for `checkpoint`: "averaged" or "best"."""
    if checkpoint == "auto":
        return "averaged" if RunDir(run_dir).averaged_model.exists() else "best"
    return checkpoint


# Every module that registers a Keras class (`register_keras_serializable`): a saved model
# names its classes, and Keras finds them only once their module has been imported. The
# commands import their task's modules lazily, so loading imports them here.
# tests/seq2seq/test_saving.py checks that the list holds every registering module.
SERIALIZABLE_MODULES = (
    "seq2seq.losses",
    "seq2seq.fast_rnn",
    "seq2seq.translation.attention",
    "seq2seq.translation.model",
    "seq2seq.translation.transformer",
    "seq2seq.speech.model",
    "seq2seq.speech.whisper_encoder",
)


def load_model(path):
    """`keras.saving.load_model` (safe mode) with every seq2seq class registered first."""
    for module in SERIALIZABLE_MODULES:
        importlib.import_module(module)
    return keras.saving.load_model(path, safe_mode=True)


def _load(path):
    try:
        return load_model(path)
    except Exception as err:
        raise ValueError(f"{path} cannot be loaded: {err}") from err
