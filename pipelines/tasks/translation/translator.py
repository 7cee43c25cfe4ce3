"""A trained translation run ready to translate (`Translator`): its tokenizers, its model (or
an ensemble of several runs' models) and the in-graph decoders, with the batching that
`translate`, `n_best`, `score`, evaluation and training's dev scores share.
"""

from pathlib import Path

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from data_prep.text.normalize import normalize_text
from data_prep.text.subword import BOS_ID, EOS_ID, SubwordTokenizer
from pipelines.tasks.translation.config import TranslationConfig
from seq2seq.training.fit import load_run, resolve_checkpoint
from seq2seq.training.run_dir import RunDir
from seq2seq.translation.decoding import SequenceDecoder
from seq2seq.translation.ensemble import Ensemble


def source_ids(tokenizer, sentences):
    """Subword ids of source sentences as the model saw them in training: normalized as the
    corpus readers normalize, with EOS (ragged: batch, None)."""
    ids = tokenizer.tokenize(tf.constant([normalize_text(s) for s in sentences]))
    return tf.concat([ids, tf.fill([ids.nrows(), 1], EOS_ID)], axis=1)


def sentence_batches(tokenizer, sentences, size: int, progress=False, desc="translating"):
    """Yields (input indices, padded source ids) of batches of `size` sentences of similar
    length, longest first."""
    ids = source_ids(tokenizer, sentences)
    order = np.argsort(-ids.row_lengths().numpy(), kind="stable")
    for start in tqdm(range(0, len(order), size), desc=desc, unit="batch", disable=not progress):
        index = order[start : start + size]
        yield index, tf.gather(ids, index).to_tensor()


def same_tokenizers(run_dirs) -> None:
    """Raises ValueError unless every run of an ensemble has the first one's tokenizers (the
    same SentencePiece model files): the models must read and write the same token ids."""
    first = RunDir(run_dirs[0]).tokenizers
    for run in run_dirs[1:]:
        for side in ("source", "target"):
            ours, theirs = first / f"{side}.model", RunDir(run).tokenizers / f"{side}.model"
            if not ours.exists() or not theirs.exists():
                missing = ours if not ours.exists() else theirs
                raise FileNotFoundError(f"{missing} not found: not a translation run directory")
            if ours.read_bytes() != theirs.read_bytes():
                raise ValueError(
                    f"an ensemble's runs must share their tokenizers: {theirs} is not "
                    f"{ours} (train the runs on the same data with the same data.*_vocab_size, "
                    "or fine-tune one from the other with --init-from)"
                )


def translate_with(decoder, tokenizers, sentences, batch_size, beam_size=1, progress=False):
    """Translations of `sentences` in input order by a `SequenceDecoder`, in batches of
    `batch_size` sentences of similar length; `tokenizers`: (source, target)."""
    if not sentences:
        return []
    results = [None] * len(sentences)
    source_tokenizer, target_tokenizer = tokenizers
    for index, source in sentence_batches(source_tokenizer, sentences, batch_size, progress):
        texts = target_tokenizer.detokenize(decoder.decode(source, beam_size)).numpy()
        for i, text in zip(index, texts, strict=True):
            results[i] = text.decode("utf-8")
    return results


