"""The one small shared helper: build a tiny model, a batch, and run one training step."""

import keras
import numpy as np

from seq2seq.losses import MaskedSparseCrossEntropy
from seq2seq.translation.model import Seq2SeqTranslator

SOURCE = np.array([[5, 6, 7, 3], [8, 3, 0, 0], [9, 10, 3, 0]], "int32")
TARGET_IN = np.array([[2, 9, 10, 11, 12], [2, 12, 0, 0, 0], [2, 13, 14, 0, 0]], "int32")
TARGET_OUT = np.array([[9, 10, 11, 12, 3], [12, 3, 0, 0, 0], [13, 14, 3, 0, 0]], "int32")


def tiny_model(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)  # the same weights every run: no flaky tests
    settings = {"embedding_dim": 8, "units": 16, "num_layers": 2, "dropout": 0.1, **kwargs}
    model = Seq2SeqTranslator(40, 30, **settings)
    model.build()
    return model


def batch():
    return {"source": SOURCE, "target_in": TARGET_IN}, TARGET_OUT


def train_steps(model, steps=1):
    """Compiles with the masked loss and runs `steps` steps on one batch; returns the losses."""
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=MaskedSparseCrossEntropy())
    inputs, targets = batch()
    return [float(model.train_on_batch(inputs, targets)) for _ in range(steps)]
