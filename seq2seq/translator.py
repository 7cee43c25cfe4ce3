"""The translation runner: train, evaluate and translate with a run directory.

The command line (`pipelines/translate.py`) and notebooks both drive these functions.
A run directory holds:

    config.yaml            the resolved config
    tokenizers/            source.model and target.model (SentencePiece)
    model.keras            the best model on the dev set
    backup/                resumable training state (rerun the same command to resume)
    history.csv, logs/     per-epoch metrics and TensorBoard logs
    eval/<split>/          report.json and report.md
"""

import dataclasses
import json
import logging
import math
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from data_prep.corpora import read_parallel
from data_prep.pipeline import length_counts, make_translation_dataset
from data_prep.subword import BOS_ID, EOS_ID, SubwordTokenizer
from data_prep.text import normalize_text
from seq2seq.config import save_config
from seq2seq.decoding import SequenceDecoder
from seq2seq.distributed import make_strategy, model_scope, write_dir
from seq2seq.evaluation import bleu_by_length, score_translations, write_reports
from seq2seq.files import write_text
from seq2seq.losses import MaskedSparseCrossEntropy, masked_accuracy
from seq2seq.training import (
    fit,
    is_trained,
    load_run,
    make_optimizer,
    seed_everything,
    with_known_length,
)
from seq2seq.transformer import TransformerTranslator
from seq2seq.translation import Seq2SeqTranslator
from seq2seq.translation_config import DataConfig, TranslationConfig

logger = logging.getLogger(__name__)
ATTENTION_MAX_WORDS = 25  # report heatmaps only for sample sources up to this length


def _read(config: DataConfig, split: str, filter_long: bool = True):
    """Reads a split: (pairs, ReadReport). Length filtering is for training data, never for
    scoring: a side of more than `max_length` words cannot fit in `max_length` subwords, so such
    lines are dropped here, by line number, along with `max_words`."""
    path = getattr(config, split)
    max_words = min(config.max_words or config.max_length, config.max_length)
    pairs, report = read_parallel(path, config.format, max_words if filter_long else None)
    if not pairs:
        raise ValueError(
            f"no usable sentence pairs in {split} file {path} "
            f"(dropped: {dict(report.dropped) or 'none, the file is empty'})"
        )
    return pairs, report


def _tokenizers(run_dir: Path, config: DataConfig, pairs):
    """Loads the run's tokenizers, or learns them from the training pairs on a first run."""
    folder = run_dir / "tokenizers"
    if (folder / "target.model").exists():
        return SubwordTokenizer.load(folder / "source.model"), SubwordTokenizer.load(
            folder / "target.model"
        )
    folder.mkdir(parents=True, exist_ok=True)
    tokenizers = []
    for side, vocab_size, index in [
        ("source", config.source_vocab_size, 0),
        ("target", config.target_vocab_size, 1),
    ]:
        tokenizer = SubwordTokenizer.train(
            [p[index] for p in pairs], vocab_size, config.subword_model
        )
        tokenizer.save(folder / f"{side}.model")
        tokenizers.append(tokenizer)
    return tokenizers


def build_model(config: TranslationConfig, source_vocab_size: int, target_vocab_size: int):
    model = config.model
    if model.type == "transformer":
        return TransformerTranslator(
            source_vocab_size,
            target_vocab_size,
            units=model.units,
            num_layers=model.num_layers,
            heads=model.heads,
            dropout=model.dropout,
            positions=model.positions,
            max_length=2 * config.data.max_length,
            name="transformer_translator",
        )
    recurrent = {
        k: v
        for k, v in dataclasses.asdict(model).items()
        if k not in ("type", "heads", "positions")
    }
    return Seq2SeqTranslator(
        source_vocab_size, target_vocab_size, **recurrent, name="seq2seq_translator"
    )


