"""Encoder-decoder translation model with Bahdanau attention.

Two decoder layouts share all weights' roles:

- `attention="output"` (default, fast): the decoder RNN runs over the whole target sequence in
  one call, then attends from each of its outputs to the encoder outputs (Luong-style placement
  with Bahdanau scores). Every recurrent layer stays cuDNN-eligible on a GPU.
- `attention="input_feeding"` (classic RNNsearch): at each step the context computed from the
  previous decoder state is fed into the decoder input, so training must loop step by step in
  a scan; slower, never cuDNN.

Both decode one step at a time with the same `decode_step`, with the encoder outputs and their
attention projection computed once (see `seq2seq.translation.decoding`).
"""

import keras
from keras import ops

from seq2seq.recurrent import bidirectional, cell_state_size, recurrent_layer
from seq2seq.translation.attention import BahdanauAttention

ATTENTION_LAYOUTS = ("output", "input_feeding")


def _embedding_init():
    return keras.initializers.RandomNormal(stddev=1.0)


@keras.saving.register_keras_serializable(package="seq2seq")
class Seq2SeqTranslator(keras.Model):
    """Bidirectional-RNN encoder, RNN decoder initialized from it, Bahdanau attention.

    Args:
        source_vocab_size: size of the source subword vocabulary (id 0 is padding).
        target_vocab_size: size of the target subword vocabulary (id 0 is padding).
        embedding_dim: size of both embeddings.
        units: units per direction of each encoder layer, and of the decoder.
        num_layers: number of stacked bidirectional encoder layers.
        dropout: dropout on embeddings, between encoder layers and before the output layer.
        cell: `"lstm"` or `"gru"`.
        attention: `"output"` (fast, cuDNN-eligible) or `"input_feeding"` (RNNsearch).
        attention_units: hidden size of the attention score (defaults to `units`).
        **kwargs: forwarded to `keras.Model`.

    Call arguments:
        inputs: dict with `"source"` int ids (batch, src_len) and `"target_in"` int ids
            (batch, tgt_len) starting with BOS; both right-padded with 0.
        training: whether dropout is active.

    Returns:
        logits (batch, tgt_len, target_vocab_size) for the next target token at each position.
    """

    def __init__(
        self,
        source_vocab_size,
        target_vocab_size,
        embedding_dim=256,
        units=256,
        num_layers=1,
        dropout=0.2,
        cell="lstm",
        attention="output",
        attention_units=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if attention not in ATTENTION_LAYOUTS:
            raise ValueError(f"unknown attention {attention!r}; expected {ATTENTION_LAYOUTS}")
        self.source_vocab_size = source_vocab_size
        self.target_vocab_size = target_vocab_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.num_layers = num_layers
        self.dropout = dropout
        self.cell = cell
        self.attention = attention
        self.attention_units = attention_units or units

        # Unit-variance embeddings: with Keras's default uniform(-0.05, 0.05) the LSTM gates
        # start near 0.02 and, with a large vocabulary, training sits on a unigram plateau.
        self.source_embedding = keras.layers.Embedding(
            source_vocab_size,
            embedding_dim,
            embeddings_initializer=_embedding_init(),
            name="source_embedding",
        )
        self.encoder_layers = [
            bidirectional(
                recurrent_layer(
                    cell,
                    units,
                    name=f"encoder_{cell}_{i + 1}",
                    return_sequences=True,
                    return_state=i == num_layers - 1,
                ),
                name=f"encoder_bi{cell}_{i + 1}",
            )
            for i in range(num_layers)
        ]
        # One dense "bridge" per state tensor: (fwd, bwd) final encoder state -> decoder state.
        self.bridges = [
            keras.layers.Dense(units, activation="tanh", name=f"bridge_{i + 1}")
            for i in range(cell_state_size(cell))
        ]
        self.target_embedding = keras.layers.Embedding(
            target_vocab_size,
            embedding_dim,
            embeddings_initializer=_embedding_init(),
            name="target_embedding",
        )
        self.decoder_rnn = recurrent_layer(
            cell, units, name=f"decoder_{cell}", return_sequences=True, return_state=True
        )
        self.bahdanau_attention = BahdanauAttention(self.attention_units, name="attention")
        self.attention_projection = keras.layers.Dense(
            units, activation="tanh", name="attention_projection"
        )
        # Fan-in scaled init: Glorot also divides by the fan-out (the vocabulary, thousands),
        # which starts the logits almost constant and stalls training on a unigram plateau.
        # float32 logits under mixed precision too, for the softmax and the loss.
        self.output_projection = keras.layers.Dense(
            target_vocab_size,
            kernel_initializer="lecun_uniform",
            dtype="float32",
            name="output_projection",
        )
        self.dropout_layer = keras.layers.Dropout(dropout, name="dropout")

    def build(self, input_shape=None):
        # Run every path once on a tiny batch so that all weights exist (also on reload).
        source = ops.ones((1, 2), dtype="int32")
        encoded = self.encode(source)
        self.decode_sequence(ops.ones((1, 2), dtype="int32"), *encoded)
        self.decode_step(ops.ones((1,), dtype="int32"), encoded[2], encoded[0], encoded[1])
        self.built = True

    def encode(self, source, training=False):
        """source (batch, src_len) -> (outputs (batch, src_len, 2*units), mask, decoder state)."""
        mask = ops.not_equal(source, 0)
        x = self.dropout_layer(self.source_embedding(source), training=training)
        for layer in self.encoder_layers[:-1]:
            x = self.dropout_layer(layer(x, mask=mask, training=training), training=training)
        outputs, *states = self.encoder_layers[-1](x, mask=mask, training=training)
        half = len(states) // 2  # forward states, then backward states
        state = [
            bridge(ops.concatenate([fwd, bwd], axis=-1))
            for bridge, fwd, bwd in zip(self.bridges, states[:half], states[half:], strict=True)
        ]
        return outputs, mask, state

    def decode_sequence(self, target_in, encoder_outputs, source_mask, state, training=False):
        """Teacher-forced decoding of a whole target prefix; returns logits."""
        y = self.dropout_layer(self.target_embedding(target_in), training=training)
        if self.attention == "output":
            outputs, *_ = self.decoder_rnn(
                y, initial_state=state, mask=ops.not_equal(target_in, 0), training=training
            )
            context, _ = self.bahdanau_attention(outputs, encoder_outputs, source_mask)
            hidden = ops.concatenate([outputs, context], axis=-1)
        else:
            hidden = self._input_feeding_scan(y, encoder_outputs, source_mask, state)
        hidden = self.dropout_layer(self.attention_projection(hidden), training=training)
        return self.output_projection(hidden)

    def _input_feeding_scan(self, y, encoder_outputs, source_mask, state):
        projected_keys = self.bahdanau_attention.project_keys(encoder_outputs)

        def step(carry, y_t):
            state = carry[:-1]
            context, _ = self.bahdanau_attention(
                state[0], encoder_outputs, source_mask, projected_keys
            )
            h, new_state = self.decoder_rnn.cell(ops.concatenate([y_t, context], -1), state)
            carry = [*new_state, ops.concatenate([h, context], axis=-1)]
            return carry, carry  # keras' TF scan wants outputs shaped like the carry

        batch = ops.shape(y)[0]
        hidden = ops.zeros((batch, self.units + encoder_outputs.shape[-1]), dtype=y.dtype)
        _, outputs = ops.scan(step, [*state, hidden], ops.transpose(y, (1, 0, 2)))
        return ops.transpose(outputs[-1], (1, 0, 2))  # (batch, tgt_len, 3*units)

    def precompute(self, encoder_outputs):
        """What the decoding steps reuse: the attention projection of the encoder outputs."""
        return self.bahdanau_attention.project_keys(encoder_outputs)

    def decode_step(self, previous_ids, state, encoder_outputs, source_mask, projected_keys=None):
        """One decoder step: previous_ids (batch,) -> (logits (batch, vocab), state, weights)."""
        y = self.target_embedding(previous_ids)
        attend = self.bahdanau_attention
        if self.attention == "output":
            h, state = self.decoder_rnn.cell(y, state)
            context, weights = attend(h, encoder_outputs, source_mask, projected_keys)
        else:
            context, weights = attend(state[0], encoder_outputs, source_mask, projected_keys)
            h, state = self.decoder_rnn.cell(ops.concatenate([y, context], axis=-1), state)
        hidden = self.attention_projection(ops.concatenate([h, context], axis=-1))
        return self.output_projection(hidden), list(state), weights

    def call(self, inputs, training=False):
        encoder_outputs, source_mask, state = self.encode(inputs["source"], training=training)
        return self.decode_sequence(
            inputs["target_in"], encoder_outputs, source_mask, state, training=training
        )

    def recurrent_layers(self):
        """The RNN layers that run over whole sequences (the ones cuDNN can serve)."""
        layers = list(self.encoder_layers)
        return layers + [self.decoder_rnn] if self.attention == "output" else layers

    def get_config(self):
        return {
            **super().get_config(),
            "source_vocab_size": self.source_vocab_size,
            "target_vocab_size": self.target_vocab_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "cell": self.cell,
            "attention": self.attention,
            "attention_units": self.attention_units,
        }
