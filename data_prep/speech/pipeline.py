"""tf.data input pipeline for speech: cached features -> filter -> SpecAugment -> buckets.

Every utterance is checked before it enters the pipeline, and what is dropped is counted in
a warning: empty transcripts after normalization, utterances longer than `max_frames`, and
utterances whose label cannot fit the model's output length (CTC needs one frame per label
character plus one blank between repeated characters; anything shorter gives an infinite loss).
"""

import bisect
import dataclasses
import logging

import numpy as np
import tensorflow as tf

from data_prep.speech.feature_cache import FeatureCache
from data_prep.speech.transcripts import CharacterVocabulary, normalize_transcript

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class SpecAugment:
    """Time and frequency masking (Park et al., 2019), applied per utterance in training.

    Args:
        freq_masks: number of frequency masks.
        freq_width: maximum width of a frequency mask, in bands.
        time_masks: number of time masks.
        time_width: maximum width of a time mask as a fraction of the utterance's frames.
    """

    freq_masks: int = 2
    freq_width: int = 15
    time_masks: int = 2
    time_width: float = 0.05


def required_frames(label: str) -> int:
    """Output frames CTC needs for a label: its length plus a blank between repeats."""
    return len(label) + sum(a == b for a, b in zip(label, label[1:], strict=False))


def _mask(features, length, count, max_width, axis, seed):
    """Zeroes `count` random bands of width <= max_width along `axis` (0: time, 1: frequency),
    inside the first `length` frames for time masks."""
    size = tf.shape(features)[axis] if axis == 1 else length
    positions = tf.range(tf.shape(features)[axis])
    keep = tf.ones_like(positions, dtype=tf.bool)
    for i in range(count):
        width_seed = tf.stack([seed, tf.constant(4 * i + axis, tf.int64)])
        start_seed = tf.stack([seed, tf.constant(4 * i + axis + 2, tf.int64)])
        width = tf.random.stateless_uniform([], width_seed, 0, max_width + 1, tf.int32)
        width = tf.minimum(width, size)
        start = tf.random.stateless_uniform([], start_seed, 0, size - width + 1, tf.int32)
        keep &= (positions < start) | (positions >= start + width)
    keep = tf.cast(keep, features.dtype)
    return features * (keep[:, None] if axis == 0 else keep[None, :])


def spec_augment(features, length, config: SpecAugment, seed):
    """features (frames, dim) -> masked features; `seed` is an int64 scalar (stateless)."""
    max_time = tf.cast(tf.cast(length, tf.float32) * config.time_width, tf.int32)
    features = _mask(features, length, config.freq_masks, config.freq_width, 1, seed)
    return _mask(features, length, config.time_masks, max_time, 0, seed)


def bucket_boundaries(max_frames: int, smallest: int = 100, growth: float = 1.25) -> list[int]:
    """Geometric bucket upper bounds from `smallest` frames up to `max_frames`."""
    bounds, bound = [], smallest
    while bound < max_frames:
        bounds.append(int(bound))
        bound *= growth
    return bounds


