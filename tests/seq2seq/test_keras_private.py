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
