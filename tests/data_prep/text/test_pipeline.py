import numpy as np
import pytest

from data_prep.text.pipeline import bucket_batch_sizes, make_translation_dataset
from data_prep.text.subword import BOS_ID, EOS_ID
from tests.conftest import tiny_pairs


def _batches(tokenizers, **kwargs):
    pairs = tiny_pairs()
    return list(make_translation_dataset(pairs, *tokenizers, **kwargs)), pairs


def test_batches_are_right_padded_and_shifted(tiny_tokenizers):
    batches, pairs = _batches(tiny_tokenizers, batch_tokens=256, max_length=48, shuffle=False)
    total = 0
    for inputs, target_out in batches:
        source, target_in = inputs["source"].numpy(), inputs["target_in"].numpy()
        target_out = target_out.numpy()
        total += len(source)
        assert (target_in[:, 0] == BOS_ID).all()
        assert (target_in[:, 1:] == target_out[:, :-1]).all()  # shifted by one
        for matrix in (source, target_out):
            real = matrix != 0
            assert real.any(axis=1).all()  # no row is all padding
            lengths = real.sum(axis=1)
            # right padding: every real token comes before every pad
            assert (real == (np.arange(matrix.shape[1]) < lengths[:, None])).all()
            assert (matrix[np.arange(len(matrix)), lengths - 1] == EOS_ID).all()
    assert total == len(pairs)


def test_token_budget_and_bucketing(tiny_tokenizers):
    batches, _ = _batches(tiny_tokenizers, batch_tokens=200, max_length=48, shuffle=False)
    for inputs, target_out in batches:
        longest = max(inputs["source"].shape[1], target_out.shape[1])
        # one bucket per batch: rows are within a bucket, so padding stays under its bound
        assert inputs["source"].shape[0] * longest <= 200 * 2
    assert bucket_batch_sizes([8, 16], 256, 32) == [32, 16, 7]


def test_long_pairs_are_filtered_with_a_count(tiny_tokenizers, caplog):
    batches, pairs = _batches(tiny_tokenizers, batch_tokens=256, max_length=20, shuffle=False)
    kept = sum(len(target_out) for _, target_out in batches)
    assert 0 < kept < len(pairs)
    assert (
        f"filtered {len(pairs) - kept} of {len(pairs)} pairs longer than max_length=20"
        in caplog.text
    )


def test_a_corpus_longer_than_max_length_everywhere_is_an_error(tiny_tokenizers):
    with pytest.raises(ValueError, match="all 480 pairs are longer than max_length=3 tokens"):
        _batches(tiny_tokenizers, batch_tokens=256, max_length=3)
