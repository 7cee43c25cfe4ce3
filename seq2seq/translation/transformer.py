"""A small Transformer encoder-decoder: the non-recurrent baseline of the architecture
comparison, one config switch away (`model.type: transformer`).

Pre-norm blocks of Keras `MultiHeadAttention` and a ReLU feed-forward layer, sinusoidal or
learned positions, the same tokenizers, input pipeline, loss, decoding and reports as the
recurrent model. It exposes the recurrent model's decoding interface (`encode`, `decode_step`,
`precompute`), so `SequenceDecoder` and the exported models drive it unchanged. A decoding
step runs the decoder for the new position only: its decoding state holds each decoder
block's self-attention keys and values of the prefix so far (a cache that grows by one
position per step), and `precompute` projects the encoder outputs into each block's
cross-attention keys and values once per sentence.
"""

import math
import warnings

import keras
from keras import ops

from seq2seq import keras_private

POSITIONS = ("sinusoidal", "learned")


def sinusoids(positions, dim):
    """The fixed positional encodings of "Attention is all you need" for the integer
    `positions` (n,): (n, dim)."""
    positions = ops.cast(positions, "float32")[:, None]
    rates = ops.exp(-math.log(10000.0) * ops.cast(ops.arange(0, dim, 2), "float32") / dim)
    angles = positions * rates[None, :]  # (length, dim / 2)
    return ops.reshape(ops.stack([ops.sin(angles), ops.cos(angles)], axis=-1), (-1, dim))


def _compute_attention(layer):
    """`MultiHeadAttention._compute_attention` of `layer` (attention over given keys and values,
    for one decoding step against the cache)."""
    return keras_private.attribute(layer, "_compute_attention", "Transformer step decoding")


@keras.saving.register_keras_serializable(package="seq2seq")
class TransformerBlock(keras.layers.Layer):
    """Pre-norm block: self-attention, cross-attention (decoder blocks), feed-forward.

    Args:
        units: model width.
        heads: attention heads (`units` must divide by it).
        ffn_units: width of the feed-forward layer.
        dropout: on attention weights and residual branches.
        cross_attention: True for a decoder block.

    Call arguments:
        x: (batch, length, units); mask: (batch, length) bool, True for real positions;
        context, context_mask: encoder outputs and their mask (decoder blocks);
        causal: attend only to earlier positions (decoder blocks).

    Returns:
        (outputs (batch, length, units), cross-attention weights (batch, heads, length,
        src_len) or None).
    """

    def __init__(self, units, heads, ffn_units, dropout=0.1, cross_attention=False, **kwargs):
        super().__init__(**kwargs)
        self.units, self.heads, self.ffn_units = units, heads, ffn_units
        self.dropout, self.cross_attention = dropout, cross_attention
        key_dim = units // heads
        self.self_attention = keras.layers.MultiHeadAttention(
            heads, key_dim, dropout=dropout, name="self_attention"
        )
        self.norms = [keras.layers.LayerNormalization(name=f"norm_{i + 1}") for i in range(3)]
        self.cross = (
            keras.layers.MultiHeadAttention(heads, key_dim, dropout=dropout, name="cross_attention")
            if cross_attention
            else None
        )
        self.ffn_in = keras.layers.Dense(ffn_units, activation="relu", name="ffn_in")
        self.ffn_out = keras.layers.Dense(units, name="ffn_out")
        self.drop = keras.layers.Dropout(dropout)

    def build(self, input_shape=None):
        # The sublayers build on the first call, whose shapes depend on the call arguments.
        self.built = True

    def call(self, x, mask, context=None, context_mask=None, causal=False, training=False):
        h = self.norms[0](x)
        h = self.self_attention(
            h, h, attention_mask=mask[:, None, :], use_causal_mask=causal, training=training
        )
        x = x + self.drop(h, training=training)
        weights = None
        if self.cross is not None:
            h, weights = self.cross(
                self.norms[1](x),
                context,
                attention_mask=context_mask[:, None, :],
                return_attention_scores=True,
                training=training,
            )
            x = x + self.drop(h, training=training)
        h = self.ffn_out(self.ffn_in(self.norms[2](x)))
        return x + self.drop(h, training=training), weights

    def step(self, x, keys, values, context_keys_values=None, context_mask=None):
        """`call` (inference) for one new position x (batch, 1, units) of a causal decoder,
        with `keys`, `values` (batch, steps, heads, key_dim) the self-attention projections
        of the positions before it and `context_keys_values` the cross-attention projections
        of the encoder outputs (`project_context`). Returns (outputs (batch, 1, units), keys
        and values with this position appended, cross-attention weights (batch, heads, 1,
        src_len) or None)."""
        attention = self.self_attention
        h = self.norms[0](x)
        keys = ops.concatenate([keys, attention.key_dense(h)], axis=1)
        values = ops.concatenate([values, attention.value_dense(h)], axis=1)
        # Every earlier position is real (decoding writes no padding before a live token).
        with warnings.catch_warnings():  # the first position's softmax is over one key
            warnings.filterwarnings("ignore", "You are using a softmax over axis")
            h, _ = _compute_attention(attention)(attention.query_dense(h), keys, values)
        x = x + attention.output_dense(h)
        weights = None
        if self.cross is not None:
            query = self.cross.query_dense(self.norms[1](x))
            h, weights = _compute_attention(self.cross)(
                query,
                *context_keys_values,
                attention_mask=context_mask[:, None, :],
                return_attention_scores=True,
            )
            x = x + self.cross.output_dense(h)
        h = self.ffn_out(self.ffn_in(self.norms[2](x)))
        return x + h, keys, values, weights

    def project_context(self, context):
        """The cross-attention keys and values of encoder outputs, for `step`."""
        return [self.cross.key_dense(context), self.cross.value_dense(context)]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "heads": self.heads,
            "ffn_units": self.ffn_units,
            "dropout": self.dropout,
            "cross_attention": self.cross_attention,
        }


