import logging
import re

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from data_prep.speech.audio import FeatureConfig
from data_prep.speech.augment import (
    COLOURS,
    WaveAugmentation,
    _draw_noise,
    augment,
    coloured_noise,
    count_applied,
)
from data_prep.speech.feature_cache import FeatureCache, Perturbation, build_feature_cache
from data_prep.speech.manifest import write_manifest
from pipelines.tasks.asr.config import ASRConfig
from seq2seq.config import load_config
from tests.conftest import write_tone

RATE = 16000
OFF = dict(speed=None, noise_snr_db=None)  # the chain with every transform off


def voiced(seconds=1.0, pitch=150.0):
    """A vowel-like test signal: harmonics of `pitch`, amplitude-modulated like syllables."""
    t = np.arange(int(seconds * RATE)) / RATE
    wave = sum(np.sin(2 * np.pi * pitch * k * t) / k for k in range(1, 12))
    return (0.3 * wave * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)


def db(power):
    return 10 * np.log10(power)


@pytest.fixture
def ambience(tmp_path):
    """An ambience folder: a 3.5 s recording (used, also as a duplicate copy) and a 1 s
    one-shot (too short: ignored)."""
    folder = tmp_path / "ambience"
    (folder / "rain").mkdir(parents=True)
    rain = np.random.default_rng(5).uniform(-0.5, 0.5, int(3.5 * 22050)).astype(np.float32)
    sf.write(folder / "rain" / "rain.wav", rain, 22050)
    sf.write(folder / "rain" / "copy.wav", rain, 22050)
    sf.write(folder / "wolf.wav", rain[:22050], 22050)
    return folder


@pytest.mark.parametrize("kind", ["white", "pink", "brown", "ambience"])
def test_noise_is_added_at_exactly_the_drawn_snr(kind, ambience):
    audio = voiced()
    config = WaveAugmentation(
        speed=None, noise_snr_db=(0.0, 20.0), noise_types=(kind,), noise_dir=str(ambience)
    )
    for seed in range(3):
        out, applied = augment(audio, np.random.default_rng(seed), RATE, config)
        snr = db(np.mean(audio.astype(np.float64) ** 2) / np.mean((out - audio) ** 2.0))
        assert len(out) == len(audio) and out.dtype == np.float32
        assert applied["noise"]["type"] == kind and 0 <= applied["noise"]["snr_db"] <= 20
        assert snr == pytest.approx(applied["noise"]["snr_db"], abs=0.1)
    if kind == "ambience":  # the one distinct long recording, by its path under the folder
        assert applied["noise"]["file"] == "rain/copy.wav"


def test_ambience_is_a_random_segment_looped_when_short(ambience):
    config = WaveAugmentation(noise_types=("ambience",), noise_dir=str(ambience))
    length = 8 * RATE  # longer than the 3.5 s recording
    noise, source = _draw_noise(length, np.random.default_rng(0), RATE, config)
    other, _ = _draw_noise(length, np.random.default_rng(1), RATE, config)
    period = int(3.5 * RATE)
    assert source["type"] == "ambience" and len(noise) == length
    np.testing.assert_array_equal(noise[period : 2 * period], noise[:period])
    assert not np.array_equal(noise[:1000], other[:1000])  # another start


def test_missing_ambience_folder_falls_back_to_coloured_noise_once_warned(tmp_path, caplog):
    config = WaveAugmentation(noise_types=("ambience",), noise_dir=str(tmp_path / "missing"))
    with caplog.at_level(logging.WARNING):
        kinds = [augment(voiced(0.2), np.random.default_rng(s), RATE, config)[1] for s in range(4)]
    assert {k["noise"]["type"] for k in kinds} <= set(COLOURS)
    assert caplog.text.count("no ambience recordings") == 1 and "missing" in caplog.text


def test_coloured_noise_slopes():
    rng = np.random.default_rng(0)
    frequencies = np.fft.rfftfreq(2**16, 1 / RATE)
    low, high = (
        (frequencies > 100) & (frequencies < 200),
        (frequencies > 1000) & (frequencies < 2000),
    )
    for colour, decibels_per_decade in (("white", 0), ("pink", 10), ("brown", 20)):
        power = np.abs(np.fft.rfft(coloured_noise(2**16, colour, rng))) ** 2
        slope = db(power[low].mean() / power[high].mean())
        assert slope == pytest.approx(decibels_per_decade, abs=1.5), colour


