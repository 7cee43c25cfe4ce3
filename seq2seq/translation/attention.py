"""Bahdanau (additive) attention."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="seq2seq")
class BahdanauAttention(keras.layers.Layer):
    """Additive attention, `score(q, k) = v^T tanh(W1 q + W2 k)` (Bahdanau et al., 2015).

    Args:
        units: size of the hidden layer of the score (`W1`, `W2` output size).
        **kwargs: forwarded to `keras.layers.Layer`.

    Call arguments:
        query: (batch, query_dim) for one decoder step, or (batch, tgt_len, query_dim) for all.
        keys: (batch, src_len, key_dim), the encoder outputs; also the values.
        source_mask: optional bool (batch, src_len), False at source padding, which gets zero
            weight. Named apart from Keras's implicit `mask`: the query's own (target) mask is
            ignored.
        projected_keys: optional `W2 keys` from `project_keys`, to reuse across decoder steps.

    Returns:
        (context, weights): context (batch, [tgt_len,] key_dim) and weights
        (batch, [tgt_len,] src_len), which sum to 1 over the unmasked source positions.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.query_dense = keras.layers.Dense(units, use_bias=False, name="query_dense")
        self.key_dense = keras.layers.Dense(units, name="key_dense")
        self.score_dense = keras.layers.Dense(1, use_bias=False, name="score_dense")
        self.supports_masking = True  # accepts masked queries; the outputs carry no mask

    def build(self, query_shape, keys_shape, source_mask_shape=None, projected_keys_shape=None):
        for layer, shape in [
            (self.query_dense, query_shape),
            (self.key_dense, keys_shape),
            (self.score_dense, (None, self.units)),
        ]:
            if not layer.built:  # project_keys() may have built key_dense already
                layer.build(shape)

    def project_keys(self, keys):
        return self.key_dense(keys)  # (batch, src_len, units)

    def call(self, query, keys, source_mask=None, projected_keys=None):
        if projected_keys is None:
            projected_keys = self.project_keys(keys)
        single_step = len(query.shape) == 2
        if single_step:
            query = ops.expand_dims(query, 1)
        q = ops.expand_dims(self.query_dense(query), 2)  # (batch, tgt_len, 1, units)
        k = ops.expand_dims(projected_keys, 1)  # (batch, 1, src_len, units)
        scores = ops.squeeze(self.score_dense(ops.tanh(q + k)), -1)  # (batch, tgt_len, src_len)
        # Softmax in float32 under mixed precision: -1e9 overflows float16.
        scores = ops.cast(scores, "float32")
        if source_mask is not None:
            # A large negative, not -inf, so a fully masked row gives uniform weights, not NaN.
            scores = ops.where(ops.expand_dims(source_mask, 1), scores, ops.full_like(scores, -1e9))
        weights = ops.softmax(scores, axis=-1)
        context = ops.matmul(ops.cast(weights, keys.dtype), keys)  # (batch, tgt_len, key_dim)
        if single_step:
            return ops.squeeze(context, 1), ops.squeeze(weights, 1)
        return context, weights

    def compute_mask(self, query, keys, source_mask=None, projected_keys=None, mask=None):
        return None

    def compute_output_spec(self, query, keys, source_mask=None, projected_keys=None):
        batch_and_steps = query.shape[:-1]
        context = keras.KerasTensor(batch_and_steps + (keys.shape[-1],), dtype=self.compute_dtype)
        weights = keras.KerasTensor(batch_and_steps + (keys.shape[1],), dtype=self.compute_dtype)
        return context, weights

    def get_config(self):
        return {**super().get_config(), "units": self.units}
