import gzip
import json
import math
import random
from pathlib import Path

import pytest

from seq2seq.speech.language_model import (
    BOS,
    EOS,
    UNK,
    build_arpa,
    estimate,
    read_arpa,
    read_sentences,
    read_unigrams,
    write_arpa,
)

LMPLZ = Path(__file__).parent / "lmplz"


def _genesis():
    return [line.split() for line in (LMPLZ / "genesis_web.txt").read_text().splitlines()]


@pytest.fixture(scope="module")
def genesis_arpa(tmp_path_factory):
    path = tmp_path_factory.mktemp("lm") / "genesis.arpa"
    write_arpa(estimate(_genesis(), 3), path)
    return path


def test_estimate_reproduces_lmplz(genesis_arpa, tmp_path):
    """genesis_web.o3.arpa.gz was written by KenLM's lmplz (`lmplz -o 3 --discount_fallback
    < genesis_web.txt`, KenLM 0.3.0 built from its sdist): the same n-grams, probabilities and
    backoffs (lmplz prints six digits and computes in float32)."""
    reference = tmp_path / "lmplz.arpa"
    reference.write_bytes(gzip.decompress((LMPLZ / "genesis_web.o3.arpa.gz").read_bytes()))
    ours, theirs = read_arpa(genesis_arpa), read_arpa(reference)
    for n in range(3):
        assert set(ours.probs[n]) == set(theirs.probs[n]), n + 1
        for gram, value in ours.probs[n].items():
            if gram != (BOS,):  # never predicted: lmplz writes 0, we write -99
                assert value == pytest.approx(theirs.probs[n][gram], abs=1e-4), gram
    for n in range(2):
        for gram, value in ours.backoffs[n].items():
            assert value == pytest.approx(theirs.backoffs[n][gram], abs=1e-4), gram


def test_arpa_header_matches_sections_and_backoffs_are_sane(genesis_arpa):
    text = genesis_arpa.read_text()
    counts = [int(line.split("=")[1]) for line in text.splitlines() if line.startswith("ngram ")]
    sections = text.split("\\end\\")[0].split("-grams:\n")[1:]
    assert counts == [len([x for x in s.splitlines() if "\t" in x]) for s in sections]
    model = read_arpa(genesis_arpa)
    assert [len(p) for p in model.probs] == counts
    assert {UNK, EOS, BOS} <= {gram[0] for gram in model.probs[0]}
    for n, backoffs in enumerate(model.backoffs):
        contexts = {gram[:-1] for gram in model.probs[n + 1]}
        for gram, backoff in backoffs.items():
            assert backoff <= 0.0  # gamma, the discounted mass, is at most 1
            assert (backoff < 0.0) == (gram in contexts), gram  # 0 only for non-contexts
    assert all(p <= 0 for probs in model.probs for p in probs.values())


def _state(kenlm_model, words):
    """KenLM's state after `words` (from the sentence start if they begin with <s>)."""
    import kenlm

    state = kenlm.State()
    if words[:1] == [BOS]:
        kenlm_model.BeginSentenceWrite(state)
        words = words[1:]
    else:
        kenlm_model.NullContextWrite(state)
    for word in words:
        out = kenlm.State()
        kenlm_model.BaseScore(state, word, out)
        state = out
    return state


def _check_sums_to_one(path, contexts):
    import kenlm

    kenlm_model = kenlm.Model(str(path))
    vocabulary = [w for w in read_unigrams(path) if w != BOS]
    for context in contexts:
        state = _state(kenlm_model, list(context))
        total = sum(10 ** kenlm_model.BaseScore(state, w, kenlm.State()) for w in vocabulary)
        assert total == pytest.approx(1.0, abs=1e-4), context


def test_probabilities_of_each_context_sum_to_one_in_kenlm(genesis_arpa):
    """KenLM loads the file and its distributions p(. | context) are proper, for seen
    contexts of every order, a context starting with <s>, and unseen ones (backoff)."""
    model = read_arpa(genesis_arpa)
    seen = random.Random(0).sample(sorted(g for g in model.probs[1] if EOS not in g), 15)
    contexts = [(), (BOS,), ("the",), ("god",), *seen, ("earth", "god"), ("zebra", "the")]
    _check_sums_to_one(genesis_arpa, contexts)


