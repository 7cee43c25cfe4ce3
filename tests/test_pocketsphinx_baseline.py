"""The pocketsphinx baseline transcribes a tiny espeak-ng manifest, scores it and writes JSON."""

import json
import subprocess

import pytest

from benchmarks import pocketsphinx_baseline
from data_prep.speech.manifest import write_manifest
from data_prep.speech.transcripts import normalize_transcript
from pipelines.reports.evaluation import score_transcripts

TEXTS = ["Go forward ten meters.", "Hello world."]


@pytest.fixture(scope="module")
def espeak_manifest(tmp_path_factory):
    folder = tmp_path_factory.mktemp("espeak")
    entries = []
    for number, text in enumerate(TEXTS):
        wav = folder / f"{number}.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), text], check=True)
        entries.append(
            {"audio_filepath": str(wav), "duration": 1.0, "text": text, "source": "espeak"}
        )
    # A reference that normalizes to nothing is skipped, not scored.
    entries.append({**entries[0], "text": "?!", "speaker": "nobody"})
    write_manifest(entries, folder / "test.jsonl")
    return folder / "test.jsonl"


def test_transcribes_scores_and_writes_json(espeak_manifest, tmp_path, capsys):
    out = tmp_path / "results" / "pocketsphinx.json"
    pocketsphinx_baseline.main(["--manifest", str(espeak_manifest), "--out", str(out)])
    results = json.loads(out.read_text())
    assert results["recognizer"].startswith("pocketsphinx 5")
    (manifest,) = results["manifests"]
    assert manifest["utterances"] == 2 and manifest["skipped"]["empty reference"] == 1
    hypotheses = [u["hypothesis"] for u in manifest["utterances_detail"]]
    assert any(h.strip() for h in hypotheses), hypotheses  # it recognized some words
    # The figures are those of score_transcripts on the normalized texts.
    expected = score_transcripts(
        [normalize_transcript(t) for t in TEXTS], [normalize_transcript(h) for h in hypotheses]
    )
    assert manifest["wer"] == expected["wer"] and manifest["cer"] == expected["cer"]
    assert manifest["wer"] >= 0 and manifest["real_time_factor"] > 0
    assert manifest["by_source"]["espeak"]["utterances"] == 2
    assert "by_speaker" not in manifest  # no scored entry carries a speaker
    assert "source=espeak" in capsys.readouterr().out


def test_missing_manifest_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        pocketsphinx_baseline.main(
            ["--manifest", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "r.json")]
        )
    assert exit_info.value.code == 1
    assert "none.jsonl not found" in capsys.readouterr().err
