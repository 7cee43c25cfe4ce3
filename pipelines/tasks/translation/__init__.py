"""Translation as a task: its config, training and evaluation (`task`), the trained `Translator`
and forced-decoding scores.

The names below load their module on first use (TensorFlow starts only when a command needs
it, after the command has made it quiet).
"""

from pipelines.tasks import lazy_exports

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

__getattr__ = lazy_exports(__name__, _EXPORTS)
