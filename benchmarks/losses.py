"""The losses alone: ours (TensorFlow's fused kernels) against the `keras.ops` formulations
they replaced, loss and gradient, on batches the size of the small configs' batches.

    python -m benchmarks.losses [--repeats 10] > losses.json

CTC: `seq2seq.losses.ctc_loss` (sparse labels: the fused CTC kernel) against
`keras.ops.ctc_loss` (dense labels: TensorFlow's CTC written in TF ops), 24 utterances of up
to 250 output frames, 30 classes. Cross-entropy: `MaskedSparseCrossEntropy` with label
smoothing 0.1 (fused softmax cross-entropy) against log-softmax + `take_along_axis`, 32
sentences of 64 target tokens, 8,000 subwords. Prints one JSON object: milliseconds per
loss-and-gradient call and the largest difference between the two gradients.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _time(loss_fn, logits, repeats):
    import tensorflow as tf

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = loss_fn(x)
        return loss, tape.gradient(loss, x)

    step(logits)  # trace
    start = time.perf_counter()
    for _ in range(repeats):
        loss, grad = step(logits)
    return (time.perf_counter() - start) / repeats * 1e3, float(loss), grad


def _compare(ours_fn, old_fn, logits, repeats, ours_key, old_key) -> dict:
    """Times both losses (loss and gradient) on `logits`; their speeds and differences."""
    import tensorflow as tf

    ours, ours_loss, ours_grad = _time(ours_fn, logits, repeats)
    old, old_loss, old_grad = _time(old_fn, logits, repeats)
    return {
        ours_key: round(ours, 2),
        old_key: round(old, 2),
        "speedup": round(old / ours, 1),
        "loss_difference": abs(ours_loss - old_loss),
        "max_gradient_difference": float(tf.reduce_max(tf.abs(ours_grad - old_grad))),
    }


def measure(repeats: int) -> dict:
    import numpy as np
    import tensorflow as tf
    from keras import ops

    from seq2seq.losses import MaskedSparseCrossEntropy, ctc_loss

    rng = np.random.default_rng(0)
    logits = tf.constant(rng.normal(size=(24, 250, 30)), tf.float32)
    frames = rng.integers(200, 251, 24)
    label_lengths = rng.integers(40, 90, 24)
    labels = np.zeros((24, 90), np.int32)
    for row, n in enumerate(label_lengths):
        labels[row, :n] = rng.integers(1, 30, n)

    def dense_ctc(x):
        return ops.mean(ops.ctc_loss(labels, x, label_lengths, frames, mask_index=0))

    results = {"benchmark": "losses", "repeats": repeats}
    results["ctc"] = _compare(
        lambda x: ctc_loss(labels, x, frames),
        dense_ctc,
        logits,
        repeats,
        "fused_sparse_labels_ms",
        "keras_ops_dense_labels_ms",
    )

    logits = tf.constant(rng.normal(size=(32, 64, 8000)), tf.float32)
    targets = rng.integers(1, 8000, (32, 64)).astype(np.int32)
    targets[:, 48:] = 0  # padding
    loss = MaskedSparseCrossEntropy(label_smoothing=0.1)

    def take_along_axis(x):
        log_probs = ops.log_softmax(x, axis=-1)
        nll = -ops.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
        nll = 0.9 * nll + 0.1 * -ops.mean(log_probs, axis=-1)
        mask = ops.cast(targets != 0, "float32")
        return ops.sum(nll * mask) / ops.sum(mask)

    results["cross_entropy"] = _compare(
        lambda x: loss(targets, x),
        take_along_axis,
        logits,
        repeats,
        "fused_ms",
        "take_along_axis_ms",
    )
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.losses", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--repeats", type=int, default=10)
    print(json.dumps(measure(parser.parse_args(argv).repeats), indent=2))


if __name__ == "__main__":
    main()
