"""The speech recognition pipeline's config: one frozen dataclass per YAML section (`data`,
`features`, `augment`, `model`, `train`, `decode`), each checking its values
(`seq2seq.config.validate`); a YAML file in `configs/asr/` sets what differs from these
defaults, and `python -m pipelines.asr train --help` explains the keys.
"""

import dataclasses

from data_prep.audio import FeatureConfig
from seq2seq import training
from seq2seq.config import validate
from seq2seq.recurrent import recurrent_rules
from seq2seq.speech import SUBSAMPLING


@dataclasses.dataclass(frozen=True)
class DataConfig:
    train: str = "data/speech/train.jsonl"
    dev: str = "data/speech/dev.jsonl"
    test: str = "data/speech/test.jsonl"
    cache_dir: str = "data/feature_cache"
    batch_frames: int = 20000  # input frames per batch (batch size * padded frames)
    max_frames: int = 2000  # longer training utterances are filtered (counted)
    cache_in_memory: bool = True
    workers: int | None = None  # feature cache processes (default: all cores)

    def __post_init__(self):
        validate(
            self,
            "data",
            [
                ("max_frames", self.max_frames >= 1, "a positive number"),
                ("batch_frames", self.batch_frames >= self.max_frames, "at least max_frames"),
                ("workers", self.workers is None or self.workers >= 1, "null or >= 1"),
            ],
        )


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    spec_augment: bool = True
    freq_masks: int = 2
    freq_width: int = 15
    time_masks: int = 2
    time_width: float = 0.05
    perturbed_copies: int = 0  # cached speed/noise-perturbed copies of each training utterance
    speed: tuple[float, float] | None = (0.9, 1.1)
    noise_snr_db: tuple[float, float] | None = (10.0, 30.0)

    def __post_init__(self):
        speed, snr = self.speed, self.noise_snr_db
        validate(
            self,
            "augment",
            [
                ("freq_masks", self.freq_masks >= 0, "0 or more"),
                ("freq_width", self.freq_width >= 0, "0 or more"),
                ("time_masks", self.time_masks >= 0, "0 or more"),
                ("time_width", 0 <= self.time_width < 1, "0 <= value < 1"),
                ("perturbed_copies", self.perturbed_copies >= 0, "0 or more"),
                ("speed", speed is None or 0 < speed[0] <= speed[1], "null or [low, high] > 0"),
                ("noise_snr_db", snr is None or snr[0] <= snr[1], "null or [low, high]"),
            ],
        )


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    subsampling: int = 4
    conv_filters: int = 256
    units: int = 256
    num_layers: int = 3
    dropout: float = 0.2
    cell: str = "lstm"

    def __post_init__(self):
        validate(
            self,
            "model",
            [
                ("subsampling", self.subsampling in SUBSAMPLING, f"one of {SUBSAMPLING}"),
                ("conv_filters", self.conv_filters >= 1, "a positive number"),
                *recurrent_rules(self),
            ],
        )


@dataclasses.dataclass(frozen=True)
class TrainConfig(training.TrainConfig):
    epochs: int = 20
    warmup_steps: int = 200
    clipnorm: float = 5.0
    patience: int = 4


@dataclasses.dataclass(frozen=True)
class DecodeConfig:
    beam_size: int = 8
    batch_frames: int = 40000

    def __post_init__(self):
        validate(
            self,
            "decode",
            [
                ("beam_size", self.beam_size >= 1, "at least 1 (1 is greedy)"),
                ("batch_frames", self.batch_frames >= 1, "a positive number"),
            ],
        )


@dataclasses.dataclass(frozen=True)
class ASRConfig:
    data: DataConfig = DataConfig()
    features: FeatureConfig = FeatureConfig()
    augment: AugmentConfig = AugmentConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    decode: DecodeConfig = DecodeConfig()
