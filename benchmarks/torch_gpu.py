"""Training speed of the same-size PyTorch recognizer on a GPU machine that has PyTorch but no
TensorFlow, on the batch shapes of one real training epoch.

The GPU machines lent to this project carry PyTorch and CUDA 13 but no TensorFlow, and
TensorFlow 2.21's wheel (573 MB) with the CUDA 12 libraries it loads is far larger than what
can be carried there, so `benchmarks.run --suite gpu` cannot run on them. This measures what
can: how long an epoch of a speech config takes on the GPU for the PyTorch model of the same
size (`benchmarks.torch_reference.CTCRecognizer`), trained with cuDNN's LSTM. Two steps:

    python -m benchmarks.torch_gpu shapes --config configs/asr/voices.yaml --out shapes.npz
        here (TensorFlow, the built feature cache): the frames and label lengths of every
        batch of one training epoch, selected and bucketed as `train` does, and the model's
        sizes;
    python -m benchmarks.torch_gpu time --shapes shapes.npz --out result.json
        on the GPU machine (PyTorch only): trains the model on one epoch of those shapes with
        random features and labels made on the GPU (no input pipeline: the compute alone),
        after warm-up batches, in float32 and in bfloat16 autocast, and lists the kernels of
        three profiled steps (cuDNN's RNN kernels among them).

The random labels have no two equal neighbours, so each fits its utterance's output length as
the selected real ones do. Loss values on random data mean nothing; speed does.
"""

import argparse
import bisect
import functools
import json
import os
import platform
import sys
import time
from datetime import date

import numpy as np

PRECISIONS = ("float32", "bf16_autocast")


def epoch_batches(frames, max_frames: int, batch_frames: int, seed: int = 0) -> list:
    """One epoch's batches (lists of indices into `frames`) as `make_speech_dataset` makes
    them: utterances in shuffled order go to their length bucket, a bucket emits a batch when
    it holds its batch size, and the partial ones are flushed at the end."""
    from data_prep.speech.pipeline import bucket_batch_sizes

    bounds, sizes = bucket_batch_sizes(max_frames, batch_frames)
    buckets, batches = [[] for _ in sizes], []
    for i in np.random.default_rng(seed).permutation(len(frames)):
        b = bisect.bisect_right(bounds, frames[i])
        buckets[b].append(int(i))
        if len(buckets[b]) == sizes[b]:
            batches.append(buckets[b])
            buckets[b] = []
    return batches + [b for b in buckets if b]


def epoch_shapes(config) -> dict:
    """Per batch of one training epoch of an `ASRConfig`, its utterances' frames and label
    lengths (flat, with batch offsets), and the model's sizes; builds the training feature
    cache if it does not exist."""
    from data_prep.speech.feature_cache import FeatureCache
    from data_prep.speech.pipeline import select_utterances
    from data_prep.speech.transcripts import VOCAB_SIZE
    from pipelines.tasks import asr
    from seq2seq.speech.model import subsampled_length

    if config.model.cell != "lstm":  # before the cache is built
        raise ValueError(f"model.cell {config.model.cell}: the PyTorch reference is an LSTM")
    cache = FeatureCache(asr.build_caches(config, ("train",))["train"])
    output_length = functools.partial(subsampled_length, subsampling=config.model.subsampling)
    keep, labels, _ = select_utterances(cache, output_length, config.data.max_frames, False)
    frames = np.array([cache.utterances[i]["frames"] for i in keep])
    label_lengths = np.array([len(label) for label in labels])
    batches = epoch_batches(frames, config.data.max_frames, config.data.batch_frames)
    order = np.concatenate(batches)
    m = config.model
    model = {
        "feature_size": len(cache.mean),
        "vocab_size": VOCAB_SIZE,
        "subsampling": m.subsampling,
        "conv_filters": m.conv_filters,
        "units": m.units,
        "layers": m.num_layers,
        "dropout": m.dropout,
    }
    return {
        "frames": frames[order].astype(np.int32),
        "labels": label_lengths[order].astype(np.int32),
        "offsets": np.cumsum([0] + [len(b) for b in batches]).astype(np.int64),
        "model": json.dumps(model),
        "source": json.dumps(
            {"cache": str(cache.folder), "batch_frames": config.data.batch_frames}
        ),
    }


