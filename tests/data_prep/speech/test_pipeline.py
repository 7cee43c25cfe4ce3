import logging

import numpy as np
import pytest
import tensorflow as tf

from data_prep.speech.audio import FeatureConfig
from data_prep.speech.feature_cache import FeatureCache, build_feature_cache
from data_prep.speech.manifest import write_manifest
from data_prep.speech.pipeline import (
    SpecAugment,
    make_speech_dataset,
    required_frames,
    select_utterances,
    spec_augment,
)
from data_prep.speech.transcripts import CharacterVocabulary
from tests.conftest import write_tone

CONFIG = FeatureConfig(n_mels=16)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("speech")
    texts = ["ab", "hello", "a b c", "?!", "too long for its audio", "ok", "long one", "x"]
    seconds = [0.3, 0.5, 0.4, 0.3, 0.05, 0.6, 2.5, 0.2]
    entries = [
        {"audio_filepath": str(write_tone(folder / f"{i}.wav", s)), "duration": s, "text": t}
        for i, (t, s) in enumerate(zip(texts, seconds, strict=True))
    ]
    write_manifest(entries, folder / "m.jsonl")
    return FeatureCache(build_feature_cache(folder / "m.jsonl", folder / "cache", CONFIG, None, 1))


def test_required_frames_counts_a_blank_between_repeats():
    assert required_frames("abc") == 3
    assert required_frames("hello") == 6
    assert required_frames("aaa") == 5


def test_select_filters_with_counts(cache, caplog):
    with caplog.at_level(logging.WARNING):
        keep, labels, dropped = select_utterances(cache, lambda n: (n + 1) // 2, max_frames=200)
    # "?!" is empty after normalization, "long one" has 251 frames, and "too long for its
    # audio" (22 characters) cannot fit 6 frames subsampled to 3.
    assert labels == ["ab", "hello", "a b c", "ok", "x"]
    assert keep == [0, 1, 2, 5, 7]
    assert (
        "filtered 3 of 8 utterances (1 empty transcripts, 1 longer than max_frames=200, "
        "1 with a label longer than the model's output)" in caplog.text
    )
    assert dropped == {
        "empty_transcript": 1,
        "longer_than_max_frames": 1,
        "label_longer_than_output": 1,
    }
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # the run's data summary counts without a warning
        assert select_utterances(cache, lambda n: (n + 1) // 2, 200, warn=False)[2] == dropped
    assert "filtered" not in caplog.text


def test_spanish_labels_keep_their_letters_and_encode_in_the_spanish_alphabet(tmp_path):
    texts = ["¿Qué año?", "Señor, 2 niños."]
    entries = [
        {"audio_filepath": str(write_tone(tmp_path / f"{i}.wav", 1.0)), "duration": 1.0, "text": t}
        for i, t in enumerate(texts)
    ]
    write_manifest(entries, tmp_path / "es.jsonl")
    cache = FeatureCache(
        build_feature_cache(tmp_path / "es.jsonl", tmp_path / "c", CONFIG, None, 1)
    )
    _, labels, _ = select_utterances(cache, lambda n: n, 300, language="es")
    assert labels == ["qué año", "señor dos niños"]
    assert select_utterances(cache, lambda n: n, 300, language="en")[1] == [
        "que ano",
        "senor two ninos",
    ]
    spanish = CharacterVocabulary("es")
    _, labels_batch = next(iter(make_speech_dataset(cache, spanish, lambda n: n, 10_000, 300)))
    decoded = sorted(t.decode() for t in spanish.decode(labels_batch).numpy())
    assert decoded == ["qué año", "señor dos niños"]


def test_batches_are_right_padded_with_true_lengths(cache):
    ds = make_speech_dataset(
        cache,
        CharacterVocabulary(),
        lambda n: n,
        batch_frames=10_000,
        max_frames=300,
        shuffle=False,
    )
    vocabulary = CharacterVocabulary()
    seen = []
    for inputs, labels in ds:
        features, lengths = inputs["features"].numpy(), inputs["feature_lengths"].numpy()
        assert features.shape[0] == lengths.shape[0] == labels.shape[0]
        assert features.shape[1] == lengths.max() and features.shape[2] == 16
        for row, length in enumerate(lengths):
            assert length > 0 and np.all(features[row, length:] == 0)  # right padding only
            assert np.any(features[row, :length] != 0)
        label_lengths = (labels.numpy() != 0).sum(1)
        assert np.all(label_lengths > 0)  # no row is all padding
        seen += [t.decode() for t in vocabulary.decode(labels).numpy()]
    assert sorted(seen) == sorted(["ab", "hello", "a b c", "ok", "long one", "x"])


def test_global_statistics_normalize(cache):
    stats = (cache.mean, cache.std)
    ds = make_speech_dataset(
        cache, CharacterVocabulary(), lambda n: n, 10_000, 300, shuffle=False, stats=stats
    )
    frames = np.concatenate(
        [
            f[:n]
            for x, _ in ds
            for f, n in zip(x["features"].numpy(), x["feature_lengths"].numpy(), strict=True)
        ]
    )
    assert abs(frames.mean()) < 0.3 and 0.7 < frames.std() < 1.3


def test_spec_augment_masks_inside_the_utterance():
    features = tf.ones((100, 40))
    config = SpecAugment(freq_masks=2, freq_width=10, time_masks=2, time_width=0.2)
    masked = spec_augment(features, 60, config, tf.constant(7, tf.int64)).numpy()
    assert masked.shape == (100, 40)
    assert (masked == 0).any() and (masked == 1).mean() > 0.4
    assert np.all(masked[60:].sum(1) == masked[60].sum())  # time masks stay within 60 frames
    assert not np.all(masked == spec_augment(features, 60, config, tf.constant(8, tf.int64)))
    again = spec_augment(features, 60, config, tf.constant(7, tf.int64)).numpy()
    np.testing.assert_array_equal(masked, again)


def test_training_dataset_applies_fresh_masks_each_epoch(cache):
    ds = make_speech_dataset(
        cache,
        CharacterVocabulary(),
        lambda n: n,
        10_000,
        300,
        shuffle=False,
        spec_augment_config=SpecAugment(2, 8, 2, 0.2),
    )
    first = [x["features"].numpy() for x, _ in ds]
    second = [x["features"].numpy() for x, _ in ds]
    assert any((f == 0).sum() != (s == 0).sum() for f, s in zip(first, second, strict=True))


@pytest.mark.parametrize("batch_frames", [300, 1000, 10_000])
def test_declared_number_of_batches_is_exact(cache, batch_frames):
    ds = make_speech_dataset(cache, CharacterVocabulary(), lambda n: n, batch_frames, 300, seed=3)
    assert int(ds.cardinality()) == sum(1 for _ in ds) > 0
