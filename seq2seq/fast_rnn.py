"""LSTM and GRU layers with a faster path where no GPU is visible: drop-in `keras.layers` ones.

Without a GPU, Keras 3 runs an LSTM or GRU on TensorFlow as a loop that calls the whole cell at
every time step: two small matrix multiplies forward (`x_t @ kernel`, `h @ recurrent_kernel`)
and four backward, each with as many rows as the batch, plus a per-step accumulation of both
kernel gradients. This module computes what cuDNN computes, the same way:

- the input projection `x @ kernel + bias` of the whole sequence in one large matrix multiply;
- a `tf.while_loop` that runs only `h @ recurrent_kernel` and the gates per step;
- a hand-written gradient (`tf.custom_gradient`) whose loop runs only `dz @ recurrent_kernel^T`
  and the gate derivatives per step, and then the kernel and recurrent-kernel gradients as one
  large matrix multiply each over all time steps.

The layers are subclasses of `keras.layers.LSTM` / `keras.layers.GRU` with the same variables,
names, config and class names (so weight paths in `.keras` files are unchanged): models saved
before load, and a model trained on a CPU loads and runs on cuDNN on a GPU and the other way
round. `call` takes the fast path only when the standard layer would take its slow loop: no GPU
visible, `use_cudnn="auto"`, cuDNN-compatible settings (tanh/sigmoid, bias, no unrolling,
`reset_after=True` for a GRU) and no `recurrent_dropout`. Anything else (and every GPU run)
runs Keras's own code. Masks follow Keras's generic loop exactly, for any mask (not only right
padding): a masked step keeps the state; `go_backwards` reverses the whole sequence, as Keras
does; outputs at masked steps repeat the previous output, or are zeros with
`zero_output_for_mask` (set by `Bidirectional`). `tests/seq2seq/test_fast_rnn.py` compares
outputs, states and gradients with the standard layers.
"""

import keras
import tensorflow as tf
from keras import ops

from seq2seq import keras_private


def _time_major(inputs, mask, go_backwards):
    """inputs (batch, time, features) -> (time, batch, features), and the float mask
    (time, batch, 1); both reversed in time for `go_backwards`."""
    x = tf.transpose(inputs, (1, 0, 2))
    if mask is None:
        valid = tf.ones(tf.shape(x)[:2], x.dtype)
    else:
        valid = tf.cast(tf.transpose(mask), x.dtype)
    if go_backwards:
        x, valid = tf.reverse(x, [0]), tf.reverse(valid, [0])
    return x, valid[:, :, None]


def _project(x, kernel, bias):
    """x (time, batch, features) @ kernel + bias as one matrix multiply."""
    steps, batch = tf.shape(x)[0], tf.shape(x)[1]
    flat = tf.matmul(tf.reshape(x, [-1, tf.shape(x)[2]]), kernel) + bias
    return tf.reshape(flat, [steps, batch, -1])  # (time, batch, gates * units)


def _batch_major_outputs(states, valid, zero_output_for_mask):
    """The outputs of Keras's generic loop, from the per-step states (time, batch, units):
    zeros at masked steps with `zero_output_for_mask`, otherwise the previous output (the
    carried state), and zeros before the first unmasked step. Returns (last, outputs)."""
    if zero_output_for_mask:
        outputs = states * valid
    else:
        outputs = states * tf.cast(tf.cumsum(valid, axis=0) > 0, states.dtype)
    outputs = tf.transpose(outputs, (1, 0, 2))  # (batch, time, units)
    return outputs[:, -1], outputs


def _stack_previous(initial, sequence):
    """[initial, sequence[:-1]]: the value before each step (time, batch, units)."""
    return tf.concat([initial[None], sequence[:-1]], axis=0)


def _matmul_all_steps(a, b):
    """sum over time of a[t]^T @ b[t], as one matrix multiply: (time, batch, m), (time,
    batch, n) -> (m, n)."""
    return tf.matmul(
        tf.reshape(a, [-1, tf.shape(a)[2]]), tf.reshape(b, [-1, tf.shape(b)[2]]), transpose_a=True
    )


def _current_scope():
    return tf.get_current_name_scope()


def _in_scope(scope):
    """Runs the decorated gradient in the forward pass's name scope: profiles then count the
    backward loops to the layer (TensorFlow puts them at the top level otherwise)."""

    def decorate(gradient):
        def scoped(*upstream):
            with tf.name_scope(scope + "/" if scope else None):
                return gradient(*upstream)

        return scoped

    return decorate


def _zeros_if_none(gradient, like):
    return tf.zeros_like(like) if gradient is None else gradient


