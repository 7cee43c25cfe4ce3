import numpy as np
import pytest

from data_prep.speech.channels import (
    CODECS,
    AugmentError,
    reverberate,
    rir_bank,
    run_tool,
    telephone,
)

RATE = 16000


def test_reverb_lengthens_the_decay_and_keeps_length_and_level():
    bank = rir_bank((0.4, 0.5), (3.0, 4.0), 2, RATE)
    assert len(bank) == 2 and all(0.4 <= info["rt60"] <= 0.5 for _, info in bank)
    assert np.array_equal(bank[0][0], rir_bank.__wrapped__((0.4, 0.5), (3.0, 4.0), 2, RATE)[0][0])
    burst = np.zeros(RATE, np.float32)  # 50 ms of noise at 0.2 s, then silence
    burst[3200:4000] = np.random.default_rng(0).uniform(-0.5, 0.5, 800)
    wet = reverberate(burst, bank[0][0])
    assert len(wet) == len(burst) and wet.dtype == np.float32
    assert np.mean(wet**2) == pytest.approx(np.mean(burst**2), rel=1e-4)
    tail = np.mean(wet[4400:6400] ** 2) / np.mean(wet[3200:4000] ** 2)  # 25-150 ms after
    assert 1e-4 < tail < 0.5 and not np.any(burst[4400:6400])
    assert np.argmax(np.abs(wet)) < 4400  # the direct sound is not delayed


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_telephone_is_band_limited_and_keeps_length(codec):
    t = np.arange(RATE) / RATE
    audio = 0.3 * np.sin(2 * np.pi * 1000 * t) + 0.2 * np.sin(2 * np.pi * 6000 * t)
    out = telephone(audio.astype(np.float32), RATE, codec)
    assert len(out) == RATE and out.dtype == np.float32
    np.testing.assert_array_equal(out, telephone(audio.astype(np.float32), RATE, codec))
    power = np.abs(np.fft.rfft(out[2000:-2000])) ** 2
    frequencies = np.fft.rfftfreq(RATE - 4000, 1 / RATE)
    assert power[frequencies > 4000].sum() < 1e-3 * power.sum()  # the 6 kHz tone is gone
    assert frequencies[np.argmax(power)] == pytest.approx(1000, abs=20)  # 1 kHz passes


def test_a_missing_or_failing_tool_is_named():
    with pytest.raises(AugmentError, match="needs 'no-such-codec-tool', which is not installed"):
        run_tool(["no-such-codec-tool"], b"", "telephone codec 'x'")
    with pytest.raises(AugmentError, match="sox tempo: `sox -t nonsense"):
        run_tool(["sox", "-t", "nonsense", "-", "-n"], b"", "sox tempo")
