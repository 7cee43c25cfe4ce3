import keras
import numpy as np

from seq2seq.training import ProgressLog, TimeLimit, make_callbacks, make_optimizer
from tests.seq2seq.helpers import batch, tiny_model


def test_schedule_warms_up_then_decays():
    optimizer = make_optimizer(0.004, total_steps=1000, warmup_steps=100, clipnorm=1.0)
    schedule = optimizer._learning_rate
    rates = [float(schedule(step)) for step in (0, 50, 100, 550, 1000)]
    np.testing.assert_allclose(rates[0], 0.004 * 0.01, rtol=1e-5)
    assert rates[0] < rates[1] < rates[2]
    np.testing.assert_allclose(rates[2], 0.004, rtol=1e-5)  # peak after warmup
    assert rates[2] > rates[3] > rates[4]
    np.testing.assert_allclose(rates[4], 0.004 * 0.01, rtol=1e-3)  # 1% at the end
    assert optimizer.global_clipnorm == 1.0


def test_time_limit_stops_after_the_epoch_that_crosses_it():
    model = tiny_model()
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(True))
    inputs, targets = batch()
    history = model.fit(inputs, targets, epochs=5, verbose=0, callbacks=[TimeLimit(0.0)])
    assert len(history.history["loss"]) == 1


def test_progress_log_prints_when_due(capsys):
    log = ProgressLog(every_seconds=0.0)
    log.on_epoch_begin(0)
    log.on_train_batch_end(41, {"loss": 2.5})
    assert "epoch 1 batch 42  loss 2.5000" in capsys.readouterr().out


def test_callbacks_checkpoint_backup_and_budget(tmp_path):
    callbacks = make_callbacks(tmp_path, patience=2, max_minutes=30)
    kinds = {type(c).__name__ for c in callbacks}
    assert {
        "NaNGuard",
        "TerminateOnNaN",
        "Backup",
        "BestCheckpoint",
        "EarlyStopping",
        "CSVLogger",
        "TensorBoard",
        "TimeLimit",
    } <= kinds
    assert isinstance(callbacks[2], keras.callbacks.BackupAndRestore)
    checkpoint = next(c for c in callbacks if type(c).__name__ == "BestCheckpoint")
    assert checkpoint.path == tmp_path / "model.keras" and checkpoint.best == float("inf")
