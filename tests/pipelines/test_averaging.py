"""Checkpoint averaging (`train.average_last`, the `average` command): the kept epochs, their
mean as a model, and which model evaluate/translate load."""

import subprocess
import sys

import keras
import numpy as np
import pytest

from seq2seq.training.averaging import EpochWeights, average_weights, kept_epochs
from seq2seq.training.run_dir import RunDir
from tests.helpers import run_command, tiny_translate_train

pytestmark = pytest.mark.slow


def test_epoch_weights_keeps_the_last_epochs_and_the_mean_is_exact(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    y = np.ones((16, 2), "float32")
    run = RunDir(tmp_path)
    snapshots = []

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append([w.copy() for w in self.model.get_weights()])

    model.fit(x, y, epochs=4, verbose=0, callbacks=[EpochWeights(run, 2), Snapshot()])
    assert sorted(kept_epochs(run)) == [3, 4]
    assert not list(run.epoch_weights.glob(".*"))  # no partial files left
    mean = average_weights(model, [str(p) for _, p in sorted(kept_epochs(run).items())])
    for got, a, b in zip(mean, snapshots[2], snapshots[3], strict=True):
        np.testing.assert_allclose(got, (a + b) / 2, rtol=1e-6)
    for got, expected in zip(model.get_weights(), mean, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-6)


def _cli(*args, expect=0):
    return run_command([sys.executable, "-m", "pipelines.translate", *args], expect)


def test_a_run_averages_its_last_epochs_and_uses_the_average(tmp_path, tiny_corpus):
    from pipelines.tasks.translation.task import Translator
    from seq2seq.training.fit import load_run

    run = tmp_path / "run"
    command = tiny_translate_train(run, tiny_corpus, "train.epochs=3", "train.average_last=2")
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "averaged the weights of epochs 2, 3" in result.stdout
    kept = kept_epochs(RunDir(run))
    assert sorted(kept) == [2, 3] and (run / "model.averaged.keras").exists()

    averaged, best = Translator(run), Translator(run, "best")
    assert averaged.checkpoint == "averaged" and best.checkpoint == "best"
    _, model = load_run(run, averaged.config.__class__, "best")
    epoch = [model.load_weights(str(kept[e])) or model.get_weights() for e in (2, 3)]
    for got, a, b in zip(averaged.model.get_weights(), *epoch, strict=True):
        np.testing.assert_allclose(got, (a + b) / 2, rtol=1e-5, atol=1e-7)

    _cli("evaluate", "--run-dir", str(run), "--checkpoint", "best", "--beam-size", "1")
    assert (run / "eval/test-best/report.json").exists()
    assert '"checkpoint": "best"' in (run / "eval/test-best/report.json").read_text()

    # The command averages chosen epochs: epoch 3 alone is epoch 3's weights.
    assert "epochs 3:" in _cli("average", "--run-dir", str(run), "--epochs", "3").stdout
    for got, expected in zip(Translator(run).model.get_weights(), epoch[1], strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-6)
    err = _cli("average", "--run-dir", str(run), "--epochs", "1", "3", expect=2).stderr
    assert "no weights kept for epoch(s) [1]; kept: [2, 3]" in err
