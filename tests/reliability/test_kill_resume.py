"""Whole runs through the command line: SIGKILL mid-epoch then the same command again, and two
deterministic runs with one seed."""

import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from pipelines.tasks.translation.task import TranslationConfig
from seq2seq.training.fit import load_run
from seq2seq.training.run_dir import RunDir
from tests.helpers import tiny_translate_train

pytestmark = pytest.mark.slow


def _run(command) -> str:
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _bleu(run) -> float:
    _run(
        [
            sys.executable,
            "-m",
            "pipelines.translate",
            "evaluate",
            "--run-dir",
            str(run),
            "--beam-size",
            "1",
        ]
    )
    text = (run / "eval/test/report.md").read_text()
    return float(re.search(r"\| greedy \| ([\d.]+) \|", text).group(1))


def test_sigkill_mid_epoch_then_the_same_command_resumes(tiny_corpus, tmp_path):
    epochs = "train.epochs=10"
    _run(tiny_translate_train(tmp_path / "uninterrupted", tiny_corpus, epochs))
    run = tmp_path / "killed"
    with open(tmp_path / "killed.log", "w") as log:
        process = subprocess.Popen(
            tiny_translate_train(run, tiny_corpus, epochs), stdout=log, stderr=log
        )
        deadline = time.monotonic() + 300
        while not (run / "backup/epoch-3").exists():
            assert process.poll() is None and time.monotonic() < deadline, "no third epoch"
            time.sleep(0.05)
        time.sleep(0.5)  # into a later epoch
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert not RunDir(run).complete.exists()

    output = _run(tiny_translate_train(run, tiny_corpus, epochs))
    resumed = int(re.search(r"resuming after epoch (\d+)", output).group(1))
    assert 3 <= resumed < 10
    trained = [int(n) for n in re.findall(r"Epoch (\d+)/10", output)]
    assert trained == list(range(resumed + 1, 11))  # the rest, not from scratch
    assert RunDir(run).complete.read_text() == "training finished after epoch 10\n"
    # Within noise of the uninterrupted run (the grammar is learned to BLEU > 60 either way).
    assert abs(_bleu(run) - _bleu(tmp_path / "uninterrupted")) < 10


def test_deterministic_runs_give_identical_weights(tiny_corpus, tmp_path):
    settings = ["train.epochs=3", "train.deterministic=true"]
    for name in ("a", "b"):
        _run(tiny_translate_train(tmp_path / name, tiny_corpus, *settings))
    first, second = (load_run(tmp_path / name, TranslationConfig)[1].get_weights() for name in "ab")
    assert len(first) == len(second) > 0
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_ctrl_c_exits_cleanly_and_keeps_the_backup(tiny_corpus, tmp_path):
    run = tmp_path / "run"
    process = subprocess.Popen(
        tiny_translate_train(run, tiny_corpus, "train.epochs=30"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A background job inherits SIGINT ignored (POSIX), and Python then keeps ignoring
        # it; a terminal's Ctrl-C reaches a process with the default disposition.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 300
    while not (run / "backup/epoch-2").exists():
        assert process.poll() is None and time.monotonic() < deadline, "no second epoch"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-2000:]
    assert re.search(r"interrupted: \S+/backup/epoch-\d+ is kept; rerun the same command", stdout)
    assert "Traceback" not in stderr and stderr.rstrip().endswith("interrupted")
    assert not RunDir(run).complete.exists() and list((run / "backup").glob("epoch-*"))
