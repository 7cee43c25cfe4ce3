"""The comparison report of several runs, from run directories written by the real report
writers, rendered by headless Chromium."""

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
    from pipelines.tasks.speech import ASRConfig
    from pipelines.tasks.translation import TranslationConfig

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
    write_reports(translation / "eval/test", rows, [], "t")
    row = {
        **score_transcripts(["a b c d"], ["a b x d"]),
        "decoding": {"strategy": "greedy", "beam_size": 1},
        "seconds": 0.5,
        "real_time_factor": 0.02,
    }
    report = {**row, "num_utterances": 1, "audio_seconds": 25.0, "results": [row]}
    write_asr_reports(speech / "eval/test", report, {}, [], "s")
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
    images = [line[line.index("(") + 1 : -1] for line in markdown.splitlines() if "![" in line]
    assert len(images) == 6  # scores and speed for each kind, two training-curve figures
    for name in images:
        assert_png(out / name)
    summaries = json.loads((out / "comparison.json").read_text())
    assert [s["kind"] for s in summaries] == ["translation", "speech"]
    assert summaries[1]["best_dev_loss"] == 33.0 and summaries[1]["epochs"] == 3


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
    assert dom.stdout.count("<table>") == 3 and dom.stdout.count("<img ") == 6
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
