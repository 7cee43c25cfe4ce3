"""Word spans, times and confidences from CTC log-probabilities, on hand-made posteriors."""

import numpy as np
import pytest

from seq2seq.speech.alignment import forced_words, greedy_words, timed_words, utterance_confidence
from seq2seq.speech.lm_decoding import LMDecoder

ALPHABET = " abc"  # class 0 blank, 1 space, 2 a, 3 b, 4 c


def _posteriors(path, peak=0.9):
    """(frames, 5) log-probabilities whose best class per frame follows `path` (a string
    over "_ abc", _ the blank) with probability `peak`."""
    classes = ["_", *ALPHABET]
    probs = np.full((len(path), 5), (1 - peak) / 4)
    for t, c in enumerate(path):
        probs[t, classes.index(c)] = peak
    return np.log(probs)


def test_greedy_words_merge_repeats_and_split_at_spaces():
    log_probs = _posteriors("_aa_b__ c c_a_a")
    # "aa" merges, then "b": "ab" (frames 1-4); a space between two c: two words; then
    # "c_a_a": "caa", the blank keeping the two a apart (frames 10-14).
    assert greedy_words(log_probs, ALPHABET) == [("ab", 1, 5), ("c", 8, 9), ("caa", 10, 15)]
    assert greedy_words(log_probs[:0], ALPHABET) == []
    assert greedy_words(_posteriors("___ _"), ALPHABET) == []


def test_times_are_frames_times_frame_seconds_from_the_offset():
    log_probs = _posteriors("__ab__")
    (word,) = timed_words(log_probs, greedy_words(log_probs, ALPHABET), ALPHABET, 0.04, 10.0)
    assert word.word == "ab"
    assert word.start == pytest.approx(10.08) and word.end == pytest.approx(10.16)


def test_word_ends_are_padded_up_to_the_next_word_and_the_last_frame():
    log_probs = _posteriors("_ab_ c cc")  # ab: frames 1-2, c: 5, c: 7-8 (the last frame)
    spans = greedy_words(log_probs, ALPHABET)
    assert spans == [("ab", 1, 3), ("c", 5, 6), ("c", 7, 9)]
    ends = [w.end for w in timed_words(log_probs, spans, ALPHABET, 0.04, 1.0, end_pad=0.05)]
    # ab: 1.12 + 0.05; c: 1.24 + 0.05 = 1.29, but the next c starts at 1.28; the last frame ends
    # at 1.36.
    assert ends == pytest.approx([1.17, 1.28, 1.36])
    unpadded = [w.end for w in timed_words(log_probs, spans, ALPHABET, 0.04, 1.0)]
    assert unpadded == pytest.approx([1.12, 1.24, 1.36])
    assert timed_words(log_probs, [], ALPHABET, 0.04, end_pad=0.05) == []  # a noise segment


def test_word_confidence_is_its_weakest_character():
    log_probs = _posteriors("_ab_ c")
    log_probs[2] = np.log([0.2, 0.1, 0.1, 0.55, 0.05])  # "b" at 0.55, still the best class
    words = timed_words(log_probs, greedy_words(log_probs, ALPHABET), ALPHABET, 0.04)
    assert [w.word for w in words] == ["ab", "c"]
    assert words[0].confidence == pytest.approx(0.55)
    assert words[1].confidence == pytest.approx(0.9)
    assert utterance_confidence(words) == pytest.approx((0.55 + 0.9) / 2)
    assert utterance_confidence([]) is None


def test_beam_search_gives_word_frames_and_an_n_best_list():
    log_probs = _posteriors("_ab_ c_")
    log_probs[5] = np.log([0.05, 0.05, 0.05, 0.4, 0.45])  # c (0.45) or b (0.4)
    decoder = LMDecoder(None, beam_size=8, alphabet=ALPHABET)
    beams = decoder.beams(log_probs, n_best=3)
    assert [b["text"] for b in beams[:2]] == ["ab c", "ab b"]
    assert beams[0]["score"] >= beams[1]["score"] >= beams[-1]["score"]
    assert decoder.beams(log_probs[:0]) == [{"text": "", "score": 0.0}]
    # Frames of a beam's text: its best path, here the greedy one.
    assert forced_words(log_probs, beams[0]["text"], ALPHABET) == [("ab", 1, 3), ("c", 5, 6)]
    assert forced_words(log_probs, beams[1]["text"], ALPHABET) == [("ab", 1, 3), ("b", 5, 6)]


def test_forced_alignment_finds_the_best_path_of_a_text():
    log_probs = _posteriors("_aa_a_ bb_c__")
    # Agrees with the best path where the text is the best path's.
    assert forced_words(log_probs, "aa bc", ALPHABET) == greedy_words(log_probs, ALPHABET)
    # "aa" needs a blank between its letters; "a" alone takes the frames of the first run.
    spans = forced_words(log_probs, "a bc", ALPHABET)
    assert [s[0] for s in spans] == ["a", "bc"] and spans[1] == ("bc", 7, 11)
    assert forced_words(log_probs, "", ALPHABET) == []
    with pytest.raises(ValueError, match="cannot hold"):
        forced_words(log_probs[:3], "aab", ALPHABET)  # a _ a b: 4 frames
