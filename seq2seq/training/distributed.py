"""Distribution strategies: one device, every local device, or several processes (machines).

`multi_worker` is `tf.distribute.MultiWorkerMirroredStrategy` configured by the `TF_CONFIG`
environment variable of each process. Every worker runs the same command with the same
config; the same data must be readable at the same paths, and the run directory should be
shared storage. The chief (task `chief`, or `worker` 0 without one) writes the run
directory; the other workers write theirs under `RUN/workers/<type>-<index>/` (their
backups let them resume with the chief). Each worker reads the whole input pipeline and
keeps its share of every global batch (tf.data's `DATA` auto-sharding), so the shuffle is
seeded and identical on every worker.

Keras 3's `fit` does not run under `MultiWorkerMirroredStrategy` as released
(keras-team/keras#20585); `make_strategy` patches the two places that fail, see
`_patch_keras_for_multi_worker`.
"""

import contextlib
import json
import os
from pathlib import Path

import keras
import tensorflow as tf

from seq2seq import keras_private

STRATEGIES = ("default", "mirrored", "multi_worker")


def make_strategy(name: str = "default") -> tf.distribute.Strategy:
    """`default` (one device), `mirrored` (`MirroredStrategy`: synchronous data parallelism
    over all local GPUs, or the logical CPUs when there is no GPU) or `multi_worker`
    (`MultiWorkerMirroredStrategy` over the processes that `TF_CONFIG` names). Create it
    before any other TensorFlow work of the process."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multi_worker":
        _check_tf_config(os.environ.get("TF_CONFIG"))
        _patch_keras_for_multi_worker()
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}; expected one of {STRATEGIES}")


def _check_tf_config(value: str | None):
    example = (
        'TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
        '"task": {"type": "worker", "index": 0}}\''
    )
    if not value:
        raise ValueError(f"--strategy multi_worker needs TF_CONFIG in the environment: {example}")
    try:
        config = json.loads(value)
        task, cluster = config["task"], config["cluster"]
        hosts = cluster[task["type"]]
        if not 0 <= int(task["index"]) < len(hosts):
            raise IndexError(f"task index {task['index']} of {len(hosts)} {task['type']}s")
    except (ValueError, KeyError, TypeError, IndexError) as err:
        raise ValueError(f"TF_CONFIG is not valid ({err!r}); expected e.g. {example}") from err


BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def native_bfloat16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU has bfloat16 instructions (AVX-512 BF16 or AMX), from the flags of
    `cpuinfo` (Linux); False when it cannot be read."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    return any(flag in flags for flag in BFLOAT16_CPU_FLAGS)


def resolve_precision(precision: str, cpuinfo: str = "/proc/cpuinfo") -> str:
    """`precision` itself, or for `auto`: mixed_bfloat16 when no GPU is visible and the CPU
    has bfloat16 instructions (measured 0.67-0.71 of float32's batch time on the larger
    configs), else float32 (a CPU without them emulates bfloat16, which is slower; on a GPU
    mixed precision has not been measured here)."""
    if precision != "auto":
        return precision
    if tf.config.list_physical_devices("GPU") or not native_bfloat16(cpuinfo):
        return "float32"
    return "mixed_bfloat16"


@contextlib.contextmanager
def precision_policy(precision: str):
    """Layers built inside use the Keras dtype policy `precision` (`auto`: see
    `resolve_precision`; the global policy is restored after): mixed precision computes in
    float16/bfloat16 with float32 weights; the models keep their logits in float32 for the
    softmax and CTC losses, and Keras scales the loss of a mixed_float16 model."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(resolve_precision(precision))
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@contextlib.contextmanager
def model_scope(strategy: tf.distribute.Strategy, precision: str):
    """Build and compile the model inside this: variables are mirrored by `strategy`, layers
    take the dtype policy `precision`."""
    with strategy.scope(), precision_policy(precision):
        yield


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def write_dir(strategy: tf.distribute.Strategy, run_dir) -> Path:
    """Where this process writes: `run_dir` on the chief (and without multi-worker), else
    `run_dir/workers/<type>-<index>`, so workers never write the same file."""
    run_dir = Path(run_dir)
    if not is_multi_worker(strategy) or strategy.extended.should_checkpoint:
        return run_dir
    resolver = strategy.cluster_resolver
    return run_dir / "workers" / f"{resolver.task_type}-{resolver.task_id}"


def gather_from_workers(strategy: tf.distribute.Strategy, value: int) -> list[int]:
    """`value` from every worker (once per replica), in every worker; `[value]` without
    multi-worker. All workers must call it at the same point."""
    if not is_multi_worker(strategy):
        return [value]

    @tf.function
    def gather(x):
        return strategy.gather(strategy.run(lambda: tf.reshape(x, [1])), axis=0)

    return gather(tf.constant(value, tf.int64)).numpy().tolist()


def shard_by_data(ds: tf.data.Dataset) -> tf.data.Dataset:
    """Every worker reads the whole pipeline and keeps its part of each global batch (the
    datasets are built from in-memory lists and NumPy shards, not files tf.data can split)."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options)


def _patch_keras_for_multi_worker():
    """Works around keras-team/keras#20585 (Keras 3 `fit` under MultiWorkerMirroredStrategy),
    checked with Keras 3.15 and TensorFlow 2.21 by tests/seq2seq/test_multi_worker.py:

    1. `_maybe_symbolic_build` builds the model from a first batch that it "reduces" across
       replicas with an eager cross-worker reduce, which fails on a `PerReplica` input. The
       batch only gives shapes: this uses the first local replica's part.
    2. `reduce_per_replica` reduces the step's logs (scalars) with `reduce(MEAN, axis=0)`,
       which fails on scalars: this reduces them with `axis=None`.
    """
    what = "--strategy multi_worker"
    trainer = keras_private.module("keras.src.backend.tensorflow.trainer", what)
    if getattr(trainer, "_seq2seq_multi_worker_patch", False):
        return
    keras_private.attribute(trainer, "reduce_per_replica", what)
    keras_private.attribute(trainer.TensorFlowTrainer, "_maybe_symbolic_build", what)

    def first_local_part(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return tf.distribute.get_strategy().experimental_local_results(value)[0]
        return value

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None:
            return
        if iterator is not None:
            for _, _, it in iterator:
                with self.distribute_strategy.scope():
                    data_batch = tf.nest.map_structure(first_local_part, next(it))
                break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    reduce_per_replica = trainer.reduce_per_replica

    def reduce_logs(values, strategy, reduction="auto"):
        if is_multi_worker(strategy) and reduction in ("auto", "mean"):
            return tf.nest.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return reduce_per_replica(values, strategy, reduction)

    trainer.TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
    trainer.reduce_per_replica = reduce_logs
    trainer._seq2seq_multi_worker_patch = True
