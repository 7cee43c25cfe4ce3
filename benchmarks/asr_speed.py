"""Speech recognition speed: feature extraction, training frames/second, real-time factor.

    python -m benchmarks.asr_speed --config configs/asr/synth_small.yaml \
        [--set ...] [--utterances 200] [--train-batches 20] [--run-dir RUN] > speed.json

1. Feature extraction: loads and featurizes `--utterances` dev files with librosa in one
   process (seconds of audio per second of wall time, per core).
2. Training: a fresh model of the config trains on batches of the dev cache (after warm-up
   batches that absorb tracing): input frames/second and audio seconds/second.
3. Transcription: the real-time factor (processing seconds / audio seconds) of transcribing
   the same files from audio with greedy and beam search, features included, with the
   trained model of `--run-dir` (or the fresh model), in-process (librosa features) and
   through its exported SavedModel (tf.signal features in the graph).
With `--torch`, the same-size PyTorch model (`benchmarks/torch_reference.py`, started from
the same weights) trains on the same batches, a step of each in turn. Training speed also
comes as useful FLOP/s (`benchmarks/flops.py`). Prints one JSON object.
"""

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def make_parser():
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.asr_speed", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--config", default="configs/asr/synth_small.yaml")
    parser.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE")
    parser.add_argument("--utterances", type=int, default=200, help="dev files to featurize")
    parser.add_argument("--train-batches", type=int, default=20)
    parser.add_argument("--warmup-batches", type=int, default=3)
    parser.add_argument("--pipeline-batches", type=int, default=100)
    parser.add_argument("--run-dir", default=None, help="transcribe with this trained run")
    parser.add_argument(
        "--torch", action="store_true", help="also measure the PyTorch reference (needs torch)"
    )
    parser.add_argument(
        "--torch-threads", type=int, default=None, help="PyTorch threads (default: its own)"
    )
    return parser


def main(argv=None):
    print(json.dumps(measure(make_parser().parse_args(argv)), indent=2))


def training_setup(config):
    """A fresh model of `config` compiled as training compiles it, and its dev split's cached
    features (built on first use) as `train` feeds its training split: shuffled, bucketed,
    with the config's SpecAugment. Returns (model, dataset)."""
    from data_prep.speech.feature_cache import FeatureCache
    from pipelines.tasks import asr
    from pipelines.tasks.base import compile_model
    from seq2seq.training.distributed import precision_policy

    task = asr.ASRTask()
    cache = FeatureCache(asr.build_caches(config, ("dev",))["dev"])
    stats = (cache.mean, cache.std) if config.features.normalization == "global" else None
    ds = asr.make_datasets(config, {"train": cache}, stats)["train"]
    with precision_policy(config.train.precision):
        model = task.build_model(config)
        compile_model(task, model, config, int(ds.cardinality()))
    return model, ds


