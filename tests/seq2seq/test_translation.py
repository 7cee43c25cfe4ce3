import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from seq2seq.recurrent import cudnn_problems
from seq2seq.translation.model import Seq2SeqTranslator
from tests.seq2seq.helpers import SOURCE, TARGET_IN, batch, tiny_model, train_steps

LAYOUTS = [
    (cell, attention)
    for cell in ("lstm", "gru", "rnn")
    for attention in ("output", "input_feeding")
]


@pytest.mark.parametrize("cell, attention", LAYOUTS)
def test_logits_shape_and_step_decoding_match(cell, attention):
    model = tiny_model(cell=cell, attention=attention)
    logits = np.asarray(model(batch()[0]))
    assert logits.shape == (3, 5, 30)
    # Stepping the decoder from its state reproduces the teacher-forced logits.
    outputs, mask, state = model.encode(SOURCE)
    keys = model.bahdanau_attention.project_keys(outputs)
    for t in range(TARGET_IN.shape[1]):
        step_logits, state, weights = model.decode_step(TARGET_IN[:, t], state, outputs, mask, keys)
        real = TARGET_IN[:, t] != 0
        np.testing.assert_allclose(np.asarray(step_logits)[real], logits[real, t], atol=1e-5)
        assert (np.asarray(weights)[1, 2:] == 0).all()  # source padding is never attended


@pytest.mark.parametrize("cell, attention", LAYOUTS)
def test_one_training_step_learns(cell, attention):
    losses = train_steps(tiny_model(cell=cell, attention=attention), steps=15)
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.7 * losses[0]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_default_layout_is_cudnn_eligible(cell):
    model = tiny_model(cell=cell)
    layers = model.recurrent_layers()
    assert len(layers) == 3  # two bidirectional encoder layers and the decoder
    assert [p for layer in layers for p in cudnn_problems(layer)] == []


def test_cudnn_check_flags_ineligible_settings():
    lstm = keras.layers.LSTM(4, recurrent_dropout=0.1, name="slow")
    assert cudnn_problems(lstm) == ["slow: recurrent_dropout=0.1"]
    gru = keras.layers.GRU(4, reset_after=False, name="old_gru")
    assert cudnn_problems(gru) == [
        "old_gru: activation/bias/unroll/reset_after not cuDNN-compatible"
    ]
    relu = keras.layers.Bidirectional(keras.layers.LSTM(4, activation="relu", name="relu"))
    assert len(cudnn_problems(relu)) == 2
    # The input-feeding layout steps a cell in a loop, so its decoder is not a cuDNN layer
    # (one model instance: its own decoder must be left out, and the output layout's kept).
    feeding, output = tiny_model(attention="input_feeding"), tiny_model(attention="output")
    assert feeding.decoder_rnn not in feeding.recurrent_layers()
    assert output.decoder_rnn in output.recurrent_layers()


def test_rejects_unknown_layout():
    with pytest.raises(ValueError, match="unknown attention 'luong'"):
        tiny_model(attention="luong")
    with pytest.raises(ValueError, match="unknown cell 'tcn'"):
        tiny_model(cell="tcn")


@pytest.mark.parametrize(
    "cell, attention", [("lstm", "output"), ("lstm", "input_feeding"), ("rnn", "output")]
)
def test_keras_file_reloads_in_fresh_process(tmp_path, cell, attention):
    model = tiny_model(cell=cell, attention=attention)
    train_steps(model, steps=2)
    model.save(tmp_path / "model.keras")
    np.save(tmp_path / "expected.npy", np.asarray(model(batch()[0])))
    script = textwrap.dedent(f"""
        import numpy as np, keras
        import seq2seq.translation.model  # registers the serializable classes
        from tests.seq2seq.helpers import batch
        model = keras.saving.load_model("{tmp_path / "model.keras"}", safe_mode=True)
        assert type(model).__name__ == "Seq2SeqTranslator", type(model)
        np.save("{tmp_path / "actual.npy"}", np.asarray(model(batch()[0])))
    """)
    subprocess.run([sys.executable, "-c", script], check=True)
    np.testing.assert_array_equal(
        np.load(tmp_path / "actual.npy"), np.load(tmp_path / "expected.npy")
    )


def test_initial_logits_depend_on_the_input():
    """Regression test: with Keras's default Embedding and Glorot output initializers, a model
    with an 8000-word vocabulary started with logits nearly independent of its input (std
    0.002 across positions) and trained on a unigram plateau for whole epochs."""
    model = Seq2SeqTranslator(8000, 8000, embedding_dim=256, units=256)
    rng = np.random.default_rng(0)
    source = rng.integers(4, 8000, size=(8, 20)).astype("int32")
    target_in = rng.integers(4, 8000, size=(8, 20)).astype("int32")
    logits = np.asarray(model({"source": source, "target_in": target_in}))
    assert logits.std(axis=(0, 1)).mean() > 0.05
