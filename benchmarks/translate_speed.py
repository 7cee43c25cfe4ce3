"""Translation speed: training target tokens/second and decoding sentences/second.

    python benchmarks/translate_speed.py --config configs/translate/bible_small.yaml \
        [--set ...] [--train-batches 40] [--sentences 200] > speed.json

Trains a fresh model of the config on its training data for a few batches (after warm-up
batches that absorb tracing), then decodes dev sentences with greedy and beam-5 search. With
`--run-dir`, the trained model decodes, and the same sentences also go through the run's
exported SavedModel (raw strings in, tokenization and detokenization included). Prints one
JSON object.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def make_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/translate/bible_small.yaml")
    parser.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE")
    parser.add_argument("--train-batches", type=int, default=40)
    parser.add_argument("--warmup-batches", type=int, default=8)
    parser.add_argument("--sentences", type=int, default=200, help="dev sentences to decode")
    parser.add_argument("--pipeline-batches", type=int, default=200)
    parser.add_argument(
        "--run-dir",
        default=None,
        help="decode with this trained run's model and tokenizers (default: the fresh model, "
        "whose hypotheses all run to the length limit)",
    )
    return parser


def main(argv=None):
    print(json.dumps(measure(make_parser().parse_args(argv)), indent=2))


def training_setup(config):
    """A fresh compiled model of `config`, its shuffled training dataset and the tokenizers
    learned from the training data: (model, dataset, source tokenizer, target tokenizer)."""
    import keras

    from data_prep.pipeline import make_translation_dataset
    from seq2seq import translator
    from seq2seq.losses import MaskedSparseCrossEntropy

    pairs, _ = translator._read(config.data, "train")
    with tempfile.TemporaryDirectory() as tmp:
        source_tok, target_tok = translator._tokenizers(Path(tmp), config.data, pairs)
    ds = make_translation_dataset(
        pairs, source_tok, target_tok, config.data.batch_tokens, config.data.max_length
    )
    model = translator.build_model(config, source_tok.vocab_size, target_tok.vocab_size)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3, clipnorm=1.0),
        loss=MaskedSparseCrossEntropy(0.1),
        jit_compile=False,
    )
    model.build()
    return model, ds, source_tok, target_tok


def measure(args) -> dict:
    """Runs the measurements; returns the JSON object."""
    import tensorflow as tf

    from seq2seq import translator
    from seq2seq.config import load_config
    from seq2seq.decoding import SequenceDecoder

    config = load_config(translator.TranslationConfig, args.config, args.set)
    model, ds, source_tok, _ = training_setup(config)
    tokens, start = 0, None
    for i, (inputs, targets) in enumerate(ds.repeat()):
        if i == args.warmup_batches:
            tokens, start = 0, time.perf_counter()
        model.train_on_batch(inputs, targets)
        tokens += int(tf.reduce_sum(tf.cast(targets != 0, tf.int32)))
        if i == args.warmup_batches + args.train_batches - 1:
            break
    train_seconds = time.perf_counter() - start

    # The input pipeline alone (a fresh pass: tokenization included, nothing cached yet), and
    # how much of each padded batch is padding after bucketing.
    batches, real, cells, start = 0, 0, 0, time.perf_counter()
    for inputs, targets in ds.take(args.pipeline_batches):
        batches += 1
        for x in (inputs["source"], targets):
            real += int(tf.reduce_sum(tf.cast(x != 0, tf.int32)))
            cells += int(tf.size(x))
    pipeline_seconds = time.perf_counter() - start

    decode_model = model
    if args.run_dir:
        trained = translator.Translator(args.run_dir)
        decode_model, source_tok = trained.model, trained.source_tokenizer
    dev = [p[0] for p in translator._read(config.data, "dev")[0]][: args.sentences]
    ids = source_tok.tokenize(tf.constant(dev))
    decoder = SequenceDecoder(
        decode_model,
        config.decode.max_length_ratio,
        config.decode.max_length_offset,
        config.decode.length_penalty,
    )
    batch = config.decode.batch_size
    decoding = {}
    for name, beam in [("greedy", 1), ("beam_5", 5)]:
        decoder.decode(ids[:2].to_tensor(), beam)  # trace once
        start = time.perf_counter()
        for s in range(0, len(dev), batch):
            decoder.decode(ids[s : s + batch].to_tensor(), beam)
        decoding[name] = round(len(dev) / (time.perf_counter() - start), 2)

    exported = None
    if args.run_dir:  # the same sentences through an exported SavedModel (raw text in)
        from seq2seq.export import ExportedTranslator, export_translator

        with tempfile.TemporaryDirectory() as tmp:
            server = ExportedTranslator(export_translator(args.run_dir, Path(tmp) / "export"))
            server.translate(dev[:2])  # warm up
            exported = {}
            for name, beam in [("greedy", 1), ("beam_5", 5)]:
                start = time.perf_counter()
                server.translate(dev, beam)
                exported[name] = round(len(dev) / (time.perf_counter() - start), 2)

    return {
        "benchmark": "translate_speed",
        "config": args.config,
        "overrides": args.set,
        "parameters": model.count_params(),
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor(),
            "gpus": len(tf.config.list_physical_devices("GPU")),
        },
        "train_target_tokens_per_second": round(tokens / train_seconds, 1),
        "train_batches_per_second": round(args.train_batches / train_seconds, 2),
        "input_pipeline_batches_per_second": round(batches / pipeline_seconds, 1),
        "padding_fraction": round(1 - real / cells, 4),
        "train_batches_timed": args.train_batches,
        "decode_sentences_per_second": decoding,
        "decode_model": args.run_dir or "untrained (hypotheses run to the length limit)",
        "decode_sentences": len(dev),
        "exported_sentences_per_second": exported or "needs --run-dir (a trained model to export)",
    }


if __name__ == "__main__":
    main()
