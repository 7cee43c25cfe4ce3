"""The comparison report of several runs, from run directories written by the real report
writers, rendered by headless Chromium; and what the models wrote (sample outputs)."""

import json
import shutil
import subprocess
import sys

import pytest

from pipelines.reports import figures
from pipelines.reports.evaluation import (
    score_transcripts,
    score_translations,
    write_asr_reports,
    write_reports,
)
from pipelines.reports.samples import pick, speech_outputs, translation_outputs
from seq2seq.config import save_config
from seq2seq.training.run_dir import RunDir
from tests.helpers import assert_png, run_command


def _report_cli(*args, expect=0):
    return run_command([sys.executable, "-m", "pipelines.report", *args], expect)


def _history(run, losses):
    lines = ["epoch,loss,val_loss"] + [f"{i},{a},{b}" for i, (a, b) in enumerate(losses)]
    (run / "history.csv").write_text("\n".join(lines) + "\n")
    figures.training_curves(RunDir(run).history(), run / "training_curves.png")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from pipelines.tasks.asr.task import ASRConfig
    from pipelines.tasks.translation.task import TranslationConfig

    root = tmp_path_factory.mktemp("runs")
    translation, speech = root / "mt_run", root / "asr_run"
    for run, config in [(translation, TranslationConfig()), (speech, ASRConfig())]:
        run.mkdir()
        save_config(config, run / "config.yaml")
    _history(translation, [(4.0, 3.5), (3.0, 3.2)])
    _history(speech, [(90.0, 60.0), (50.0, 40.0), (40.0, 33.0)])
    references = ["The king sees the house.", "The dog has the bread."]
    rows = [
        {
            **score_translations(hypotheses, references),
            "num_sentences": 2,
            "decoding": {"strategy": strategy, "beam_size": size},
            "seconds": 1.0,
            "sentences_per_second": 2.0 * size,
        }
        for strategy, size, hypotheses in [
            ("greedy", 1, ["The king sees a house.", "The dog has bread."]),
            ("beam", 4, references),
        ]
    ]
    hypotheses = {"greedy": ["The king sees a house.", "The dog has bread."], "beam 4": references}
    sources = ["El rey ve la casa.", "El perro tiene el pan."]
    sentences = translation_outputs(sources, references, hypotheses)
    write_reports(translation / "eval/test", rows, [], "t", sentences=sentences)
    row = {
        **score_transcripts(["a b c d"], ["a b x d"]),
        "decoding": {"strategy": "greedy", "beam_size": 1},
        "seconds": 0.5,
        "real_time_factor": 0.02,
    }
    report = {**row, "num_utterances": 1, "audio_seconds": 25.0, "results": [row]}
    utterances = speech_outputs(["wavs/a.wav"], ["m7"], ["a b c d"], {"greedy": ["a b x d"]}, [0.5])
    write_asr_reports(speech / "eval/test", report, {}, [], "s", utterances=utterances)
    return translation, speech


def test_report_compares_translation_and_speech_runs(runs, tmp_path):
    out = tmp_path / "report"
    result = _report_cli(*map(str, runs), "--out", str(out), "--title", "My runs")
    assert str(out / "report.html") in result.stdout
    markdown = (out / "report.md").read_text()
    assert markdown.startswith("# My runs")
    assert "| translation | 1×256 lstm, attention output | 2 | 3.2 | 1 |" in markdown
    assert "| test | beam 4 | 100 | 100 | 0 | 8 |" in markdown
    assert "| test | greedy | 25 | 14.29 | 0.02 |" in markdown  # one word wrong in four
    # What each model wrote, per evaluated set: input, reference, output and its score.
    assert f"## What {runs[0]} wrote: test" in markdown
    assert "| pick | source | reference | output (beam 4) | chrF | BLEU |" in markdown
    first = "| El rey ve la casa. | The king sees the house. | The king sees the house. |"
    assert f"| drawn {first}" in markdown
    assert f"## What {runs[1]} wrote: test" in markdown
    assert "| drawn | a.wav | a b c d | a b x d | 25.0 | 0.500 |" in markdown
    images = [line[line.index("(") + 1 : -1] for line in markdown.splitlines() if "![" in line]
    assert len(images) == 6  # scores and speed for each kind, two training-curve figures
    for name in images:
        assert_png(out / name)
    summaries = json.loads((out / "comparison.json").read_text())
    assert [s["kind"] for s in summaries] == ["translation", "speech"]
    assert summaries[1]["best_dev_loss"] == 33.0 and summaries[1]["epochs"] == 3
    # CI's check of the demo's report: both kinds of run, each scored.
    checked = _report_cli("--check", str(out))
    assert "holds a scored run of each of translation, speech" in checked.stdout