@tf.custom_gradient
def _lstm_recurrence(projected, h0, c0, valid, recurrent_kernel):
    """The LSTM recurrence over the projected inputs (time, batch, 4 * units), gates in Keras's
    order i, f, c, o. Returns (h at every step, final h, final c)."""
    steps = tf.shape(projected)[0]
    arrays = [tf.TensorArray(projected.dtype, size=steps) for _ in range(3)]
    scope = _current_scope()

    def step(t, h, c, hs, cs, gates):
        z = projected[t] + tf.matmul(h, recurrent_kernel)
        i, f, g, o = tf.split(z, 4, axis=-1)
        i, f, g, o = tf.sigmoid(i), tf.sigmoid(f), tf.tanh(g), tf.sigmoid(o)
        new_c = f * c + i * g
        new_h = o * tf.tanh(new_c)
        real = valid[t] > 0  # (batch, 1): a masked step keeps the state
        h, c = tf.where(real, new_h, h), tf.where(real, new_c, c)
        gates = gates.write(t, tf.concat([i, f, g, o], axis=-1))
        return t + 1, h, c, hs.write(t, h), cs.write(t, c), gates

    _, h, c, hs, cs, gates = tf.while_loop(
        lambda t, *_: t < steps, step, (tf.constant(0), h0, c0, *arrays)
    )
    hs, cs, gates = hs.stack(), cs.stack(), gates.stack()

    @_in_scope(scope)
    def gradient(d_hs, d_h, d_c):
        d_hs = _zeros_if_none(d_hs, hs)
        previous_c = _stack_previous(c0, cs)
        transposed_kernel = tf.transpose(recurrent_kernel)

        def back_step(t, dh, dc, dzs):
            m = valid[t]
            dh = dh + d_hs[t]  # the gradient reaching h_t: from the output and from step t + 1
            i, f, g, o = tf.split(gates[t], 4, axis=-1)
            tanh_c = tf.tanh(cs[t])
            dh_real = m * dh
            dc_real = m * dc + dh_real * o * (1 - tanh_c * tanh_c)
            dz = tf.concat(
                [
                    dc_real * g * i * (1 - i),
                    dc_real * previous_c[t] * f * (1 - f),
                    dc_real * i * (1 - g * g),
                    dh_real * tanh_c * o * (1 - o),
                ],
                axis=-1,
            )
            dh = tf.matmul(dz, transposed_kernel) + (1 - m) * dh
            dc = dc_real * f + (1 - m) * dc
            return t - 1, dh, dc, dzs.write(t, dz)

        _, dh0, dc0, dzs = tf.while_loop(
            lambda t, *_: t >= 0,
            back_step,
            (
                steps - 1,
                _zeros_if_none(d_h, h0),
                _zeros_if_none(d_c, c0),
                tf.TensorArray(projected.dtype, size=steps),
            ),
        )
        dzs = dzs.stack()  # (time, batch, 4 * units): the gradient of the projected inputs
        d_kernel = _matmul_all_steps(_stack_previous(h0, hs), dzs)
        return dzs, dh0, dc0, tf.zeros_like(valid), d_kernel

    return (hs, h, c), gradient


@tf.custom_gradient
def _gru_recurrence(projected, h0, valid, recurrent_kernel, recurrent_bias):
    """The GRU recurrence (`reset_after=True`) over the projected inputs (time, batch,
    3 * units), gates in Keras's order z, r, h. Returns (h at every step, final h)."""
    steps = tf.shape(projected)[0]
    arrays = [tf.TensorArray(projected.dtype, size=steps) for _ in range(2)]
    scope = _current_scope()

    def step(t, h, hs, saved):
        x_z, x_r, x_h = tf.split(projected[t], 3, axis=-1)
        r_z, r_r, r_h = tf.split(tf.matmul(h, recurrent_kernel) + recurrent_bias, 3, axis=-1)
        z, r = tf.sigmoid(x_z + r_z), tf.sigmoid(x_r + r_r)
        n = tf.tanh(x_h + r * r_h)
        new_h = z * h + (1 - z) * n
        h = tf.where(valid[t] > 0, new_h, h)  # a masked step keeps the state
        return t + 1, h, hs.write(t, h), saved.write(t, tf.concat([z, r, n, r_h], axis=-1))

    _, h, hs, saved = tf.while_loop(lambda t, *_: t < steps, step, (tf.constant(0), h0, *arrays))
    hs, saved = hs.stack(), saved.stack()

    @_in_scope(scope)
    def gradient(d_hs, d_h):
        d_hs = _zeros_if_none(d_hs, hs)
        previous_h = _stack_previous(h0, hs)
        transposed_kernel = tf.transpose(recurrent_kernel)

        def back_step(t, dh, d_inputs, d_recurrent):
            m = valid[t]
            dh = dh + d_hs[t]
            z, r, n, r_h = tf.split(saved[t], 4, axis=-1)
            dh_real = m * dh
            d_n = dh_real * (1 - z) * (1 - n * n)  # through tanh: the candidate's pre-activation
            d_z = dh_real * (previous_h[t] - n) * z * (1 - z)
            d_r = d_n * r_h * r * (1 - r)
            d_recurrent_t = tf.concat([d_z, d_r, d_n * r], axis=-1)
            dh = tf.matmul(d_recurrent_t, transposed_kernel) + dh_real * z + (1 - m) * dh
            d_inputs = d_inputs.write(t, tf.concat([d_z, d_r, d_n], axis=-1))
            return t - 1, dh, d_inputs, d_recurrent.write(t, d_recurrent_t)

        _, dh0, d_inputs, d_recurrent = tf.while_loop(
            lambda t, *_: t >= 0,
            back_step,
            (
                steps - 1,
                _zeros_if_none(d_h, h0),
                tf.TensorArray(projected.dtype, size=steps),
                tf.TensorArray(projected.dtype, size=steps),
            ),
        )
        d_recurrent = d_recurrent.stack()  # (time, batch, 3 * units)
        d_kernel = _matmul_all_steps(previous_h, d_recurrent)
        d_bias = tf.reduce_sum(d_recurrent, axis=[0, 1])
        return d_inputs.stack(), dh0, tf.zeros_like(valid), d_kernel, d_bias

    return (hs, h), gradient


