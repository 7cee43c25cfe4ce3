import numpy as np
import pytest

from data_prep.text.subword import BOS_ID, EOS_ID, PAD_ID
from seq2seq.speech.decoding import ctc_decode
from seq2seq.translation.decoding import SequenceDecoder
from tests.seq2seq.helpers import SOURCE, tiny_model, train_steps


@pytest.fixture(scope="module")
def decoder():
    model = tiny_model(dropout=0.0)
    losses = train_steps(model, steps=150)
    assert losses[-1] < 0.05  # the premise of these tests: the batch's targets are fitted
    return SequenceDecoder(model, max_length_ratio=2.0, max_length_offset=3)


def _check_rows(output, limits):
    for row, limit in zip(output, limits, strict=True):
        ends = np.flatnonzero(row == EOS_ID)
        assert len(ends) >= 1 and ends[0] < limit  # every row ends, within its limit
        assert (row[ends[0] + 1 :] == PAD_ID).all()
        assert not np.isin(row[: ends[0]], [PAD_ID, BOS_ID]).any()


def test_greedy_equals_beam_of_one(decoder):
    greedy = decoder.decode(SOURCE, beam_size=1).numpy()
    beam = decoder.beam_search(SOURCE, 1).numpy()
    np.testing.assert_array_equal(greedy, beam)


def test_decoding_loops_trace_without_autograph(decoder):
    # The loops are explicit tf.while_loops: traced with AutoGraph off (as when AutoGraph
    # declines to convert a method, which happened now and then in a notebook kernel), both
    # searches still build a graph and give the same tokens as the AutoGraph-traced ones.
    import tensorflow as tf

    greedy = tf.function(
        lambda s: type(decoder).greedy.python_function(decoder, s), autograph=False
    )
    beam = tf.function(
        lambda s: type(decoder).beam_search.python_function(decoder, s, tf.constant(3)),
        autograph=False,
    )
    np.testing.assert_array_equal(greedy(SOURCE).numpy(), decoder.decode(SOURCE, 1).numpy())
    np.testing.assert_array_equal(beam(SOURCE).numpy(), decoder.decode(SOURCE, 3).numpy())


def test_outputs_end_with_eos_and_padding(decoder):
    limits = np.ceil((SOURCE != 0).sum(1) * 2.0).astype(int) + 3
    _check_rows(decoder.decode(SOURCE, 1).numpy(), limits)
    _check_rows(decoder.decode(SOURCE, 4).numpy(), limits)


def test_trained_model_decodes_its_targets(decoder):
    # After fitting one batch, greedy and beam search both reproduce its first target.
    expected = [9, 10, 11, 12, 3]
    assert decoder.decode(SOURCE[:1], 1).numpy()[0].tolist()[:5] == expected
    assert decoder.decode(SOURCE[:1], 3).numpy()[0].tolist()[:5] == expected


def test_beam_finds_higher_scoring_sequences_than_greedy_on_average():
    """With no length penalty, beam search maximizes the summed log-probability; over many
    random sources it must never do worse on average than greedy."""
    model = tiny_model(dropout=0.0)
    decoder = SequenceDecoder(model, max_length_ratio=2.0, max_length_offset=3, length_penalty=0.0)
    source = np.random.default_rng(0).integers(4, 40, size=(16, 6)).astype("int32")
    source[:, -1] = EOS_ID

    def log_prob(output):
        target_in = np.concatenate([np.full((len(output), 1), BOS_ID), output[:, :-1]], 1)
        target_in = np.where(np.cumsum(output == EOS_ID, 1) - (output == EOS_ID) > 0, 0, target_in)
        logits = np.array(model({"source": source, "target_in": target_in.astype("int32")}))
        logits[..., [PAD_ID, BOS_ID]] = -np.inf  # as the decoder does: never generated
        logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        picked = np.take_along_axis(logp, output[..., None], -1)[..., 0]
        return np.where(target_in != 0, picked, 0).sum(1)

    greedy = log_prob(decoder.decode(source, 1).numpy())
    beam = log_prob(decoder.decode(source, 4).numpy())
    assert beam.mean() >= greedy.mean() - 1e-4
    assert (beam >= greedy - 1e-4).mean() >= 0.75


