"""Profiles of one training step and one decoding call of both pipelines, TensorFlow profiler.

    python -m benchmarks.op_profile [--steps 5] [--trace-dir runs/profile] [--quick]

For each pipeline (the small configs, fresh models) it traces a few training steps after
warm-up, then one greedy and one beam decoding call, and summarizes each trace from the
profiler's XSpace file:
- `wall_ms` and `in_graph_fraction`: the share of the wall time spent inside TensorFlow
  function execution; the rest is Python-side work per call (Keras, argument handling);
- `top_ops`: TensorFlow op types by self time (time not spent in nested ops);
- `top_layers` (training steps): the same self time by the model's layer whose name scope
  holds the op (forward and backward), the optimizer and the loss;
- `cudnn_rnn_ops` and `recurrent_layers_on_cudnn`: the cuDNN RNN ops that ran and, for every
  recurrent layer of the model, whether one of its ops was a cuDNN RNN kernel. On a GPU
  every LSTM/GRU layer must be; on a CPU none is (the layers run as a `While` loop).
Writes `benchmarks/results/profile-<device><cpus>-<date>.json`; the full traces stay in
`--trace-dir` for TensorBoard's profile plugin.
"""

import argparse
import collections
import datetime
import json
import os
import re
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks import asr_speed, translate_speed

CUDNN_RNN_OPS = tuple(
    f"CudnnRNN{kind}{version}" for kind in ("", "Backprop") for version in ("", "V2", "V3")
)


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.op_profile", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--translate-config", default="configs/translate/bible_small.yaml")
    parser.add_argument("--asr-config", default="configs/asr/synth_small.yaml")
    parser.add_argument("--translate-set", nargs="+", default=[], metavar="KEY=VALUE")
    parser.add_argument("--asr-set", nargs="+", default=[], metavar="KEY=VALUE")
    parser.add_argument("--steps", type=int, default=5, help="training steps traced")
    parser.add_argument("--trace-dir", default="runs/profile", help="where the traces go")
    parser.add_argument("--out", default=None, help="JSON path (default: benchmarks/results/)")
    parser.add_argument("--quick", action="store_true", help="2 steps (for tests)")
    return parser


def summarize(xspace_path, recurrent_layers=(), top: int = 12, groups=()) -> dict:
    """Reads a profiler XSpace file: self time per op type on the host (on a GPU machine: the
    op launches; `top_kernels` then has the GPU kernels), and per name scope of `groups`
    (layer names, the optimizer's), the cuDNN RNN ops and which of `recurrent_layers` (layer
    names) ran one, and the time in function execution."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    space.ParseFromString(Path(xspace_path).read_bytes())
    self_ps, kernel_ps, op_names = collections.Counter(), collections.Counter(), set()
    group_ps = collections.Counter()
    executing_ps = 0
    for plane in space.planes:
        names = {k: m.name for k, m in plane.event_metadata.items()}
        if plane.name.startswith("/device:GPU"):
            for line in plane.lines:
                if line.name.startswith("Stream"):
                    for e in line.events:
                        kernel_ps[names[e.metadata_id]] += e.duration_ps
            continue
        if not plane.name.startswith("/host:"):
            continue
        for line in plane.lines:
            executions = [e for e in line.events if names[e.metadata_id].startswith("EagerLocal")]
            if executions:  # the Python thread: what it ran in TensorFlow, counted once
                end = 0
                for e in sorted(executions, key=lambda e: e.offset_ps):
                    if e.offset_ps >= end:
                        executing_ps += e.duration_ps
                        end = e.offset_ps + e.duration_ps
                continue
            for name, self_time in _self_times(line.events, names):
                if ":" not in name or "::" in name:  # executor bookkeeping, not an op
                    continue
                op_name, op_type = name.rsplit(":", 1)
                self_ps[op_type.lstrip("_")] += self_time
                op_names.add((op_name, op_type.lstrip("_")))
                if groups:
                    group_ps[next((g for g in groups if _in_scope(op_name, g)), "other")] += (
                        self_time
                    )
    total = sum(self_ps.values()) or 1
    cudnn = collections.Counter(t for _, t in op_names if t in CUDNN_RNN_OPS)
    cudnn_scopes = [n for n, t in op_names if t in CUDNN_RNN_OPS]
    return {
        "executing_ms": round(executing_ps / 1e9, 2),
        "top_ops": [
            {"op": op, "self_ms": round(ps / 1e9, 2), "share": round(ps / total, 4)}
            for op, ps in self_ps.most_common(top)
        ],
        "top_layers": [
            {"scope": g, "self_ms": round(ps / 1e9, 2), "share": round(ps / total, 4)}
            for g, ps in group_ps.most_common()
        ],
        "top_kernels": [
            {"kernel": k[:120], "ms": round(ps / 1e9, 2)} for k, ps in kernel_ps.most_common(top)
        ],
        "cudnn_rnn_ops": dict(cudnn),
        "recurrent_layers_on_cudnn": {
            layer: any(_in_scope(n, layer) for n in cudnn_scopes) for layer in recurrent_layers
        },
    }


def _in_scope(op_name: str, layer: str) -> bool:
    """Whether `op_name` lies in `layer`'s name scope (scopes get `_1` suffixes)."""
    return any(re.fullmatch(re.escape(layer) + r"(_\d+)*", part) for part in op_name.split("/"))


