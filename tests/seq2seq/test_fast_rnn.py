"""The fast CPU path of `seq2seq.fast_rnn` against Keras's own LSTM and GRU: the same outputs,
final states and gradients on padded batches, the same weights in saved models both ways, and
the layers stay cuDNN-eligible."""

import importlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from seq2seq import fast_rnn
from seq2seq.recurrent import cudnn_problems, recurrent_layer
from tests.seq2seq.helpers import batch, tiny_model

BATCH, STEPS, FEATURES, UNITS = 4, 7, 5, 6
STANDARD = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
FAST = {"lstm": fast_rnn.LSTM, "gru": fast_rnn.GRU}


def right_padded_mask():
    lengths = np.array([STEPS, 3, 5, 1])  # rows of different lengths, one full
    return np.arange(STEPS)[None, :] < lengths[:, None]


def any_mask():
    """What Keras's generic loop also accepts: left padding, a hole, an all-padding row."""
    mask = right_padded_mask()
    mask[1] = [False, False, True, True, True, True, True]
    mask[2, 2] = False
    mask[3] = False
    return mask


def layer_pair(cell, direction, **options):
    """The standard Keras layer and the fast one with the same (non-trivial) weights."""
    layers = []
    for classes in (STANDARD, FAST):
        layer = classes[cell](
            UNITS, return_sequences=True, return_state=True, go_backwards=direction == "backward"
        )
        if direction == "bidirectional":
            layer = keras.layers.Bidirectional(layer)
        layer.build((None, STEPS, FEATURES))
        layers.append(layer)
    rng = np.random.default_rng(1)
    weights = [rng.normal(0, 0.5, w.shape).astype("float32") for w in layers[0].get_weights()]
    for layer in layers:
        layer.set_weights(weights)
        for name, value in options.items():
            for inner in (
                getattr(layer, "forward_layer", layer),
                getattr(layer, "backward_layer", layer),
            ):
                setattr(inner, name, value)
    return layers


def outputs_and_gradients(layer, x, mask, initial_state):
    """Outputs, final states and the gradients of a weighted sum of all of them with respect
    to the inputs, the initial state and every weight, traced as in training."""

    @tf.function
    def run(x, mask, initial_state):
        with tf.GradientTape() as tape:
            tape.watch([x, *initial_state])
            kwargs = {"initial_state": initial_state} if initial_state else {}
            results = layer(x, mask=mask, **kwargs)
            # Different weights per position, so that every gradient path is exercised.
            loss = sum(tf.reduce_sum(r * tf.sin(tf.cumsum(tf.ones_like(r)))) for r in results)
        return results, tape.gradient(loss, [x, *initial_state, *layer.trainable_weights])

    return run(x, mask, initial_state)


def assert_same(standard, fast):
    for a, b in zip(tf.nest.flatten(standard), tf.nest.flatten(fast), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize(
    "direction, mask",
    [
        ("forward", right_padded_mask()),
        ("backward", right_padded_mask()),
        ("bidirectional", right_padded_mask()),
        ("forward", any_mask()),
        ("backward", any_mask()),
    ],
)
def test_fast_path_gives_the_standard_outputs_states_and_gradients(
    cell, direction, mask, monkeypatch
):
    calls = []
    name = f"{cell}_sequence"
    original = getattr(fast_rnn, name)
    monkeypatch.setattr(fast_rnn, name, lambda *a, **k: calls.append(1) or original(*a, **k))
    standard, fast = layer_pair(cell, direction)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(BATCH, STEPS, FEATURES)).astype("float32"))
    states = 2 if cell == "lstm" else 1
    initial = (
        []
        if direction == "bidirectional"
        else [tf.constant(rng.normal(size=(BATCH, UNITS)).astype("float32")) for _ in range(states)]
    )
    expected = outputs_and_gradients(standard, x, tf.constant(mask), initial)
    got = outputs_and_gradients(fast, x, tf.constant(mask), initial)
    assert calls, "the fast path did not run"
    assert len(got[1]) == len(expected[1]) >= 4  # inputs, state(s) and the three weights
    assert_same(expected, got)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_masked_outputs_are_zeros_under_zero_output_for_mask(cell):
    """What `Bidirectional` sets with `return_sequences`: zeros at padded steps."""
    standard, fast = layer_pair(cell, "forward", zero_output_for_mask=True)
    x = tf.constant(np.random.default_rng(2).normal(size=(BATCH, STEPS, FEATURES)), "float32")
    mask = tf.constant(right_padded_mask())
    expected = outputs_and_gradients(standard, x, mask, [])
    got = outputs_and_gradients(fast, x, mask, [])
    assert_same(expected, got)
    assert np.all(np.asarray(got[0][0])[~right_padded_mask()] == 0)


def test_settings_outside_the_fast_path_run_keras_code():
    layer = fast_rnn.LSTM(UNITS)
    assert fast_rnn.uses_fast_path(layer)
    assert not fast_rnn.uses_fast_path(fast_rnn.LSTM(UNITS, recurrent_dropout=0.1))
    assert not fast_rnn.uses_fast_path(fast_rnn.LSTM(UNITS, use_cudnn=False))
    assert not fast_rnn.uses_fast_path(fast_rnn.GRU(UNITS, reset_after=False))
    assert not fast_rnn.uses_fast_path(fast_rnn.LSTM(UNITS, activation="relu"))


@pytest.mark.parametrize("saved_with", ["standard", "fast"])
def test_saved_models_load_with_the_other_layers(saved_with, tmp_path, monkeypatch):
    """A model saved with Keras's layers (before this module, or on a GPU) loads into the fast
    layers with the same outputs, and the other way round: the weights are the same."""
    inputs, _ = batch()

    def use_standard_layers(standard):
        for cell in ("lstm", "gru"):
            monkeypatch.setattr(fast_rnn, cell.upper(), (STANDARD if standard else FAST)[cell])

    use_standard_layers(saved_with == "standard")
    model = tiny_model(num_layers=1)
    expected = np.asarray(model(inputs))
    model.save(tmp_path / "model.keras")
    use_standard_layers(saved_with == "fast")
    loaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    fast_layers = [layer for layer in loaded._flatten_layers() if isinstance(layer, FAST["lstm"])]
    assert bool(fast_layers) == (saved_with == "standard")
    np.testing.assert_allclose(np.asarray(loaded(inputs)), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_factory_layers_stay_cudnn_eligible(cell, monkeypatch):
    layer = keras.layers.Bidirectional(recurrent_layer(cell, UNITS, name="rnn"))
    assert isinstance(layer.forward_layer, FAST[cell])
    assert isinstance(layer.backward_layer, FAST[cell])
    assert cudnn_problems(layer) == []
    layer.build((None, STEPS, FEATURES))

    def traced_ops():
        spec = tf.TensorSpec((None, STEPS, FEATURES))
        graph = tf.function(lambda x: layer(x)).get_concrete_function(spec).graph.as_graph_def()
        return {
            n.op for n in [*graph.node, *(n for f in graph.library.function for n in f.node_def)]
        }

    assert "CudnnRNNV3" not in traced_ops()
    # Where Keras sees a GPU, the layer is Keras's: the cuDNN kernel, traced (not run).
    tf_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")
    monkeypatch.setattr(tf_rnn, "_is_gpu_available", lambda: True)
    assert not fast_rnn.uses_fast_path(layer.forward_layer)
    assert "CudnnRNNV3" in traced_ops()
