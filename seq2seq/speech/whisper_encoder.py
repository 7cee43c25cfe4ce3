"""Whisper's audio encoder as a Keras layer, for pretrained weights under a CTC head.

The architecture is OpenAI Whisper's (`whisper/model.py`, `AudioEncoder`): two 1-D convolutions
over the log-mel (the second with stride 2, so 50 outputs a second), sinusoidal positions, pre-
norm Transformer blocks (keras-hub's `TransformerEncoder`, GELU, epsilon 1e-5) and a final layer
norm. Whisper pads every input to 30 s and attends over all of it; here each utterance keeps its
true length: padded frames are zeroed before each convolution (as an unpadded run would see
zeros there) and masked out of attention, so a batch gives each row what it would give alone.
Inputs longer than 30 s (1,500 positions) are refused: cut long recordings into segments.

The layers split at any block: `front(features, lengths, num_layers)` runs the convolutions and
the first blocks (the frozen part whose outputs are cached), `top(x, lengths, first_layer)` the
rest and the final norm (the part that can be fine-tuned).
"""

import keras
import keras_hub
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="seq2seq")
class WhisperEncoder(keras.layers.Layer):
    """Log-mel (batch, frames, num_mels) -> encodings (batch, ceil(frames / 2), hidden_dim).

    Args:
        hidden_dim: width of the convolutions and Transformer blocks (384 for tiny).
        num_layers: Transformer blocks.
        num_heads: attention heads per block.
        intermediate_dim: width of each block's feed-forward layer.
        num_mels: log-mel bands of the input.
        max_positions: longest output (1,500 positions: 30 s of audio).
        **kwargs: forwarded to `keras.layers.Layer`.

    Call arguments:
        features: float (batch, frames, num_mels), right-padded Whisper log-mel
            (`data_prep.speech.audio.whisper_log_mel`).
        frame_lengths: int (batch,) true frame counts.

    Returns:
        (encodings (batch, ceil(frames / 2), hidden_dim), their lengths (batch,)).
    """

    def __init__(
        self,
        hidden_dim=384,
        num_layers=4,
        num_heads=6,
        intermediate_dim=1536,
        num_mels=80,
        max_positions=1500,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.num_mels = num_mels
        self.max_positions = max_positions
        self.conv_1 = keras.layers.Conv1D(hidden_dim, 3, padding="same", name="conv_1")
        self.conv_2 = keras.layers.Conv1D(hidden_dim, 3, strides=2, padding="valid", name="conv_2")
        self.positions = keras_hub.layers.PositionEmbedding(
            max_positions, trainable=False, name="positions"
        )
        self.blocks = [
            keras_hub.layers.TransformerEncoder(
                intermediate_dim,
                num_heads,
                activation="gelu",  # exact (erf) GELU, as Whisper's
                layer_norm_epsilon=1e-5,
                normalize_first=True,
                name=f"block_{i + 1}",
            )
            for i in range(num_layers)
        ]
        self.layer_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="layer_norm")

    def build(self, input_shape=None):
        self.call(ops.zeros((1, 4, self.num_mels)), ops.array([4], "int32"))
        self.built = True

    @staticmethod
    def output_lengths(frame_lengths):
        """Encodings per utterance of `frame_lengths` log-mel frames: ceil(frames / 2)."""
        return (ops.cast(frame_lengths, "int32") + 1) // 2

    @staticmethod
    def _mask(x, lengths):
        mask = ops.arange(ops.shape(x)[1])[None, :] < lengths[:, None]  # (batch, time)
        return x * ops.cast(mask[..., None], x.dtype), mask

    def front(self, features, frame_lengths, num_layers):
        """Convolutions, positions and the first `num_layers` blocks (with the final norm when
        that is all of them). Returns (x (batch, ceil(frames / 2), hidden_dim), lengths)."""
        frame_lengths = ops.cast(frame_lengths, "int32")
        x, _ = self._mask(features, frame_lengths)
        x, _ = self._mask(ops.gelu(self.conv_1(x), approximate=False), frame_lengths)
        x = ops.pad(x, [[0, 0], [1, 1], [0, 0]])  # Whisper's padding=1 at stride 2
        x = ops.gelu(self.conv_2(x), approximate=False)  # (batch, ceil(frames / 2), hidden)
        lengths = self.output_lengths(frame_lengths)
        x = x + ops.cast(self.positions(x), x.dtype)
        return self._run(x, lengths, 0, num_layers), lengths

    def top(self, x, lengths, first_layer):
        """Blocks from `first_layer` on, then the final norm (nothing when `first_layer` is
        `num_layers`: `front` applied the norm)."""
        if first_layer >= self.num_layers:
            return x
        return self._run(x, ops.cast(lengths, "int32"), first_layer, self.num_layers)

    def _run(self, x, lengths, start, stop):
        _, mask = self._mask(x, lengths)
        for block in self.blocks[start:stop]:
            x = block(x, padding_mask=mask)
        x = self.layer_norm(x) if stop == self.num_layers else x
        # Padded positions zeroed, as cached outputs are padded: layers above that look at
        # neighbours (the head's convolutions) then see the same at a row's end either way.
        return self._mask(x, lengths)[0]

    def call(self, features, frame_lengths):
        return self.front(features, frame_lengths, self.num_layers)

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_dim": self.hidden_dim,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "num_mels": self.num_mels,
            "max_positions": self.max_positions,
        }

    def set_ctranslate2_weights(self, weights: dict):
        """Loads an encoder's weights as CTranslate2 stores Whisper (`encoder/...` arrays in
        PyTorch's layouts; `seq2seq.speech.pretrained.read_ctranslate2`)."""
        if not self.built:
            self.build()

        def get(name):
            return np.asarray(weights[f"encoder/{name}"], np.float32)

        def dense(layer, prefix):
            layer.kernel.assign(get(f"{prefix}/weight").T)  # PyTorch's (out, in) -> (in, out)
            layer.bias.assign(get(f"{prefix}/bias"))

        heads, head_dim = self.num_heads, self.hidden_dim // self.num_heads
        for i, conv in enumerate((self.conv_1, self.conv_2)):
            conv.kernel.assign(get(f"conv{i + 1}/weight").transpose(2, 1, 0))  # (k, in, out)
            conv.bias.assign(get(f"conv{i + 1}/bias"))
        self.positions.position_embeddings.assign(get("position_encodings/encodings"))
        for i, block in enumerate(self.blocks):
            prefix = f"layer_{i}"
            attention = block._self_attention_layer
            qkv = get(f"{prefix}/self_attention/linear_0/weight")  # (3 * hidden, hidden)
            qkv_bias = get(f"{prefix}/self_attention/linear_0/bias")
            for j, dense_layer in enumerate(
                (attention._query_dense, attention._key_dense, attention._value_dense)
            ):
                part = slice(j * self.hidden_dim, (j + 1) * self.hidden_dim)
                dense_layer.kernel.assign(qkv[part].T.reshape(self.hidden_dim, heads, head_dim))
                dense_layer.bias.assign(qkv_bias[part].reshape(heads, head_dim))
            out = get(f"{prefix}/self_attention/linear_1/weight").T  # (hidden, hidden)
            attention._output_dense.kernel.assign(out.reshape(heads, head_dim, self.hidden_dim))
            attention._output_dense.bias.assign(get(f"{prefix}/self_attention/linear_1/bias"))
            for norm, name in (
                (block._self_attention_layer_norm, "self_attention/layer_norm"),
                (block._feedforward_layer_norm, "ffn/layer_norm"),
            ):
                norm.gamma.assign(get(f"{prefix}/{name}/gamma"))
                norm.beta.assign(get(f"{prefix}/{name}/beta"))
            dense(block._feedforward_intermediate_dense, f"{prefix}/ffn/linear_0")
            dense(block._feedforward_output_dense, f"{prefix}/ffn/linear_1")
        self.layer_norm.gamma.assign(get("layer_norm/gamma"))
        self.layer_norm.beta.assign(get("layer_norm/beta"))