def _self_times(events, names):
    """(name, duration minus directly nested events) of each event of one thread's line."""
    events = sorted(events, key=lambda e: (e.offset_ps, -e.duration_ps))
    stack, result = [], []  # stack: [end, name, children_ps]
    for e in events:
        while stack and e.offset_ps >= stack[-1][0]:
            end, name, children, duration = stack.pop()
            result.append((name, duration - children))
        if stack:
            stack[-1][2] += e.duration_ps
        stack.append([e.offset_ps + e.duration_ps, names[e.metadata_id], 0, e.duration_ps])
    result += [(name, duration - children) for _, name, children, duration in stack]
    return result


def _trace(trace_dir: Path, name: str, work, recurrent_layers, groups=()) -> dict:
    """Runs `work()` under the profiler; returns the summary with the wall time."""
    import tensorflow as tf

    logdir = trace_dir / name
    tf.profiler.experimental.start(str(logdir))
    start = time.perf_counter()
    work()
    wall = time.perf_counter() - start
    tf.profiler.experimental.stop()
    path = max(logdir.glob("plugins/profile/*/*.xplane.pb"), key=os.path.getmtime)
    summary = summarize(path, recurrent_layers, groups=groups)
    return {
        "wall_ms": round(wall * 1e3, 2),
        "in_graph_fraction": round(summary["executing_ms"] / (wall * 1e3), 4),
        **summary,
        "trace": str(path),
    }


def recurrent_layer_names(model) -> list[str]:
    """Names of the model's LSTM/GRU/SimpleRNN layers (inside Bidirectional wrappers too)."""
    import keras

    names = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.RNN):
            names.append(layer.name)
    return names


def _profile_training(model, batches, steps, trace_dir, name):
    for inputs, targets in batches[:2]:  # warm-up: tracing happens here
        model.train_on_batch(inputs, targets)
    timed = batches[2 : 2 + steps]

    def train():
        for inputs, targets in timed:
            model.train_on_batch(inputs, targets)

    groups = [layer.name for layer in model._flatten_layers(include_self=False, recursive=False)]
    groups += [model.optimizer.name, "compile_loss"]
    result = _trace(trace_dir, name, train, recurrent_layer_names(model), groups)
    per_step = round(result["wall_ms"] / len(timed), 2)
    return {"steps": len(timed), "wall_ms_per_step": per_step, **result}


