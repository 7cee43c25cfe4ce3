import json

import pytest

from pipelines.reports.evaluation import (
    aligned,
    bleu_by_length,
    buckets,
    character_substitutions,
    score_transcripts,
    word_errors,
    write_asr_reports,
)
from tests.helpers import assert_png


def test_wer_and_cer_against_hand_computed_counts():
    references = ["the cat sat", "hello world"]
    hypotheses = ["the cat sit", "hello big world"]
    scores = score_transcripts(references, hypotheses)
    # Words: 1 substitution (sat/sit) + 1 insertion (big) over 3 + 2 reference words.
    assert scores["wer"] == 40.0
    assert (scores["hits"], scores["substitutions"], scores["deletions"]) == (4, 1, 0)
    assert scores["insertions"] == 1 and scores["reference_words"] == 5
    # Characters: 1 substitution (a/i) + 4 insertions ("big ") over 11 + 11 characters.
    assert scores["cer"] == pytest.approx(100 * 5 / 22, abs=0.01)


def test_corpus_wer_weights_by_reference_words_not_by_utterance():
    scores = score_transcripts(["a b c d e f g h i j", "x"], ["a b c d e f g h i j", "y"])
    assert scores["wer"] == pytest.approx(100 / 11, abs=0.01)  # not the mean of 0% and 100%


def test_empty_hypothesis_is_all_deletions():
    scores = score_transcripts(["one two three"], [""])
    assert scores["wer"] == 100.0 and scores["deletions"] == 3


def test_word_errors_and_alignment():
    assert word_errors("the cat sat on the mat", "the cat sit on mat") == 2
    text = aligned("the cat sat on the mat", "the cat sit on mat")
    ref, hyp, marks = text.splitlines()
    assert ref == "REF: the cat sat on the mat"
    assert hyp == "HYP: the cat sit on *** mat"
    assert marks.split() == ["S", "D"]


def _asr_report(references, hypotheses, decoding, audio_seconds):
    """A one-row report as `recognizer.evaluate` builds it."""
    row = {
        **score_transcripts(references, hypotheses),
        "decoding": decoding,
        "seconds": 0.5,
        "real_time_factor": 0.01,
    }
    return {
        **row,
        "num_utterances": len(references),
        "audio_seconds": audio_seconds,
        "results": [row],
    }


def test_asr_report_files(tmp_path):
    report = _asr_report(["a b"], ["a c"], {"strategy": "beam", "beam_size": 8}, 50.0)
    worst = [{"audio_filepath": "x.wav", "voice": "en+m7", "errors": 1, "alignment": "REF: ..."}]
    path = write_asr_reports(
        tmp_path, report, {"en+m7": {"num_utterances": 1, "wer": [50.0]}}, worst, "Title"
    )
    data = json.loads((tmp_path / "report.json").read_text())
    for key in [
        "wer",
        "cer",
        "substitutions",
        "deletions",
        "insertions",
        "hits",
        "num_utterances",
        "audio_seconds",
        "real_time_factor",
        "decoding",
    ]:
        assert key in data, key
    markdown = path.read_text()
    assert "| beam 8 | 50.00 |" in markdown and "| en+m7 | 1 | 50.00 |" in markdown
    assert "x.wav" in markdown


def test_buckets_group_indices_by_edges():
    groups = buckets([1, 10, 11, 25, 99, 3], (10, 20, 30))
    assert groups == {"≤10": [0, 1, 5], "10–20": [2], "20–30": [3], ">30": [4]}
    assert list(buckets([2.5], (2.0, 4.0), " s")) == ["2–4 s"]


def test_bleu_by_length_scores_each_bucket():
    sources = ["a b", "a b c d e f g h i j k l"]
    references = ["the cat sat on the mat", "a dog ran in the big park today"]
    hypotheses = {"greedy": ["the cat sat on the mat", "nothing right here at all"]}
    rows = bleu_by_length(sources, references, hypotheses)
    assert list(rows) == ["≤10 words", "10–20 words"]
    assert rows["≤10 words"] == {"num_sentences": 1, "bleu": {"greedy": 100.0}}
    assert rows["10–20 words"]["bleu"]["greedy"] == 0.0


