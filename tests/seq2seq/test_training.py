import keras
import numpy as np

from seq2seq.training.callbacks import EarlyStopping, ProgressLog, TrainingClock, make_callbacks
from seq2seq.training.fit import make_optimizer
from seq2seq.training.run_dir import RunDir
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


def test_time_limit_stops_after_the_epoch_that_crosses_it(tmp_path):
    model = tiny_model()
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(True))
    inputs, targets = batch()
    clock = TrainingClock(RunDir(tmp_path), max_minutes=1e-9)
    history = model.fit(inputs, targets, epochs=5, verbose=0, callbacks=[clock])
    assert len(history.history["loss"]) == 1


def test_the_clock_of_a_resumed_run_continues_from_its_kept_epochs(tmp_path):
    """A run resumed after 2 epochs that took 10 minutes continues its clock at 10 (not 0):
    with a budget of 10.001 minutes it trains one more epoch, not to the end."""
    (tmp_path / "history.csv").write_text(
        "epoch,loss,elapsed_minutes\n0,3.0,4.0\n1,2.5,10.0\n2,2.4,12.0\n"
    )  # epoch 2's row is from before a fall back to the backup of epoch 2: it does not count
    model = tiny_model()
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(True))
    inputs, targets = batch()
    clock = TrainingClock(RunDir(tmp_path), max_minutes=10.001)
    history = model.fit(inputs, targets, initial_epoch=2, epochs=6, verbose=0, callbacks=[clock])
    assert history.epoch == [2]
    assert 10.0 < history.history["elapsed_minutes"][0] < 10.5


def test_progress_log_prints_when_due(capsys):
    log = ProgressLog(every_seconds=0.0)
    log.on_epoch_begin(0)
    log.on_train_batch_end(41, {"loss": 2.5})
    assert "epoch 1 batch 42  loss 2.5000" in capsys.readouterr().out


def test_callbacks_checkpoint_backup_and_budget(tmp_path):
    callbacks = make_callbacks(RunDir(tmp_path), patience=2, max_minutes=30)
    kinds = {type(c).__name__ for c in callbacks.values()}
    assert {
        "NaNGuard",
        "TerminateOnNaN",
        "Backup",
        "BestCheckpoint",
        "EarlyStopping",
        "CSVLogger",
        "TensorBoard",
        "TrainingClock",
    } <= kinds
    assert isinstance(callbacks["backup"], keras.callbacks.BackupAndRestore)
    checkpoint = callbacks["checkpoint"]
    assert checkpoint.path == tmp_path / "model.keras" and checkpoint.best == float("inf")
    assert callbacks["clock"].max_minutes == 30
    # The clock writes elapsed_minutes into the logs before the CSV logger reads them.
    names = list(callbacks)
    assert names.index("clock") < names.index("csv")


def _fit_resumed(run_dir, initial_epoch, patience):
    """Trains the tiny model from `initial_epoch` with the run's early stopping; returns the
    epochs run."""
    model = tiny_model()
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(True))
    inputs, targets = batch()
    stopping = EarlyStopping(RunDir(run_dir), patience)
    history = model.fit(
        inputs,
        targets,
        validation_data=(inputs, targets),
        initial_epoch=initial_epoch,
        epochs=initial_epoch + 10,
        verbose=0,
        callbacks=[stopping],
    )
    return len(history.epoch), stopping


def test_early_stopping_counts_on_after_a_resume(tmp_path):
    # Epochs 0-3 ran before the kill; the best dev loss (no model can beat it) was at epoch
    # 1, and two epochs without improvement have passed since (a NaN one counts too).
    (tmp_path / "history.csv").write_text(
        "epoch,loss,val_loss\n0,3.0,2.0\n1,2.5,1e-9\n2,2.4,1.5\n3,2.3,nan\n"
    )
    epochs, stopping = _fit_resumed(tmp_path, initial_epoch=4, patience=3)
    assert epochs == 1 and stopping.stopped_epoch == 4
    assert stopping.best == 1e-9 and stopping.best_epoch == 1
    # A fresh run counts from zero (and the tiny model improves for a while).
    epochs, _ = _fit_resumed(tmp_path / "fresh", initial_epoch=0, patience=3)
    assert epochs > 3