def time_epoch(shapes, precision: str, device: str = "cuda", warmup: int = 20, batches=None):
    """Trains a fresh `CTCRecognizer` (seed 0) on the epoch of `shapes` (an `epoch_shapes`
    dict) on `device`; returns its timing (after `warmup` batches), peak memory and the
    shares of device time of the top kernels of three profiled steps."""
    import torch
    from torch import nn
    from torch.profiler import ProfilerActivity, profile

    from benchmarks.torch_reference import CTCRecognizer

    frames, labels, offsets = shapes["frames"], shapes["labels"], shapes["offsets"]
    sizes = json.loads(str(shapes["model"]))
    count = len(offsets) - 1 if batches is None else min(batches, len(offsets) - 1)
    dev = torch.device(device)
    torch.manual_seed(0)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    generator = torch.Generator(device=dev)
    generator.manual_seed(0)

    def batch(i):
        n, y = frames[offsets[i] : offsets[i + 1]], labels[offsets[i] : offsets[i + 1]]
        x = torch.randn(
            len(n), int(n.max()), sizes["feature_size"], device=dev, generator=generator
        )
        steps = torch.randint(
            1, sizes["vocab_size"] - 1, (len(n), int(y.max())), device=dev, generator=generator
        )
        t = torch.cumsum(steps, 1) % (sizes["vocab_size"] - 1) + 1  # ids 1.., no equal neighbours
        y_dev = torch.as_tensor(y, device=dev).long()
        t = t * (torch.arange(t.shape[1], device=dev)[None] < y_dev[:, None])
        return x, torch.as_tensor(n, device=dev).long(), t, y_dev

    model = (
        CTCRecognizer(
            sizes["feature_size"],
            sizes["vocab_size"],
            sizes["subsampling"],
            sizes["conv_filters"],
            sizes["units"],
            sizes["layers"],
            sizes["dropout"],
        )
        .to(dev)
        .train()
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(x, n, t, y):
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(dev.type, torch.bfloat16, enabled=precision == "bf16_autocast"):
            logits, lengths = model(x, n)
        log_probs = torch.log_softmax(logits.float(), -1).transpose(0, 1)
        loss = nn.functional.ctc_loss(log_probs, t, lengths, y, blank=0, reduction="none").mean()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        return loss.detach()

    def synchronize():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    for i in range(min(warmup, count)):  # cuDNN plans, the allocator
        step(*batch(i))
    synchronize()
    start = time.perf_counter()
    losses = [step(*batch(i)) for i in range(count)]
    synchronize()
    seconds = time.perf_counter() - start
    if not all(np.isfinite(float(v)) for v in losses):
        raise FloatingPointError(f"{precision}: a loss was not finite")
    activity = ProfilerActivity.CUDA if dev.type == "cuda" else ProfilerActivity.CPU
    with profile(activities=[activity]) as prof:
        for i in range(3):
            step(*batch(i))
        synchronize()
    attr = "device_time_total" if dev.type == "cuda" else "self_cpu_time_total"
    events = sorted(prof.key_averages(), key=lambda e: -getattr(e, attr))
    total = sum(getattr(e, attr) for e in events) or 1
    input_frames = int(frames[: offsets[count]].sum())
    return {
        "batches": count,
        "input_frames": input_frames,
        "seconds": round(seconds, 2),
        "ms_per_batch": round(1000 * seconds / count, 2),
        "input_frames_per_second": round(input_frames / seconds),
        "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)
        if dev.type == "cuda"
        else None,
        "top_kernels_percent": [
            [e.key[:100], round(100 * getattr(e, attr) / total, 1)] for e in events[:12]
        ],
        "cudnn_rnn_kernels": sorted(
            {e.key[:60] for e in events if "RNN" in e.key or "LSTM" in e.key}
        ),
    }


def make_parser():
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.torch_gpu",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
    )
    commands = parser.add_subparsers(dest="command", required=True)
    shapes = commands.add_parser("shapes", help="write one epoch's batch shapes (needs TensorFlow)")
    shapes.add_argument("--config", default="configs/asr/voices.yaml")
    shapes.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE")
    shapes.add_argument("--out", required=True, help="the .npz to write")
    timing = commands.add_parser("time", help="time an epoch of the shapes (needs PyTorch)")
    timing.add_argument("--shapes", required=True, help="the .npz of the shapes command")
    timing.add_argument("--out", required=True, help="the JSON to write")
    timing.add_argument("--device", default="cuda")
    timing.add_argument("--warmup", type=int, default=20, help="untimed batches first")
    timing.add_argument("--batches", type=int, default=None, help="time this many (default: all)")
    timing.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=list(PRECISIONS))
    return parser


def main(argv=None):
    args = make_parser().parse_args(argv)
    if args.command == "shapes":
        from pipelines.tasks.asr.config import ASRConfig
        from seq2seq.config import load_config

        config = load_config(ASRConfig, args.config, args.set)
        shapes = epoch_shapes(config)
        np.savez(args.out, **shapes)
        print(
            f"{args.out}: {len(shapes['offsets']) - 1} batches, {len(shapes['frames'])} "
            f"utterances, {int(shapes['frames'].sum())} frames"
        )
        return
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("error: no CUDA device visible to PyTorch (use --device cpu to try)")
    shapes = dict(np.load(args.shapes))
    result = {
        "date": date.today().isoformat(),
        "machine": {
            "device": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "cpu",
            "torch": torch.__version__,
            "cudnn": torch.backends.cudnn.version(),
            # PyTorch's default: cuDNN may run float32 matrix products in TF32.
            "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "python": platform.python_version(),
        },
        "model": json.loads(str(shapes["model"])),
        "shapes": {**json.loads(str(shapes["source"])), "batches": len(shapes["offsets"]) - 1},
        "runs": {},
    }
    for precision in args.precisions:
        result["runs"][precision] = time_epoch(
            shapes, precision, args.device, args.warmup, args.batches
        )
        run = result["runs"][precision]
        print(
            f"{precision}: {run['batches']} batches in {run['seconds']} s "
            f"({run['ms_per_batch']} ms a batch, {run['input_frames_per_second']:,} input "
            f"frames/s); RNN kernels: {len(run['cudnn_rnn_kernels'])}",
            flush=True,
        )
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