def test_character_substitutions_against_hand_counts():
    # the cat -> the bat (c/b); a cab -> a cob (a/o); the hat -> the bat (h/b, counted once).
    subs = character_substitutions(["the cat", "a cab", "the hat"], ["the bat", "a cob", "the bat"])
    assert sorted(subs) == [("a", "o", 1), ("c", "b", 1), ("h", "b", 1)]
    assert character_substitutions(["one two"], ["one two"]) == []
    assert character_substitutions(["ab"] * 3, ["xb"] * 3, top=1) == [("a", "x", 3)]


def test_asr_report_figures_are_written_and_embedded(tmp_path):
    greedy = {"strategy": "greedy", "beam_size": 1}
    report = _asr_report(["a b", "c d"], ["a c", "c d"], greedy, 5.0)
    groups = {
        "en": {"num_utterances": 1, "wer": [50.0]},
        "en+m3": {"num_utterances": 1, "wer": [0]},
    }
    path = write_asr_reports(
        tmp_path, report, groups, [], "Title", {"≤2 s": groups["en"]}, [("b", "c", 1)]
    )
    markdown = path.read_text()
    for png in ["wer_by_voice.png", "wer_by_duration.png", "substitutions.png"]:
        assert f"]({png})" in markdown
        assert_png(tmp_path / png)
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["substitutions"] == 1  # word substitutions, not overwritten by the chart data
    assert data["character_substitutions"] == [["b", "c", 1]]
    assert data["by_duration"] == {"≤2 s": {"num_utterances": 1, "wer": [50.0]}}


def test_a_second_reference_is_scored_alone_and_with_the_first(tmp_path):
    import sacrebleu

    from data_prep.text.parallel import extra_references
    from pipelines.reports.evaluation import score_translations, write_reports

    hypotheses = ["the cat sat on the mat", "a dog ran in the park"]
    first = ["the cat sat on a mat", "the dog ran in a park"]
    second = ["a cat was sitting on the mat", "a dog ran in the park"]
    (tmp_path / "test.tsv").write_text("x\ty\nz\tw\n", encoding="utf-8")
    (tmp_path / "test.kjv.txt").write_text("\n".join(second) + "\n", encoding="utf-8")
    (tmp_path / "train.kjv.txt").write_text("not this split's\n", encoding="utf-8")
    extra = extra_references(tmp_path / "test.tsv", 2)
    assert extra == {"kjv": second}
    scores = score_translations(hypotheses, first, extra)
    single = sacrebleu.corpus_bleu(hypotheses, [first]).score
    both = sacrebleu.corpus_bleu(hypotheses, [first, second]).score
    assert scores["bleu"] == round(single, 2)  # the top-level figure stays single-reference
    assert "nrefs:1|" in scores["signature"]["bleu"] and "nrefs:1|" in scores["signature"]["ter"]
    by = scores["by_reference"]
    assert by["reference"]["bleu"] == round(single, 2) and by["all"]["bleu"] == round(both, 2)
    assert by["kjv"]["bleu"] == round(sacrebleu.corpus_bleu(hypotheses, [second]).score, 2)
    assert by["all"]["bleu"] > max(by["reference"]["bleu"], by["kjv"]["bleu"])
    row = {
        **scores,
        "decoding": {"strategy": "greedy", "beam_size": 1},
        "num_sentences": 2,
        "seconds": 1.0,
        "sentences_per_second": 2.0,
    }
    report = write_reports(tmp_path / "eval", [row], [], "t").read_text(encoding="utf-8")
    assert f"| greedy | all | {by['all']['bleu']:.2f} |" in report
    with pytest.raises(ValueError, match="test.kjv.txt: 2 lines for the 3 pairs"):
        extra_references(tmp_path / "test.tsv", 3)
