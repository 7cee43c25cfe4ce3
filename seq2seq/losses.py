"""Losses and metrics computed explicitly over non-padding positions.

Keras would otherwise turn a propagated mask into sample weights and re-weight the loss, so
the models here emit no mask and these functions mask by the padding id themselves.
"""

import keras
import tensorflow as tf
from keras import ops


def per_replica(loss):
    """Divides a scalar loss by the number of replicas under a `tf.distribute` strategy.

    Keras does this for the losses it reduces, but passes a scalar loss through as it is; the
    replicas' gradients are then summed, which doubles them on two replicas, and the logged
    loss (which Keras multiplies back) is doubled too."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss / replicas if replicas > 1 else loss


@keras.saving.register_keras_serializable(package="seq2seq")
class MaskedSparseCrossEntropy(keras.losses.Loss):
    """Token-level cross entropy averaged over the non-padding targets of the batch.

    Args:
        label_smoothing: mass spread uniformly over the vocabulary (0 disables smoothing).
        pad_id: target id that is padding and contributes nothing.

    Call arguments:
        y_true: int ids (batch, tgt_len).
        y_pred: logits (batch, tgt_len, vocab).

    Returns:
        sum over real tokens of the per-token loss / number of real tokens (a scalar).
    """

    def __init__(self, label_smoothing=0.0, pad_id=0, name="masked_cross_entropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = label_smoothing
        self.pad_id = pad_id

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        nll = -ops.take_along_axis(log_probs, ops.expand_dims(y_true, -1), axis=-1)[..., 0]
        if self.label_smoothing:
            uniform = -ops.mean(log_probs, axis=-1)
            nll = (1.0 - self.label_smoothing) * nll + self.label_smoothing * uniform
        mask = ops.cast(ops.not_equal(y_true, self.pad_id), "float32")
        return per_replica(ops.sum(nll * mask) / ops.maximum(ops.sum(mask), 1.0))

    def get_config(self):
        return {
            **super().get_config(),
            "label_smoothing": self.label_smoothing,
            "pad_id": self.pad_id,
        }


@keras.saving.register_keras_serializable(package="seq2seq")
def masked_accuracy(y_true, y_pred, pad_id=0):
    """Fraction of non-padding target tokens predicted exactly (argmax)."""
    y_true = ops.cast(y_true, "int32")
    hits = ops.cast(ops.equal(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), y_true), "float32")
    mask = ops.cast(ops.not_equal(y_true, pad_id), "float32")
    return ops.sum(hits * mask) / ops.maximum(ops.sum(mask), 1.0)


def ctc_loss(labels, logits, logit_lengths, blank_id=0):
    """Mean CTC loss per utterance (`keras.ops.ctc_loss`) with true lengths.

    Args:
        labels: int (batch, label_len), right-padded with the blank id, which is never a real
            label, so each label's true length is its count of non-blank ids.
        logits: (batch, time, vocab) unnormalized scores, blank at `blank_id`.
        logit_lengths: int (batch,) true output lengths (after subsampling); later frames are
            padding and never read.

    Returns:
        a scalar: the negative log-likelihood of each label, averaged over the batch.
    """
    labels = ops.cast(labels, "int32")
    label_lengths = ops.sum(ops.cast(ops.not_equal(labels, blank_id), "int32"), axis=-1)
    losses = ops.ctc_loss(
        labels, ops.cast(logits, "float32"), label_lengths, logit_lengths, mask_index=blank_id
    )
    return ops.mean(losses)
