import json

import pytest

from seq2seq.evaluation import aligned, score_transcripts, word_errors, write_asr_reports


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


def test_asr_report_files(tmp_path):
    row = {
        **score_transcripts(["a b"], ["a c"]),
        "decoding": {"strategy": "beam", "beam_size": 8},
        "seconds": 0.5,
        "real_time_factor": 0.01,
    }
    report = {**row, "num_utterances": 1, "audio_seconds": 50.0, "results": [row]}
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
