import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from keras import ops

from seq2seq.losses import ctc_loss
from seq2seq.recurrent import cudnn_problems
from seq2seq.speech.model import CTCSpeechModel, subsampled_length


def tiny_speech_model(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    settings = {"conv_filters": 8, "units": 8, "num_layers": 2, "dropout": 0.0, **kwargs}
    model = CTCSpeechModel(12, **settings)
    model.build()
    return model


def speech_batch(lengths=(37, 20, 9), seed=0):
    rng = np.random.default_rng(seed)
    features = np.zeros((len(lengths), max(lengths), 12), np.float32)
    for row, n in enumerate(lengths):
        features[row, :n] = rng.standard_normal((n, 12))
    return {"features": features, "feature_lengths": np.array(lengths, np.int32)}


@pytest.mark.parametrize("subsampling", [1, 2, 4, 8])
def test_output_lengths_follow_the_subsampling(subsampling):
    model = tiny_speech_model(subsampling=subsampling)
    inputs = speech_batch()
    logits = model(inputs)
    expected = [int(np.ceil(n / subsampling)) for n in (37, 20, 9)]
    assert logits.shape == (3, expected[0], 29)
    assert list(np.asarray(model.output_lengths(inputs["feature_lengths"]))) == expected
    assert [subsampled_length(n, subsampling) for n in (37, 20, 9)] == expected


@pytest.mark.parametrize("subsampling", [2, 4])
@pytest.mark.parametrize("length", [9, 10, 11, 12])
def test_padding_does_not_change_the_outputs_of_real_frames(subsampling, length):
    # Odd and even lengths, alone and in a batch padded to an odd (37) or even (38) length.
    model = tiny_speech_model(subsampling=subsampling)
    for longest in (37, 38):
        batch = speech_batch(lengths=(longest, 20, length))
        alone = {"features": batch["features"][2:, :length], "feature_lengths": np.array([length])}
        n = subsampled_length(length, subsampling)
        together = np.asarray(model(batch))[2, :n]
        np.testing.assert_allclose(np.asarray(model(alone))[0], together, atol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_recurrent_layers_are_cudnn_eligible(cell):
    model = tiny_speech_model(cell=cell, dropout=0.3)
    assert len(model.recurrent_layers()) == 2
    for layer in model.recurrent_layers():
        assert cudnn_problems(layer) == []


def test_rejects_bad_subsampling():
    with pytest.raises(ValueError, match="subsampling 3"):
        CTCSpeechModel(12, subsampling=3)


def test_ctc_loss_matches_a_hand_computed_value_and_ignores_padding():
    # Two frames, uniform over {blank, a}: the label "a" has the paths aa, a-, -a, so
    # p = 3/4 and the loss is -log(3/4).
    logits = np.zeros((1, 2, 2), np.float32)
    loss = float(ctc_loss(np.array([[1]]), logits, np.array([2])))
    np.testing.assert_allclose(loss, -np.log(0.75), rtol=1e-5)
    # Padded labels (0) and padded frames with arbitrary scores change nothing.
    padded_logits = np.concatenate([logits, 5 * np.ones((1, 3, 2), np.float32)], axis=1)
    padded = ctc_loss(np.array([[1, 0, 0]]), padded_logits, np.array([2]))
    np.testing.assert_allclose(float(padded), -np.log(0.75), rtol=1e-5)


def test_ctc_loss_is_the_mean_over_utterances():
    logits = np.zeros((2, 3, 3), np.float32)
    labels = np.array([[1, 2], [1, 0]])
    loss = float(ctc_loss(labels, logits, np.array([3, 1])))
    # Uniform over 3 classes. "ab" in 3 frames: paths ab-, a-b, -ab, aab, abb -> p = 5/27.
    # "a" in its true length of 1 frame (2 padding frames): p = 1/3.
    np.testing.assert_allclose(loss, (-np.log(5 / 27) - np.log(1 / 3)) / 2, rtol=1e-5)


def test_ctc_loss_and_its_gradient_match_the_dense_label_implementation():
    # Our loss feeds sparse labels to TensorFlow's fused kernel; keras.ops.ctc_loss feeds
    # dense labels to the CTC written in TF ops. Same values and gradients on random data.
    import tensorflow as tf

    rng = np.random.default_rng(0)
    logits = tf.constant(rng.normal(size=(4, 30, 8)), tf.float32)
    lengths = np.array([30, 25, 18, 30])
    labels = np.zeros((4, 12), np.int32)
    for row, n in enumerate([12, 7, 3, 10]):
        labels[row, :n] = rng.integers(1, 8, n)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        ours = ctc_loss(labels, logits, lengths)
        label_lengths = (labels != 0).sum(-1)
        dense = ops.mean(ops.ctc_loss(labels, logits, label_lengths, lengths, mask_index=0))
    np.testing.assert_allclose(float(ours), float(dense), rtol=1e-5)
    grads = [tape.gradient(x, logits).numpy() for x in (ours, dense)]
    np.testing.assert_allclose(grads[0], grads[1], atol=1e-5)
    assert np.abs(grads[0][1, 25:]).max() == 0  # padding frames get no gradient


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_ctc_loss_is_finite_and_decreases_on_a_tiny_overfit_run(cell):
    model = tiny_speech_model(subsampling=2, units=16, cell=cell)
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    inputs = speech_batch()
    labels = np.array([[8, 5, 12, 12, 15], [23, 15, 18, 0, 0], [4, 0, 0, 0, 0]], np.int32)
    losses = [float(model.train_on_batch(inputs, labels)) for _ in range(60)]
    assert all(np.isfinite(losses))
    assert losses[-1] < 0.2 * losses[0]


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_keras_file_reloads_in_fresh_process(tmp_path, cell):
    model = tiny_speech_model(cell=cell)
    model.save(tmp_path / "model.keras")
    np.save(tmp_path / "inputs.npy", speech_batch()["features"])
    np.save(tmp_path / "expected.npy", np.asarray(model(speech_batch())))
    script = textwrap.dedent(f"""
        import numpy as np, keras
        import seq2seq.speech.model  # registers the serializable classes
        model = keras.saving.load_model("{tmp_path / "model.keras"}", safe_mode=True)
        assert type(model).__name__ == "CTCSpeechModel", type(model)
        inputs = {{"features": np.load("{tmp_path / "inputs.npy"}"),
                   "feature_lengths": np.array([37, 20, 9], np.int32)}}
        np.save("{tmp_path / "actual.npy"}", np.asarray(model(inputs)))
    """)
    subprocess.run([sys.executable, "-c", script], check=True)
    np.testing.assert_array_equal(
        np.load(tmp_path / "actual.npy"), np.load(tmp_path / "expected.npy")
    )
