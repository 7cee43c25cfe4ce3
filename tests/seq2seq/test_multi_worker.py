"""MultiWorkerMirroredStrategy: two worker processes on localhost (TF_CONFIG, CPU only) train
the tiny translation config through the command line, against one process with the same
global batches."""

import re
import signal
import subprocess
import time

import pytest

from benchmarks.multi_worker import history, start_local_workers
from seq2seq.training.distributed import _check_tf_config, make_strategy, write_dir
from tests.helpers import tiny_translate_train

EPOCHS = 6


def _train(run, corpus, strategy):
    return tiny_translate_train(run, corpus, f"train.epochs={EPOCHS}", strategy=strategy)


def _start_workers(corpus, run, logs):
    return start_local_workers(_train(run, corpus, "multi_worker"), logs)


def _finish(workers, logs) -> list[str]:
    outputs = []
    for worker, log in zip(workers, logs, strict=True):
        worker.wait(timeout=600)
        outputs.append(log.read_text())
        assert worker.returncode == 0, outputs[-1][-3000:]
    return outputs


@pytest.mark.slow
def test_multi_worker_two_processes_on_localhost_match_one_process(tiny_corpus, tmp_path):
    run = tmp_path / "multi"
    logs = [tmp_path / "worker-0.log", tmp_path / "worker-1.log"]
    _finish(_start_workers(tiny_corpus, run, logs), logs)
    single = tmp_path / "single"
    result = subprocess.run(
        _train(single, tiny_corpus, "default"), capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]

    # The chief (worker 0) wrote the run directory; worker 1 wrote only its own folder.
    other = run / "workers" / "worker-1"
    for folder in (run, other):
        assert (folder / "TRAINING_COMPLETE").exists() and (folder / "model.keras").exists()
    assert sorted(p.name for p in (run / "workers").iterdir()) == ["worker-1"]
    # Both learned the same subwords (the same data at the same path, a seeded trainer).
    for side in ("source", "target"):
        model = f"tokenizers/{side}.model"
        assert (run / model).read_bytes() == (other / model).read_bytes()
    chief, worker, one = history(run), history(other), history(single)
    assert len(chief) == len(worker) == len(one) == EPOCHS
    # The logs are reduced across the workers, so both log the same losses.
    assert [h["loss"] for h in chief] == pytest.approx([h["loss"] for h in worker], rel=1e-6)
    # Same global batches, loss scaled per replica: the learning curve of one process, within
    # a tolerance (each worker averages over its own tokens of the batch).
    assert chief[-1]["loss"] < 0.5 * chief[0]["loss"]
    # (Measured: training loss 3.48, 2.68, 1.61, 0.92, 0.53, 0.35 against one process's 3.47,
    # 2.53, 1.45, 0.85, 0.56, 0.46. The dev loss is not compared: the one-row batches, which
    # would leave a worker empty, are left out, and in the dev set they are long sentences.)
    assert chief[0]["loss"] == pytest.approx(one[0]["loss"], rel=0.05)
    mean_loss = [sum(h["loss"] for h in run) / EPOCHS for run in (chief, one)]
    assert mean_loss[0] == pytest.approx(mean_loss[1], rel=0.1)
    assert chief[-1]["val_loss"] < 0.3 * chief[0]["val_loss"]


@pytest.mark.slow
def test_multi_worker_sigkill_of_both_workers_then_the_same_commands_resume(tiny_corpus, tmp_path):
    run = tmp_path / "multi"
    logs = [tmp_path / "worker-0.log", tmp_path / "worker-1.log"]
    workers = _start_workers(tiny_corpus, run, logs)
    deadline = time.monotonic() + 300
    while not (run / "backup/epoch-2").exists():
        assert all(w.poll() is None for w in workers) and time.monotonic() < deadline
        time.sleep(0.05)
    for worker in workers:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    assert not (run / "TRAINING_COMPLETE").exists()
    kept = [
        max(int(p.name.split("-")[1]) for p in (folder / "backup").glob("epoch-*"))
        for folder in (run, run / "workers" / "worker-1")
    ]

    outputs = _finish(_start_workers(tiny_corpus, run, logs), logs)
    resumed = [int(re.search(r"resuming after epoch (\d+)", out).group(1)) for out in outputs]
    # From the newest epoch that both had kept (the chief may have written one more).
    assert resumed == [min(kept)] * 2 and min(kept) >= 1
    for output in outputs:
        trained = [int(n) for n in re.findall(rf"Epoch (\d+)/{EPOCHS}", output)]
        assert trained == list(range(resumed[0] + 1, EPOCHS + 1))
    for folder in (run, run / "workers" / "worker-1"):
        assert (
            folder / "TRAINING_COMPLETE"
        ).read_text() == f"training finished after epoch {EPOCHS}\n"


def test_multi_worker_needs_a_valid_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs TF_CONFIG"):
        make_strategy("multi_worker")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid"):
        _check_tf_config('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker"}}')
    with pytest.raises(ValueError, match="TF_CONFIG is not valid"):
        _check_tf_config('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}')
    _check_tf_config('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}')


def test_single_process_strategies_write_the_run_directory(tmp_path):
    assert write_dir(make_strategy("default"), tmp_path) == tmp_path
