"""The make targets the README and docs/speech.md name run the commands they list (checked with
`make -n`, which prints the recipes without running them)."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _dry_run(*args) -> str:
    result = subprocess.run(
        ["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout


def test_make_voices_builds_the_corpus_trains_tunes_and_evaluates_every_test_set(tmp_path):
    speech = tmp_path / "speech"  # a folder that does not exist: its corpus recipe is listed
    out = _dry_run("voices", f"SPEECH={speech}", "SHORT_SHARE=0.1", "VOICES_RUN=runs/v")
    assert f"--out {speech}" in out and "--short-share 0.1" in out
    train = out.index("pipelines.asr train --config configs/asr/voices.yaml --run-dir runs/v")
    assert f"data.train={speech}/train.jsonl" in out[train:]
    lm = out.index("pipelines.asr lm --run-dir runs/v --text data/bible/train.en.txt")
    tune = out.index("pipelines.asr tune-lm --run-dir runs/v")
    evaluate = out.index("pipelines.asr evaluate --run-dir runs/v --manifest")
    assert train < lm < tune < evaluate
    for manifest in ("test", "test_voices", "test_festival"):
        assert f"{speech}/{manifest}.jsonl" in out[evaluate - 400 :]
    assert "data/real/real.jsonl" in out[evaluate - 400 :]


def test_the_default_corpus_cuts_no_utterances_short(tmp_path):
    out = _dry_run("speech-corpus", f"SPEECH={tmp_path / 'speech'}")
    assert re.search(r"--short-share 0\s", out)


def test_quick_make_voices_runs_the_same_chain_small(tmp_path):
    out = _dry_run("voices", "QUICK=1", f"SPEECH={tmp_path / 'speech'}")
    assert "--run-dir runs/asr_voices_quick" in out and "--train-utterances $1" in out
    assert "train.epochs=2 train.max_minutes=2 model.units=64" in out
    assert "--beam-size 4 --lm-beam-size 4" in out and "--alphas 0.5 1 --betas 1" in out


def test_make_whisper_runs_the_same_chain_over_the_encoder_config(tmp_path):
    out = _dry_run("whisper", f"SPEECH={tmp_path / 'speech'}", "WHISPER_RUN=runs/w")
    train = out.index("pipelines.asr train --config configs/asr/whisper_tiny.yaml --run-dir runs/w")
    tune = out.index("pipelines.asr tune-lm --run-dir runs/w")
    evaluate = out.index("pipelines.asr evaluate --run-dir runs/w --manifest")
    assert train < tune < evaluate and "data/real/real.jsonl" in out[evaluate - 400 :]
