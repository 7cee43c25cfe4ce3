import logging

import numpy as np
import pytest

import data_prep.speech.feature_cache as feature_cache
from data_prep.speech.audio import FeatureConfig, compute_features, load_audio
from data_prep.speech.feature_cache import FeatureCache, Perturbation, build_feature_cache
from data_prep.speech.manifest import write_manifest
from tests.conftest import write_tone

CONFIG = FeatureConfig(n_mels=20)


@pytest.fixture
def manifest(tmp_path, monkeypatch):
    monkeypatch.setattr(feature_cache, "SHARD_SIZE", 3)  # several shards from a few files
    entries = []
    for i in range(7):
        path = write_tone(tmp_path / f"u{i}.wav", seconds=0.2 + 0.1 * i, frequency=200 + 50 * i)
        entries.append(
            {"audio_filepath": str(path), "duration": 0, "text": f"utt {i}", "voice": f"v{i % 2}"}
        )
    (tmp_path / "u3.wav").write_bytes(b"corrupt")
    write_manifest(entries, tmp_path / "train.jsonl")
    return tmp_path / "train.jsonl"


def test_cache_holds_the_features_of_each_readable_utterance(manifest, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        folder = build_feature_cache(manifest, tmp_path / "cache", CONFIG, workers=1)
    assert "skipped 1 unusable audio files" in caplog.text and "u3.wav" in caplog.text
    cache = FeatureCache(folder)
    assert [u["text"] for u in cache.utterances] == [f"utt {i}" for i in (0, 1, 2, 4, 5, 6)]
    assert cache.skipped[0]["line"] == 4
    for i, u in enumerate(cache.utterances):
        expected = compute_features(load_audio(u["audio_filepath"], 16000), CONFIG)
        np.testing.assert_allclose(cache.features(i), expected, atol=2e-2, rtol=1e-2)
        assert u["voice"] in ("v0", "v1")
    everything = np.concatenate([cache.features(i) for i in range(len(cache.utterances))])
    np.testing.assert_allclose(cache.mean, everything.mean(0), atol=1e-4)
    np.testing.assert_allclose(cache.std, everything.std(0), rtol=1e-3)


def test_cache_is_reused_and_keyed_by_config_and_manifest(manifest, tmp_path, monkeypatch):
    folder = build_feature_cache(manifest, tmp_path / "cache", CONFIG, workers=1)

    def fail(job):
        raise AssertionError("features recomputed")

    monkeypatch.setattr(feature_cache, "_build_shard", fail)
    assert build_feature_cache(manifest, tmp_path / "cache", CONFIG, workers=1) == folder
    monkeypatch.undo()
    other = build_feature_cache(manifest, tmp_path / "cache", FeatureConfig(n_mels=24), workers=1)
    assert other.parent != folder.parent and FeatureCache(other).features(0).shape[1] == 24
    manifest.write_text(manifest.read_text().replace("utt 0", "utt zero"))
    changed = build_feature_cache(manifest, tmp_path / "cache", CONFIG, workers=1)
    assert changed != folder and FeatureCache(changed).utterances[0]["text"] == "utt zero"


def test_interrupted_build_resumes_with_the_missing_shards(manifest, tmp_path, monkeypatch):
    folder = build_feature_cache(manifest, tmp_path / "cache", CONFIG, workers=1)
    (folder / "index.json").unlink()
    (folder / "shard-00001.json").unlink()  # as if killed while writing shard 1
    built = []
    original = feature_cache._build_shard
    monkeypatch.setattr(
        feature_cache, "_build_shard", lambda job: built.append(job[1]) or original(job)
    )
    build_feature_cache(manifest, tmp_path / "cache", CONFIG, workers=1)
    assert built == [1]
    assert len(FeatureCache(folder).utterances) == 6


def test_parallel_build_matches_serial(manifest, tmp_path):
    serial = FeatureCache(build_feature_cache(manifest, tmp_path / "a", CONFIG, workers=1))
    parallel = FeatureCache(build_feature_cache(manifest, tmp_path / "b", CONFIG, workers=2))
    assert serial.utterances == parallel.utterances
    np.testing.assert_array_equal(serial.features(5), parallel.features(5))


def test_perturbed_copies_are_cached_with_the_clean_one(manifest, tmp_path):
    perturbation = Perturbation(copies=2, speed=(0.8, 0.8), noise_snr_db=None)
    cache = FeatureCache(build_feature_cache(manifest, tmp_path / "c", CONFIG, perturbation, 1))
    assert len(cache.utterances) == 18
    clean, slow = cache.utterances[0], cache.utterances[1]
    assert (clean["copy"], slow["copy"]) == (0, 1) and slow["text"] == clean["text"]
    assert slow["frames"] == pytest.approx(clean["frames"] / 0.8, abs=2)


def test_temporary_files_of_a_killed_build_are_removed(manifest, tmp_path):
    import os
    import time

    folder = build_feature_cache(manifest, tmp_path / "cache", CONFIG, workers=1)
    stale, fresh = folder / "shard-00001.tmp-4242.npy", folder / "index.tmp-4343.json"
    for path in (stale, fresh):
        path.write_bytes(b"partial")
    old = time.time() - feature_cache.STALE_SECONDS - 60
    os.utime(stale, (old, old))
    # Reusing the finished cache removes the killed build's file, not one being written now.
    assert build_feature_cache(manifest, tmp_path / "cache", CONFIG, workers=1) == folder
    assert not stale.exists() and fresh.exists()
    assert len(FeatureCache(folder).utterances) == 6
