"""Confidence ranking of recognition errors (pipelines.reports.confidence), by hand."""

import pytest

from pipelines.reports.confidence import confidence_quality, markdown, word_correctness


def test_each_hypothesis_word_is_marked_by_the_alignment():
    assert word_correctness("the cat sat", "the bat sat down") == [True, False, True, False]
    assert word_correctness("the cat sat", "cat") == [True]
    assert word_correctness("", "noise") == [False]
    assert word_correctness("the cat", "") == []


def test_a_confidence_that_ranks_errors_first_is_scored_so():
    references = ["the cat sat on the mat", "a dog ran"]
    hypotheses = ["the bat sat on the hat", "a dog ran far"]
    # Errors: bat, hat, far (3 of 10 words), given the lowest confidences.
    confidences = [[0.9, 0.2, 0.8, 0.95, 0.9, 0.3], [0.9, 0.85, 0.7, 0.1]]
    quality = confidence_quality(references, hypotheses, confidences, share=0.3)
    assert quality["words"] == 10 and quality["errors"] == 3
    assert quality["error_rate_least_confident"] == 100.0 and quality["error_rate_rest"] == 0.0
    assert quality["error_auroc"] == 1.0
    assert quality["mean_confidence_wrong"] == pytest.approx(0.2)
    # Reversed: the errors are the most confident words.
    reversed_ = [[1 - c for c in row] for row in confidences]
    quality = confidence_quality(references, hypotheses, reversed_, share=0.3)
    assert quality["error_auroc"] == 0.0 and quality["error_rate_least_confident"] == 0.0
    # One tie between an error and a correct word counts half: 1 - 0.5 / (3 * 7).
    tied = [[0.9, 0.2, 0.8, 0.95, 0.9, 0.3], [0.9, 0.85, 0.3, 0.1]]
    assert confidence_quality(references, hypotheses, tied)["error_auroc"] == pytest.approx(
        1 - 0.5 / 21, abs=1e-4
    )
    assert "AUROC of confidence as an error detector: 1.0" in "\n".join(
        markdown(confidence_quality(references, hypotheses, confidences), "greedy")
    )
    with pytest.raises(ValueError, match="2 confidences for 3 words"):
        confidence_quality(["a b c"], ["a b c"], [[0.5, 0.5]])
    assert confidence_quality([], [], []) == {"words": 0}


def test_a_text_gets_the_mean_confidence_of_its_words_on_the_path_that_spells_it():
    import numpy as np

    from pipelines.reports.confidence import text_confidences

    def frames(*rows):  # posteriors over (blank, a, b, space), one row a frame
        return np.log(np.array(rows, dtype=np.float64))

    log_probs = frames(
        [0.05, 0.9, 0.025, 0.025],  # a
        [0.9, 0.05, 0.025, 0.025],  # blank
        [0.3, 0.05, 0.6, 0.05],  # b
        [0.1, 0.05, 0.05, 0.8],  # space
        [0.2, 0.7, 0.05, 0.05],  # a
    )
    # "ab a": the word "ab" has its weakest letter at 0.6 (b), the word "a" its one at 0.7.
    out = text_confidences([log_probs, log_probs, log_probs], ["ab a", "", "aaaa"], "ab ")
    assert out[0] == pytest.approx((0.6 + 0.7) / 2)
    assert out[1] is None  # no words
    assert out[2] is None  # four a's need seven frames: the frames cannot hold the text
