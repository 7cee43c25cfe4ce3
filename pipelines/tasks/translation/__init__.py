"""Translation as a task: its config, training and evaluation (`task`), the trained `Translator`
and forced-decoding scores.

The names below load their module on first use (TensorFlow starts only when a command needs
it, after the command has made it quiet).
"""

import importlib

_EXPORTS = {
    "TranslationConfig": "config",
    "TranslationTask": "task",
    "evaluate": "task",
    "make_datasets": "task",
    "read_split": "task",
    "tokenizers": "task",
    "train": "task",
    "Translator": "translator",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