@pytest.mark.parametrize("attention", ["output", "input_feeding"])
def test_greedy_dropping_finished_rows_equals_stepping_the_whole_batch(attention):
    """Greedy decoding drops finished rows from its batch as it goes; the result must equal
    stepping every row to the end with `decode_step` (the rows end at different steps here:
    their sources, so their length limits, differ)."""
    model = tiny_model(dropout=0.0, attention=attention)
    rng = np.random.default_rng(1)
    lengths = rng.integers(1, 9, size=12)
    source = np.zeros((12, 8), "int32")
    for row, length in enumerate(lengths):
        source[row, :length] = rng.integers(4, 40, size=length)
    decoded = SequenceDecoder(model, max_length_ratio=1.0, max_length_offset=1).decode(source)
    decoded = decoded.numpy()

    outputs, mask, state = model.encode(source)
    keys = model.precompute(outputs)
    tokens, finished, expected = np.full(12, BOS_ID, "int32"), np.zeros(12, bool), []
    for step in range(lengths.max() + 1):  # the longest limit, unless every row ends sooner
        logits, state, _ = model.decode_step(tokens, state, outputs, mask, keys)
        logits = np.array(logits)
        logits[:, [PAD_ID, BOS_ID]] = -np.inf
        tokens = np.where(step + 1 >= lengths + 1, EOS_ID, logits.argmax(-1)).astype("int32")
        tokens = np.where(finished, PAD_ID, tokens).astype("int32")
        finished |= tokens == EOS_ID
        expected.append(tokens)
        if finished.all():
            break
    assert finished.all() and len(set(lengths)) > 3
    np.testing.assert_array_equal(decoded, np.stack(expected, 1))


def _one_hot_logits(frames, vocab=4):
    """Logits whose best class at each frame is `frames[t]` (peaked, so beams agree)."""
    logits = np.full((len(frames), vocab), -10.0, np.float32)
    logits[np.arange(len(frames)), frames] = 10.0
    return logits


@pytest.mark.parametrize("beam_size", [1, 4])
def test_ctc_decode_collapses_repeats_and_drops_blanks(beam_size):
    logits = np.stack(
        [
            _one_hot_logits([1, 1, 0, 1, 2, 2, 0, 3]),  # a a - a b b - c -> a a b c
            _one_hot_logits([0, 0, 3, 3, 3, 0, 0, 0]),  # - - c c c - - - -> c
            _one_hot_logits([2, 0, 2, 1, 1, 3, 3, 3]),  # only 3 frames are real -> b b
        ]
    )
    ids = ctc_decode(logits, np.array([8, 8, 3]), beam_size).numpy()
    rows = [[i for i in row if i >= 0] for row in ids]
    assert rows == [[1, 1, 2, 3], [3], [2, 2]]
    assert ids.dtype == np.int32 and np.all(ids[1, 1:] == -1)


def test_ctc_beam_search_finds_the_more_probable_label():
    # Frame-wise best path is "-" "-" (empty), but "a" has more total probability:
    # p(empty) = 0.6^2 = 0.36, p("a") = 0.4*0.4 + 0.4*0.6 + 0.6*0.4 = 0.64.
    probs = np.array([[[0.6, 0.4], [0.6, 0.4]]], np.float32)
    greedy = ctc_decode(np.log(probs), np.array([2]), 1).numpy()
    beam = ctc_decode(np.log(probs), np.array([2]), 4).numpy()
    assert [i for i in greedy[0] if i >= 0] == []
    assert [i for i in beam[0] if i >= 0] == [1]
