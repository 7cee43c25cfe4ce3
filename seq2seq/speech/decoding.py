"""CTC decoding in stock TensorFlow ops, and length batches for inference."""

import keras
import tensorflow as tf


def ctc_decode(logits, logit_lengths, beam_size: int = 1):
    """Batched CTC decoding with `keras.ops.ctc_decode` (stock TensorFlow CTC decoder ops).

    Greedy (`beam_size=1`) takes the best class per frame, merges repeats and drops blanks
    (index 0); otherwise prefix beam search keeps `beam_size` prefixes.

    Args:
        logits: (batch, time, vocab) scores, blank at index 0.
        logit_lengths: int (batch,) true lengths; later frames are ignored.
        beam_size: 1 for greedy, more for beam search.

    Returns:
        int32 ids (batch, time), each row's labels followed by -1 padding.
    """
    strategy = "greedy" if beam_size <= 1 else "beam_search"
    decoded, _ = keras.ops.ctc_decode(
        logits,
        tf.cast(logit_lengths, tf.int32),
        strategy=strategy,
        beam_width=max(beam_size, 1),
        top_paths=1,
        mask_index=0,
    )
    return decoded[0]


def length_batches(lengths, budget: int):
    """Index batches of similar length, longest first, each within `budget` padded units
    (batch size * longest length); for batched inference on inputs of any order."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batch = []
    for i in order:
        if batch and (len(batch) + 1) * max(lengths[batch[0]], 1) > budget:
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch
