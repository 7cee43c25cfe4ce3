"""Translation as a task of the run skeleton (`pipelines.tasks.base`): its datasets, model,
compile arguments and dev scores, and `evaluate`; `Translator` (a trained run ready to
translate) is in `pipelines.tasks.translation.translator`.

The command line (`pipelines/translate.py`) and notebooks both drive these functions. A run
directory (`seq2seq.training.run_dir`) keeps the SentencePiece models in `tokenizers/`.
"""

import dataclasses
import json
import logging
import math
import random
import shutil
from pathlib import Path

import sacrebleu

from data_prep.speech.transcripts import normalize_transcript
from data_prep.text.parallel import extra_references, read_parallel
from data_prep.text.pipeline import length_counts, make_translation_dataset
from data_prep.text.subword import SubwordTokenizer
from pipelines.reports.evaluation import bleu_by_length, score_translations, write_reports
from pipelines.tasks import base
from pipelines.tasks.translation.config import DataConfig, TranslationConfig
from pipelines.tasks.translation.translator import Translator, translate_with
from seq2seq.files import write_text
from seq2seq.losses import MaskedSparseCrossEntropy, masked_accuracy
from seq2seq.training.fit import with_known_length
from seq2seq.training.run_dir import RunDir
from seq2seq.translation.decoding import SequenceDecoder
from seq2seq.translation.model import Seq2SeqTranslator
from seq2seq.translation.transformer import TransformerTranslator

logger = logging.getLogger(__name__)
ATTENTION_MAX_WORDS = 25  # report heatmaps only for sample sources up to this length


def read_split(config: DataConfig, split: str, filter_long: bool = True):
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


def asr_style(pairs, share: float, language: str, seed: int):
    """`pairs` with a `share` of their sources (drawn per pair with `seed`) written as a
    speech recognizer writes them (`normalize_transcript` in `language`: lower case, no
    punctuation, numbers spelled out), and how many were rewritten. A source that would come
    out empty stays as it is."""
    if share <= 0:
        return list(pairs), 0
    rng = random.Random(f"{seed}-asr-style")
    out, styled = [], 0
    for source, target in pairs:
        if rng.random() < share and (plain := normalize_transcript(source, language)):
            out.append((plain, target))
            styled += 1
        else:
            out.append((source, target))
    return out, styled


def tokenizers(run: RunDir, config: DataConfig, pairs):
    """The run's (source, target) tokenizers, learned from the training pairs on a first run."""
    folder = run.tokenizers
    if (folder / "target.model").exists():
        return SubwordTokenizer.load(folder / "source.model"), SubwordTokenizer.load(
            folder / "target.model"
        )
    folder.mkdir(parents=True, exist_ok=True)
    learned = []
    for side, vocab_size, index in [
        ("source", config.source_vocab_size, 0),
        ("target", config.target_vocab_size, 1),
    ]:
        tokenizer = SubwordTokenizer.train(
            [p[index] for p in pairs], vocab_size, config.subword_model
        )
        tokenizer.save(folder / f"{side}.model")
        learned.append(tokenizer)
    return learned


def make_datasets(config: TranslationConfig, pairs: dict, source_tokenizer, target_tokenizer):
    """{split: dataset} of `pairs` ({split: sentence pairs}) as training feeds them: the
    training split shuffled with the run's seed, every split bucketed by length, tokenized and
    cached per `data`, with the number of batches known."""
    data = config.data
    return {
        split: with_known_length(
            make_translation_dataset(
                split_pairs,
                source_tokenizer,
                target_tokenizer,
                data.batch_tokens,
                data.max_length,
                shuffle=split == "train",
                seed=config.train.seed,  # used when shuffling
                cache=data.cache if split == "train" else True,
            )
        )
        for split, split_pairs in pairs.items()
    }


class DevScores:
    """`train.select_by`'s dev scores of the model being trained: greedy-decodes the dev
    sources (in-graph, batched, as `translate` does) and scores them against the dev targets
    with sacrebleu (the BLEU and chrF `evaluate` reports). Called after each epoch."""

    def __init__(self, config: TranslationConfig, pairs, tokenizers):
        self.config, self.tokenizers = config, tokenizers
        self.sources, self.references = [p[0] for p in pairs], [p[1] for p in pairs]
        self.decoder = None

    def __call__(self, model) -> dict:
        if self.decoder is None or self.decoder.model is not model:
            decode = self.config.decode  # traced once per model
            self.decoder = SequenceDecoder(
                model, decode.max_length_ratio, decode.max_length_offset, decode.length_penalty
            )
        texts = translate_with(
            self.decoder, self.tokenizers, self.sources, self.config.decode.batch_size
        )
        return {
            "bleu": sacrebleu.BLEU().corpus_score(texts, [self.references]).score,
            "chrf": sacrebleu.CHRF().corpus_score(texts, [self.references]).score,
        }


