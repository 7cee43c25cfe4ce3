"""`Recognizer`: a trained speech run ready to transcribe (features, batches, decoding)."""

import json

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from data_prep.speech.audio import compute_features, load_audio_files, pad_batch
from data_prep.speech.feature_cache import FeatureCache
from data_prep.speech.transcripts import CharacterVocabulary
from pipelines.tasks.asr.config import ASRConfig
from seq2seq.files import write_text
from seq2seq.speech.decoding import ctc_decode, length_batches
from seq2seq.training.fit import load_run
from seq2seq.training.run_dir import RunDir

MAX_ENCODER_FRAMES = 3000  # Whisper's 1,500 positions at stride 2: 30 s of 10 ms frames


def feature_stats(run: RunDir, config: ASRConfig, cache: FeatureCache | None):
    """(mean, std) for global normalization, saved in the run directory (from the training
    `cache` on a first run); None for other normalizations."""
    if config.features.normalization != "global":
        return None
    path = run.feature_stats
    if not path.exists():
        if cache is None:
            raise FileNotFoundError(f"{path} not found: the run was not trained to the end")
        stats = {"mean": cache.mean.tolist(), "std": cache.std.tolist()}
        write_text(path, json.dumps(stats))
    stats = json.loads(path.read_text(encoding="utf-8"))
    return np.array(stats["mean"], np.float32), np.array(stats["std"], np.float32)


class Encoded(np.ndarray):
    """A pretrained encoder's frozen-part outputs (frames, dim) of one utterance
    (`Recognizer.encode`): the recognizer feeds them to the rest of the model directly, so
    several decodings of one set run the encoder once."""