def test_backoff_scores_match_kenlm(genesis_arpa):
    import kenlm

    kenlm_model = kenlm.Model(str(genesis_arpa))
    model = read_arpa(genesis_arpa)
    rng = random.Random(1)
    words = [g[0] for g in model.probs[0] if g[0] not in (BOS, EOS)]
    for _ in range(200):
        context = [rng.choice(words[:40]) for _ in range(2)]
        word = rng.choice(words + ["unseenword"])
        state = _state(kenlm_model, context)
        expected = kenlm_model.BaseScore(state, word, kenlm.State())
        assert model.log10_prob(word, context) == pytest.approx(expected, abs=1e-5)


def test_repetitive_text_falls_back_to_fixed_discounts(tmp_path):
    from tests.conftest import SPEECH_TEXT

    (tmp_path / "text.txt").write_text("\n".join(SPEECH_TEXT * 5) + "\n\n--\n")
    sentences, empty = read_sentences([tmp_path / "text.txt"])
    assert len(sentences) == 40 and empty == 2
    summary = build_arpa(sentences, tmp_path / "lm.arpa", order=3)
    assert summary["fallback_discount_orders"] == [2, 3]
    assert summary["discounts"][1] == [0.5, 1.0, 1.5]
    assert summary["ngrams"][0] == len({w for s in sentences for w in s}) + 3
    _check_sums_to_one(tmp_path / "lm.arpa", [(), (BOS,), ("god",), ("the", "light")])


def test_read_sentences_normalizes_like_the_labels(tmp_path):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        json.dumps({"audio_filepath": "a.wav", "duration": 1.0, "text": "God said, “Let 2 be”"})
        + "\n"
    )
    text = tmp_path / "t.txt"
    text.write_text("The KING'S men!\n¶\n")
    sentences, empty = read_sentences([manifest, text])
    assert sentences == [["god", "said", "let", "two", "be"], ["the", "king's", "men"]]
    assert empty == 1
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        read_sentences([tmp_path / "missing.txt"])


def test_malformed_arpa_files_are_named(genesis_arpa, tmp_path):
    bad = tmp_path / "bad.arpa"
    bad.write_text(genesis_arpa.read_text().replace("ngram 2=", "ngram 2=1", 1))
    with pytest.raises(ValueError, match=r"bad.arpa: the header declares \d+ 2-grams"):
        read_arpa(bad)
    bad.write_text(genesis_arpa.read_text().replace("\t", " ", 30))
    with pytest.raises(ValueError, match=r"bad.arpa:\d+: not a 1-gram line"):
        read_arpa(bad)
    bad.write_text("hello\n")
    with pytest.raises(ValueError, match="bad.arpa"):
        read_unigrams(bad)
    with pytest.raises(FileNotFoundError, match="nothing.arpa"):
        read_arpa(tmp_path / "nothing.arpa")


def test_order_and_empty_text_errors():
    with pytest.raises(ValueError, match="order"):
        estimate([["a"]], 0)
    with pytest.raises(ValueError, match="no text"):
        estimate([[], []], 3)
    unigram = estimate([["a", "b"], ["a"]], 1)
    assert math.isclose(sum(10**p for g, p in unigram.probs[0].items() if g != (BOS,)), 1.0)


def test_general_words_mix_into_a_proper_model(genesis_arpa, tmp_path):
    """mix_unigrams: seen n-grams get (1 - w) p + w p_words, new words join the unigrams, and
    KenLM finds every context's distribution proper after the backoffs are recomputed."""
    from seq2seq.speech.lm_mixing import mix_unigrams

    model = read_arpa(genesis_arpa)
    words = {"the": 0.5, "badger": 0.3, "ball": 0.2}
    mixed = mix_unigrams(model, words, 0.25)
    path = write_arpa(mixed, tmp_path / "mixed.arpa")
    old, new = model.log10_prob("earth", ["the"]), mixed.log10_prob("earth", ["the"])
    assert 10**new == pytest.approx(0.75 * 10**old)
    assert 10 ** mixed.log10_prob("badger") == pytest.approx(0.25 * 0.3)
    assert ("badger",) in mixed.probs[0] and ("badger",) not in model.probs[0]
    seen = random.Random(0).sample(sorted(g for g in mixed.probs[1] if EOS not in g), 15)
    _check_sums_to_one(path, [(), (BOS,), ("the",), ("god",), *seen, ("zebra", "the")])
    with pytest.raises(ValueError, match="between 0 and 1"):
        mix_unigrams(model, words, 1.0)
    with pytest.raises(ValueError, match="sum to 1"):
        mix_unigrams(model, {"the": 0.5}, 0.5)