@keras.saving.register_keras_serializable(package="seq2seq")
class TransformerTranslator(keras.Model):
    """Transformer encoder-decoder over subword ids, with the decoding interface of
    `Seq2SeqTranslator`.

    Args:
        source_vocab_size, target_vocab_size: vocabulary sizes (id 0 is padding).
        units: model width (embeddings and attention); `ffn_units` defaults to 4 * units.
        num_layers: blocks in the encoder and in the decoder.
        heads: attention heads.
        dropout: dropout on embeddings, attention and residual branches.
        positions: `"sinusoidal"` or `"learned"`.
        max_length: longest target it decodes (and longest learned position).
        **kwargs: forwarded to `keras.Model`.

    Call arguments:
        inputs: dict with `"source"` (batch, src_len) and `"target_in"` (batch, tgt_len) ids,
            right-padded with 0.

    Returns:
        logits (batch, tgt_len, target_vocab_size), float32.
    """

    def __init__(
        self,
        source_vocab_size,
        target_vocab_size,
        units=256,
        num_layers=2,
        heads=4,
        ffn_units=None,
        dropout=0.1,
        positions="sinusoidal",
        max_length=256,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if positions not in POSITIONS:
            raise ValueError(f"unknown positions {positions!r}; expected one of {POSITIONS}")
        if units % heads:
            raise ValueError(f"units {units} must be divisible by heads {heads}")
        self.source_vocab_size, self.target_vocab_size = source_vocab_size, target_vocab_size
        self.units, self.num_layers, self.heads = units, num_layers, heads
        self.ffn_units = ffn_units or 4 * units
        self.dropout, self.positions, self.max_length = dropout, positions, max_length
        self.source_embedding = keras.layers.Embedding(source_vocab_size, units, name="source_emb")
        self.target_embedding = keras.layers.Embedding(target_vocab_size, units, name="target_emb")
        self.position_embedding = (
            keras.layers.Embedding(max_length, units, name="position_embedding")
            if positions == "learned"
            else None
        )
        block = dict(units=units, heads=heads, ffn_units=self.ffn_units, dropout=dropout)
        self.encoder_blocks = [
            TransformerBlock(**block, name=f"encoder_block_{i + 1}") for i in range(num_layers)
        ]
        self.decoder_blocks = [
            TransformerBlock(**block, cross_attention=True, name=f"decoder_block_{i + 1}")
            for i in range(num_layers)
        ]
        self.encoder_norm = keras.layers.LayerNormalization(name="encoder_norm")
        self.decoder_norm = keras.layers.LayerNormalization(name="decoder_norm")
        self.output_projection = keras.layers.Dense(
            target_vocab_size, dtype="float32", name="output_projection"
        )
        self.drop = keras.layers.Dropout(dropout)

    def build(self, input_shape=None):
        encoded = self.encode(ops.ones((1, 2), dtype="int32"))
        self.decode_sequence(ops.ones((1, 2), dtype="int32"), *encoded)
        self.built = True

    def _embed(self, embedding, ids, training, first=0):
        """Embeds ids (batch, length) standing at positions `first`, `first + 1`, ..."""
        positions = ops.arange(ops.shape(ids)[1]) + first
        if self.position_embedding is None:
            encodings = sinusoids(positions, self.units)
        else:
            encodings = self.position_embedding(positions)
        x = embedding(ids) * math.sqrt(self.units) + ops.cast(encodings, embedding.compute_dtype)
        return self.drop(x, training=training)

    def encode(self, source, training=False):
        """source (batch, src_len) -> (outputs (batch, src_len, units), mask, decoding state:
        the next position (batch,), then each decoder block's self-attention keys and values
        of the prefix so far, empty: (batch, 0, heads, units / heads))."""
        mask = ops.not_equal(source, 0)
        x = self._embed(self.source_embedding, source, training)
        for block in self.encoder_blocks:
            x, _ = block(x, mask, training=training)
        batch = ops.shape(source)[0]
        empty = ops.zeros((batch, 0, self.heads, self.units // self.heads), x.dtype)
        state = [ops.zeros((batch,), "int32")] + [empty] * (2 * self.num_layers)
        return self.encoder_norm(x), mask, state

    def _decode(self, target_in, encoder_outputs, source_mask, training=False):
        x = self._embed(self.target_embedding, target_in, training)
        # Causal attention over the prefix; padded target positions only follow real ones,
        # so every real query sees at least itself.
        mask = ops.not_equal(target_in, 0)
        weights = None
        for block in self.decoder_blocks:
            x, weights = block(
                x, mask, encoder_outputs, source_mask, causal=True, training=training
            )
        return self.output_projection(self.decoder_norm(x)), weights

    def decode_sequence(self, target_in, encoder_outputs, source_mask, state=None, training=False):
        """Teacher-forced decoding of a whole target prefix; returns logits."""
        return self._decode(target_in, encoder_outputs, source_mask, training)[0]

    def precompute(self, encoder_outputs):
        """Each decoder block's cross-attention keys and values of the encoder outputs."""
        return [block.project_context(encoder_outputs) for block in self.decoder_blocks]

    def decode_step(self, previous_ids, state, encoder_outputs, source_mask, projected_keys=None):
        """Runs the decoder for `previous_ids` (batch,) at the next position, attending to the
        cached keys and values of the prefix: (logits (batch, vocab), state with this
        position's keys and values appended, last layer's cross-attention weights of the new
        position, averaged over heads (batch, src_len))."""
        position, caches = state[0], state[1:]
        if projected_keys is None:
            projected_keys = self.precompute(encoder_outputs)
        # Every row is at the same step.
        x = self._embed(self.target_embedding, previous_ids[:, None], False, first=position[0])
        new_caches = []
        for i, block in enumerate(self.decoder_blocks):
            x, keys, values, weights = block.step(
                x, caches[2 * i], caches[2 * i + 1], projected_keys[i], source_mask
            )
            new_caches += [keys, values]
        logits = self.output_projection(self.decoder_norm(x))[:, 0]
        return logits, [position + 1, *new_caches], ops.mean(weights[:, :, 0, :], axis=1)

    def call(self, inputs, training=False):
        encoder_outputs, source_mask, _ = self.encode(inputs["source"], training=training)
        return self.decode_sequence(
            inputs["target_in"], encoder_outputs, source_mask, training=training
        )

    def recurrent_layers(self):
        return []

    def get_config(self):
        return {
            **super().get_config(),
            "source_vocab_size": self.source_vocab_size,
            "target_vocab_size": self.target_vocab_size,
            "units": self.units,
            "num_layers": self.num_layers,
            "heads": self.heads,
            "ffn_units": self.ffn_units,
            "dropout": self.dropout,
            "positions": self.positions,
            "max_length": self.max_length,
        }