def test_speed_tempo_and_pitch_change_length_and_pitch_as_drawn():
    tone = np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE).astype(np.float32) * 0.5

    def peak_hz(audio):
        return np.argmax(np.abs(np.fft.rfft(audio))) * RATE / len(audio)

    rng = np.random.default_rng(0)
    fast, applied = augment(
        tone, rng, RATE, WaveAugmentation(speed=(1.25, 1.25), noise_snr_db=None)
    )
    assert applied == {"speed": 1.25} and len(fast) == pytest.approx(RATE / 1.25, abs=2)
    assert peak_hz(fast) == pytest.approx(440 * 1.25, rel=0.01)
    slow, applied = augment(
        tone, rng, RATE, WaveAugmentation(**OFF, tempo=(0.8, 0.8), tempo_prob=1)
    )
    assert applied == {"tempo": 0.8} and len(slow) == pytest.approx(RATE / 0.8, rel=0.01)
    assert peak_hz(slow) == pytest.approx(440, rel=0.01)
    config = WaveAugmentation(**OFF, pitch_semitones=(3.0, 3.0), pitch_prob=1)
    higher, applied = augment(tone, rng, RATE, config)
    assert applied == {"pitch_semitones": 3.0} and len(higher) == len(tone)
    assert peak_hz(higher[2000:-2000]) == pytest.approx(440 * 2 ** (3 / 12), rel=0.01)


def vowel(pitch=None, formants=(600.0, 1400.0, 2500.0), seconds=1.0):
    """A vowel through three resonators: whispered (white noise) or voiced (pulses at pitch)."""
    if pitch:
        source = np.zeros(int(seconds * RATE))
        source[:: int(RATE / pitch)] = 1.0
    else:
        source = np.random.default_rng(0).standard_normal(int(seconds * RATE))
    for formant, bandwidth in zip(formants, (80, 100, 120), strict=True):
        radius = np.exp(-np.pi * bandwidth / RATE)
        resonator = [1, -2 * radius * np.cos(2 * np.pi * formant / RATE), radius**2]
        source = scipy.signal.lfilter([1], resonator, source)
    return (0.5 * source / np.abs(source).max()).astype(np.float32)


def welch(audio):
    return scipy.signal.welch(audio, RATE, nperseg=1024)  # 15.6 Hz bins


def formant_peaks(audio):
    frequencies, power = welch(audio)
    bands = [
        (frequencies > low) & (frequencies < high)
        for low, high in ((300, 1000), (1000, 2000), (2000, 3500))
    ]
    return np.array([frequencies[band][np.argmax(power[band])] for band in bands])


def centroid(audio):
    frequencies, power = welch(audio)
    return (frequencies * power).sum() / power.sum()


def pitch_hz(audio):
    autocorrelation = np.correlate(audio[:4000], audio[:4000], "full")[4000 - 1 :]
    low = RATE // 400  # F0 below 400 Hz
    return RATE / (low + np.argmax(autocorrelation[low : RATE // 60]))


def vtlp(alpha):
    return WaveAugmentation(**OFF, vtlp_alpha=(alpha, alpha), vtlp_prob=1)


@pytest.mark.parametrize("alpha", [0.9, 1.1])
def test_vtlp_moves_the_formants_by_alpha_and_keeps_pitch_length_and_level(alpha):
    whispered, voiced_vowel = vowel(), vowel(pitch=100.0)
    out, applied = augment(whispered, np.random.default_rng(0), RATE, vtlp(alpha))
    assert applied == {"vtlp_alpha": alpha} and len(out) == len(whispered)
    assert out.dtype == np.float32
    np.testing.assert_allclose(formant_peaks(out) / formant_peaks(whispered), alpha, rtol=0.04)
    # voiced: the envelope moves, the harmonics (the pitch) and the level stay
    out, _ = augment(voiced_vowel, np.random.default_rng(0), RATE, vtlp(alpha))
    assert pitch_hz(out) == pytest.approx(pitch_hz(voiced_vowel), rel=0.02)
    assert (centroid(out) / centroid(voiced_vowel) - 1) * (alpha - 1) > 0.005
    assert np.mean(out.astype(np.float64) ** 2) == pytest.approx(np.mean(voiced_vowel**2.0))


def test_vtlp_of_alpha_one_is_near_identity_and_draws_are_reproducible():
    audio = vowel(pitch=150.0, seconds=0.5)
    same, applied = augment(audio, np.random.default_rng(0), RATE, vtlp(1.0))
    assert applied == {"vtlp_alpha": 1.0} and np.max(np.abs(same - audio)) < 1e-4
    config = WaveAugmentation(**OFF, vtlp_prob=1)  # alpha drawn from (0.9, 1.1)
    first, drawn = augment(audio, np.random.default_rng(7), RATE, config)
    again, drawn_again = augment(audio, np.random.default_rng(7), RATE, config)
    other, drawn_other = augment(audio, np.random.default_rng(8), RATE, config)
    assert drawn == drawn_again != drawn_other and 0.9 <= drawn["vtlp_alpha"] <= 1.1
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other, atol=1e-3)


def test_gain_matches_in_db_and_never_clips():
    audio = voiced()  # peak about 0.4
    config = WaveAugmentation(**OFF, gain_db=(4.0, 4.0), gain_prob=1)
    louder, applied = augment(audio, np.random.default_rng(0), RATE, config)
    assert applied == {"gain_db": 4.0}
    assert db(np.mean(louder**2.0) / np.mean(audio**2.0)) == pytest.approx(4.0, abs=0.01)
    config = WaveAugmentation(**OFF, gain_db=(20.0, 20.0), gain_prob=1)
    limited, applied = augment(audio, np.random.default_rng(0), RATE, config)
    assert np.max(np.abs(limited)) == pytest.approx(0.99, abs=1e-4)
    assert 0 < applied["gain_db"] < 20
    assert db(np.mean(limited**2.0) / np.mean(audio**2.0)) == pytest.approx(
        applied["gain_db"], abs=0.01
    )


def everything(ambience):
    """Every transform with probability 1, on cheap settings."""
    return WaveAugmentation(
        speed_prob=1,
        tempo_prob=1,
        pitch_prob=1,
        vtlp_prob=1,
        reverb_prob=1,
        reverb_rt60=(0.2, 0.3),
        reverb_room_m=(3.0, 4.0),
        reverb_bank=2,
        noise_types=("ambience", "pink"),
        noise_dir=str(ambience),
        telephone_prob=1,
        telephone_codecs=("mulaw", "gsm"),
        gain_prob=1,
    )


def test_same_seed_same_output_other_seed_differs(ambience):
    audio, config = voiced(0.5), everything(ambience)
    out, applied = augment(audio, np.random.default_rng([3, 1]), RATE, config)
    again, applied_again = augment(audio, np.random.default_rng([3, 1]), RATE, config)
    other, applied_other = augment(audio, np.random.default_rng([3, 2]), RATE, config)
    order = ["speed", "tempo", "pitch_semitones", "vtlp_alpha", "reverb", "noise", "telephone"]
    order.append("gain_db")
    assert list(applied) == order and len(out) == len(again)
    np.testing.assert_array_equal(out, again)
    assert applied == applied_again and applied != applied_other
    assert not np.array_equal(out[:1000], other[:1000])


def test_probability_zero_leaves_audio_untouched(ambience):
    audio = voiced(0.5)
    config = WaveAugmentation(speed_prob=0, noise_prob=0, telephone_codecs=("gsm",))
    out, applied = augment(audio, np.random.default_rng(0), RATE, config)
    assert applied == {} and np.array_equal(out, audio)


def test_probabilities_set_how_often_a_transform_is_applied():
    config = WaveAugmentation(**OFF, gain_prob=0.3)
    records = [
        {"augment": augment(voiced(0.05), np.random.default_rng(s), RATE, config)[1]}
        for s in range(400)
    ]
    assert count_applied(records)["gain_db"] == pytest.approx(120, abs=30)
    assert count_applied([{"augment": {"noise": {"type": "pink", "snr_db": 3}}}, {}]) == {
        "noise": 1,
        "noise:pink": 1,
    }


@pytest.mark.parametrize(
    "override, message",
    [
        (dict(speed_prob=1.5), "'augment.speed_prob' is 1.5: expected a probability in [0, 1]"),
        (dict(gain_db=(6.0, -6.0)), "'augment.gain_db' is (6.0, -6.0): expected [low, high]"),
        (dict(tempo=(0.0, 1.1)), "'augment.tempo' is (0.0, 1.1): expected [low, high] with 0 <"),
        (dict(reverb_room_m=(1.0, 5.0)), "'augment.reverb_room_m' is (1.0, 5.0)"),
        (dict(noise_types=("pink", "violet")), "'augment.noise_types' is ('pink', 'violet')"),
        (dict(telephone_codecs=()), "'augment.telephone_codecs' is (): expected a non-empty"),
        (dict(reverb_bank=0), "'augment.reverb_bank' is 0: expected 1 or more"),
        (dict(noise_snr_db=(20.0,)), "'augment.noise_snr_db' is (20.0,)"),
        (dict(vtlp_alpha=(0.0, 1.1)), "'augment.vtlp_alpha' is (0.0, 1.1): expected [low, high]"),
        (dict(vtlp_prob=-0.1), "'augment.vtlp_prob' is -0.1: expected a probability"),
    ],
)
def test_config_errors_name_the_key(override, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        WaveAugmentation(**override)


def test_asr_config_keys_and_backward_compatible_caches():
    with pytest.raises(ValueError, match="'augment.telephone_prob' is 2.0"):
        load_config(ASRConfig, None, ["augment.telephone_prob=2"])
    config = load_config(
        ASRConfig,
        None,
        ["augment.perturbed_copies=1", "augment.noise_types=[brown]", "augment.reverb_prob=0.2"],
    )
    chain = config.augment.chain()
    assert chain.noise_types == ("brown",) and chain.reverb_prob == 0.2 and not chain.legacy
    vtlp_config = load_config(
        ASRConfig,
        None,
        ["augment.perturbed_copies=1", "augment.vtlp_prob=0.5", "augment.vtlp_alpha=[0.85, 1.15]"],
    )
    assert (
        vtlp_config.augment.chain().vtlp_alpha == (0.85, 1.15)
        and not vtlp_config.augment.chain().legacy
    )
    # Configs that set none of the new keys keep `perturb` and the cache folder names of the
    # caches built before the chain existed (synth.yaml's: 260f98cc).
    legacy = load_config(ASRConfig, "configs/asr/synth.yaml").augment
    assert legacy.chain() is None and WaveAugmentation().legacy
    assert (
        Perturbation(legacy.perturbed_copies, legacy.speed, legacy.noise_snr_db).digest()
        == legacy.perturbation().digest()
        == "260f98cc"
    )
    assert legacy.masks().time_width == 0.05
    assert load_config(ASRConfig, None, ["augment.spec_augment=false"]).augment.masks() is None
    voices = load_config(ASRConfig, "configs/asr/voices.yaml").augment
    assert voices.perturbed_copies == 2 and voices.chain().telephone_prob > 0


def test_feature_cache_holds_copies_through_the_chain(tmp_path, ambience):
    entries = []
    for i in range(3):
        path = write_tone(tmp_path / f"u{i}.wav", seconds=0.4, frequency=300 + 100 * i)
        entries.append({"audio_filepath": str(path), "duration": 0.4, "text": f"utt {i}"})
    write_manifest(entries, tmp_path / "train.jsonl")
    config = FeatureConfig(n_mels=20)
    chain = WaveAugmentation(
        speed_prob=0.5, noise_types=("ambience", "white"), noise_dir=str(ambience), gain_prob=1
    )
    perturbation = Perturbation(copies=2, chain=chain)
    folder = build_feature_cache(tmp_path / "train.jsonl", tmp_path / "c", config, perturbation, 1)
    cache = FeatureCache(folder)
    assert folder.name.endswith(f"-aug{perturbation.digest()}")
    assert [u["copy"] for u in cache.utterances] == [0, 1, 2] * 3
    assert "augment" not in cache.utterances[0]  # the clean original
    copies = [u for u in cache.utterances if u["copy"]]
    counts = count_applied(copies)
    assert counts["noise"] == counts["gain_db"] == 6 and 0 < counts.get("speed", 0) < 6
    clean, noisy = cache.features(0), cache.features(1)
    frames = min(len(clean), len(noisy))
    assert not np.allclose(clean[:frames], noisy[:frames], atol=0.1)
