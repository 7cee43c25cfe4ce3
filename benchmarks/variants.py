"""Training-step variants measured side by side: the same batches, one process, the variants
taking turns batch by batch (the order alternating), so that the machine's drift hits all of
them alike. Reports units per second (target tokens or input frames) and each variant's median
per-batch time relative to the first.

Variants (comma-separated, `--variants`):
- `keras`: Keras's own LSTM/GRU loop (the whole cell at every time step);
- `fast`: this toolkit's CPU path (`seq2seq.fast_rnn`, the default without a GPU);
- `fast-xla`: the same, the training step compiled with XLA (`jit_compile=True`);
- `fast-bf16`: the same under the `mixed_bfloat16` policy (the others run in float32);
- `torch`, `torch1`: the same-size PyTorch model (`benchmarks.torch_reference`) with its
  default threads or one thread, initialized with the first variant's weights.

    python -m benchmarks.variants translate --variants keras,fast,fast-xla,fast-bf16,torch
    python -m benchmarks.variants asr --config configs/asr/synth_small.yaml --out v.json
"""

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CONFIGS = {"translate": "configs/translate/bible_small.yaml", "asr": "configs/asr/synth_small.yaml"}


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.variants", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("task", choices=sorted(CONFIGS))
    parser.add_argument("--config", default=None, help="default: bible_small / synth_small")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE")
    parser.add_argument("--variants", default="keras,fast,fast-xla,fast-bf16,torch")
    parser.add_argument("--batches", type=int, default=30, help="timed batches per variant")
    parser.add_argument("--out", default=None, help="JSON file for the results")
    return parser


def _setup(task, config):
    """(fresh compiled model, dataset, units of a batch)."""
    if task == "translate":
        from benchmarks import translate_speed

        model, ds, _, _ = translate_speed.training_setup(config)
        return model, ds, lambda x, y: int((y != 0).sum())
    from benchmarks import asr_speed

    model, ds = asr_speed.training_setup(config)
    return model, ds, lambda x, y: int(x["feature_lengths"].sum())


def _load(task, path, overrides):
    from pipelines.tasks import asr, translation
    from seq2seq.config import load_config

    config_class = translation.TranslationConfig if task == "translate" else asr.ASRConfig
    return load_config(config_class, path, overrides)


def _keras_variant(task, path, overrides, name):
    import keras

    # Each variant names its precision, whatever the config's (voices.yaml: auto).
    precision = "mixed_bfloat16" if "bf16" in name else "float32"
    config = _load(task, path, [*overrides, f"train.precision={precision}"])
    keras.utils.set_random_seed(0)
    model, ds, count = _setup(task, config)
    if name == "keras":
        for layer in model._flatten_layers():
            if isinstance(layer, keras.layers.RNN):
                layer.use_cudnn = False  # fast_rnn then leaves the layer to Keras's loop
    if "xla" in name:
        model.compile(optimizer=model.optimizer, loss=model.loss, jit_compile=True)
    return model, ds, count


def _torch_variant(task, base_model, name, default_threads):
    from benchmarks import torch_reference

    threads = int(name[len("torch") :] or 0) or default_threads
    trainer = torch_reference.Trainer(
        torch_reference.from_keras(base_model),
        1e-3,
        1.0 if task == "translate" else 5.0,
        0.1 if task == "translate" else 0.0,
    )

    def step(x, y):
        torch_reference.torch.set_num_threads(threads)  # a global setting: per variant, per step
        return trainer(x, y)

    return step


def measure(args) -> dict:
    import numpy as np
    import tensorflow as tf

    path = args.config or CONFIGS[args.task]
    _load(args.task, path, args.set)  # a bad config fails before any model is built
    names = args.variants.split(",")
    steps, batches, count, base = {}, None, None, None
    for name in names:
        if name.startswith("torch"):
            continue
        model, ds, count = _keras_variant(args.task, path, args.set, name)
        base = base or model
        if batches is None:
            take = ds.repeat().take(args.batches)
            batches = [tf.nest.map_structure(lambda t: t.numpy(), b) for b in take]
        steps[name] = model.train_on_batch
    torch_threads = None
    if any(name.startswith("torch") for name in names):
        from benchmarks import torch_reference

        torch_threads = torch_reference.setup()["threads"]  # its default, before any variant's
    for name in names:
        if name.startswith("torch"):
            steps[name] = _torch_variant(args.task, base, name, torch_threads)
    steps = {name: steps[name] for name in names}
    for step in steps.values():  # warm-up: tracing, first allocations
        for x, y in batches[:3]:
            step(x, y)
    times = {name: [] for name in names}
    for i, (x, y) in enumerate(batches):
        for name in names if i % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            steps[name](x, y)
            times[name].append(time.perf_counter() - start)
    units = sum(count(x, y) for x, y in batches)
    unit = "target_tokens" if args.task == "translate" else "input_frames"
    first = np.array(times[names[0]])
    return {
        "task": args.task,
        "config": path,
        "overrides": args.set,
        "batches": len(batches),
        "load_average": os.getloadavg(),
        "torch_default_threads": torch_threads,
        "variants": {
            name: {
                f"{unit}_per_second": round(units / sum(times[name]), 1),
                f"median_batch_time_relative_to_{names[0]}": round(
                    statistics.median(np.array(times[name]) / first), 3
                ),
            }
            for name in names
        },
    }


def main(argv=None):
    args = _parser().parse_args(argv)
    result = measure(args)
    for name, figures in result["variants"].items():
        print(name, *(f"{k} {v}" for k, v in figures.items()))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
        print(f"results: {args.out}")


if __name__ == "__main__":
    main()