def bucket_batch_sizes(max_frames: int, batch_frames: int) -> tuple[list[int], list[int]]:
    """The length buckets of `make_speech_dataset` (their upper bounds) and each bucket's batch
    size: `batch_frames` over the bucket's bound (the last bucket: over max_frames + 1)."""
    bounds = bucket_boundaries(max_frames)
    return bounds, [max(1, batch_frames // b) for b in bounds + [max_frames + 1]]


def select_utterances(
    cache: FeatureCache, output_length, max_frames: int, warn: bool = True, language: str = "en"
):
    """Indices and labels (normalized in `language`) of the usable utterances of a cache, and
    the counts of the dropped ones by reason (also logged in a warning when `warn`).
    `output_length(frames)` is the model's logit length."""
    keep, labels = [], []
    empty = too_long = cannot_fit = 0
    for i, u in enumerate(cache.utterances):
        label = normalize_transcript(u["text"], language)
        if not label:
            empty += 1
        elif u["frames"] > max_frames:
            too_long += 1
        elif required_frames(label) > output_length(u["frames"]):
            cannot_fit += 1
        else:
            keep.append(i)
            labels.append(label)
    dropped = empty + too_long + cannot_fit
    if dropped and warn:
        logger.warning(
            "%s: filtered %d of %d utterances (%d empty transcripts, %d longer than "
            "max_frames=%d, %d with a label longer than the model's output)",
            cache.folder.name,
            dropped,
            len(cache.utterances),
            empty,
            too_long,
            max_frames,
            cannot_fit,
        )
    if not keep:
        raise ValueError(
            f"no usable utterances in the feature cache {cache.folder} ({len(cache.skipped)} "
            f"unreadable audio files, {empty} empty transcripts, {too_long} longer than "
            f"max_frames, {cannot_fit} labels too long for the audio)"
        )
    dropped = {
        "empty_transcript": empty,
        "longer_than_max_frames": too_long,
        "label_longer_than_output": cannot_fit,
    }
    return keep, labels, dropped


def make_speech_dataset(
    cache: FeatureCache,
    vocabulary: CharacterVocabulary,
    output_length,
    batch_frames: int = 20000,
    max_frames: int = 2000,
    shuffle: bool = True,
    seed: int = 0,
    spec_augment_config: SpecAugment | None = None,
    stats: tuple[np.ndarray, np.ndarray] | None = None,
    cache_in_memory: bool = True,
):
    """Builds a dataset of right-padded batches bucketed by length.

    Args:
        cache: a `FeatureCache`.
        vocabulary: the `CharacterVocabulary` that encodes labels (its language normalizes
            the transcripts).
        output_length: function frames -> model output length (for the CTC fit check).
        batch_frames: frame budget per batch (batch size * padded frames).
        max_frames: longer utterances are dropped (and counted).
        shuffle: shuffle each epoch (training).
        seed: shuffle and SpecAugment seed.
        spec_augment_config: masks to apply (training), or None.
        stats: (mean, std) per feature for global normalization, or None.
        cache_in_memory: keep the loaded features in memory after the first epoch.

    Yields:
        ({"features": (batch, frames, dim) float32, "feature_lengths": (batch,) int32},
        labels (batch, label_len) int32 padded with the blank 0). No row is all padding.
    """
    keep, labels, _ = select_utterances(
        cache, output_length, max_frames, language=vocabulary.language.code
    )
    dim = len(cache.mean)

    def load(index):
        return cache.features(int(index))

    def read(index, label):
        features = tf.numpy_function(load, [index], tf.float32, stateful=False)
        features = tf.ensure_shape(features, [None, dim])
        if stats is not None:
            features = (features - stats[0]) / stats[1]
        return features, tf.shape(features)[0], vocabulary.encode(label)

    ds = tf.data.Dataset.from_tensor_slices((np.array(keep, np.int64), labels))
    ds = ds.map(read, num_parallel_calls=tf.data.AUTOTUNE)
    if cache_in_memory:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(len(keep), seed=seed, reshuffle_each_iteration=True)
    if spec_augment_config is not None:
        # Fresh random seeds every epoch, reproducible from `seed`.
        seeds = tf.data.Dataset.random(seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip(ds, seeds).map(
            lambda e, r: (spec_augment(e[0], e[1], spec_augment_config, r), *e[1:]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    bounds, sizes = bucket_batch_sizes(max_frames, batch_frames)
    ds = ds.bucket_by_sequence_length(
        element_length_func=lambda f, n, y: n,
        bucket_boundaries=bounds,
        bucket_batch_sizes=sizes,
        padded_shapes=([None, dim], [], [None]),
        padding_values=(0.0, 0, 0),
    )
    # A bucket holds lengths below its boundary and flushes a last partial batch, so the
    # number of batches is known without reading the data (Keras then shows epoch length).
    counts = np.bincount(
        [bisect.bisect_right(bounds, cache.utterances[i]["frames"]) for i in keep],
        minlength=len(sizes),
    )
    batches = sum(-(-int(n) // size) for n, size in zip(counts, sizes, strict=True))
    ds = ds.apply(tf.data.experimental.assert_cardinality(batches))
    ds = ds.map(lambda f, n, y: ({"features": f, "feature_lengths": n}, y))
    return ds.prefetch(tf.data.AUTOTUNE)