def train(
    config: TranslationConfig, run_dir, strategy: str = "default"
) -> keras.callbacks.History | None:
    """Trains a model into `run_dir`. Rerunning the same call after an interruption resumes
    from the last finished epoch; rerunning it after training finished leaves the run as it is
    (returns None), so a finished model is never overwritten by a fresh start. `strategy`:
    `default`, `mirrored` or `multi_worker` (see `distributed.make_strategy`)."""
    strategy = make_strategy(strategy)
    run_dir = write_dir(strategy, run_dir)  # the chief's run_dir; other workers' own folders
    if is_trained(run_dir):
        return None
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, run_dir / "config.yaml")
    seed_everything(config.train.seed, config.train.deterministic)
    (train_pairs, train_report), (dev_pairs, dev_report) = (
        _read(config.data, split) for split in ("train", "dev")
    )
    print(f"training pairs: {len(train_pairs)}, dev pairs: {len(dev_pairs)}")
    source_tokenizer, target_tokenizer = _tokenizers(run_dir, config.data, train_pairs)
    data = config.data
    summary = {}
    for split, pairs, report in [
        ("train", train_pairs, train_report),
        ("dev", dev_pairs, dev_report),
    ]:
        too_long, tokens = length_counts(pairs, source_tokenizer, target_tokenizer, data.max_length)
        summary[split] = {
            "file": getattr(data, split),
            **report.summary(),
            "longer_than_max_length_tokens": too_long,
            "target_tokens_per_epoch": tokens,
        }
    write_text(run_dir / "data_summary.json", json.dumps(summary, indent=2, ensure_ascii=False))
    train_ds = make_translation_dataset(
        train_pairs,
        source_tokenizer,
        target_tokenizer,
        data.batch_tokens,
        data.max_length,
        shuffle=True,
        seed=config.train.seed,
        cache=data.cache,
    )
    dev_ds = make_translation_dataset(
        dev_pairs,
        source_tokenizer,
        target_tokenizer,
        data.batch_tokens,
        data.max_length,
        shuffle=False,
        cache=True,
    )
    train_ds, dev_ds = with_known_length(train_ds), with_known_length(dev_ds)
    steps_per_epoch = int(train_ds.cardinality())
    with model_scope(strategy, config.train.precision):
        model = build_model(config, source_tokenizer.vocab_size, target_tokenizer.vocab_size)
        model.compile(
            optimizer=make_optimizer(
                config.train.learning_rate,
                steps_per_epoch * config.train.epochs,
                config.train.warmup_steps,
                config.train.clipnorm,
            ),
            loss=MaskedSparseCrossEntropy(config.train.label_smoothing),
            metrics=[masked_accuracy],
            # XLA recompiles for every bucket shape and measured 2.5x slower on CPU; the cuDNN
            # kernels are not XLA-compiled either.
            jit_compile=False,
        )
        model.build()
    print(f"model: {model.count_params():,} parameters, {steps_per_epoch} batches per epoch")
    return fit(model, train_ds, dev_ds, run_dir, config.train)