def lstm_sequence(inputs, initial_state, mask, kernel, recurrent_kernel, bias, **options):
    """An LSTM over inputs (batch, time, features) from `initial_state` [h, c] with the fast
    path's loop; returns `(last_output, outputs, [h, c])` as Keras's backend `rnn`/`lstm` do.
    Options: `go_backwards`, `zero_output_for_mask`."""
    h0, c0 = initial_state
    x, valid = _time_major(inputs, mask, options.get("go_backwards", False))
    hs, h, c = _lstm_recurrence(_project(x, kernel, bias), h0, c0, valid, recurrent_kernel)
    last, outputs = _batch_major_outputs(hs, valid, options.get("zero_output_for_mask", False))
    return last, outputs, [h, c]


def gru_sequence(inputs, initial_state, mask, kernel, recurrent_kernel, bias, **options):
    """A GRU (`reset_after=True`, bias of shape (2, 3 * units)) over inputs (batch, time,
    features) from `initial_state` [h]; returns `(last_output, outputs, [h])`. Options as
    `lstm_sequence`."""
    (h0,) = initial_state
    x, valid = _time_major(inputs, mask, options.get("go_backwards", False))
    projected = _project(x, kernel, bias[0])
    hs, h = _gru_recurrence(projected, h0, valid, recurrent_kernel, bias[1])
    last, outputs = _batch_major_outputs(hs, valid, options.get("zero_output_for_mask", False))
    return last, outputs, [h]


def uses_fast_path(layer) -> bool:
    """Whether `layer` (an LSTM or GRU of this module) takes the fast path when called now:
    where Keras would run its generic step loop, not cuDNN or an explicit choice."""
    gpu_available = keras_private.tf_rnn("_is_gpu_available", "the fast recurrent path")
    cell = layer.cell
    return (
        keras.backend.backend() == "tensorflow"
        and layer.use_cudnn == "auto"
        and not cell.recurrent_dropout
        and cell.use_bias
        and not layer.unroll
        and getattr(cell, "reset_after", True)
        and cell.activation in (keras.activations.tanh, tf.tanh, ops.tanh)
        and cell.recurrent_activation in (keras.activations.sigmoid, tf.sigmoid, ops.sigmoid)
        and not gpu_available()  # looked up at call time: tests can stub it
    )


def _input_dropout(layer, sequences, training):
    """Keras's dropout on the inputs: one mask per sequence, the same at every step."""
    if not (training and layer.dropout):
        return sequences
    dp_mask = ops.expand_dims(layer.cell.get_dropout_mask(sequences[:, 0, :]), axis=1)
    return sequences * dp_mask


def _weights(layer, dtype):
    cell = layer.cell
    return [ops.cast(w, dtype) for w in (cell.kernel, cell.recurrent_kernel, cell.bias)]


def _fast_inner_loop(layer, sequence, sequences, initial_state, mask, training):
    """Keras's `RNN.inner_loop` on the fast path, with `sequence` (`lstm_sequence` or
    `gru_sequence`) in place of the generic step loop."""
    mask = mask[0] if isinstance(mask, list | tuple) else mask
    states = list(initial_state) if isinstance(initial_state, list | tuple) else [initial_state]
    sequences = _input_dropout(layer, sequences, training)
    return sequence(
        sequences,
        states,
        mask,
        *_weights(layer, sequences.dtype),
        go_backwards=layer.go_backwards,
        zero_output_for_mask=layer.zero_output_for_mask,
    )


@keras.saving.register_keras_serializable(package="seq2seq")
class LSTM(keras.layers.LSTM):
    """`keras.layers.LSTM` with the fast CPU path of this module; the same arguments, weights
    and outputs (see the module docstring for when the fast path runs)."""

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not uses_fast_path(self):
            return super().inner_loop(sequences, initial_state, mask, training=training)
        return _fast_inner_loop(self, lstm_sequence, sequences, initial_state, mask, training)


@keras.saving.register_keras_serializable(package="seq2seq")
class GRU(keras.layers.GRU):
    """`keras.layers.GRU` with the fast CPU path of this module; the same arguments, weights
    and outputs (see the module docstring for when the fast path runs)."""

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not uses_fast_path(self):
            return super().inner_loop(sequences, initial_state, mask, training=training)
        return _fast_inner_loop(self, gru_sequence, sequences, initial_state, mask, training)
