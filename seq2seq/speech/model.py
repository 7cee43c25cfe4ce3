"""CTC speech recognition model: convolutional subsampling, stacked bidirectional RNN, logits.

Frames are subsampled in time by strided 1-D convolutions (2x each), which shortens the
sequence the RNN runs over (the expensive part) and gives about 25 outputs a second at a
10 ms hop with `subsampling=4`. Every recurrent layer runs over the whole sequence with a
right-padded mask, so it stays cuDNN-eligible on a GPU. The CTC loss (`seq2seq.losses`) uses
each utterance's true output length after subsampling, and the true label length.
"""

import keras
from keras import ops

from data_prep.transcripts import VOCAB_SIZE
from seq2seq.losses import ctc_loss, per_replica
from seq2seq.recurrent import bidirectional, recurrent_layer

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
        **kwargs: forwarded to `keras.Model`.

    Call arguments:
        inputs: dict with `"features"` float (batch, frames, feature_size), right-padded, and
            `"feature_lengths"` int (batch,) true frame counts.
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
        self.call(
            {"features": ops.zeros((1, 8, self.feature_size)), "feature_lengths": ops.ones(1)}
        )
        self.built = True

    def output_lengths(self, feature_lengths):
        """True output lengths (batch,) after subsampling."""
        return subsampled_length(ops.cast(feature_lengths, "int32"), self.subsampling)

    def call(self, inputs, training=False):
        x = inputs["features"]
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
        }
