"""Speech recognition (ASR) as a task: its config, training and evaluation (`task`), the trained
`Recognizer`, long recordings, the word language model's commands and the transcript formats.

The names below load their module on first use, so that `pipelines.asr` can import this
folder's light helpers (`lm_commands`, `transcript_formats`) before TensorFlow starts quietly.
"""

import importlib

_EXPORTS = {
    "ASRConfig": "config",
    "Recognizer": "recognizer",
    "ASRTask": "task",
    "build_caches": "task",
    "evaluate": "task",
    "make_datasets": "task",
    "train": "task",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
