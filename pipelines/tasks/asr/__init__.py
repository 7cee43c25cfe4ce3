"""Speech recognition (ASR) as a task: its config, training and evaluation (`task`), the trained
`Recognizer`, long recordings, the word language model's commands and the transcript formats."""

from pipelines.tasks.asr.config import ASRConfig
from pipelines.tasks.asr.recognizer import Recognizer
from pipelines.tasks.asr.task import ASRTask, build_caches, evaluate, make_datasets, train

__all__ = [
    "ASRConfig",
    "ASRTask",
    "Recognizer",
    "build_caches",
    "evaluate",
    "make_datasets",
    "train",
]