class TranslationTask(base.Task):
    name = "translation"
    config_class = TranslationConfig
    shape_keys = ("model", "data.source_vocab_size", "data.target_vocab_size")

    def inherit(self, source: RunDir, run: RunDir):
        if not run.tokenizers.exists():
            shutil.copytree(source.tokenizers, run.tokenizers)

    def datasets(self, config: TranslationConfig, run: RunDir) -> base.Datasets:
        (train_pairs, train_report), (dev_pairs, dev_report) = (
            read_split(config.data, split) for split in ("train", "dev")
        )
        print(f"training pairs: {len(train_pairs)}, dev pairs: {len(dev_pairs)}")
        data = config.data
        train_pairs, styled = asr_style(
            train_pairs, data.asr_style, data.source_language, config.train.seed
        )
        if styled:
            print(f"{styled} training sources in recognizer style (data.asr_style)")
        source_tokenizer, target_tokenizer = tokenizers(run, config.data, train_pairs)
        summary = {}
        for split, pairs, report in [
            ("train", train_pairs, train_report),
            ("dev", dev_pairs, dev_report),
        ]:
            too_long, tokens = length_counts(
                pairs, source_tokenizer, target_tokenizer, config.data.max_length
            )
            summary[split] = {
                "file": getattr(config.data, split),
                **report.summary(),
                **({"asr_style_sources": styled} if split == "train" else {}),
                "longer_than_max_length_tokens": too_long,
                "target_tokens_per_epoch": tokens,
            }
        write_text(run.data_summary, json.dumps(summary, indent=2, ensure_ascii=False))
        splits = {"train": train_pairs, "dev": dev_pairs}
        datasets = make_datasets(config, splits, source_tokenizer, target_tokenizer)
        sizes = {
            "source_vocab_size": source_tokenizer.vocab_size,
            "target_vocab_size": target_tokenizer.vocab_size,
        }
        scores = None
        if config.train.select_by != "loss":
            scores = DevScores(config, dev_pairs, (source_tokenizer, target_tokenizer))
        return base.Datasets(datasets["train"], datasets["dev"], sizes, "", scores)

    def build_model(self, config: TranslationConfig, source_vocab_size, target_vocab_size):
        model = config.model
        if model.type == "transformer":
            built = TransformerTranslator(
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
        else:
            recurrent = {
                k: v
                for k, v in dataclasses.asdict(model).items()
                if k not in ("type", "heads", "positions")
            }
            built = Seq2SeqTranslator(
                source_vocab_size, target_vocab_size, **recurrent, name="seq2seq_translator"
            )
        built.build()
        return built

    def compile_arguments(self, config: TranslationConfig) -> dict:
        loss = MaskedSparseCrossEntropy(config.train.label_smoothing)
        return {"loss": loss, "metrics": [masked_accuracy]}

    def load(self, run_dir):
        return Translator(run_dir)


def train(config: TranslationConfig, run_dir, strategy="default", init_from=None):
    """Trains a translation model into `run_dir` (see `pipelines.tasks.base.train`)."""
    return base.train(TranslationTask(), config, run_dir, strategy, init_from)


def evaluate(run_dir, split="test", beam_size=None, limit=None, checkpoint: str = "auto"):
    """Translates a split with greedy search (and beam search when `beam_size` > 1), scores it
    with sacrebleu and writes `RUN/eval/<split>/report.{json,md}` (`<split>-best` or
    `<split>-averaged` for an explicit `checkpoint`). `run_dir`: a run, or a list of runs to
    decode as an ensemble, reported in the first run's `eval/<split>-ensemble<N>/` (N runs).
    Returns the Markdown path. `report.json` keeps every sentence with its outputs and
    sentence scores (`pipelines.reports.samples`)."""
    from pipelines.reports.samples import translation_outputs

    translator = Translator(run_dir, checkpoint)
    ensemble = len(translator.run_dirs) > 1
    beam_size = translator.config.decode.beam_size if beam_size is None else beam_size
    pairs = read_split(translator.config.data, split, filter_long=False)[0]
    # Other references of the split, e.g. test.kjv.txt beside test.tsv.
    extra = extra_references(getattr(translator.config.data, split), len(pairs))
    pairs, extra = pairs[:limit], {name: lines[:limit] for name, lines in extra.items()}
    sources, references = [p[0] for p in pairs], [p[1] for p in pairs]
    model = {"checkpoint": translator.checkpoint}
    if ensemble:
        model = {
            "checkpoint": translator.checkpoints,
            "ensemble": list(map(str, translator.run_dirs)),
        }
    strategies = [("greedy", 1, model)] + ([("beam", beam_size, model)] if beam_size > 1 else [])

    def show(row):
        decoding = row["decoding"]
        print(
            f"{split} {decoding['strategy']} (beam {decoding['beam_size']}): BLEU "
            f"{row['bleu']:.2f}  chrF {row['chrf']:.2f}  TER {row['ter']:.2f}  "
            f"[{row['signature']['bleu']}]"
        )

    rows, outputs = base.timed_decodings(
        strategies,
        lambda strategy, size: translator.translate(sources, size, progress=True),
        lambda texts: score_translations(texts, references, extra),
        lambda seconds: {
            "num_sentences": len(sources),
            "sentences_per_second": round(len(sources) / seconds, 2),
        },
        show,
    )
    hypotheses = {}  # named as the report shows them: greedy, beam 5
    for row, texts in zip(rows, outputs, strict=True):
        size = row["decoding"]["beam_size"]
        hypotheses["greedy" if size == 1 else f"beam {size}"] = texts
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
    if ensemble:
        title += f", ensemble of {', '.join(map(str, translator.run_dirs))}"
    name = split if checkpoint == "auto" else f"{split}-{checkpoint}"
    if ensemble:
        name = f"{name}-ensemble{len(translator.run_dirs)}"
    return write_reports(
        RunDir(translator.run_dir).eval_dir(name),
        rows,
        samples,
        title,
        bleu_by_length(sources, references, hypotheses),
        attention,
        translation_outputs(sources, references, hypotheses),
    )
