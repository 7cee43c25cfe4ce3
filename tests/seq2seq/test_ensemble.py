"""An ensemble decodes with the mean of its members' log-probabilities, in the same decoders."""

import numpy as np
import pytest
import tensorflow as tf

from seq2seq.translation.decoding import SequenceDecoder
from seq2seq.translation.ensemble import Ensemble
from tests.seq2seq.helpers import SOURCE, TARGET_IN, tiny_model
from tests.seq2seq.test_transformer import tiny_transformer


def _decoder(model):
    return SequenceDecoder(model, max_length_ratio=2.0, max_length_offset=3)


def test_an_ensemble_of_a_model_with_itself_decodes_as_the_model():
    model = tiny_model(dropout=0.0)
    alone, doubled = _decoder(model), _decoder(Ensemble([model, model]))
    for beam_size in (1, 3):
        np.testing.assert_array_equal(
            alone.decode(SOURCE, beam_size).numpy(), doubled.decode(SOURCE, beam_size).numpy()
        )
    sequences, scores = alone.n_best(SOURCE, tf.constant(3))
    ensemble_sequences, ensemble_scores = doubled.n_best(SOURCE, tf.constant(3))
    np.testing.assert_array_equal(sequences.numpy(), ensemble_sequences.numpy())
    np.testing.assert_allclose(scores.numpy(), ensemble_scores.numpy(), rtol=1e-5)


def test_scores_are_the_mean_of_the_members_log_probabilities():
    first, second = tiny_model(seed=0, dropout=0.0), tiny_model(seed=1, dropout=0.0)
    ensemble = Ensemble([first, second])
    inputs = {"source": SOURCE, "target_in": TARGET_IN}
    expected = (
        tf.nn.log_softmax(first(inputs)).numpy() + tf.nn.log_softmax(second(inputs)).numpy()
    ) / 2
    np.testing.assert_allclose(ensemble(inputs).numpy(), expected, atol=1e-5)
    # One decoding step from the start, against each member's own step.
    outputs, mask, state = ensemble.encode(SOURCE)
    log_probs, _, weights = ensemble.decode_step(
        tf.constant(TARGET_IN[:, 0]), state, outputs, mask, ensemble.precompute(outputs)
    )
    steps = []
    for model in (first, second):
        member_outputs, member_mask, member_state = model.encode(SOURCE)
        logits, _, member_weights = model.decode_step(
            tf.constant(TARGET_IN[:, 0]), member_state, member_outputs, member_mask
        )
        steps.append((tf.nn.log_softmax(logits).numpy(), member_weights.numpy()))
    np.testing.assert_allclose(log_probs.numpy(), (steps[0][0] + steps[1][0]) / 2, atol=1e-5)
    np.testing.assert_allclose(weights.numpy(), (steps[0][1] + steps[1][1]) / 2, atol=1e-6)
    np.testing.assert_allclose(log_probs.numpy(), expected[:, 0], atol=1e-5)


def test_a_recurrent_model_and_a_transformer_decode_together():
    recurrent, transformer = tiny_model(dropout=0.0), tiny_transformer()
    decoder = _decoder(Ensemble([recurrent, transformer]))
    assert decoder.model.max_length == transformer.max_length
    for beam_size in (1, 3):
        output = decoder.decode(SOURCE, beam_size).numpy()
        assert output.shape[0] == len(SOURCE) and (output == 3).any(axis=1).all()  # EOS


def test_an_empty_ensemble_is_refused():
    with pytest.raises(ValueError, match="at least one model"):
        Ensemble([])
