"""Recurrent layer factory and the cuDNN eligibility check shared by all models.

On a GPU, Keras runs an LSTM or GRU with the fused cuDNN kernel only when the layer runs
over a whole sequence with tanh/sigmoid activations, a bias, no `recurrent_dropout`, no
unrolling (and `reset_after=True` for a GRU), and its mask is right-padded. Anything else
silently takes the generic loop, several times slower.

Without a GPU, the factory's LSTM and GRU layers (`seq2seq.fast_rnn`, subclasses of Keras's
with the same weights) run a loop with the input projection taken out of it, several times
fewer small matrix multiplies than Keras's own loop; on a GPU they are Keras's layers.
"""

import keras

from seq2seq import fast_rnn, keras_private

CELLS = ("lstm", "gru", "rnn")


def recurrent_layer(cell: str, units: int, name: str, **kwargs):
    """An `LSTM` or `GRU` layer with cuDNN-eligible settings (`seq2seq.fast_rnn`'s: Keras's
    layers with a faster loop where no GPU is visible), or a `SimpleRNN` (a tanh RNN, no gates
    and no cuDNN kernel: the baseline of the architecture comparison); kwargs go to the
    layer."""
    if cell == "lstm":
        return fast_rnn.LSTM(units, name=name, **kwargs)
    if cell == "gru":
        return fast_rnn.GRU(units, name=name, **kwargs)
    if cell == "rnn":
        return keras.layers.SimpleRNN(units, name=name, **kwargs)
    raise ValueError(f"unknown cell {cell!r}; expected one of {CELLS}")


def bidirectional(layer, name: str):
    """`keras.layers.Bidirectional(layer)`, built outside Keras's load-time object sharing:
    its constructor serializes `layer` to copy it, which during `load_model` can hand back a
    stale object for a reused `id()` (see `keras_private.no_object_sharing`)."""
    with keras_private.no_object_sharing("seq2seq.recurrent.bidirectional"):
        return keras.layers.Bidirectional(layer, name=name)


def recurrent_rules(model) -> list:
    """The config value rules shared by the recurrent models' `model` sections (see
    `seq2seq.config.validate`)."""
    return [
        ("units", model.units >= 1, "a positive number"),
        ("num_layers", model.num_layers >= 1, "at least 1"),
        ("dropout", 0 <= model.dropout < 1, "0 <= dropout < 1"),
        ("cell", model.cell in CELLS, f"one of {CELLS}"),
    ]


def cell_state_size(cell: str) -> int:
    """Number of state tensors of a cell type: LSTM has (h, c), GRU and RNN have h."""
    return 2 if cell == "lstm" else 1


def cudnn_problems(layer) -> list[str]:
    """Reasons why `layer` (LSTM, GRU or Bidirectional of one) cannot use cuDNN; empty if it
    can. Uses Keras's own argument check from its TensorFlow backend."""
    what = "the cuDNN eligibility check"
    if isinstance(layer, keras.layers.Bidirectional):
        return cudnn_problems(layer.forward_layer) + cudnn_problems(layer.backward_layer)
    problems = []
    cell = layer.cell
    if isinstance(layer, keras.layers.LSTM):
        ok = keras_private.tf_rnn("_do_lstm_arguments_support_cudnn", what)(
            cell.activation, cell.recurrent_activation, layer.unroll, cell.use_bias
        )
    elif isinstance(layer, keras.layers.GRU):
        ok = keras_private.tf_rnn("_do_gru_arguments_support_cudnn", what)(
            cell.activation,
            cell.recurrent_activation,
            layer.unroll,
            cell.use_bias,
            cell.reset_after,
        )
    else:
        return [f"{layer.name}: {type(layer).__name__} has no cuDNN kernel"]
    if not ok:
        problems.append(f"{layer.name}: activation/bias/unroll/reset_after not cuDNN-compatible")
    if cell.recurrent_dropout:
        problems.append(f"{layer.name}: recurrent_dropout={cell.recurrent_dropout}")
    if layer.use_cudnn not in ("auto", True):
        problems.append(f"{layer.name}: use_cudnn={layer.use_cudnn}")
    return problems
