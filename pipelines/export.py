"""Self-contained SavedModels: raw text in, translations out; raw audio in, transcripts out.

An exported directory needs only TensorFlow (and tensorflow-text, for the SentencePiece ops of
the translation model) to run: normalization, tokenization, decoding and detokenization, or
the feature front end (`data_prep.speech.tf_features`), the network and CTC decoding, are all in the
graph, in stock ops. The training config is copied next to the SavedModel as
`toolkit_config.yaml` for reference.

Translation signatures (`serving_default` = `translate`):
    translate(sentences: string [None]) -> {"translations": string [None]}       greedy
    translate_beam(sentences: string [None], beam_size: int32 []) -> {"translations": ...}

Speech signatures (`serving_default` = `transcribe`):
    transcribe(waveforms: float32 [None, None], lengths: int32 [None])
        -> {"transcripts": string [None]}                                         greedy
    transcribe_beam(waveforms, lengths) -> {"transcripts": ...}   prefix beam search with the
        config's decode.beam_size (the TensorFlow op takes the beam width as a constant)
    posteriors(waveforms, lengths) -> {"log_probs": float32 [None, None, classes] (CTC
        log-probabilities, blank = class 0), "lengths": int32 [None] (valid output frames),
        "frame_seconds": float32 [] (seconds per output frame)}: for word timings and
        confidences outside this package (`seq2seq.speech.alignment` shows how)
Waveforms are mono at the model's sample rate (16 kHz by default), right-padded with zeros.
"""

import shutil
from pathlib import Path

import keras
import tensorflow as tf
from tqdm import tqdm

from data_prep.speech.audio import load_audio_files, pad_batch
from data_prep.speech.tf_features import TFFeatureExtractor
from data_prep.speech.transcripts import CharacterVocabulary
from data_prep.text.normalize import normalize_text_tf
from data_prep.text.subword import EOS_ID
from seq2seq.speech.decoding import ctc_decode, length_batches

CONFIG_COPY = "toolkit_config.yaml"


def _empty_or(batch_size, fn, dtype=tf.string):
    """`fn()` for a non-empty batch; an empty result for an empty batch (the decoders'
    loops need at least one row)."""
    return tf.cond(batch_size > 0, fn, lambda: tf.zeros([0], dtype))


def export_translator(run_dir, out_dir, checkpoint: str = "auto") -> Path:
    """Writes a SavedModel of a trained translation run (its `checkpoint`: see
    `seq2seq.training.fit.load_run`); returns its folder."""
    from pipelines.tasks.translation.task import Translator

    translator = Translator(run_dir, checkpoint)
    source_tokenizer, target_tokenizer = translator.source_tokenizer, translator.target_tokenizer
    decoder = translator.decoder

    def run(sentences, decode):
        ids = source_tokenizer.tokenize(normalize_text_tf(sentences))
        ids = tf.concat([ids, tf.fill([ids.nrows(), 1], EOS_ID)], axis=1)
        return target_tokenizer.detokenize(decode(ids.to_tensor()))

    def translate(sentences):
        translations = _empty_or(tf.size(sentences), lambda: run(sentences, decoder.greedy))
        return {"translations": translations}

    def translate_beam(sentences, beam_size):
        tf.debugging.assert_positive(beam_size, message="beam_size must be at least 1")

        def decode(source):
            return tf.cond(
                beam_size > 1,
                lambda: decoder.beam_search(source, beam_size),
                lambda: decoder.greedy(source),
            )

        translations = _empty_or(tf.size(sentences), lambda: run(sentences, decode))
        return {"translations": translations}

    archive = keras.export.ExportArchive()
    for resource in (translator.model, source_tokenizer, target_tokenizer, decoder):
        archive.track(resource)
    strings = tf.TensorSpec([None], tf.string, name="sentences")
    archive.add_endpoint("translate", translate, [strings])
    archive.add_endpoint(
        "translate_beam", translate_beam, [strings, tf.TensorSpec([], tf.int32, name="beam_size")]
    )
    return _write(archive, run_dir, out_dir)


