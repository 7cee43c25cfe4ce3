"""The robustness benchmark on the tiny models: schemathesis's generated requests for every
route of the server's OpenAPI schema get no 5xx, and a short soak loses nothing (the
10-minute figures of docs/reliability.md come from the benchmark's committed JSON)."""

import json

import pytest

from benchmarks import server_robustness

pytestmark = pytest.mark.slow


def test_fuzzing_every_route_gets_no_server_error(translation_run, talkative_spanish_run, tmp_path):
    out = tmp_path / "fuzz.json"
    status = server_robustness.main(
        ["fuzz", "--translate", str(translation_run), "--asr", str(talkative_spanish_run)]
        + ["--examples", "10", "--out", str(out)]
    )
    result = json.loads(out.read_text())["result"]
    assert status == 0 and result["passed"], result["schemathesis_summary"]
    assert result["server_errors"] == 0 and result["still_answering"]
    routes = set(result["by_route"])
    assert {"/v1/translate", "/v1/transcribe", "/v1/speech-translate"} <= routes
    assert result["requests"] >= 30 and any(s.startswith("4") for s in result["by_status"])


def test_a_short_soak_loses_nothing(
    translation_run, talkative_spanish_run, spanish_speech, tmp_path
):
    from tests.conftest import tiny_pairs

    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("".join(f"{s}\t{t}\n" for s, t in tiny_pairs()[:20]))
    out = tmp_path / "soak.json"
    server_robustness.main(
        ["soak", "--translate", str(translation_run), "--asr", str(talkative_spanish_run)]
        + ["--minutes", "0.5", "--warmup-minutes", "0.2", "--clients", "4"]
        + ["--test-pairs", str(pairs), "--manifest", str(spanish_speech / "test.jsonl")]
        + ["--out", str(out)]
    )
    result = json.loads(out.read_text())["result"]
    assert result["lost_or_unexpected"] == {}
    kinds = {key.split()[0] for key in result["outcomes"]}
    assert kinds == {"translate", "transcribe", "speech-translate", "health", "malformed"}
    assert result["requests"] >= 20 and result["memory_mb"]["samples"]


def test_the_documented_fuzz_figures_are_the_committed_run():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    run = json.loads((root / "benchmarks/results/server_fuzz-cpu2-2026-12-07.json").read_text())
    result = run["result"]
    assert result["passed"] and result["server_errors"] == 0
    text = " ".join((root / "docs/reliability.md").read_text().split())
    assert f"{result['requests']:,} requests, {result['server_errors']} server errors" in text


def test_the_documented_soak_figures_are_the_committed_run():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    run = json.loads((root / "benchmarks/results/server_soak-cpu2-2026-12-07.json").read_text())
    result, memory = run["result"], run["result"]["memory_mb"]
    assert result["passed"] and result["lost_or_unexpected"] == {} and result["minutes"] >= 10
    text = " ".join((root / "docs/reliability.md").read_text().split())
    assert f"{result['requests']:,} requests, none lost" in text
    assert f"{memory['after_warmup']} MB after the warm-up, at most" in text
    assert (
        f"{memory['max_after_warmup']} MB after it (+{100 * memory['growth_after_warmup']:.1f}%)"
        in text
    )
