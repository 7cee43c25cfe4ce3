import numpy as np
import pytest

from data_prep.speech.audio import FeatureConfig, compute_features, load_audio, pad_batch
from data_prep.speech.manifest import read_manifest
from data_prep.speech.tf_features import TFFeatureExtractor


@pytest.mark.parametrize(
    "config",
    [
        FeatureConfig(),
        FeatureConfig(kind="mfcc", n_mfcc=13),
        FeatureConfig(n_mels=40, normalization="none"),
        FeatureConfig(kind="whisper"),
    ],
    ids=["logmel", "mfcc", "logmel-unnormalized", "whisper"],
)
def test_tf_signal_front_end_matches_librosa_on_speech(tiny_speech, config):
    entries = read_manifest(tiny_speech / "test.jsonl") + read_manifest(tiny_speech / "dev.jsonl")
    waves = [load_audio(e["audio_filepath"], 16000) for e in entries]
    batch, lengths = pad_batch(waves)  # different lengths: padding must not leak in
    features, frame_lengths = TFFeatureExtractor(config)(batch, lengths)
    features = features.numpy()
    for row, wave in enumerate(waves):
        expected = compute_features(wave, config)
        assert frame_lengths[row] == len(expected)
        # Measured on 50 espeak-ng and festival utterances: at most 4.6e-5 (normalized
        # log-mel), 1.5e-5 (MFCC), 1.1e-4 (raw log-mel); Whisper's log-mel 2.1e-5 (espeak-ng).
        np.testing.assert_allclose(features[row, : len(expected)], expected, rtol=0, atol=1e-3)
        assert np.all(features[row, len(expected) :] == 0)


def test_whisper_log_mel_follows_whisper_and_refuses_other_settings():
    config = FeatureConfig(kind="whisper")
    assert (config.n_fft, config.hop_length, config.fmin, config.fmax) == (400, 160, 0.0, 8000.0)
    rng = np.random.default_rng(0)
    audio = rng.standard_normal(16000).astype(np.float32) * 0.1
    features = compute_features(audio, config)
    # 1 + n // hop centered frames less the last one; floored 8 below the peak (in log10),
    # then (x + 4) / 4: the range is at most 2.
    assert features.shape == (100, 80)
    assert features.max() - features.min() <= 2.0 + 1e-6
    # Shorter than one window: padded to one, never a librosa error.
    assert compute_features(audio[:100], config).shape == (2, 80)
    with pytest.raises(
        ValueError, match="'features.n_mels' is 40: expected Whisper's own value 80"
    ):
        FeatureConfig(kind="whisper", n_mels=40)
