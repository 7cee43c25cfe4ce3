"""The analytic FLOP counts of the utilization figures, against counts by hand."""

from types import SimpleNamespace

import keras
import numpy as np

from benchmarks.flops import recurrent, speech_training_flops, translation_training_flops


def test_recurrent_step_is_two_flops_per_weight_of_both_kernels():
    for cell, layer in [("lstm", keras.layers.LSTM(3)), ("gru", keras.layers.GRU(3))]:
        layer.build((None, None, 2))
        weights = np.prod(layer.cell.kernel.shape) + np.prod(layer.cell.recurrent_kernel.shape)
        assert recurrent(2, 3, cell) == 2 * weights


def test_translation_flops_on_a_tiny_config_by_hand():
    model = SimpleNamespace(
        embedding_dim=2, units=3, num_layers=1, cell="lstm", attention_units=4, target_vocab_size=5
    )
    # One pair, 2 source and 1 target tokens; forward:
    #   encoder 2 tokens * 2 directions * 2 * (2 + 3) * 4 * 3 = 480; bridges 2 * 2 * 6 * 3 = 72
    #   decoder 1 * 2 * (2 + 3) * 4 * 3 = 120
    #   attention: keys 2 * 2 * 6 * 4 = 96, query 1 * 2 * 3 * 4 = 24, 2 pairs * (8 + 12) = 40
    #   attention projection 2 * 9 * 3 = 54; output layer 2 * 3 * 5 = 30
    forward = 480 + 72 + 120 + 96 + 24 + 40 + 54 + 30
    assert translation_training_flops([2], [1], model) == 3 * forward
    # Sentences add up; attention_units None means units.
    assert translation_training_flops([2, 2], [1, 1], model) == 6 * forward
    model.attention_units = None
    assert translation_training_flops([2], [1], model) == 3 * (
        forward - 96 - 24 - 40 + 72 + 18 + 36
    )


def test_speech_flops_on_a_tiny_config_by_hand():
    model = SimpleNamespace(subsampling=2, conv_filters=3, units=2, num_layers=1, cell="lstm")
    # 5 frames -> 3 after one stride-2 convolution: 3 * 2 * 3 * 2 * 3 = 108; one bidirectional
    # layer 3 * 2 * 2 * (3 + 2) * 4 * 2 = 480; output layer 3 * 2 * 4 * 4 = 96.
    assert speech_training_flops([5], model, feature_size=2, vocab_size=4) == 3 * (108 + 480 + 96)
