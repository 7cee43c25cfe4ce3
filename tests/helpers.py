"""Checks and commands shared by the test folders."""

import os
import subprocess
import sys

import numpy as np


def assert_png(path, min_size=50):
    """`path` is a PNG image of at least `min_size` pixels a side that is not blank."""
    from matplotlib.image import imread

    assert path.exists() and path.stat().st_size > 0, path
    image = imread(path)  # (height, width, channels), floats in [0, 1]
    assert image.shape[0] >= min_size and image.shape[1] >= min_size, (path, image.shape)
    assert float(np.std(image)) > 0.01, f"{path} is blank"


def run_command(command: list, expect: int = 0, stdin: str | None = None):
    """Runs `command` (Python unbuffered, `stdin` as its input) and fails the test with the end
    of its stderr unless it exits with `expect`; returns the CompletedProcess."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, env=env)
    assert result.returncode == expect, result.stderr[-3000:]
    return result


def tiny_translate_train(run, corpus, *settings, strategy="default") -> list:
    """The command that trains the tiny translation config on `corpus` (train/dev/test.tsv)
    into `run`, with more `--set` values."""
    data = [f"data.{split}={corpus / f'{split}.tsv'}" for split in ("train", "dev", "test")]
    return [
        *(sys.executable, "-m", "pipelines.translate", "train"),
        *("--config", "configs/translate/tiny.yaml", "--run-dir", str(run)),
        *("--strategy", strategy, "--set", *data, *settings),
    ]


def tiny_speech_data(tiny_speech, cache_dir) -> list[str]:
    """--set values pointing configs/asr/tiny.yaml at the tiny corpus and a cache folder."""
    return [
        f"data.{split}={tiny_speech / f'{split}.jsonl'}" for split in ("train", "dev", "test")
    ] + [f"data.cache_dir={cache_dir}"]


def tiny_speech_train(run, tiny_speech, cache_dir, *settings) -> list:
    """The command that trains configs/asr/tiny.yaml on the tiny speech corpus into `run`
    (features cached in `cache_dir`), with more `--set` values."""
    return [
        *(sys.executable, "-m", "pipelines.asr", "train"),
        *("--config", "configs/asr/tiny.yaml", "--run-dir", str(run)),
        *("--set", *tiny_speech_data(tiny_speech, cache_dir), *settings),
    ]
