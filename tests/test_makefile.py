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


def test_the_default_corpus_cuts_no_utterances_short_and_speaks_general_words(tmp_path):
    out = _dry_run("speech-corpus", f"SPEECH={tmp_path / 'speech'}")
    assert re.search(r"--short-share 0\s", out)
    assert "--word-share 0.15" in out and "--dev-word-utterances $5" in out


def test_every_word_lm_mixes_general_words_and_tunes_on_both_dev_sets(tmp_path):
    speech = tmp_path / "speech"
    for target in ("demo", "voices", "whisper"):
        out = _dry_run(target, f"SPEECH={speech}")
        lm = out.index("pipelines.asr lm --run-dir")
        assert "--general-words 0.3" in out[lm : lm + 200], target
        tune = out.index("pipelines.asr tune-lm --run-dir")
        assert f"--manifest {speech}/dev.jsonl {speech}/dev_words.jsonl" in out[tune:], target


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


def test_make_speech_translate_builds_trains_and_evaluates_the_chain(tmp_path):
    speech = tmp_path / "speech_es"
    out = _dry_run("speech-translate", f"SPANISH_SPEECH={speech}", "ES_ASR_RUN=runs/es")
    corpus = out.index("data_prep.corpora.synth_speech --language es")
    assert "--column 1" in out[corpus:] and "--translation-column 2" in out[corpus:]
    assert "--verses $4" in out[corpus:] and f"--out {speech}" in out[corpus:]
    train = out.index(
        "pipelines.asr train --config configs/asr/spanish_small.yaml --run-dir runs/es"
    )
    lm = out.index("pipelines.asr lm --run-dir runs/es --text data/bible/train.es.txt")
    tune = out.index("pipelines.asr tune-lm --run-dir runs/es")
    styled = out.index("--init-from runs/bible_small --set data.asr_style=0.3")
    chain = out.index("pipelines.speech_translate --asr runs/es --translate $translator")
    assert corpus < train < lm < tune < styled < chain
    assert f"--evaluate {speech}/$manifest.jsonl" in out[chain:]
    assert "for manifest in test_verses test_verses_voices" in out
    assert "data/bible/train.es.txt" in out  # the LM's text: the Spanish side of train
    spanish_text = _dry_run("-B", "data/bible/train.es.txt")
    assert "cut -f1 data/bible/train.tsv > data/bible/train.es.txt" in spanish_text


def test_the_demo_installs_no_noise_recordings():
    assert "megaglest-data" not in _dry_run("demo", "-B")
    assert "megaglest-data" in _dry_run("voices", "-B")
