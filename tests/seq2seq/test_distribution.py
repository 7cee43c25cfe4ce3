"""Data parallelism and mixed precision: MirroredStrategy over two logical CPUs, models built
under mixed_bfloat16 with float32 logits, and what `precision: auto` chooses."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from keras import ops

from seq2seq.speech.model import CTCSpeechModel
from seq2seq.training.distributed import native_bfloat16, precision_policy, resolve_precision
from tests.seq2seq.helpers import batch, tiny_model, train_steps

MIRRORED = """
import json, sys
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from pipelines.tasks import translation
from seq2seq.config import load_config
from seq2seq.training.distributed import make_strategy

corpus, run, strategy = sys.argv[1:4]
settings = [f"data.{s}={corpus}/{s}.tsv" for s in ("train", "dev", "test")] + ["train.epochs=8"]
config = load_config(translation.TranslationConfig, "configs/translate/tiny.yaml", settings)
history = translation.train(config, run, strategy)
print(json.dumps({
    "replicas": make_strategy(strategy).num_replicas_in_sync,
    "loss": history.history["loss"],
    "val_loss": history.history["val_loss"],
}))
"""


def _train(corpus, run, strategy):
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(MIRRORED), str(corpus), str(run), strategy],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus_matches_one_device(tiny_corpus, tmp_path):
    mirrored = _train(tiny_corpus, tmp_path / "mirrored", "mirrored")
    single = _train(tiny_corpus, tmp_path / "single", "default")
    assert mirrored["replicas"] == 2 and single["replicas"] == 1
    assert all(np.isfinite(mirrored["loss"])) and mirrored["loss"][-1] < 0.5 * mirrored["loss"][0]
    # The same global batches and loss scale (each replica's loss divided by the replicas, so
    # the summed gradients are the mean): the same learning curve within a tolerance (each
    # replica averages over its own tokens). An unscaled loss logs twice the value. The dev
    # loss is not compared: one-row batches (an empty replica) are left out, and in the dev
    # set they are long sentences.
    assert mirrored["loss"][0] == pytest.approx(single["loss"][0], rel=0.05)
    assert np.mean(mirrored["loss"]) == pytest.approx(np.mean(single["loss"]), rel=0.1)
    assert mirrored["val_loss"][-1] < 0.3 * mirrored["val_loss"][0]
    assert (tmp_path / "mirrored/model.keras").exists()


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_keeps_float32_weights_and_logits(precision):
    with precision_policy(precision):
        model = tiny_model()
    assert keras.config.dtype_policy().name == "float32"  # restored
    assert all(w.dtype == "float32" for w in model.weights)
    logits = model(batch()[0])
    assert logits.dtype == "float32"
    assert model.encoder_layers[0].compute_dtype == precision.split("_")[1]
    losses = train_steps(model, steps=5)
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_mixed_precision_speech_logits_stay_float32():
    with precision_policy("mixed_bfloat16"):
        model = CTCSpeechModel(8, subsampling=2, conv_filters=8, units=8, num_layers=1)
        model.build()
    features = np.random.default_rng(0).standard_normal((2, 20, 8)).astype("float32")
    logits = model({"features": features, "feature_lengths": np.array([20, 12])})
    assert logits.dtype == "float32" and model.recurrent[0].compute_dtype == "bfloat16"
    assert bool(ops.all(ops.isfinite(logits)))


CPUINFO = """processor\t: 0
model name\t: Some CPU
flags\t\t: fpu sse2 avx2 avx512f {extra}
"""


@pytest.mark.parametrize(
    ("extra", "native"),
    [("avx512_bf16 amx_tile", True), ("amx_bf16", True), ("avx512bw avx512_vnni", False)],
)
def test_auto_precision_is_bfloat16_only_on_a_cpu_with_bfloat16_instructions(
    tmp_path, extra, native
):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO.format(extra=extra))
    assert native_bfloat16(cpuinfo) is native
    # The test machines have no GPU, so `auto` follows the CPU.
    assert resolve_precision("auto", cpuinfo) == ("mixed_bfloat16" if native else "float32")
    assert resolve_precision("mixed_float16", cpuinfo) == "mixed_float16"  # explicit: kept
    assert native_bfloat16(tmp_path / "missing") is False  # not Linux: no bfloat16 assumed
