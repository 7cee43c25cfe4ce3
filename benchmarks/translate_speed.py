"""Translation speed: training target tokens/second and decoding sentences/second.

    python -m benchmarks.translate_speed --config configs/translate/bible_small.yaml \
        [--set ...] [--train-batches 40] [--sentences 200] > speed.json

Trains a fresh model of the config on its training data for a few batches (after warm-up
batches that absorb tracing), then decodes dev sentences with greedy and beam-5 search. With
`--run-dir`, the trained model decodes, and the same sentences also go through the run's
exported SavedModel (raw strings in, tokenization and detokenization included). With
`--torch`, the same-size PyTorch model (`benchmarks/torch_reference.py`, started from the
same weights) trains on the same batches, a step of each in turn, and decodes the same
sentences with the same weights. Training speed also comes as useful FLOP/s
(`benchmarks/flops.py`). Prints one JSON object.
"""

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def make_parser():
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.translate_speed", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--config", default="configs/translate/bible_small.yaml")
    parser.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE")
    parser.add_argument("--train-batches", type=int, default=40)
    parser.add_argument("--warmup-batches", type=int, default=8)
    parser.add_argument("--sentences", type=int, default=200, help="dev sentences to decode")
    parser.add_argument("--pipeline-batches", type=int, default=200)
    parser.add_argument(
        "--torch", action="store_true", help="also measure the PyTorch reference (needs torch)"
    )
    parser.add_argument(
        "--torch-threads", type=int, default=None, help="PyTorch threads (default: its own)"
    )
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
    """A fresh model of `config` (with its `train.precision`) compiled as training compiles it
    (`pipelines.tasks.base.compile_model`: the optimizer, schedule, loss and metrics of
    `train`), its shuffled training dataset as `train` builds it, and the tokenizers learned
    from the training data: (model, dataset, source tokenizer, target tokenizer)."""
    from pipelines.tasks import translation
    from pipelines.tasks.base import compile_model
    from seq2seq.training.distributed import precision_policy
    from seq2seq.training.run_dir import RunDir

    task = translation.TranslationTask()
    pairs, _ = translation.read_split(config.data, "train")
    with tempfile.TemporaryDirectory() as tmp:
        source_tok, target_tok = translation.tokenizers(RunDir(tmp), config.data, pairs)
    ds = translation.make_datasets(config, {"train": pairs}, source_tok, target_tok)["train"]
    with precision_policy(config.train.precision):
        model = task.build_model(config, source_tok.vocab_size, target_tok.vocab_size)
        compile_model(task, model, config, int(ds.cardinality()))
    return model, ds, source_tok, target_tok


def measure(args) -> dict:
    """Runs the measurements; returns the JSON object."""
    import tensorflow as tf

    from benchmarks.flops import translation_training_flops
    from data_prep.text.pipeline import make_translation_dataset
    from pipelines.tasks import translation
    from pipelines.tasks.translation.translator import source_ids
    from seq2seq.config import load_config
    from seq2seq.translation.decoding import SequenceDecoder

    config = load_config(translation.TranslationConfig, args.config, args.set)
    model, ds, source_tok, target_tok = training_setup(config)
    batches = [
        tf.nest.map_structure(lambda t: t.numpy(), batch)
        for batch in ds.repeat().take(args.warmup_batches + args.train_batches)
    ]
    reference = None
    if args.torch:
        reference = _torch_trainer(model, batches[0], config, args.torch_threads)
    seconds, torch_seconds, tokens, flops = 0.0, 0.0, 0, 0
    for i, (inputs, targets) in enumerate(batches):  # ours and PyTorch's in turn, per batch
        start = time.perf_counter()
        model.train_on_batch(inputs, targets)
        middle = time.perf_counter()
        if reference:
            reference["trainer"](inputs, targets)
        if i >= args.warmup_batches:
            seconds += middle - start
            torch_seconds += time.perf_counter() - middle
            tokens += int((targets != 0).sum())
            flops += translation_training_flops(
                (inputs["source"] != 0).sum(1),
                (targets != 0).sum(1),
                _model_sizes(config, target_tok.vocab_size),
            )
    train_seconds = seconds

    # The input pipeline alone (a fresh dataset: tokenization included, nothing cached yet;
    # the training dataset's cache filled when its batches were counted), and how much of each
    # padded batch is padding after bucketing.
    pairs = translation.read_split(config.data, "train")[0]
    data = config.data
    fresh = make_translation_dataset(
        pairs, source_tok, target_tok, data.batch_tokens, data.max_length, seed=config.train.seed
    )
    batches, real, cells, start = 0, 0, 0, time.perf_counter()
    for inputs, targets in fresh.take(args.pipeline_batches):
        batches += 1
        for x in (inputs["source"], targets):
            real += int(tf.reduce_sum(tf.cast(x != 0, tf.int32)))
            cells += int(tf.size(x))
    pipeline_seconds = time.perf_counter() - start

    decode_model = model
    if args.run_dir:
        trained = translation.Translator(args.run_dir)
        decode_model, source_tok = trained.model, trained.source_tokenizer
    dev = [p[0] for p in translation.read_split(config.data, "dev")[0]][: args.sentences]
    ids = source_ids(source_tok, dev)  # normalized, with EOS, as trained
    decoder = SequenceDecoder(
        decode_model,
        config.decode.max_length_ratio,
        config.decode.max_length_offset,
        config.decode.length_penalty,
    )
    batch = config.decode.batch_size
    decoding, greedy_ids = {}, []
    for name, beam in [("greedy", 1), ("beam_5", 5)]:
        decoder.decode(ids[:2].to_tensor(), beam)  # trace once
        start = time.perf_counter()
        for s in range(0, len(dev), batch):
            decoded = decoder.decode(ids[s : s + batch].to_tensor(), beam)
            if beam == 1:
                greedy_ids.append(decoded.numpy())
        decoding[name] = round(len(dev) / (time.perf_counter() - start), 2)
    if reference:
        sources = [ids[s : s + batch].to_tensor().numpy() for s in range(0, len(dev), batch)]
        reference.update(_torch_decoding(decode_model, sources, greedy_ids, config.decode))

    exported = None
    if args.run_dir:  # the same sentences through an exported SavedModel (raw text in)
        from pipelines.export import ExportedTranslator, export_translator

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
        "train_flops_per_target_token": round(flops / tokens),
        "train_gflops_per_second": round(flops / train_seconds / 1e9, 2),
        "train_batches_per_second": round(args.train_batches / train_seconds, 2),
        "input_pipeline_batches_per_second": round(batches / pipeline_seconds, 1),
        "padding_fraction": round(1 - real / cells, 4),
        "train_batches_timed": args.train_batches,
        "decode_sentences_per_second": decoding,
        "decode_model": args.run_dir or "untrained (hypotheses run to the length limit)",
        "decode_sentences": len(dev),
        "exported_sentences_per_second": exported or "needs --run-dir (a trained model to export)",
        **(_torch_summary(reference, tokens, torch_seconds, flops) if reference else {}),
    }


def _model_sizes(config, target_vocab_size):
    from types import SimpleNamespace

    return SimpleNamespace(**vars(config.model), target_vocab_size=target_vocab_size)


def _torch_trainer(model, first_batch, config, threads) -> dict:
    """The PyTorch reference with our fresh model's weights, and both models' loss on the
    first batch without dropout (they must agree: the same function)."""
    from benchmarks import torch_reference
    from seq2seq.losses import MaskedSparseCrossEntropy

    info = torch_reference.setup(threads)
    trainer = torch_reference.Trainer(
        torch_reference.from_keras(model), 1e-3, 1.0, config.train.label_smoothing
    )
    inputs, targets = first_batch
    ours = MaskedSparseCrossEntropy(config.train.label_smoothing)(targets, model(inputs))
    return {
        "trainer": trainer,
        "info": info,
        "first_batch_loss": [round(float(ours), 4), round(trainer.eval_loss(inputs, targets), 4)],
    }


def _torch_decoding(model, sources, our_ids, decode) -> dict:
    from benchmarks import torch_reference

    speed, ids = torch_reference.greedy_sentences_per_second(
        torch_reference.from_keras(model),
        sources,
        decode.max_length_ratio,
        decode.max_length_offset,
    )
    same = sum(
        np.array_equal(_trim(a), _trim(b))
        for ours, theirs in zip(our_ids, ids, strict=True)
        for a, b in zip(ours, theirs, strict=True)
    )
    return {"greedy": speed, "same_greedy_output": same / sum(len(s) for s in sources)}


def _trim(ids):
    ids = np.asarray(ids)
    return ids[ids != 0]


def _torch_summary(reference, tokens, seconds, flops) -> dict:
    return {
        "torch_reference": {
            **reference["info"],
            "first_batch_loss_ours_torch": reference["first_batch_loss"],
            "train_target_tokens_per_second": round(tokens / seconds, 1),
            "train_gflops_per_second": round(flops / seconds / 1e9, 2),
            "decode_greedy_sentences_per_second": round(reference["greedy"], 2),
            "greedy_output_same_as_ours": round(reference["same_greedy_output"], 4),
        }
    }


if __name__ == "__main__":
    main()
