"""One run skeleton for every task: `train`, and the timed decode-and-score loop of evaluate.

A `Task` holds what differs between translation and speech: how its data becomes datasets,
which model it builds, what the model is compiled with, and how a trained run is loaded to
predict. Everything else (strategy, run directory, config, seed, model scope, optimizer and
schedule, fit, curves) is written once, here. A third task is one more `Task`.

    pipelines (commands, tasks, reports) -> seq2seq (models, decoding, training) -> data_prep
"""

import abc
import dataclasses
import time
from collections.abc import Callable

import keras
import tensorflow as tf

from pipelines.reports import figures
from seq2seq.config import load_config, save_config
from seq2seq.training.averaging import write_average
from seq2seq.training.distributed import make_strategy, model_scope, write_dir
from seq2seq.training.fit import fit, is_trained, load_run, make_optimizer, seed_everything
from seq2seq.training.run_dir import RunDir


@dataclasses.dataclass
class Datasets:
    """What a task's data preparation gives the skeleton: the training and dev datasets, the
    sizes the model needs from the data (keyword arguments of `Task.build_model`), a line
    about the data to print before training, and the dev scores `train.select_by` may pick
    the best epoch by (`dev_scores(model) -> {name: value}`; None: the dev loss only)."""

    train: tf.data.Dataset
    dev: tf.data.Dataset
    model_sizes: dict
    summary: str
    dev_scores: Callable | None = None


class Task(abc.ABC):
    """What one kind of model needs from the run skeleton."""

    name: str  # "translation", "speech"
    config_class: type

    @abc.abstractmethod
    def datasets(self, config, run: RunDir) -> Datasets:
        """Reads the training and dev data, learns (first run) or loads (resume) what the run
        keeps with the model (tokenizers, feature statistics), writes `data_summary.json`."""

    @abc.abstractmethod
    def build_model(self, config, **model_sizes) -> keras.Model:
        """The model of `config`, built (its variables exist)."""

    def compile_arguments(self, config) -> dict:
        """`model.compile` arguments besides the optimizer (the loss and metrics; none where
        the model adds its own loss)."""
        return {}

    @abc.abstractmethod
    def load(self, run_dir):
        """A trained run ready to predict (`Translator`, `Recognizer`)."""

    # Config keys (sections or dotted keys) that must match for `train --init-from`.
    shape_keys: tuple = ("model",)

    @abc.abstractmethod
    def inherit(self, source: RunDir, run: RunDir):
        """Copies what a fine-tuned run keeps from the run it starts from (tokenizers, feature
        statistics) into `run`."""


def compile_model(task: Task, model, config, steps_per_epoch: int):
    """Compiles `model` as training does: Adam with warmup and cosine decay over the run's
    steps, global-norm clipping, and the task's loss and metrics. The benchmarks call this too,
    so they measure the step that training runs."""
    train = config.train
    optimizer = make_optimizer(
        train.learning_rate, steps_per_epoch * train.epochs, train.warmup_steps, train.clipnorm
    )
    # XLA recompiles for every bucket shape and measured 2.5x slower on CPU; the cuDNN kernels
    # are not XLA-compiled either.
    model.compile(optimizer=optimizer, jit_compile=False, **task.compile_arguments(config))


def train(task: Task, config, run_dir, strategy: str = "default", init_from=None):
    """Trains `task`'s model of `config` into `run_dir`. Rerunning the same call after an
    interruption resumes from the last finished epoch (and the run's time budget from the
    minutes already spent); after training finished it leaves the run as it is and returns
    None, so a finished model is never overwritten by a fresh start. `strategy`: `default`,
    `mirrored` or `multi_worker` (see `seq2seq.training.distributed.make_strategy`).
    `init_from`: a trained run to fine-tune: its weights (its best epoch) start the model and
    its tokenizers or feature statistics are kept; a config whose model or vocabulary differs
    from that run's is refused."""
    strategy = make_strategy(strategy)
    run = RunDir(write_dir(strategy, run_dir))  # the chief's run_dir; other workers' own folders
    if is_trained(run.path):
        return None
    weights = None if init_from is None else _starting_weights(task, config, RunDir(init_from))
    run.path.mkdir(parents=True, exist_ok=True)
    if init_from is not None:
        task.inherit(RunDir(init_from), run)
    save_config(config, run.config)
    seed_everything(config.train.seed, config.train.deterministic)
    data = task.datasets(config, run)
    steps_per_epoch = int(data.train.cardinality())
    with model_scope(strategy, config.train.precision):
        model = task.build_model(config, **data.model_sizes)
        if weights is not None:
            model.set_weights(weights)
        compile_model(task, model, config, steps_per_epoch)
    if data.summary:
        print(data.summary)
    auto = " (auto)" if config.train.precision == "auto" else ""
    print(
        f"model: {model.count_params():,} parameters, {steps_per_epoch} batches per epoch, "
        f"{model.dtype_policy.name}{auto}"
    )
    history = fit(model, data.train, data.dev, run.path, config.train, data.dev_scores)
    curves = figures.training_curves(run.history(), run.curves)
    if curves:
        print(f"training curves: {curves}")
    return history


def _starting_weights(task: Task, config, source: RunDir) -> list:
    """The weights of `source`'s best model, after checking that `config` builds the same
    shapes (`task.shape_keys`)."""
    if not source.is_trained():
        raise ValueError(f"--init-from {source.path}: not a finished training run")
    theirs = load_config(task.config_class, source.config)
    differ = []
    for key in task.shape_keys:
        ours, before = config, theirs
        for part in key.split("."):
            ours, before = getattr(ours, part), getattr(before, part)
        if dataclasses.is_dataclass(ours):
            ours, before = dataclasses.asdict(ours), dataclasses.asdict(before)
            differ += [
                f"{key}.{k}: {ours[k]!r} here, {before[k]!r} there"
                for k in ours
                if ours[k] != before[k]
            ]
        elif ours != before:
            differ.append(f"{key}: {ours!r} here, {before!r} there")
    if differ:
        raise ValueError(
            f"--init-from {source.path}: the config must build the same model and vocabulary "
            f"as that run's; differs in {'; '.join(differ)}"
        )
    _, model = load_run(source.path, task.config_class, "best")
    return model.get_weights()


def average(task: Task, run_dir, epochs=None):
    """Averages the kept weights of `epochs` (default: all kept) of a trained run into
    `RUN/model.averaged.keras`; returns (the epochs averaged, the path)."""
    _, model = load_run(run_dir, task.config_class, "best")
    return write_average(model, RunDir(run_dir), epochs)


def timed_decodings(strategies, decode, score, rates, show):
    """The evaluate loop: for each (strategy, beam size, settings) in `strategies`, decodes
    with `decode(strategy, beam_size)`, timed, scores the outputs with `score(outputs)` and
    calls `show(row)` (a line for the user). Returns (rows, outputs per strategy); a row holds
    the scores, the decoding (strategy, beam size and `settings`), the seconds and
    `rates(seconds)` (speed figures)."""
    rows, outputs = [], []
    for strategy, beam_size, settings in strategies:
        start = time.perf_counter()
        texts = decode(strategy, beam_size)
        seconds = time.perf_counter() - start
        rows.append(
            {
                **score(texts),
                "decoding": {"strategy": strategy, "beam_size": beam_size, **settings},
                "seconds": round(seconds, 2),
                **rates(seconds),
            }
        )
        outputs.append(texts)
        show(rows[-1])
    return rows, outputs
