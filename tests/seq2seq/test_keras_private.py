import keras
import pytest

from seq2seq import keras_private


def test_every_private_api_in_use_exists_in_the_installed_keras():
    what = "test"
    for name in [
        "_do_lstm_arguments_support_cudnn",
        "_do_gru_arguments_support_cudnn",
        "_is_gpu_available",
    ]:
        assert callable(keras_private.tf_rnn(name, what))
    trainer = keras_private.module("keras.src.backend.tensorflow.trainer", what)
    keras_private.attribute(trainer, "reduce_per_replica", what)
    keras_private.attribute(trainer.TensorFlowTrainer, "_maybe_symbolic_build", what)
    attention = keras.layers.MultiHeadAttention(2, 4)
    assert callable(keras_private.attribute(attention, "_compute_attention", what))
    assert keras.__version__.startswith(keras_private.TESTED + ".")


def test_a_missing_private_api_names_it_and_the_tested_version():
    with pytest.raises(keras_private.KerasVersionError) as err:
        keras_private.attribute(keras.layers.Dense, "_gone", "the cuDNN check")
    message = str(err.value)
    assert "the cuDNN check uses Keras's private Dense._gone" in message
    assert f"Keras {keras.__version__} does not have" in message and "keras==3.15.*" in message
    with pytest.raises(keras_private.KerasVersionError, match="keras.src.gone"):
        keras_private.module("keras.src.gone", "a test")


def test_bidirectional_layers_built_while_loading_ignore_stale_shared_objects():
    from keras.src.saving import serialization_lib

    layer = keras.layers.LSTM(4, return_sequences=True)
    with serialization_lib.ObjectSharingScope():
        # A stale entry under the id the layer has now, as when a collected object's address
        # is reused during a load: Bidirectional's copies of the layer come back as it.
        serialization_lib.serialize_keras_object(layer)
        stale = keras.layers.LSTM(4, return_sequences=True)
        serialization_lib.record_object_after_deserialization(stale, id(layer))
        with pytest.raises(ValueError, match="go_backwards"):
            keras.layers.Bidirectional(layer)
        with keras_private.no_object_sharing("test"):
            bidirectional = keras.layers.Bidirectional(layer)
        assert bidirectional.backward_layer.go_backwards
        assert not bidirectional.forward_layer.go_backwards


def test_recurrent_models_load_without_object_sharing(tmp_path, monkeypatch):
    from keras.src.backend.common import global_state

    from seq2seq.speech.model import CTCSpeechModel

    model = CTCSpeechModel(8, subsampling=2, conv_filters=8, units=8, num_layers=2)
    model.save(tmp_path / "model.keras")
    seen = []
    original = keras.layers.Bidirectional.__init__

    def init(self, *args, **kwargs):
        seen.append([global_state.get_global_attribute(k) for k in keras_private.SHARING_MAPS])
        original(self, *args, **kwargs)

    monkeypatch.setattr(keras.layers.Bidirectional, "__init__", init)
    keras.saving.load_model(tmp_path / "model.keras")
    assert seen == [[None, None], [None, None]]
