"""Checkpoint averaging: the weights of a run's last epochs, kept, and their average written as
a model the run can evaluate and export (`train.average_last`, the `average` command).

Averaging the weights of the last few epochs of one run (Marian's and OpenNMT's `average`,
fairseq's `average_checkpoints.py`) smooths the noise of the last updates; the epochs share one
trajectory, so their weights stay in one basin and the mean is a model of its own.
"""

import logging
import re

import keras
import numpy as np

from seq2seq.files import atomic_write
from seq2seq.training.run_dir import RunDir

logger = logging.getLogger(__name__)
EPOCH_FILE = re.compile(r"epoch-(\d+)\.weights\.h5$")


def kept_epochs(run: RunDir) -> dict[int, object]:
    """{epoch: path} of the epoch weights a run keeps (`RUN/epochs/epoch-N.weights.h5`)."""
    if not run.epoch_weights.is_dir():
        return {}
    found = (EPOCH_FILE.search(p.name) for p in run.epoch_weights.iterdir())
    return {int(m.group(1)): run.epoch_weights / m.group(0) for m in found if m}


class EpochWeights(keras.callbacks.Callback):
    """Keeps the weights of the last `keep` epochs in `RUN/epochs/` (written atomically; older
    ones deleted). A resumed run rewrites the epoch it reruns.

    Args:
        run: the `RunDir`.
        keep: how many of the latest epochs to keep.
    """

    def __init__(self, run: RunDir, keep: int):
        super().__init__()
        self.run, self.keep = run, keep

    def on_epoch_end(self, epoch, logs=None):
        self.run.epoch_weights.mkdir(parents=True, exist_ok=True)
        path = self.run.epoch_weights / f"epoch-{epoch + 1}.weights.h5"
        atomic_write(path, lambda tmp: self.model.save_weights(tmp), suffix=".weights.h5")
        for old, old_path in kept_epochs(self.run).items():
            if old <= epoch + 1 - self.keep:
                old_path.unlink()


def average_weights(model, paths) -> list[np.ndarray]:
    """The element-wise mean of the weights in `paths` (files `model.save_weights` wrote for
    this architecture); loads each into `model` in turn, which ends holding the mean."""
    if not paths:
        raise ValueError("no epoch weights to average")
    total = None
    for path in paths:
        model.load_weights(path)
        values = [np.asarray(w, np.float64) for w in model.get_weights()]
        total = values if total is None else [t + v for t, v in zip(total, values, strict=True)]
    mean = [(t / len(paths)) for t in total]
    model.set_weights([m.astype(w.dtype) for m, w in zip(mean, model.get_weights(), strict=True)])
    return mean


def write_average(model, run: RunDir, epochs=None) -> tuple[list[int], object]:
    """Averages the kept weights of `epochs` (default: all kept) into `model` and saves it as
    `RUN/model.averaged.keras`; returns (the epochs averaged, the path)."""
    kept = kept_epochs(run)
    epochs = sorted(kept) if epochs is None else sorted(set(epochs))
    missing = [e for e in epochs if e not in kept]
    if missing or not epochs:
        raise ValueError(
            f"{run.path}: no weights kept for epoch(s) {missing or epochs}; kept: "
            f"{sorted(kept) or 'none'} (train with train.average_last to keep them)"
        )
    average_weights(model, [str(kept[e]) for e in epochs])
    atomic_write(run.averaged_model, lambda tmp: model.save(tmp), suffix=".keras")
    logger.info("averaged epochs %s into %s", epochs, run.averaged_model)
    return epochs, run.averaged_model