def test_early_stopping_reads_only_the_epochs_before_the_resume(tmp_path):
    # Epoch 1 was rerun after a fall back to an older backup (its last row counts); the row
    # of epoch 2, from before the fall back, is not part of this run's past.
    (tmp_path / "history.csv").write_text(
        "epoch,loss,val_loss\n0,3.0,2.0\n1,2.5,1e-9\n2,2.4,1.5\n1,2.5,1.8\n"
    )
    stopping = EarlyStopping(RunDir(tmp_path), patience=3)
    stopping.on_train_begin()
    stopping.on_epoch_begin(2)
    assert (stopping.best, stopping.best_epoch, stopping.wait) == (1.8, 1, 0)
    stopping.on_epoch_begin(3)  # only the first epoch of a run reads the history
    assert stopping.best == 1.8
    # A kill between the backup and the history row of epoch 2: the epoch still counts.
    (tmp_path / "history.csv").write_text("epoch,loss,val_loss\n0,3.0,2.0\n1,2.5,1.8\n")
    stopping.on_train_begin()
    stopping.on_epoch_begin(3)
    assert (stopping.best, stopping.best_epoch, stopping.wait) == (1.8, 1, 1)


def test_history_keeps_the_last_row_of_a_rerun_epoch(tmp_path):
    run = RunDir(tmp_path)
    assert run.history() == [] and run.minutes_spent(2) == 0.0
    run.history_csv.write_text(
        "epoch,loss,val_loss,elapsed_minutes\n"
        "0,3.0,2.0,1.0\n1,2.5,1.0,2.0\n2,2.4,1.5,3.0\n1,2.6,1.8,2.5\n"
    )
    rows = run.history()
    assert [(r["epoch"], r["val_loss"]) for r in rows] == [(0, 2.0), (1, 1.8), (2, 1.5)]
    assert run.minutes_spent(2) == 2.5 and run.minutes_spent(0) == 0.0
    assert run.best_dev_value() == 1.0  # the first row of the rerun epoch counts here


def test_selection_by_a_dev_score_keeps_the_highest_and_logs_it(tmp_path):
    """select_by bleu: the dev scores go into the epoch's logs before the checkpoint, early
    stopping and the CSV log read them; model.keras is the epoch of the highest val_bleu."""
    run = RunDir(tmp_path)
    scores = iter([10.0, 30.0, 20.0, 25.0, 15.0])
    callbacks = make_callbacks(
        run, patience=3, monitor=("val_bleu", "max"), dev_scores=lambda m: {"bleu": next(scores)}
    )
    names = list(callbacks)
    assert names.index("dev_scores") < min(names.index(n) for n in ("checkpoint", "csv"))
    model = tiny_model()
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(True))
    inputs, targets = batch()
    saved = []

    class Weights(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            saved.append(self.model.get_weights())

    history = model.fit(
        inputs,
        targets,
        validation_data=(inputs, targets),
        epochs=10,
        verbose=0,
        callbacks=[*callbacks.values(), Weights()],
    )
    # Best at epoch 1 (30.0); patience 3 stops after epoch 4, the last score.
    assert history.epoch == [0, 1, 2, 3, 4]
    bleu = run.dev_values("val_bleu")
    assert bleu == {0: 10.0, 1: 30.0, 2: 20.0, 3: 25.0, 4: 15.0}
    assert all(r["dev_score_seconds"] >= 0 for r in run.history())
    best = keras.saving.load_model(run.model)
    for ours, theirs in zip(best.get_weights(), saved[max(bleu, key=bleu.get)], strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert run.best_dev_value("val_bleu", "max") == 30.0
    assert run.best_dev_value("val_loss") == min(run.dev_losses().values())


def test_early_stopping_on_a_score_counts_on_after_a_resume(tmp_path):
    (tmp_path / "history.csv").write_text(
        "epoch,val_loss,val_bleu\n0,2.0,10.0\n1,1.5,22.0\n2,1.4,nan\n3,1.3,21.0\n"
    )
    stopping = EarlyStopping(RunDir(tmp_path), patience=3, monitor="val_bleu", mode="max")
    stopping.on_train_begin()
    stopping.on_epoch_begin(4)
    assert (stopping.best, stopping.best_epoch, stopping.wait) == (22.0, 1, 2)
    stopping.set_model(tiny_model())
    stopping.on_epoch_end(4, {"val_bleu": 21.5})  # not better: the third epoch without
    assert stopping.model.stop_training
