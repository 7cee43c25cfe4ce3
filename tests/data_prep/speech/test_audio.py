import numpy as np
import pytest

from data_prep.speech.audio import (
    AudioError,
    FeatureConfig,
    compute_features,
    load_audio,
    num_frames,
    perturb,
)
from tests.conftest import write_tone


@pytest.mark.parametrize(
    "name, rate, channels",
    [("a.wav", 16000, 1), ("b.wav", 44100, 2), ("c.flac", 22050, 1), ("d.ogg", 48000, 2)],
)
def test_load_audio_any_rate_and_channels(tmp_path, name, rate, channels):
    path = write_tone(tmp_path / name, seconds=1.5, rate=rate, channels=channels)
    audio = load_audio(path, 16000)
    assert audio.ndim == 1 and audio.dtype == np.float32
    assert abs(len(audio) - 24000) <= 2
    # The tone survives resampling and the mix-down: its spectrum peaks at 440 Hz.
    spectrum = np.abs(np.fft.rfft(audio))
    assert abs(np.argmax(spectrum) * 16000 / len(audio) - 440) < 5


def test_unreadable_audio_names_the_file(tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    with pytest.raises(AudioError, match="corrupt.wav"):
        load_audio(corrupt, 16000)
    with pytest.raises(AudioError, match="missing.wav"):
        load_audio(tmp_path / "missing.wav", 16000)
    empty = write_tone(tmp_path / "empty.wav", seconds=0)
    with pytest.raises(AudioError, match="empty.wav: empty audio"):
        load_audio(empty, 16000)


def test_feature_shapes_and_normalization(tmp_path):
    audio = load_audio(write_tone(tmp_path / "a.wav", seconds=2.0), 16000)
    logmel = compute_features(audio, FeatureConfig(n_mels=40))
    assert logmel.shape == (num_frames(len(audio), FeatureConfig()), 40) == (201, 40)
    np.testing.assert_allclose(logmel.mean(0), 0, atol=1e-3)
    np.testing.assert_allclose(logmel.std(0), 1, atol=1e-2)
    mfcc = compute_features(audio, FeatureConfig(kind="mfcc", n_mfcc=13, normalization="none"))
    assert mfcc.shape == (201, 13) and abs(mfcc.mean()) > 0.1


def test_feature_config_validates_and_hashes():
    with pytest.raises(ValueError, match="'features.kind' is 'spectrogram': expected one of"):
        FeatureConfig(kind="spectrogram")
    with pytest.raises(ValueError, match="normalization"):
        FeatureConfig(normalization="batch")
    assert FeatureConfig().digest() == FeatureConfig().digest()
    assert FeatureConfig().digest() != FeatureConfig(n_mels=40).digest()
    assert FeatureConfig(kind="mfcc", n_mfcc=20).feature_size == 20


def test_perturb_changes_speed_and_adds_noise_at_the_given_snr():
    rng = np.random.default_rng(0)
    audio = np.sin(np.arange(16000) / 5).astype(np.float32)
    faster = perturb(audio, rng, 16000, speed=(1.25, 1.25))
    assert abs(len(faster) - 16000 / 1.25) <= 2
    noisy = perturb(audio, rng, 16000, snr_db=(10, 10))
    noise = noisy - audio
    snr = 10 * np.log10(np.mean(audio**2) / np.mean(noise**2))
    assert len(noisy) == len(audio) and abs(snr - 10) < 0.5