class Recognizer:
    """A trained run ready to transcribe: config, feature settings, model and decoder.

    Args:
        run_dir: a run directory written by `train`.
    """

    def __init__(self, run_dir):
        self.run_dir = RunDir(run_dir).path
        self.config, self.model = load_run(self.run_dir, ASRConfig)
        self.vocabulary = CharacterVocabulary(self.config.data.language)
        self.alphabet = self.vocabulary.alphabet  # class i is alphabet[i - 1]; 0 the blank
        self.stats = feature_stats(RunDir(run_dir), self.config, None)
        size = self.config.features.feature_size
        self._logits = tf.function(
            self._forward,
            input_signature=[
                tf.TensorSpec([None, None, size], tf.float32),
                tf.TensorSpec([None], tf.int32),
            ],
        )
        self._front = tf.function(
            self.model.front,
            input_signature=[
                tf.TensorSpec([None, None, size], tf.float32),
                tf.TensorSpec([None], tf.int32),
            ],
        )
        self._head_logits = tf.function(
            self._forward_encoded,
            input_signature=[
                tf.TensorSpec([None, None, self.model.input_size], tf.float32),
                tf.TensorSpec([None], tf.int32),
            ],
        )

    def _normalize(self, features):
        return features if self.stats is None else (features - self.stats[0]) / self.stats[1]

    def _forward(self, features, lengths):
        return self._forward_encoded(*self.model.front(features, lengths))

    def _forward_encoded(self, inputs, lengths):
        logits = self.model({"features": inputs, "feature_lengths": lengths})
        return logits, self.model.output_lengths(lengths)

    def encode(self, features: list[np.ndarray], progress=False) -> list[np.ndarray]:
        """Runs a pretrained encoder's frozen part once over feature arrays and returns its
        outputs (`Encoded`), which every other method takes in place of the features; without
        an encoder, the features unchanged."""
        if self.model.encoder is None:
            return features
        self._check_lengths([len(f) for f in features])
        out = [None] * len(features)
        batches = list(length_batches([len(f) for f in features], self.config.decode.batch_frames))
        for batch in tqdm(batches, desc="encoder", unit="batch", disable=not progress):
            padded, lengths = pad_batch([features[i] for i in batch])
            encoded, out_lengths = self._front(tf.constant(padded), tf.constant(lengths))
            encoded, out_lengths = encoded.numpy(), out_lengths.numpy()
            for row, i in enumerate(batch):
                out[i] = np.ascontiguousarray(encoded[row, : out_lengths[row]]).view(Encoded)
        return out

    def _check_lengths(self, lengths):
        if self.model.encoder is not None and max(lengths, default=0) > MAX_ENCODER_FRAMES:
            raise ValueError(
                f"an input of {max(lengths) / 100:.1f} s: the Whisper encoder takes at most "
                "30 s; transcribe long recordings with --format (segments at pauses)"
            )

    def _batches(self, features: list[np.ndarray], progress=False):
        """Yields (input indices, logits, output lengths) of length-bucketed batches."""
        lengths = [len(f) for f in features]
        encoded = bool(features) and isinstance(features[0], Encoded)
        if not encoded:
            self._check_lengths(lengths)
        forward = self._head_logits if encoded else self._logits
        batches = list(length_batches(lengths, self.config.decode.batch_frames))
        for batch in tqdm(batches, desc="decoding", unit="batch", disable=not progress):
            # Normalized before padding, as in training.
            padded, batch_lengths = pad_batch(
                [features[i] if encoded else self._normalize(features[i]) for i in batch]
            )
            yield batch, *forward(tf.constant(padded), tf.constant(batch_lengths))

    @property
    def frame_seconds(self) -> float:
        return self.config.frame_seconds

    def waveform_log_probs(self, waveforms: list[np.ndarray]) -> list[np.ndarray]:
        """`log_probs` of mono waveforms at the model's rate (features computed here)."""
        return self.log_probs([compute_features(w, self.config.features) for w in waveforms])

    def log_probs(self, features: list[np.ndarray], progress=False) -> list[np.ndarray]:
        """CTC log-probabilities (output frames, classes) of feature arrays, in input order."""
        out = [None] * len(features)
        for batch, logits, out_lengths in self._batches(features, progress):
            log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32)).numpy()
            for row, i in enumerate(batch):
                out[i] = log_probs[row, : int(out_lengths[row])]
        return out

    def decode_features(
        self, features: list[np.ndarray], beam_size: int = 1, progress=False, lm=None
    ):
        """Transcribes feature arrays (frames, dim); returns texts in input order. With `lm`
        (a `seq2seq.speech.lm_decoding.LMDecoder`), its word-LM beam search (its own beam size)
        decodes the log-probabilities instead of the in-graph greedy/beam search."""
        if lm is not None:
            return lm.decode_batch(self.log_probs(features, progress), progress)
        texts = [""] * len(features)
        for batch, logits, out_lengths in self._batches(features, progress):
            ids = ctc_decode(logits, out_lengths, beam_size)
            for i, text in zip(batch, self.vocabulary.decode(ids).numpy(), strict=True):
                texts[i] = text.decode("utf-8")
        return texts

    def posteriors(self, features: np.ndarray) -> np.ndarray:
        """CTC posteriors (output frames, classes) of one utterance's features (frames, dim);
        class 0 is the blank, class i the character `vocabulary.alphabet[i - 1]`."""
        encoded = isinstance(features, Encoded)
        padded, lengths = pad_batch([features if encoded else self._normalize(features)])
        forward = self._head_logits if encoded else self._logits
        logits, out_lengths = forward(tf.constant(padded), tf.constant(lengths))
        return tf.nn.softmax(logits[0, : int(out_lengths[0])]).numpy()

    def transcribe(self, paths, beam_size: int = 1, progress: bool = False, lm=None):
        """Transcribes audio files (any rate, channels, format libsndfile reads), with the
        word-LM decoder `lm` if given. Returns (path, text) for the readable files and (path,
        error) for the others."""
        audios, done, errors = load_audio_files(paths, self.config.features.sample_rate)
        features = [compute_features(audio, self.config.features) for audio in audios]
        texts = self.decode_features(features, beam_size, progress, lm) if features else []
        return list(zip(done, texts, strict=True)), errors
