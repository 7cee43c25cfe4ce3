"""Checks shared by the test folders."""

import numpy as np


def assert_png(path, min_size=50):
    """`path` is a PNG image of at least `min_size` pixels a side that is not blank."""
    from matplotlib.image import imread

    assert path.exists() and path.stat().st_size > 0, path
    image = imread(path)  # (height, width, channels), floats in [0, 1]
    assert image.shape[0] >= min_size and image.shape[1] >= min_size, (path, image.shape)
    assert float(np.std(image)) > 0.01, f"{path} is blank"


def tiny_translate_train(run, corpus, *settings, strategy="default") -> list:
    """The command that trains the tiny translation config on `corpus` (train/dev/test.tsv)
    into `run`, with more `--set` values."""
    import sys

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
