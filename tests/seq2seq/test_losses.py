import numpy as np

from seq2seq.losses import MaskedSparseCrossEntropy, masked_accuracy


def _log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


Y_TRUE = np.array([[4, 2, 0], [1, 0, 0]])  # 3 real tokens, 3 pads
LOGITS = np.random.default_rng(1).normal(size=(2, 3, 5)).astype("float32")


def test_masked_cross_entropy_matches_hand_computation():
    log_probs = _log_softmax(LOGITS.astype("float64"))
    expected = -(log_probs[0, 0, 4] + log_probs[0, 1, 2] + log_probs[1, 0, 1]) / 3
    loss = float(MaskedSparseCrossEntropy()(Y_TRUE, LOGITS))
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_label_smoothing_matches_hand_computation():
    log_probs = _log_softmax(LOGITS.astype("float64"))
    real = [(0, 0, 4), (0, 1, 2), (1, 0, 1)]
    expected = np.mean(
        [0.9 * -log_probs[b, t, y] + 0.1 * -log_probs[b, t].mean() for b, t, y in real]
    )
    loss = float(MaskedSparseCrossEntropy(label_smoothing=0.1)(Y_TRUE, LOGITS))
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_padding_positions_do_not_count():
    changed = LOGITS.copy()
    changed[Y_TRUE == 0] = 100.0  # anything at padding
    loss = MaskedSparseCrossEntropy()
    np.testing.assert_allclose(float(loss(Y_TRUE, changed)), float(loss(Y_TRUE, LOGITS)), rtol=1e-6)


def test_masked_accuracy_counts_only_real_tokens():
    logits = np.full((2, 3, 5), -5.0, "float32")
    logits[0, 0, 4] = logits[0, 1, 3] = logits[1, 0, 1] = 5.0  # 2 of 3 right
    logits[0, 2, 0] = 5.0  # a "correct" pad that must not count
    np.testing.assert_allclose(float(masked_accuracy(Y_TRUE, logits)), 2 / 3, rtol=1e-6)


def test_gradient_is_softmax_minus_smoothed_target_over_real_tokens():
    import tensorflow as tf

    logits = tf.constant(LOGITS)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        loss = MaskedSparseCrossEntropy(label_smoothing=0.1)(Y_TRUE, logits)
    grad = tape.gradient(loss, logits).numpy()
    probs = np.exp(_log_softmax(LOGITS.astype("float64")))
    target = np.full(LOGITS.shape, 0.1 / 5) + 0.9 * np.eye(5)[Y_TRUE]
    expected = (probs - target) * (Y_TRUE != 0)[..., None] / 3
    np.testing.assert_allclose(grad, expected, atol=1e-6)
