"""tf.data input pipelines for translation: tokenize, filter, bucket by length, pad, prefetch."""

import logging

import tensorflow as tf

from data_prep.text.subword import BOS_ID, EOS_ID

logger = logging.getLogger(__name__)

BUCKET_BOUNDARIES = (8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 256)


def _encode(source_tokenizer, target_tokenizer, source, target):
    """Strings (batch,) -> ragged ids: source + EOS, BOS + target + EOS."""
    src = source_tokenizer.tokenize(source)
    tgt = target_tokenizer.tokenize(target)
    eos = tf.fill([src.nrows(), 1], EOS_ID)
    bos = tf.fill([tgt.nrows(), 1], BOS_ID)
    return tf.concat([src, eos], axis=1), tf.concat([bos, tgt, eos], axis=1)


def pair_length(source_length, target_length):
    """Padded length a pair needs: the source, or the target without one of BOS/EOS (the model
    reads `target[:-1]` and predicts `target[1:]`)."""
    return tf.maximum(source_length, target_length - 1)


def count_too_long(pairs, source_tokenizer, target_tokenizer, max_length: int) -> int:
    """Number of pairs whose source or target (with BOS/EOS) is longer than `max_length`."""
    return length_counts(pairs, source_tokenizer, target_tokenizer, max_length)[0]


def length_counts(pairs, source_tokenizer, target_tokenizer, max_length: int):
    """(pairs longer than `max_length`, target tokens predicted per epoch by the others)."""
    if not pairs:
        return 0, 0
    sources, targets = zip(*pairs, strict=True)
    src, tgt = _encode(source_tokenizer, target_tokenizer, list(sources), list(targets))
    lengths = pair_length(src.row_lengths(), tgt.row_lengths())
    keep = lengths <= max_length
    too_long = int(tf.reduce_sum(tf.cast(~keep, tf.int32)))
    # target_in / target_out are one shorter than BOS + target + EOS.
    tokens = int(tf.reduce_sum(tf.where(keep, tgt.row_lengths() - 1, 0)))
    return too_long, tokens


def bucket_batch_sizes(boundaries, batch_tokens: int, max_length: int):
    """Batch size per bucket so that batch * padded length stays near `batch_tokens`."""
    uppers = list(boundaries) + [max_length + 1]
    return [max(1, batch_tokens // upper) for upper in uppers]


def make_translation_dataset(
    pairs,
    source_tokenizer,
    target_tokenizer,
    batch_tokens: int = 4096,
    max_length: int = 128,
    shuffle: bool = True,
    seed: int = 0,
    cache: bool = True,
):
    """Builds a training/validation dataset of right-padded, length-bucketed batches.

    Args:
        pairs: list of (source, target) strings.
        source_tokenizer, target_tokenizer: `SubwordTokenizer`s.
        batch_tokens: token budget per batch (batch size * padded length).
        max_length: pairs with more source tokens or target tokens are dropped (and counted).
        shuffle: shuffle pairs each epoch (training).
        seed: shuffle seed.
        cache: cache the tokenized pairs in memory after the first epoch.

    Yields:
        ({"source": (batch, src_len), "target_in": (batch, tgt_len)}, target_out
        (batch, tgt_len)), int32, padded with 0. Every row holds at least EOS, so no row is
        all padding.
    """
    dropped = count_too_long(pairs, source_tokenizer, target_tokenizer, max_length)
    if dropped == len(pairs):
        raise ValueError(f"all {len(pairs)} pairs are longer than max_length={max_length} tokens")
    if dropped:
        logger.warning(
            "filtered %d of %d pairs longer than max_length=%d tokens",
            dropped,
            len(pairs),
            max_length,
        )
    sources, targets = zip(*pairs, strict=True)
    ds = tf.data.Dataset.from_tensor_slices((list(sources), list(targets)))
    ds = ds.batch(256).map(
        lambda s, t: _encode(source_tokenizer, target_tokenizer, s, t),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    # unbatch() yields rank-1 ragged tensors; make them dense for padded batching.
    ds = ds.unbatch().map(lambda s, t: (tf.reshape(s, [-1]), tf.reshape(t, [-1])))
    ds = ds.filter(lambda s, t: pair_length(tf.size(s), tf.size(t)) <= max_length)
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(min(len(pairs), 20_000), seed=seed, reshuffle_each_iteration=True)
    boundaries = [b for b in BUCKET_BOUNDARIES if b <= max_length]
    ds = ds.bucket_by_sequence_length(
        element_length_func=lambda s, t: pair_length(tf.size(s), tf.size(t)),
        bucket_boundaries=boundaries,
        bucket_batch_sizes=bucket_batch_sizes(boundaries, batch_tokens, max_length),
        padded_shapes=([None], [None]),
        padding_values=(0, 0),
    )
    ds = ds.map(
        lambda s, t: ({"source": s, "target_in": t[:, :-1]}, t[:, 1:]),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return ds.prefetch(tf.data.AUTOTUNE)