def measure(args) -> dict:
    """Runs the measurements; returns the JSON object."""
    import tensorflow as tf

    from benchmarks.flops import speech_training_flops
    from data_prep.speech.audio import compute_features, load_audio
    from data_prep.speech.manifest import read_manifest
    from pipelines.tasks import asr
    from seq2seq.config import load_config

    config = load_config(asr.ASRConfig, args.config, args.set)
    entries = read_manifest(config.data.dev)[: args.utterances]
    audio_seconds = sum(e["duration"] for e in entries)
    # Warm-up: librosa's first call compiles and caches its filters.
    compute_features(
        load_audio(entries[0]["audio_filepath"], config.features.sample_rate), config.features
    )
    start = time.perf_counter()
    for entry in entries:
        compute_features(
            load_audio(entry["audio_filepath"], config.features.sample_rate), config.features
        )
    feature_seconds = time.perf_counter() - start

    model, ds = training_setup(config)
    batches = [
        tf.nest.map_structure(lambda t: t.numpy(), batch)
        for batch in ds.repeat().take(args.warmup_batches + args.train_batches)
    ]
    reference = _torch_trainer(model, batches[0], args.torch_threads) if args.torch else None
    train_seconds, torch_seconds, frames, flops = 0.0, 0.0, 0, 0
    for i, (inputs, labels) in enumerate(batches):  # ours and PyTorch's in turn, per batch
        start = time.perf_counter()
        model.train_on_batch(inputs, labels)
        middle = time.perf_counter()
        if reference:
            reference["trainer"](inputs, labels)
        if i >= args.warmup_batches:
            train_seconds += middle - start
            torch_seconds += time.perf_counter() - middle
            frames += int(inputs["feature_lengths"].sum())
            flops += speech_training_flops(
                inputs["feature_lengths"],
                config.model,
                inputs["features"].shape[-1],
                model.vocab_size,
            )

    # The input pipeline alone (cached features, SpecAugment, bucketing) and its padding.
    batches, real, cells, start = 0, 0, 0, time.perf_counter()
    for inputs, _ in ds.repeat().take(args.pipeline_batches):
        batches += 1
        real += int(tf.reduce_sum(inputs["feature_lengths"]))
        cells += int(tf.shape(inputs["features"])[0] * tf.shape(inputs["features"])[1])
    pipeline_seconds = time.perf_counter() - start

    if args.run_dir:
        asr = asr.Recognizer(args.run_dir)
    else:
        from seq2seq.config import save_config

        tmp = Path(tempfile.mkdtemp())
        save_config(config, tmp / "config.yaml")
        model.save(tmp / "model.keras")
        asr = asr.Recognizer(tmp)
    paths = [e["audio_filepath"] for e in entries]
    asr.transcribe(paths[:4])  # trace once
    rtf = {}
    for name, beam in [("greedy", 1), (f"beam_{config.decode.beam_size}", config.decode.beam_size)]:
        start = time.perf_counter()
        asr.transcribe(paths, beam)
        rtf[name] = round((time.perf_counter() - start) / audio_seconds, 5)

    from pipelines.export import ExportedRecognizer, export_recognizer

    with tempfile.TemporaryDirectory() as tmp:
        server = ExportedRecognizer(export_recognizer(asr.run_dir, Path(tmp) / "export"))
        server.transcribe(paths[:4])  # warm up
        exported = {}
        for name, beam in [("greedy", 1), (f"beam_{config.decode.beam_size}", 2)]:
            start = time.perf_counter()
            server.transcribe(paths, beam)
            exported[name] = round((time.perf_counter() - start) / audio_seconds, 5)

    hop = config.features.hop_length / config.features.sample_rate
    return {
        "benchmark": "asr_speed",
        "config": args.config,
        "overrides": args.set,
        "parameters": model.count_params(),
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor(),
            "gpus": len(tf.config.list_physical_devices("GPU")),
        },
        "feature_extraction_audio_seconds_per_second": round(audio_seconds / feature_seconds, 1),
        "feature_extraction_processes": 1,
        "train_input_frames_per_second": round(frames / train_seconds, 1),
        "train_flops_per_input_frame": round(flops / frames),
        "train_gflops_per_second": round(flops / train_seconds / 1e9, 2),
        "train_batches_per_second": round(args.train_batches / train_seconds, 2),
        "input_pipeline_batches_per_second": round(batches / pipeline_seconds, 1),
        "padding_fraction": round(1 - real / cells, 4),
        "train_audio_seconds_per_second": round(frames * hop / train_seconds, 2),
        "train_batches_timed": args.train_batches,
        "transcribe_real_time_factor": rtf,
        "exported_real_time_factor": exported,
        "transcribe_model": args.run_dir or "untrained",
        "utterances": len(entries),
        "audio_seconds": round(audio_seconds, 1),
        **(_torch_summary(reference, frames, torch_seconds, flops) if reference else {}),
    }


def _torch_trainer(model, first_batch, threads) -> dict:
    """The PyTorch reference with our fresh model's weights, and both models' loss on the
    first batch without dropout (they must agree: the same function)."""
    from benchmarks import torch_reference

    info = torch_reference.setup(threads)
    trainer = torch_reference.Trainer(torch_reference.from_keras(model), 1e-3, 5.0)
    inputs, labels = first_batch
    ours = model.compute_loss(inputs, labels, model(inputs))
    return {
        "trainer": trainer,
        "info": info,
        "first_batch_loss": [round(float(ours), 3), round(trainer.eval_loss(inputs, labels), 3)],
    }


def _torch_summary(reference, frames, seconds, flops) -> dict:
    return {
        "torch_reference": {
            **reference["info"],
            "first_batch_loss_ours_torch": reference["first_batch_loss"],
            "train_input_frames_per_second": round(frames / seconds, 1),
            "train_gflops_per_second": round(flops / seconds / 1e9, 2),
        }
    }


if __name__ == "__main__":
    main()