class Translator:
    """A trained run ready to translate: config, tokenizers, model and decoder.

    Args:
        run_dir: a run directory written by `train`.
    """

    def __init__(self, run_dir):
        self.run_dir = Path(run_dir)
        self.config, self.model = load_run(self.run_dir, TranslationConfig)
        self.source_tokenizer = SubwordTokenizer.load(self.run_dir / "tokenizers/source.model")
        self.target_tokenizer = SubwordTokenizer.load(self.run_dir / "tokenizers/target.model")
        decode = self.config.decode
        self.decoder = SequenceDecoder(
            self.model, decode.max_length_ratio, decode.max_length_offset, decode.length_penalty
        )

    def translate(self, sentences: list[str], beam_size: int = 1, progress: bool = False):
        """Translates sentences in batches of similar length; returns them in input order."""
        if not sentences:
            return []
        ids = self._source_ids(sentences)
        lengths = ids.row_lengths().numpy()
        order = np.argsort(-lengths, kind="stable")
        batch_size = self.config.decode.batch_size
        results = [None] * len(sentences)
        batches = range(0, len(order), batch_size)
        for start in tqdm(batches, desc="translating", unit="batch", disable=not progress):
            index = order[start : start + batch_size]
            source = tf.gather(ids, index).to_tensor()
            output = self.decoder.decode(source, beam_size)
            texts = self.target_tokenizer.detokenize(output).numpy()
            for i, text in zip(index, texts, strict=True):
                results[i] = text.decode("utf-8")
        return results

    def _source_ids(self, sentences):
        """Subword ids of normalized source sentences with EOS (ragged: batch, None)."""
        # The same normalization the corpus readers applied to the training sources.
        ids = self.source_tokenizer.tokenize(tf.constant([normalize_text(s) for s in sentences]))
        return tf.concat([ids, tf.fill([ids.nrows(), 1], EOS_ID)], axis=1)

    def attention(self, source: str, translation: str) -> dict:
        """Where the model looks while it writes `translation` of `source` (teacher-forced, one
        decoder step per target token): {"source_tokens", "target_tokens", "weights"
        (target tokens, source tokens)}, both token lists ending with EOS."""
        source_ids = self._source_ids([source]).to_tensor()  # (1, src_len)
        target_ids = self.target_tokenizer.tokenize(tf.constant([translation]))[0]
        target_ids = tf.concat([target_ids, [EOS_ID]], axis=0)  # (tgt_len,)
        encoder_outputs, mask, state = self.model.encode(source_ids)
        keys = self.model.precompute(encoder_outputs)
        previous, rows = tf.constant([BOS_ID]), []
        for token in target_ids:
            _, state, weights = self.model.decode_step(previous, state, encoder_outputs, mask, keys)
            rows.append(np.asarray(weights[0]))
            previous = token[None]

        def pieces(tokenizer, ids):
            return [p.decode("utf-8") for p in tokenizer.id_to_piece(ids).numpy()]

        return {
            "source_tokens": pieces(self.source_tokenizer, source_ids[0]),
            "target_tokens": pieces(self.target_tokenizer, target_ids),
            "weights": np.stack(rows),
        }


def evaluate(run_dir, split: str = "test", beam_size: int | None = None, limit: int | None = None):
    """Translates a split with greedy search (and beam search when `beam_size` > 1), scores it
    with sacrebleu and writes `RUN/eval/<split>/report.{json,md}`. Returns the Markdown path."""
    translator = Translator(run_dir)
    beam_size = translator.config.decode.beam_size if beam_size is None else beam_size
    pairs = _read(translator.config.data, split, filter_long=False)[0][:limit]
    sources, references = [p[0] for p in pairs], [p[1] for p in pairs]
    rows, hypotheses = [], {}
    for strategy, size in [("greedy", 1)] + ([("beam", beam_size)] if beam_size > 1 else []):
        start = time.perf_counter()
        outputs = translator.translate(sources, size, progress=True)
        seconds = time.perf_counter() - start
        scores = score_translations(outputs, references)
        rows.append(
            {
                **scores,
                "num_sentences": len(sources),
                "decoding": {"strategy": strategy, "beam_size": size},
                "seconds": round(seconds, 2),
                "sentences_per_second": round(len(sources) / seconds, 2),
            }
        )
        hypotheses[strategy if size == 1 else f"beam {size}"] = outputs
        print(
            f"{split} {strategy} (beam {size}): BLEU {scores['bleu']:.2f}  chrF "
            f"{scores['chrf']:.2f}  TER {scores['ter']:.2f}  [{scores['signature']['bleu']}]"
        )
    step = max(1, math.ceil(len(sources) / 10))
    samples = [
        {
            "source": sources[i],
            "reference": references[i],
            "hypotheses": {k: v[i] for k, v in hypotheses.items()},
        }
        for i in range(0, len(sources), step)
    ]
    # Heatmaps of the final decoding of a few samples, short enough to read.
    final = list(hypotheses)[-1]
    attention = [
        {
            **translator.attention(s["source"], s["hypotheses"][final]),
            "title": f"{final}: {s['hypotheses'][final]}",
        }
        for s in [s for s in samples if len(s["source"].split()) <= ATTENTION_MAX_WORDS][:3]
    ]
    title = f"Translation report: {split} ({Path(getattr(translator.config.data, split)).name})"
    return write_reports(
        Path(run_dir) / "eval" / split,
        rows,
        samples,
        title,
        bleu_by_length(sources, references, hypotheses),
        attention,
    )
