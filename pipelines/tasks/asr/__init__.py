"""Speech recognition (ASR) as a task: its config, training and evaluation (`task`), the trained
`Recognizer`, long recordings, the word language model's commands and the transcript formats.

The names below load their module on first use, so that `pipelines.asr` can import this
folder's light helpers (`lm_commands`, `transcript_formats`) before TensorFlow starts quietly.
"""

from pipelines.tasks import lazy_exports

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

__getattr__ = lazy_exports(__name__, _EXPORTS)