def profile_translation(config_path, settings, steps, trace_dir) -> dict:

    from pipelines.tasks import translation
    from pipelines.tasks.translation.translator import source_ids
    from seq2seq.config import load_config
    from seq2seq.translation.decoding import SequenceDecoder

    config = load_config(translation.TranslationConfig, config_path, settings)
    model, ds, source_tok, _ = translate_speed.training_setup(config)
    batches = list(ds.repeat().take(steps + 2))
    result = {"config": config_path, "parameters": model.count_params()}
    result["train_step"] = _profile_training(model, batches, steps, trace_dir, "translate_train")
    dev = [p[0] for p in translation.read_split(config.data, "dev")[0]][: config.decode.batch_size]
    ids = source_ids(source_tok, dev).to_tensor()  # normalized, with EOS
    decode = config.decode
    decoder = SequenceDecoder(model, decode.max_length_ratio, decode.max_length_offset)
    for beam in (1, 5):
        decoder.decode(ids, beam)  # trace once
        name = "greedy" if beam == 1 else f"beam_{beam}"
        result[f"decode_{name}"] = {"sentences": len(dev)} | _trace(
            trace_dir,
            f"translate_{name}",
            lambda beam=beam: decoder.decode(ids, beam),
            recurrent_layer_names(model),
        )
    return result


def profile_speech(config_path, settings, steps, trace_dir) -> dict:
    import tensorflow as tf

    from pipelines.tasks import asr
    from seq2seq.config import load_config
    from seq2seq.speech.decoding import ctc_decode

    config = load_config(asr.ASRConfig, config_path, settings)
    model, ds = asr_speed.training_setup(config)
    batches = list(ds.repeat().take(steps + 2))
    result = {"config": config_path, "parameters": model.count_params()}
    result["train_step"] = _profile_training(model, batches, steps, trace_dir, "asr_train")
    inputs = batches[0][0]
    # As `Recognizer.decode_features`: the network in a tf.function, then the CTC decoder op.
    forward = tf.function(lambda x: (model(x), model.output_lengths(x["feature_lengths"])))
    for beam in (1, config.decode.beam_size):

        def decode(beam=beam):
            return ctc_decode(*forward(inputs), beam)

        decode()  # trace once
        name = "greedy" if beam == 1 else f"beam_{beam}"
        result[f"decode_{name}"] = {"utterances": int(inputs["features"].shape[0])} | _trace(
            trace_dir, f"asr_{name}", decode, recurrent_layer_names(model)
        )
    return result


def run(args) -> dict:
    import tensorflow as tf

    steps = 2 if args.quick else args.steps
    trace_dir = Path(args.trace_dir)
    gpus = tf.config.list_physical_devices("GPU")
    return {
        "benchmark": "profile",
        "date": datetime.date.today().isoformat(),
        "machine": {"cpus": os.cpu_count(), "gpus": [d.name for d in gpus]},
        "translation": profile_translation(
            args.translate_config, args.translate_set, steps, trace_dir
        ),
        "speech": profile_speech(args.asr_config, args.asr_set, steps, trace_dir),
    }


def make_args(argv):
    return _parser().parse_args(argv)


def main(argv=None):
    args = _parser().parse_args(argv)
    results = run(args)
    device = "gpu" if results["machine"]["gpus"] else "cpu"
    name = f"profile-{device}{os.cpu_count()}-{results['date']}" + ("-quick" * args.quick)
    out = Path(args.out or Path(__file__).parent / "results" / f"{name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    for task in ("translation", "speech"):
        for call, r in results[task].items():
            if isinstance(r, dict):
                ops = ", ".join(f"{o['op']} {o['share']:.0%}" for o in r["top_ops"][:4])
                print(f"{task} {call}: {r['wall_ms']} ms, in graph {r['in_graph_fraction']:.0%}")
                print(f"  top ops: {ops}; cuDNN RNN ops: {r['cudnn_rnn_ops'] or 'none'}")
                if r.get("top_layers"):
                    shares = ", ".join(f"{g['scope']} {g['share']:.0%}" for g in r["top_layers"])
                    print(f"  by layer: {shares}")
    print(f"profile: {out}")


if __name__ == "__main__":
    main()
