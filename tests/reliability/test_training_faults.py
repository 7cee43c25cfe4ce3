"""Faults during training, injected in-process on a tiny model: Ctrl-C, corrupt backups, a NaN
loss, a full disk, a corrupt checkpoint, an untrusted model file."""

import csv
import dataclasses
import errno
import json
import logging

import keras
import numpy as np
import pytest
import tensorflow as tf

from seq2seq.files import DiskFullError, atomic_write, write_text
from seq2seq.losses import MaskedSparseCrossEntropy
from seq2seq.training.callbacks import BestCheckpoint
from seq2seq.training.fit import TrainConfig, fit, load_run
from seq2seq.training.run_dir import RunDir
from tests.seq2seq.helpers import batch, tiny_model

TRAIN = TrainConfig(epochs=4, patience=10)


def _compiled(seed=0):
    model = tiny_model(seed)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=MaskedSparseCrossEntropy())
    return model


def _data():
    inputs, targets = batch()
    return tf.data.Dataset.from_tensors((inputs, targets)).repeat(3)  # 3 batches an epoch


class _Fault(keras.callbacks.Callback):
    """Runs `action(model)` at the first batch of epoch `epoch` (1-based)."""

    def __init__(self, epoch, action):
        super().__init__()
        self.epoch, self.action = epoch, action

    def on_train_batch_begin(self, batch, logs=None):
        if self.current == self.epoch and batch == 1:
            self.action(self.model)

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch + 1


def _fit_with(run, model, fault=None, epochs=4, max_minutes=None):
    """`fit` with a fault callback appended to the shared callbacks."""
    import seq2seq.training.fit as training

    make = training.make_callbacks

    def callbacks(*args, **kwargs):
        return {**make(*args, **kwargs), **({"fault": fault} if fault else {})}

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training, "make_callbacks", callbacks)
        return fit(
            model,
            _data(),
            _data(),
            run,
            dataclasses.replace(TRAIN, epochs=epochs, max_minutes=max_minutes),
        )


def _interrupt(model):
    raise KeyboardInterrupt


def _interrupted_run(tmp_path, capsys):
    """A run stopped by Ctrl-C in epoch 3: the backups of epochs 1 and 2 are kept."""
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        _fit_with(run, _compiled(), _Fault(3, _interrupt))
    assert f"interrupted: {run / 'backup/epoch-2'} is kept" in capsys.readouterr().out
    assert sorted(p.name for p in (run / "backup").iterdir()) == ["epoch-1", "epoch-2"]
    assert not RunDir(run).complete.exists()
    return run


def test_ctrl_c_keeps_the_backup_and_a_rerun_resumes(tmp_path, capsys):
    run = _interrupted_run(tmp_path, capsys)
    history = _fit_with(run, _compiled(seed=1))  # fresh weights: the backup must replace them
    assert "resuming after epoch 2" in capsys.readouterr().out
    assert history.epoch == [2, 3]  # epochs 3 and 4 only, not from scratch
    assert RunDir(run).complete.read_text() == "training finished after epoch 4\n"
    assert not (run / "backup").exists()  # deleted once training ends normally
    rows = (run / "history.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1", "2", "3"]


def test_the_time_budget_is_the_runs_across_a_resume(tmp_path, capsys):
    """Minutes spent before an interruption count: a rerun whose budget they already used
    trains no further epoch and marks the run complete; one with budget left trains on."""
    run = _interrupted_run(tmp_path, capsys)
    history = RunDir(run).history_csv
    with open(history, newline="") as f:
        rows = list(csv.DictReader(f))
    minutes = [float(r["elapsed_minutes"]) for r in rows]
    # The run's clock: positive and growing (a tiny epoch takes seconds, over a minute on a
    # loaded machine: no upper bound here).
    assert len(rows) == 2 and 0 < minutes[0] < minutes[1] < 15
    with open(history, "w", newline="") as f:  # as if the two epochs had taken 30 minutes
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**r, "elapsed_minutes": 15.0 * (i + 1)} for i, r in enumerate(rows))
    assert _fit_with(run, _compiled(), max_minutes=30.0) is None
    out = capsys.readouterr().out
    assert "time budget of 30.0 min already spent (30.0 min over 2 epochs)" in out
    assert RunDir(run).complete.read_text() == "training finished after epoch 2\n"
    assert len(RunDir(run).history()) == 2

    RunDir(run).complete.unlink()
    history = _fit_with(run, _compiled(), max_minutes=30.001)  # one more epoch crosses it
    assert history.epoch == [2]
    # 30 minutes before the resume plus the new epoch's own time (seconds, or minutes on a
    # loaded machine)
    assert 30.0 < RunDir(run).history()[-1]["elapsed_minutes"] < 40.0


