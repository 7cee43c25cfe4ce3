"""The translation pipeline's config: one frozen dataclass per YAML section (`data`, `model`,
`train`, `decode`), each checking its values (`seq2seq.config.validate`); a YAML file in
`configs/translate/` sets what differs from these defaults, and
`python -m pipelines.translate train --help` explains the keys.
"""

import dataclasses

from seq2seq import training
from seq2seq.config import validate
from seq2seq.recurrent import recurrent_rules
from seq2seq.transformer import POSITIONS
from seq2seq.translation import ATTENTION_LAYOUTS

MODEL_TYPES = ("recurrent", "transformer")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    train: str = "data/bible/train.tsv"
    dev: str = "data/bible/dev.tsv"
    test: str = "data/bible/test.tsv"
    format: str = "tsv"  # tsv | anki | moses (path = "prefix.src,prefix.tgt")
    max_words: int | None = None  # drop pairs with a longer side when reading
    source_vocab_size: int = 8000
    target_vocab_size: int = 8000
    subword_model: str = "unigram"  # unigram | bpe
    max_length: int = 128  # subword tokens; longer training pairs are filtered (counted)
    batch_tokens: int = 4096
    cache: bool = True

    def __post_init__(self):
        validate(
            self,
            "data",
            [
                ("format", self.format in ("tsv", "anki", "moses"), "tsv, anki or moses"),
                ("max_words", self.max_words is None or self.max_words >= 1, "null or >= 1"),
                ("source_vocab_size", self.source_vocab_size >= 8, "at least 8"),
                ("target_vocab_size", self.target_vocab_size >= 8, "at least 8"),
                ("subword_model", self.subword_model in ("unigram", "bpe"), "unigram or bpe"),
                ("max_length", self.max_length >= 2, "at least 2"),
                ("batch_tokens", self.batch_tokens >= self.max_length, "at least max_length"),
            ],
        )


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    embedding_dim: int = 256
    units: int = 256
    num_layers: int = 1
    dropout: float = 0.2
    cell: str = "lstm"  # lstm | gru | rnn
    attention: str = "output"  # output (fast, cuDNN) | input_feeding (RNNsearch)
    attention_units: int | None = None
    type: str = "recurrent"  # recurrent | transformer (uses units, num_layers, dropout too)
    heads: int = 4  # transformer only
    positions: str = "sinusoidal"  # transformer only: sinusoidal | learned

    def __post_init__(self):
        validate(
            self,
            "model",
            [
                ("embedding_dim", self.embedding_dim >= 1, "a positive number"),
                *recurrent_rules(self),
                ("attention", self.attention in ATTENTION_LAYOUTS, f"one of {ATTENTION_LAYOUTS}"),
                ("attention_units", (self.attention_units or 1) >= 1, "null or positive"),
                ("type", self.type in MODEL_TYPES, f"one of {MODEL_TYPES}"),
                (
                    "heads",
                    self.heads >= 1
                    and (self.type != "transformer" or self.units % self.heads == 0),
                    "a divisor of units",
                ),
                ("positions", self.positions in POSITIONS, f"one of {POSITIONS}"),
            ],
        )


@dataclasses.dataclass(frozen=True)
class TrainConfig(training.TrainConfig):
    learning_rate: float = 0.002
    label_smoothing: float = 0.1

    def rules(self) -> list:
        smoothing = ("label_smoothing", 0 <= self.label_smoothing < 1, "0 <= value < 1")
        return [*super().rules(), smoothing]


@dataclasses.dataclass(frozen=True)
class DecodeConfig:
    beam_size: int = 5
    length_penalty: float = 0.6
    max_length_ratio: float = 1.5
    max_length_offset: int = 10
    batch_size: int = 64

    def __post_init__(self):
        validate(
            self,
            "decode",
            [
                ("beam_size", self.beam_size >= 1, "at least 1 (1 is greedy)"),
                ("length_penalty", self.length_penalty >= 0, "0 or more"),
                ("max_length_ratio", self.max_length_ratio > 0, "a positive number"),
                ("max_length_offset", self.max_length_offset >= 0, "0 or more"),
                ("batch_size", self.batch_size >= 1, "at least 1"),
            ],
        )


@dataclasses.dataclass(frozen=True)
class TranslationConfig:
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    decode: DecodeConfig = DecodeConfig()
