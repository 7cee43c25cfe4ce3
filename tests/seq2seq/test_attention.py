import numpy as np
import pytest

from seq2seq.translation.attention import BahdanauAttention


def _numpy_bahdanau(layer, query, keys, mask):
    """v^T tanh(W1 q + W2 k) with padding excluded, written out by hand."""
    w1 = layer.query_dense.kernel.numpy()
    w2, b2 = layer.key_dense.kernel.numpy(), layer.key_dense.bias.numpy()
    v = layer.score_dense.kernel.numpy()[:, 0]
    scores = np.tanh((query @ w1)[:, :, None, :] + (keys @ w2 + b2)[:, None, :, :]) @ v
    scores = np.where(mask[:, None, :], scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    return weights @ keys, weights


@pytest.fixture
def inputs():
    rng = np.random.default_rng(0)
    query = rng.normal(size=(2, 3, 5)).astype("float32")  # (batch, tgt_len, query_dim)
    keys = rng.normal(size=(2, 4, 6)).astype("float32")  # (batch, src_len, key_dim)
    mask = np.array([[True, True, True, True], [True, True, False, False]])
    return query, keys, mask


def test_matches_hand_computed_scores(inputs):
    query, keys, mask = inputs
    layer = BahdanauAttention(7)
    context, weights = layer(query, keys, mask)
    expected_context, expected_weights = _numpy_bahdanau(layer, query, keys, mask)
    assert context.shape == (2, 3, 6) and weights.shape == (2, 3, 4)
    np.testing.assert_allclose(weights, expected_weights, atol=1e-5)
    np.testing.assert_allclose(context, expected_context, atol=1e-5)


def test_padding_gets_no_weight(inputs):
    query, keys, mask = inputs
    _, weights = BahdanauAttention(7)(query, keys, mask)
    weights = np.asarray(weights)
    assert (weights[1, :, 2:] == 0).all()
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)


def test_single_step_query_and_cached_keys(inputs):
    query, keys, mask = inputs
    layer = BahdanauAttention(7)
    full_context, full_weights = layer(query, keys, mask)
    projected = layer.project_keys(keys)
    context, weights = layer(query[:, 1], keys, mask, projected)
    assert context.shape == (2, 6) and weights.shape == (2, 4)
    np.testing.assert_allclose(context, np.asarray(full_context)[:, 1], atol=1e-6)
    np.testing.assert_allclose(weights, np.asarray(full_weights)[:, 1], atol=1e-6)


def test_config_round_trip():
    layer = BahdanauAttention(9, name="att")
    clone = BahdanauAttention.from_config(layer.get_config())
    assert clone.units == 9 and clone.name == "att"
