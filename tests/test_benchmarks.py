"""The benchmark suite runs end to end (quick mode, tiny configs) and writes its JSON and
table; the figures themselves are measured on real configs, not here."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_benchmark_suite_quick_run(tiny_corpus, tiny_speech, tmp_path):
    mt = [f"data.{s}={tiny_corpus / f'{s}.tsv'}" for s in ("train", "dev", "test")]
    asr = [f"data.{s}={tiny_speech / f'{s}.jsonl'}" for s in ("train", "dev", "test")]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--quick",
            "--out",
            str(tmp_path),
            "--translate-config",
            "configs/translate/tiny.yaml",
            "--translate-set",
            *mt,
            "--asr-config",
            "configs/asr/tiny.yaml",
            "--asr-set",
            *asr,
            f"data.cache_dir={tmp_path / 'cache'}",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (json_path,) = tmp_path.glob("cpu*-quick.json")
    results = json.loads(json_path.read_text())
    mt, speech = results["translation"], results["speech"]
    for key in [
        "train_target_tokens_per_second",
        "train_batches_per_second",
        "input_pipeline_batches_per_second",
        "input_pipeline_headroom",
        "train_speedup_over_tutorial",
        "greedy_decode_speedup_over_tutorial",
    ]:
        assert mt[key] > 0, key
    assert 0 <= mt["padding_fraction"] < 1 and 0 <= speech["padding_fraction"] < 1
    assert mt["tutorial_reference"]["decode_greedy_sentences_per_second"] > 0
    assert speech["train_input_frames_per_second"] > 0
    assert speech["transcribe_real_time_factor"]["greedy"] > 0
    assert results["peak_memory_mb"] > 100
    table = json_path.with_suffix(".md").read_text()
    assert "| translation: training target tokens/s |" in table and "quick smoke run" in table
