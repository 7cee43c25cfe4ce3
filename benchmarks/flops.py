"""Analytic floating-point operations of a training step, and the machine's matmul rate.

Counting rules (a multiply-add is 2 FLOPs; only matrix products are counted: embedding
lookups are free, and activations, softmax, masking and the optimizer are left out, a few
percent):

- recurrent layer, per time step and direction, forward: `2 * (inputs + units) * gates *
  units`, with 4 gates for an LSTM, 3 for a GRU, 1 for a simple RNN;
- dense layer, per row: `2 * inputs * outputs`;
- additive attention, per (target position, source position) pair: `2 * attention_units`
  for the score (`v^T tanh(q + k)`) and `2 * key_dim` for the weighted sum of the values,
  plus the query and key projections as dense layers;
- 1-D convolution, per output frame: `2 * kernel * in_channels * out_channels`;
- training = forward + backward = 3 x forward (the backward pass computes the gradients of
  both the inputs and the weights of every product).

Only real tokens and frames count (padding is not useful work), so the achieved rate is
`useful FLOPs / step time`, comparable across implementations that pad differently.
"""

import time

GATES = {"lstm": 4, "gru": 3, "rnn": 1}
TRAINING = 3  # forward + backward


def recurrent(inputs: int, units: int, cell: str = "lstm") -> int:
    """Forward FLOPs of one recurrent step in one direction."""
    return 2 * (inputs + units) * GATES[cell] * units


def translation_training_flops(source_lengths, target_lengths, model) -> int:
    """Training FLOPs of a batch of sentence pairs for `seq2seq.translation.model`'s model with
    `attention: output`.

    Per sentence with S source and T target tokens, forward:
      encoder: S * 2 directions * recurrent(in, U), in = E for layer 1 and 2U after;
      bridges: one per state tensor, 2 * 2U * U each;
      decoder: T * recurrent(E, U);
      attention: key projection S * 2 * 2U * A, query projection T * 2 * U * A,
                 scores and weighted sum T * S * (2 * A + 2 * 2U);
      attention projection: T * 2 * 3U * U;  output layer: T * 2 * U * V.

    Args:
        source_lengths, target_lengths: real tokens of each sentence (EOS/BOS included).
        model: the `model` section of a translation config plus `target_vocab_size`, as any
            object with `embedding_dim`, `units`, `num_layers`, `cell`, `attention_units`
            (None: `units`) and `target_vocab_size`.
    """
    e, u, v = model.embedding_dim, model.units, model.target_vocab_size
    a = getattr(model, "attention_units", None) or u
    cell = model.cell
    encoder_step = sum(
        2 * recurrent(e if layer == 0 else 2 * u, u, cell) for layer in range(model.num_layers)
    )
    bridges = (2 if cell == "lstm" else 1) * 2 * 2 * u * u
    total = 0
    for s, t in zip(source_lengths, target_lengths, strict=True):
        s, t = int(s), int(t)  # Python integers: NumPy int32 sums overflow
        total += s * encoder_step + bridges + t * recurrent(e, u, cell)
        total += s * 2 * 2 * u * a + t * 2 * u * a + t * s * (2 * a + 2 * 2 * u)
        total += t * 2 * 3 * u * u + t * 2 * u * v
    return TRAINING * int(total)


def speech_training_flops(frame_lengths, model, feature_size: int, vocab_size: int) -> int:
    """Training FLOPs of a batch of utterances for `seq2seq.speech.model`'s model.

    Per utterance of N input frames, forward: each stride-2 convolution i (kernel 3) has
    ceil(N / 2^i) output frames, `2 * 3 * in * conv_filters` each (in = features for the
    first); then over N' = ceil(N / subsampling) frames, each bidirectional layer
    `2 * recurrent(in, U)` per frame (in = conv_filters for layer 1, 2U after), and the output
    layer `2 * 2U * vocab` per frame.

    Args:
        frame_lengths: real input frames of each utterance.
        model: the `model` section of a speech config (`subsampling`, `conv_filters`,
            `units`, `num_layers`, `cell`).
    """
    f, u = model.conv_filters, model.units
    convolutions = model.subsampling.bit_length() - 1
    total = 0
    for n in frame_lengths:
        n, inputs = int(n), feature_size  # Python integers: NumPy int32 sums overflow
        for _ in range(convolutions):
            n = (n + 1) // 2
            total += n * 2 * 3 * inputs * f
            inputs = f
        for layer in range(model.num_layers):
            total += n * 2 * recurrent(inputs if layer == 0 else 2 * u, u, model.cell)
        total += n * 2 * 2 * u * vocab_size
    return TRAINING * int(total)


def matmul_gflops(size: int = 1024, seconds: float = 1.0) -> float:
    """The machine's float32 matrix-multiply rate (GFLOP/s) with TensorFlow's kernel: the best
    of five rounds of `size` x `size` products, about `seconds` in all."""
    import tensorflow as tf

    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    multiply = tf.function(tf.linalg.matmul)
    multiply(a, b).numpy()  # trace and warm up
    flops = 2 * size**3
    start = time.perf_counter()
    multiply(a, b).numpy()
    repeats = max(1, int(seconds / 5 / max(time.perf_counter() - start, 1e-6)))
    best = 0.0
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            result = multiply(a, b)
        result.numpy()
        best = max(best, flops * repeats / (time.perf_counter() - start) / 1e9)
    return round(best, 1)