def test_a_corrupt_backup_is_reported_and_the_one_before_it_used(tmp_path, capsys, caplog):
    run = _interrupted_run(tmp_path, capsys)
    weights = run / "backup/epoch-2/model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:1000])  # truncated by a crash
    with caplog.at_level(logging.WARNING):
        history = _fit_with(run, _compiled())
    assert "backup" in caplog.text and "epoch-2 is unreadable" in caplog.text
    assert "resuming after epoch 1" in capsys.readouterr().out
    assert history.epoch == [1, 2, 3]


def test_no_readable_backup_is_a_clear_error(tmp_path, capsys):
    run = _interrupted_run(tmp_path, capsys)
    for state in (run / "backup").iterdir():
        (state / "state.json").write_text("{trunc")
    with pytest.raises(ValueError, match="no backup in .* could be read; delete the folder"):
        _fit_with(run, _compiled())


def _poison(model):
    weights = model.get_weights()
    model.set_weights([np.full_like(weights[0], np.nan), *weights[1:]])


def test_nan_loss_stops_naming_the_step_and_keeps_good_checkpoints(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(FloatingPointError, match=r"loss became nan at epoch 3, batch 2 \(step 8\)"):
        _fit_with(run, _compiled(), _Fault(3, _poison))
    assert not RunDir(run).complete.exists()
    assert sorted(p.name for p in (run / "backup").iterdir()) == ["epoch-1", "epoch-2"]
    _, model = load_run_dir(run)
    assert all(np.isfinite(w).all() for w in model.get_weights())


def load_run_dir(run):
    from pipelines.tasks.translation.task import TranslationConfig
    from seq2seq.config import save_config

    save_config(TranslationConfig(), run / "config.yaml")
    return load_run(run, TranslationConfig)


def test_disk_full_while_checkpointing_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "model.keras"
    checkpoint = BestCheckpoint(path)
    model = _compiled()
    checkpoint.set_model(model)
    checkpoint.on_epoch_end(0, {"val_loss": 2.0})
    saved = path.read_bytes()

    def full_disk(filepath, *args, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"PK\x03\x04 partial")  # what was written before the disk filled up
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(model, "save", full_disk)
    with pytest.raises(DiskFullError, match=f"while writing {path}; the previous model.keras"):
        checkpoint.on_epoch_end(1, {"val_loss": 1.0})
    assert path.read_bytes() == saved and sorted(p.name for p in tmp_path.iterdir()) == [
        "model.keras"
    ]
    keras.saving.load_model(path, safe_mode=True)


def test_atomic_write_never_leaves_a_truncated_file(tmp_path):
    path = write_text(tmp_path / "report.json", '{"ok": 1}')

    def dies_midway(tmp):
        tmp.write_text('{"o')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, dies_midway)
    assert json.loads(path.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_a_corrupt_best_model_falls_back_to_the_previous_one(tmp_path, caplog):
    run = tmp_path / "run"
    run.mkdir()
    model = _compiled()
    model.save(run / "model.previous.keras")
    (run / "model.keras").write_bytes((run / "model.previous.keras").read_bytes()[:500])
    with caplog.at_level(logging.WARNING):
        _, loaded = load_run_dir(run)
    assert "model.keras cannot be loaded" in caplog.text and "model.previous.keras" in caplog.text
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])
    (run / "model.previous.keras").unlink()
    with pytest.raises(ValueError, match="model.keras cannot be loaded"):
        load_run_dir(run)


def test_a_model_file_with_code_is_refused(tmp_path):
    """A crafted .keras file whose Lambda layer would write a file when deserialized."""
    marker = tmp_path / "pwned"
    payload = eval(f"lambda x: (open({str(marker)!r}, 'w').close(), x * 2)[1]")
    inputs = keras.Input((3,))
    crafted = keras.Model(inputs, keras.layers.Lambda(payload)(inputs))
    run = tmp_path / "run"
    run.mkdir()
    crafted.save(run / "model.keras")
    marker.unlink()  # building the model ran the payload once
    with pytest.raises(ValueError, match="cannot be loaded"):
        load_run_dir(run)
    with pytest.raises(ValueError, match="(?i)unsafe|lambda"):
        keras.saving.load_model(run / "model.keras", safe_mode=True)
    assert not marker.exists()
    # The file does carry code: an unsafe load runs it.
    keras.saving.load_model(run / "model.keras", safe_mode=False)
    assert marker.exists()