class Translator:
    """A trained run ready to translate: config, tokenizers, model and decoder.

    Args:
        run_dir: a run directory written by `train`, or a list of them: an ensemble
            (`seq2seq.translation.ensemble`), decoding with the mean of the models'
            log-probabilities. The runs must share their tokenizers; the first run's config
            (its `decode` settings) is used.
        checkpoint: "auto" (the averaged model when the run has one, else the best), "best"
            or "averaged" (see `seq2seq.training.fit.load_run`), for each run.
    """

    def __init__(self, run_dir, checkpoint: str = "auto"):
        runs = [run_dir] if isinstance(run_dir, str | Path) else list(run_dir)
        self.run_dirs = [Path(r) for r in runs]
        self.run_dir = self.run_dirs[0]
        self.checkpoints = [resolve_checkpoint(r, checkpoint) for r in self.run_dirs]
        self.checkpoint = self.checkpoints[0]
        same_tokenizers(self.run_dirs)
        loaded = [
            load_run(run, TranslationConfig, kind)
            for run, kind in zip(self.run_dirs, self.checkpoints, strict=True)
        ]
        self.config, models = loaded[0][0], [model for _, model in loaded]
        self.model = models[0] if len(models) == 1 else Ensemble(models)
        folder = RunDir(self.run_dir).tokenizers
        self.source_tokenizer = SubwordTokenizer.load(folder / "source.model")
        self.target_tokenizer = SubwordTokenizer.load(folder / "target.model")
        decode = self.config.decode
        self.decoder = SequenceDecoder(
            self.model, decode.max_length_ratio, decode.max_length_offset, decode.length_penalty
        )

    def batches(self, sentences: list[str], progress: bool = False, desc: str = "translating"):
        """Yields (input indices, padded source ids) of batches of `decode.batch_size`
        sentences of similar length, longest first."""
        size = self.config.decode.batch_size
        yield from sentence_batches(self.source_tokenizer, sentences, size, progress, desc)

    def translate(self, sentences: list[str], beam_size: int = 1, progress: bool = False):
        """Translates sentences in batches of similar length; returns them in input order."""
        tokenizers = (self.source_tokenizer, self.target_tokenizer)
        size = self.config.decode.batch_size
        return translate_with(self.decoder, tokenizers, sentences, size, beam_size, progress)

    def n_best(self, sentences: list[str], beam_size: int, n: int, progress: bool = False):
        """The `n` best beam hypotheses of each sentence, best first, in input order: a list
        of [(text, score)] per sentence; score = summed log-probability / length penalty."""
        if not 1 <= n <= beam_size:
            raise ValueError(f"--n-best {n} must be between 1 and the beam size {beam_size}")
        results = [None] * len(sentences)
        for index, source in self.batches(sentences, progress):
            sequences, scores = self.decoder.n_best(source, tf.constant(beam_size, tf.int32))
            rows, length = tf.shape(sequences)[0], tf.shape(sequences)[2]
            flat = tf.reshape(sequences[:, :n], [rows * n, length])
            texts = self.target_tokenizer.detokenize(flat).numpy().reshape(-1, n)
            for i, row, row_scores in zip(index, texts, scores.numpy()[:, :n], strict=True):
                results[i] = [
                    (t.decode("utf-8"), float(v)) for t, v in zip(row, row_scores, strict=True)
                ]
        return results

    def attention(self, source: str, translation: str) -> dict:
        """Where the model looks while it writes `translation` of `source` (teacher-forced, one
        decoder step per target token): {"source_tokens", "target_tokens", "weights"
        (target tokens, source tokens)}, both token lists ending with EOS."""
        source = source_ids(self.source_tokenizer, [source]).to_tensor()  # (1, src_len)
        target_ids = self.target_tokenizer.tokenize(tf.constant([translation]))[0]
        target_ids = tf.concat([target_ids, [EOS_ID]], axis=0)  # (tgt_len,)
        encoder_outputs, mask, state = self.model.encode(source)
        keys = self.model.precompute(encoder_outputs)
        previous, rows = tf.constant([BOS_ID]), []
        for token in target_ids:
            _, state, weights = self.model.decode_step(previous, state, encoder_outputs, mask, keys)
            rows.append(np.asarray(weights[0]))
            previous = token[None]

        def pieces(tokenizer, ids):
            return [p.decode("utf-8") for p in tokenizer.id_to_piece(ids).numpy()]

        return {
            "source_tokens": pieces(self.source_tokenizer, source[0]),
            "target_tokens": pieces(self.target_tokenizer, target_ids),
            "weights": np.stack(rows),
        }
