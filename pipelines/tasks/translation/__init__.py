"""Translation as a task: its config, training and evaluation (`task`), the trained `Translator`
and forced-decoding scores."""

from pipelines.tasks.translation.config import TranslationConfig
from pipelines.tasks.translation.task import (
    TranslationTask,
    evaluate,
    make_datasets,
    read_split,
    tokenizers,
    train,
)
from pipelines.tasks.translation.translator import Translator

__all__ = [
    "TranslationConfig",
    "TranslationTask",
    "Translator",
    "evaluate",
    "make_datasets",
    "read_split",
    "tokenizers",
    "train",
]
