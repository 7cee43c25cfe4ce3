"""The GPU path, checked on a CPU: the training step that Keras traces when a GPU is present
runs every recurrent layer as a cuDNN kernel (forward and backward), and the masks of real
batches pass the checks cuDNN makes at run time (right padding, no all-padding row).

Keras picks the cuDNN branch while tracing, when its TensorFlow backend sees a GPU; the test
makes it see one, traces the step without running it (the CPU has no cuDNN kernel), then runs
only the part of the forward graph that computes the mask checks. The profile of
`python -m benchmarks.run --suite gpu` proves the same on a real GPU.
"""

import importlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from benchmarks import asr_speed, translate_speed
from benchmarks.op_profile import CUDNN_RNN_OPS, _in_scope, recurrent_layer_names
from pipelines.tasks import asr, translation
from seq2seq.config import load_config


@pytest.fixture
def gpu_visible_to_keras(monkeypatch):
    tf_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")
    monkeypatch.setattr(tf_rnn, "_is_gpu_available", lambda: True)


def cudnn_ops_by_layer(model, dataset) -> dict:
    """{recurrent layer name: sorted cuDNN op types in its scope} of the traced train step."""
    step = tf.function(model.train_step).get_concrete_function(dataset.element_spec)
    graph = step.graph.as_graph_def()
    nodes = list(graph.node) + [n for f in graph.library.function for n in f.node_def]
    cudnn = [(n.name, n.op) for n in nodes if n.op in CUDNN_RNN_OPS]
    return {
        layer: sorted({op for name, op in cudnn if _in_scope(name, layer)})
        for layer in recurrent_layer_names(model)
    }


def mask_checks(model, dataset):
    """A function of one batch's inputs: whether each cuDNN layer's run-time mask check
    (`Assert` in the traced forward pass) holds."""
    forward = tf.compat.v1.wrap_function(
        lambda inputs: model(inputs, training=True), [dataset.element_spec[0]]
    )
    asserts = [op for op in forward.graph.get_operations() if op.type == "Assert"]
    conditions = forward.prune(forward.inputs, [op.inputs[0] for op in asserts])
    return lambda inputs: [
        bool(c) for c in conditions(*map(tf.convert_to_tensor, tf.nest.flatten(inputs)))
    ]


def translation_setup(corpus, *settings):
    data = [f"data.{s}={corpus / f'{s}.tsv'}" for s in ("train", "dev", "test")]
    config = load_config(
        translation.TranslationConfig,
        "configs/translate/tiny.yaml",
        [*data, "model.num_layers=2", *settings],
    )
    model, dataset, *_ = translate_speed.training_setup(config)
    return model, dataset


def speech_setup(speech, cache_dir, *settings):
    data = [f"data.{s}={speech / f'{s}.jsonl'}" for s in ("train", "dev", "test")]
    config = load_config(
        asr.ASRConfig,
        "configs/asr/tiny.yaml",
        [*data, f"data.cache_dir={cache_dir}", "model.num_layers=2", *settings],
    )
    return asr_speed.training_setup(config)


BOTH_DIRECTIONS = ["CudnnRNNBackpropV3", "CudnnRNNV3"]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_translation_training_runs_every_recurrent_layer_on_cudnn(
    cell, tiny_corpus, gpu_visible_to_keras
):
    model, dataset = translation_setup(tiny_corpus, f"model.cell={cell}", "model.dropout=0.2")
    ops = cudnn_ops_by_layer(model, dataset)
    # Two bidirectional encoder layers (forward and backward) and the decoder.
    assert len(ops) == 5, ops
    assert ops == {layer: BOTH_DIRECTIONS for layer in ops}
    checks = mask_checks(model, dataset)
    batches = 0
    for inputs, _ in dataset:
        assert checks(inputs) == [True] * 5
        batches += 1
    assert batches > 5
    # The check fails where cuDNN would: a left-padded source row.
    inputs = {**inputs, "source": np.pad(inputs["source"], ((0, 0), (1, 0)))}
    assert checks(inputs) == [False] * 4 + [True]  # the encoder's layers, not the decoder's


def test_input_feeding_and_recurrent_dropout_leave_cudnn(tiny_corpus, gpu_visible_to_keras):
    model, dataset = translation_setup(tiny_corpus, "model.attention=input_feeding")
    ops = cudnn_ops_by_layer(model, dataset)
    # The encoder still runs on cuDNN; the decoder's cell steps in a loop.
    assert ops.pop("decoder_lstm") == []
    assert ops == {layer: BOTH_DIRECTIONS for layer in ops} and len(ops) == 4

    model, dataset = translation_setup(tiny_corpus)
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.RNN):
            layer.cell.recurrent_dropout = 0.1
    ops = cudnn_ops_by_layer(model, dataset)
    assert all(found == [] for found in ops.values()), ops


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_speech_training_runs_every_recurrent_layer_on_cudnn(
    cell, tiny_speech, tmp_path, gpu_visible_to_keras
):
    model, dataset = speech_setup(tiny_speech, tmp_path / "cache", f"model.cell={cell}")
    ops = cudnn_ops_by_layer(model, dataset)
    assert len(ops) == 4, ops  # two bidirectional layers
    assert ops == {layer: BOTH_DIRECTIONS for layer in ops}
    checks = mask_checks(model, dataset)
    for inputs, _ in dataset:
        assert checks(inputs) == [True] * 4
    # A row with no frame left would be an all-padding row: cuDNN rejects it.
    lengths = np.array(inputs["feature_lengths"])
    lengths[0] = 0
    assert not all(checks({**inputs, "feature_lengths": lengths}))