def test_report_check_names_what_a_report_lacks(runs, tmp_path):
    out = tmp_path / "report"
    _report_cli(str(runs[0]), "--out", str(out))  # translation only
    result = _report_cli("--check", str(out), expect=1)
    assert f"{out}: no speech run in the report" in result.stdout
    _report_cli("--check", str(out), "--kinds", "translation")
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _report_cli("--check", str(empty), expect=1)
    assert f"{empty / 'report.md'}: missing" in result.stdout
    result = _report_cli("--check", str(out), str(runs[0]), expect=2)
    assert "give no run directories" in result.stderr


def _chromium():
    for name in ["chromium", "chromium-browser", "google-chrome"]:
        if shutil.which(name):
            return shutil.which(name)
    raise AssertionError("Chromium not found: `make test` installs Debian's chromium")


def test_html_report_renders_in_headless_chromium(runs, tmp_path):
    out = tmp_path / "report"
    _report_cli(*map(str, runs), "--out", str(out))
    page = (out / "report.html").as_uri()
    common = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu"]
    common += ["--enable-logging=stderr", "--v=0", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", page], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    # Runs, the two kinds' scores and the two sample tables.
    assert dom.stdout.count("<table>") == 5 and dom.stdout.count("<img ") == 6
    shot = tmp_path / "report.png"
    result = subprocess.run(
        [*common, f"--screenshot={shot}", "--window-size=1200,2400", page],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for log in (dom.stderr, result.stderr):
        errors = [
            line
            for line in log.splitlines()
            if "CONSOLE" in line or "Uncaught" in line or "net::ERR" in line
        ]
        assert not errors, errors
    assert_png(shot, min_size=1000)


def test_report_of_a_folder_that_is_not_a_run(tmp_path):
    result = _report_cli(str(tmp_path), expect=2)
    assert f"{tmp_path}: not a run directory" in result.stderr


def test_samples_are_a_seeded_draw_plus_the_worst_and_the_best():
    items = [{"index": i, "score": float((7 * i) % 10)} for i in range(10)]
    picks = pick(items, "score", higher_is_better=True, drawn=3)
    assert picks == pick(items, "score", higher_is_better=True, drawn=3)  # reproducible
    labels = [label for label, _ in picks]
    assert labels[:3] == ["drawn"] * 3 and len({item["index"] for _, item in picks}) == len(picks)
    drawn = [item["index"] for _, item in picks[:3]]
    assert drawn == sorted(drawn)
    ends = dict((label, item["score"]) for label, item in picks[3:])
    assert ends.get("worst", 0.0) == 0.0 and ends.get("best", 9.0) == 9.0
    assert len(picks) == 3 + len(ends) and set(ends) <= {"worst", "best"}
    # For WER, lower is better: the worst is the highest.
    wer = pick(items, "score", higher_is_better=False, drawn=0)
    assert [(label, item["score"]) for label, item in wer] == [("worst", 9.0), ("best", 0.0)]
    assert pick([], "score", True) == []
    one = [{"score": 1.0}]
    assert pick(one, "score", True) == [("drawn", one[0])]


def test_a_pipe_in_model_output_keeps_the_markdown_row(tmp_path):
    from pipelines.reports.comparison import Section, _markdown

    text = _markdown("t", [Section("s", ["a", "b"], [["x | y", "line\nbreak"]])])
    assert "| x \\| y | line break |" in text


@pytest.mark.slow
def test_evaluate_keeps_every_output_for_the_report(
    translation_run, talkative_speech_run, tiny_corpus, tiny_speech, tmp_path
):
    """The real `evaluate` of both tasks saves each sentence's outputs and scores, and the
    comparison report shows a few of them (transcripts with their confidence)."""
    from pipelines.tasks import asr, translation

    mt, sr = tmp_path / "mt", tmp_path / "asr"
    shutil.copytree(translation_run, mt)
    shutil.copytree(talkative_speech_run, sr)
    translation.evaluate(mt, "test", beam_size=3, limit=12)
    asr.evaluate(sr, tiny_speech / "test.jsonl", beam_size=2, lm="none")
    sentences = json.loads((mt / "eval/test/report.json").read_text())["sentences"]
    assert len(sentences) == 12 and list(sentences[0]["hypotheses"]) == ["greedy", "beam 3"]
    assert all(0 <= s["chrf"] <= 100 and 0 <= s["bleu"] <= 100 for s in sentences)
    utterances = json.loads((sr / "eval/test/report.json").read_text())["utterances"]
    assert len(utterances) == 6 and list(utterances[0]["hypotheses"]) == ["greedy", "beam 2"]
    assert all(u["wer"] >= 0 and u["reference"] for u in utterances)
    # The talkative model spells words on every utterance, so each has a confidence.
    assert all(0 < u["confidence"] <= 1 for u in utterances if u["hypotheses"]["beam 2"])
    out = tmp_path / "report"
    _report_cli(str(mt), str(sr), "--out", str(out))
    markdown = (out / "report.md").read_text()
    assert f"## What {mt} wrote: test" in markdown and f"## What {sr} wrote: test" in markdown
    assert "| transcript (beam 2) | WER % | confidence |" in markdown
    assert markdown.count("| drawn |") == 6  # three per evaluated set