def export_recognizer(run_dir, out_dir) -> Path:
    """Writes a SavedModel of a trained speech run; returns its folder."""
    from pipelines.tasks.asr.task import Recognizer

    recognizer = Recognizer(run_dir)
    model, config = recognizer.model, recognizer.config
    extractor = TFFeatureExtractor(config.features)
    vocabulary = CharacterVocabulary(config.data.language)
    stats = None
    if recognizer.stats is not None:
        stats = [tf.constant(s) for s in recognizer.stats]
    beam_size = config.decode.beam_size
    frame_seconds = recognizer.frame_seconds

    def features_of(waveforms, lengths):
        tf.debugging.assert_non_negative(lengths, message="lengths must be >= 0")
        tf.debugging.assert_less_equal(
            lengths, tf.shape(waveforms)[1], message="lengths exceed the waveform length"
        )
        tf.debugging.assert_equal(
            tf.shape(lengths)[0], tf.shape(waveforms)[0], message="one length per waveform"
        )
        features, frame_lengths = extractor(waveforms, lengths)
        if stats is not None:
            mask = tf.sequence_mask(frame_lengths, tf.shape(features)[1], features.dtype)
            features = (features - stats[0]) / stats[1] * mask[..., None]
        return model.front(features, frame_lengths)  # a pretrained encoder's frozen part

    def run(waveforms, lengths, beam):
        features, frame_lengths = features_of(waveforms, lengths)
        logits = model({"features": features, "feature_lengths": frame_lengths})
        ids = ctc_decode(logits, model.output_lengths(frame_lengths), beam)
        return vocabulary.decode(ids)

    def posteriors(waveforms, lengths):
        features, frame_lengths = features_of(waveforms, lengths)
        logits = model({"features": features, "feature_lengths": frame_lengths})
        return {
            "log_probs": tf.nn.log_softmax(tf.cast(logits, tf.float32)),
            "lengths": model.output_lengths(frame_lengths),
            "frame_seconds": tf.constant(frame_seconds, tf.float32),
        }

    def transcribe(waveforms, lengths):
        texts = _empty_or(tf.shape(waveforms)[0], lambda: run(waveforms, lengths, 1))
        return {"transcripts": texts}

    def transcribe_beam(waveforms, lengths):
        texts = _empty_or(tf.shape(waveforms)[0], lambda: run(waveforms, lengths, beam_size))
        return {"transcripts": texts}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(extractor)
    signature = [
        tf.TensorSpec([None, None], tf.float32, name="waveforms"),
        tf.TensorSpec([None], tf.int32, name="lengths"),
    ]
    archive.add_endpoint("transcribe", transcribe, signature)
    archive.add_endpoint("transcribe_beam", transcribe_beam, signature)
    archive.add_endpoint("posteriors", posteriors, signature)
    return _write(archive, run_dir, out_dir)


def _write(archive, run_dir, out_dir) -> Path:
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    archive.write_out(str(out_dir), verbose=False)
    shutil.copy(Path(run_dir) / "config.yaml", out_dir / CONFIG_COPY)
    return out_dir


def is_export(path) -> bool:
    """True if `path` is an exported SavedModel folder (not a run directory)."""
    return (Path(path) / "saved_model.pb").exists()


class ExportedTranslator:
    """Translates with an exported SavedModel (no run directory needed).

    Args:
        path: a folder written by `export_translator`.
    """

    def __init__(self, path):
        import tensorflow_text  # noqa: F401  (registers the SentencePiece ops)

        self.model = tf.saved_model.load(str(path))

    def translate(self, sentences, beam_size: int = 1, progress: bool = False):
        results = [None] * len(sentences)
        batches = list(length_batches([len(s) for s in sentences], budget=64 * 200))
        for batch in tqdm(batches, desc="translating", unit="batch", disable=not progress):
            texts = tf.constant([sentences[i] for i in batch])
            if beam_size > 1:
                out = self.model.translate_beam(texts, tf.constant(beam_size, tf.int32))
            else:
                out = self.model.translate(texts)
            for i, text in zip(batch, out["translations"].numpy(), strict=True):
                results[i] = text.decode("utf-8")
        return results


class ExportedRecognizer:
    """Transcribes with an exported SavedModel (no run directory needed).

    Args:
        path: a folder written by `export_recognizer`.
    """

    def __init__(self, path):
        from pipelines.tasks.asr.task import ASRConfig
        from seq2seq.config import load_config

        self.config = load_config(ASRConfig, Path(path) / CONFIG_COPY)
        self.model = tf.saved_model.load(str(path))

    @property
    def frame_seconds(self) -> float:
        return self.config.frame_seconds

    def waveform_log_probs(self, waveforms) -> list:
        """CTC log-probabilities (output frames, classes) of mono waveforms at the model's
        rate, from the `posteriors` signature, in length batches."""
        if not hasattr(self.model, "posteriors"):
            raise ValueError(
                "this export has no posteriors signature (written by an older version): "
                "export the run again"
            )
        out = [None] * len(waveforms)
        budget = self.config.decode.batch_frames * self.config.features.hop_length
        for batch in length_batches([len(w) for w in waveforms], budget):
            padded, lengths = pad_batch([waveforms[i] for i in batch])
            result = self.model.posteriors(tf.constant(padded), tf.constant(lengths))
            log_probs, valid = result["log_probs"].numpy(), result["lengths"].numpy()
            for row, i in enumerate(batch):
                out[i] = log_probs[row, : int(valid[row])]
        return out

    def transcribe(self, paths, beam_size: int = 1, progress: bool = False):
        """Like `Recognizer.transcribe`: ((path, text) for readable files, (path, error)
        for the others). Beam search uses the exported beam width."""
        waves, done, errors = load_audio_files(paths, self.config.features.sample_rate)
        texts = [""] * len(waves)
        budget = self.config.decode.batch_frames * self.config.features.hop_length
        batches = list(length_batches([len(w) for w in waves], budget))
        signature = self.model.transcribe_beam if beam_size > 1 else self.model.transcribe
        for batch in tqdm(batches, desc="transcribing", unit="batch", disable=not progress):
            padded, lengths = pad_batch([waves[i] for i in batch])
            out = signature(tf.constant(padded), tf.constant(lengths))
            for i, text in zip(batch, out["transcripts"].numpy(), strict=True):
                texts[i] = text.decode("utf-8")
        return list(zip(done, texts, strict=True)), errors
