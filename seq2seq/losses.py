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
        # TensorFlow's fused softmax cross-entropy kernels: picking log-probabilities with
        # take_along_axis has a scatter for gradient that took 14% of a training step
        # (benchmarks/op_profile.py). Smoothing: the target is (1 - e) one-hot + e / vocab, the
        # same as (1 - e) * nll + e * mean over the vocabulary of -log p.
        y_true = tf.cast(y_true, tf.int32)
        logits = tf.cast(y_pred, tf.float32)
        if self.label_smoothing:
            e, vocab = self.label_smoothing, tf.shape(logits)[-1]
            uniform = e / tf.cast(vocab, tf.float32)
            targets = tf.one_hot(y_true, vocab, on_value=1.0 - e + uniform, off_value=uniform)
            nll = tf.nn.softmax_cross_entropy_with_logits(targets, logits)
        else:
            nll = tf.nn.sparse_softmax_cross_entropy_with_logits(y_true, logits)
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
    """Fraction of non-padding target tokens predicted exactly (argmax).

    TensorFlow's own argmax: `keras.ops.argmax` first rewrites every -0.0 of a float input
    (a flush-to-zero fix for JAX), four more passes over the (batch, length, vocab) logits that
    made this metric 38 ms instead of 6.5 ms on a 64 x 38 x 8,000 batch, about 5% of a
    `bible_small` training step on 2 cores. A tie between -0.0 and +0.0 logits does not matter
    to an accuracy."""
    y_true = tf.cast(y_true, tf.int32)
    predicted = tf.argmax(y_pred, axis=-1, output_type=tf.int32)
    hits = tf.cast(tf.equal(predicted, y_true), tf.float32)
    mask = tf.cast(tf.not_equal(y_true, pad_id), tf.float32)
    return tf.reduce_sum(hits * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


def ctc_loss(labels, logits, logit_lengths, blank_id=0):
    """Mean CTC loss per utterance (`tf.nn.ctc_loss`) with true lengths.

    The labels go in as a SparseTensor, which selects TensorFlow's fused CTC kernel: with
    dense labels (what `keras.ops.ctc_loss` passes) TensorFlow runs a CTC written in TF ops,
    measured 19x slower for a loss and its gradient on CPU (`benchmarks/op_profile.py` showed it
    as 3/4 of a small model's training step).

    Args:
        labels: int (batch, label_len), right-padded with the blank id, which is never a real
            label, so each label's true length is its count of non-blank ids.
        logits: (batch, time, vocab) unnormalized scores, blank at `blank_id`.
        logit_lengths: int (batch,) true output lengths (after subsampling); later frames are
            padding and never read.

    Returns:
        a scalar: the negative log-likelihood of each label, averaged over the batch (inf for
        a label that cannot fit its frames; the input pipeline drops those).
    """
    labels = tf.cast(labels, tf.int32)
    positions = tf.where(tf.not_equal(labels, blank_id))
    sparse = tf.SparseTensor(
        positions, tf.gather_nd(labels, positions), tf.shape(labels, out_type=tf.int64)
    )
    losses = tf.nn.ctc_loss(
        sparse,
        tf.cast(logits, tf.float32),
        label_length=None,
        logit_length=tf.cast(logit_lengths, tf.int32),
        logits_time_major=False,
        blank_index=blank_id,
    )
    return tf.reduce_mean(losses)
