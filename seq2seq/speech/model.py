"""CTC speech recognition model: convolutional subsampling, stacked bidirectional RNN, logits.

Frames are subsampled in time by strided 1-D convolutions (2x each), which shortens the
sequence the RNN runs over (the expensive part) and gives about 25 outputs a second at a
10 ms hop with `subsampling=4`. Every recurrent layer runs over the whole sequence with a
right-padded mask, so it stays cuDNN-eligible on a GPU. The CTC loss (`seq2seq.losses`) uses
each utterance's true output length after subsampling, and the true label length.

With `encoder` set, a pretrained speech encoder (`seq2seq.speech.pretrained`, e.g. Whisper
tiny.en) sits under the convolutions: `front` runs its frozen part on log-mel features, and
the model's input is what `front` returns (cached once for training, computed on the fly when
transcribing); the encoder's top `encoder_trainable_layers` blocks run inside `call` and train
with the head.
"""

import keras
from keras import ops

from data_prep.speech.transcripts import VOCAB_SIZE
from seq2seq.losses import ctc_loss, per_replica
from seq2seq.recurrent import bidirectional, recurrent_layer
from seq2seq.speech.pretrained import build_encoder, source

SUBSAMPLING = (1, 2, 4, 8)


def subsampled_length(frames, subsampling: int):
    """Output length for `frames` input frames (int or int tensor): each stride-2 'same'
    convolution maps n frames to ceil(n / 2)."""
    for _ in range(subsampling.bit_length() - 1):
        frames = (frames + 1) // 2
    return frames


@keras.saving.register_keras_serializable(package="seq2seq")
class CTCSpeechModel(keras.Model):
    """Features -> per-frame character logits, with the CTC blank at index 0.

    Args:
        feature_size: size of each input feature frame (e.g. 80 mel bands).
        vocab_size: output classes including the blank at index 0.
        subsampling: time reduction by strided convolutions: 1, 2, 4 or 8.
        conv_filters: channels of the subsampling convolutions.
        units: units per direction of each bidirectional layer.
        num_layers: stacked bidirectional layers.
        dropout: dropout between layers and before the output layer.
        cell: `"lstm"` or `"gru"`.
        encoder: a pretrained encoder's name (`seq2seq.speech.pretrained.SOURCES`) or None.
        encoder_trainable_layers: the encoder's top blocks that train with the head (0: the
            encoder is frozen).
        **kwargs: forwarded to `keras.Model`.

    Call arguments:
        inputs: dict with `"features"` float (batch, frames, input_size), right-padded, and
            `"feature_lengths"` int (batch,) true frame counts: the features themselves, or
            with an encoder what `front` makes of them.
        training: whether dropout is active.

    Returns:
        logits (batch, ceil(frames / subsampling), vocab_size); positions past
        `output_lengths(feature_lengths)` are padding.
    """

    def __init__(
        self,
        feature_size,
        vocab_size=VOCAB_SIZE,
        subsampling=4,
        conv_filters=256,
        units=256,
        num_layers=3,
        dropout=0.2,
        cell="lstm",
        encoder=None,
        encoder_trainable_layers=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if subsampling not in SUBSAMPLING:
            raise ValueError(f"subsampling {subsampling}: expected one of {SUBSAMPLING}")
        self.feature_size = feature_size
        self.vocab_size = vocab_size
        self.subsampling = subsampling
        self.conv_filters = conv_filters
        self.units = units
        self.num_layers = num_layers
        self.dropout = dropout
        self.cell = cell
        self.encoder_name = encoder
        self.encoder_trainable_layers = encoder_trainable_layers
        self.encoder = None
        self.input_size = feature_size
        if encoder:
            self.encoder = build_encoder(encoder)
            layers = source(encoder).architecture["num_layers"]
            if not 0 <= encoder_trainable_layers <= layers:
                raise ValueError(f"encoder_trainable_layers {encoder_trainable_layers}: 0-{layers}")
            self.encoder_front_layers = layers - encoder_trainable_layers
            frozen = [self.encoder.conv_1, self.encoder.conv_2, self.encoder.positions]
            frozen += self.encoder.blocks[: self.encoder_front_layers]
            for layer in frozen + (
                [self.encoder.layer_norm] if not encoder_trainable_layers else []
            ):
                layer.trainable = False
            self.input_size = self.encoder.hidden_dim
        self.convolutions = [
            keras.layers.Conv1D(
                conv_filters, 3, strides=2, padding="same", activation="relu", name=f"conv_{i + 1}"
            )
            for i in range(subsampling.bit_length() - 1)
        ]
        self.recurrent = [
            bidirectional(
                recurrent_layer(cell, units, name=f"{cell}_{i + 1}", return_sequences=True),
                name=f"bi{cell}_{i + 1}",
            )
            for i in range(num_layers)
        ]
        self.dropout_layer = keras.layers.Dropout(dropout, name="dropout")
        # float32 logits under mixed precision too: the CTC loss needs the range.
        self.output_projection = keras.layers.Dense(vocab_size, dtype="float32", name="logits")

    def build(self, input_shape=None):
        # Run the network once on a tiny batch so that all weights exist (also on reload).
        x, lengths = self.front(ops.zeros((1, 8, self.feature_size)), ops.ones(1, "int32") * 8)
        self.call({"features": x, "feature_lengths": lengths})
        self.built = True

    def front(self, features, feature_lengths):
        """Features (batch, frames, feature_size) -> the model's inputs and their lengths: the
        frozen part of the encoder, or the features unchanged without one."""
        if self.encoder is None:
            return features, ops.cast(feature_lengths, "int32")
        return self.encoder.front(features, feature_lengths, self.encoder_front_layers)

    def output_lengths(self, feature_lengths):
        """True output lengths (batch,) after subsampling."""
        return subsampled_length(ops.cast(feature_lengths, "int32"), self.subsampling)

    def call(self, inputs, training=False):
        x = inputs["features"]
        if self.encoder is not None:
            x = self.encoder.top(x, inputs["feature_lengths"], self.encoder_front_layers)
        # Time padded to a multiple of the subsampling: every strided convolution then sees an
        # even length, so Keras's "same" padding puts nothing on the left, and an utterance's
        # outputs do not depend on how long its batch's padding is.
        x = ops.pad(x, [[0, 0], [0, -ops.shape(x)[1] % self.subsampling], [0, 0]])
        for conv in self.convolutions:
            x = conv(x)  # (batch, ceil(frames / 2), conv_filters)
        lengths = self.output_lengths(inputs["feature_lengths"])
        mask = ops.arange(ops.shape(x)[1])[None, :] < lengths[:, None]  # right padding
        for layer in self.recurrent:
            x = self.dropout_layer(x, training=training)
            x = layer(x, mask=mask, training=training)  # (batch, time, 2 * units)
        return self.output_projection(self.dropout_layer(x, training=training))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """CTC loss with the true output lengths of `x` and the labels `y` (padded with 0)."""
        loss = per_replica(ctc_loss(y, y_pred, self.output_lengths(x["feature_lengths"])))
        return loss + ops.sum(self.losses) if self.losses else loss

    def recurrent_layers(self):
        """The RNN layers that run over whole sequences (the ones cuDNN can serve)."""
        return list(self.recurrent)

    def get_config(self):
        return {
            **super().get_config(),
            "feature_size": self.feature_size,
            "vocab_size": self.vocab_size,
            "subsampling": self.subsampling,
            "conv_filters": self.conv_filters,
            "units": self.units,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "cell": self.cell,
            "encoder": self.encoder_name,
            "encoder_trainable_layers": self.encoder_trainable_layers,
        }
