"""The translation pipeline's config: one frozen dataclass per YAML section (`data`, `model`,
`train`, `decode`), each checking its values (`seq2seq.config.validate`); a YAML file in
`configs/translate/` sets what differs from these defaults, and
`python -m pipelines.translate train --help` explains the keys.
"""

import dataclasses
from typing import ClassVar

from data_prep.speech.transcripts import LANGUAGES
from seq2seq.config import refuse_inapplicable, validate
from seq2seq.recurrent import recurrent_rules
from seq2seq.training.fit import TrainConfig as SharedTrainConfig
from seq2seq.translation.model import ATTENTION_LAYOUTS
from seq2seq.translation.transformer import POSITIONS

MODEL_TYPES = ("recurrent", "transformer")
# The `model` keys that only one model type reads.
RECURRENT_ONLY = ("embedding_dim", "cell", "attention", "attention_units")
TRANSFORMER_ONLY = ("heads", "positions")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """The `data` section: the parallel corpus, its subword vocabularies and its batches.

    Args:
        train, dev, test: corpus files of the splits (see `format`).
        format: tsv (source<TAB>target), anki (english<TAB>other<TAB>attribution) or moses
            (two aligned files, written "prefix.es,prefix.en").
        max_words: drop pairs with a side longer than this many words when reading (null:
            keep all).
        source_vocab_size, target_vocab_size: SentencePiece vocabulary sizes.
        subword_model: unigram or bpe.
        max_length: training pairs longer than this many subword tokens are left out
            (counted and reported).
        batch_tokens: padded tokens per batch (batches are bucketed by length).
        cache: keep the tokenized data in memory after the first epoch.
        source_language: the source side's language (en or es): how `asr_style` writes it,
            and what a recognizer chained before this translator must write
            (`pipelines.speech_translate`).
        asr_style: share of the training pairs (drawn per pair with `train.seed`) whose
            source is shown as a speech recognizer writes it: lower case, no punctuation,
            numbers spelled out (`normalize_transcript`), so the translator also reads
            recognizer output. 0 leaves the corpus as it is.
    """

    train: str = "data/bible/train.tsv"
    dev: str = "data/bible/dev.tsv"
    test: str = "data/bible/test.tsv"
    format: str = "tsv"
    max_words: int | None = None
    source_vocab_size: int = 8000
    target_vocab_size: int = 8000
    subword_model: str = "unigram"
    max_length: int = 128
    batch_tokens: int = 4096
    cache: bool = True
    source_language: str = "es"
    asr_style: float = 0.0

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
                (
                    "source_language",
                    self.source_language in LANGUAGES,
                    f"one of {', '.join(LANGUAGES)}",
                ),
                ("asr_style", 0 <= self.asr_style <= 1, "a share, 0 to 1"),
            ],
        )


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The `model` section.

    Args:
        embedding_dim: size of the token embeddings (recurrent only).
        units: recurrent units per direction and layer (a Transformer's model width).
        num_layers: encoder layers (a Transformer's encoder and decoder blocks).
        dropout: dropout rate on embeddings and between layers.
        cell: lstm, gru or rnn (SimpleRNN, which cuDNN does not run); recurrent only.
        attention: output (Bahdanau attention over the decoder RNN's outputs: fast,
            cuDNN-eligible) or input_feeding (attention inside the decoder step, as RNNsearch;
            2x+ slower to train); recurrent only.
        attention_units: size of the attention's hidden layer (null: units); recurrent only.
        type: recurrent or transformer (a baseline using units, num_layers, dropout, heads and
            positions).
        heads: attention heads (transformer only; a divisor of units).
        positions: sinusoidal or learned position encodings (transformer only).
    """

    embedding_dim: int = 256
    units: int = 256
    num_layers: int = 1
    dropout: float = 0.2
    cell: str = "lstm"
    attention: str = "output"
    attention_units: int | None = None
    type: str = "recurrent"
    heads: int = 4
    positions: str = "sinusoidal"

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
        if self.type == "transformer":
            why = "model.type is transformer (its width is model.units; no cell, no Bahdanau)"
            refuse_inapplicable(self, "model", RECURRENT_ONLY, why)
        else:
            why = "heads and positions are Transformer settings (model.type is recurrent)"
            refuse_inapplicable(self, "model", TRANSFORMER_ONLY, why)


@dataclasses.dataclass(frozen=True)
class TrainConfig(SharedTrainConfig):
    """The `train` section of translation (the shared keys, and label smoothing). The best
    epoch is picked by dev BLEU by default (`select_by`: loss, bleu or chrf): the dev split is
    greedy-decoded after each epoch.

    Args:
        label_smoothing: label smoothing of the cross-entropy loss (0 disables it).
    """

    SELECT_BY: ClassVar[tuple] = ("loss", "bleu", "chrf")
    learning_rate: float = 0.002
    label_smoothing: float = 0.1
    select_by: str = "bleu"

    def rules(self) -> list:
        smoothing = ("label_smoothing", 0 <= self.label_smoothing < 1, "0 <= value < 1")
        return [*super().rules(), smoothing]


@dataclasses.dataclass(frozen=True)
class DecodeConfig:
    """The `decode` section: how evaluate and translate decode.

    Args:
        beam_size: beam width (1: greedy).
        length_penalty: GNMT length penalty alpha of beam search (0: none).
        max_length_ratio, max_length_offset: a hypothesis ends after
            ceil(ratio * source tokens) + offset tokens.
        batch_size: sentences decoded together.
    """

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
