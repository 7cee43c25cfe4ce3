"""End to end through the command line: manifest -> train -> evaluate -> transcribe, on a
tiny espeak-ng corpus."""

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from tests.helpers import assert_png, run_command, tiny_speech_data, tiny_speech_train
from tests.pipelines.helpers import run_without_toolkit

pytestmark = pytest.mark.slow


def _cli(*args, expect=0):
    return run_command([sys.executable, "-m", "pipelines.asr", *args], expect)


@pytest.fixture(scope="module")
def run_dir(speech_run):
    return speech_run


def test_train_writes_the_run_directory_and_learns(run_dir):
    for name in ["config.yaml", "model.keras", "history.csv", "TRAINING_COMPLETE"]:
        assert (run_dir / name).exists(), name
    assert_png(run_dir / "training_curves.png")
    assert any((run_dir / "logs").rglob("*tfevents*"))
    with open(run_dir / "history.csv") as f:
        losses = [float(row["loss"]) for row in csv.DictReader(f)]
    assert len(losses) == 6 and all(np.isfinite(losses)) and losses[-1] < 0.7 * losses[0]
    assert len(list((run_dir / "cache").glob("*/train-*/index.json"))) == 1


def test_evaluate_writes_wer_reports(run_dir, tiny_speech):
    result = _cli("evaluate", "--run-dir", str(run_dir), "--beam-size", "4")
    assert "report:" in result.stdout and "WER" in result.stdout
    report = json.loads((run_dir / "eval/test/report.json").read_text())
    assert report["num_utterances"] == 6 and report["decoding"]["beam_size"] == 4
    assert [r["decoding"]["strategy"] for r in report["results"]] == ["greedy", "beam"]
    words = report["hits"] + report["substitutions"] + report["deletions"]
    assert words == sum(
        len(json.loads(line)["text"].split()) for line in open(tiny_speech / "test.jsonl")
    )
    assert 0 <= report["cer"] and report["audio_seconds"] > 1 and report["real_time_factor"] > 0
    # Greedy words' confidences against their errors: as many words as the greedy row has.
    greedy = report["results"][0]
    assert report["confidence"]["decoding"] == "greedy"
    assert (
        report["confidence"].get("words", 0)
        == greedy["hits"] + greedy["substitutions"] + (greedy["insertions"])
    )
    assert set(report["by_voice"]) == {
        json.loads(line)["voice"] for line in open(tiny_speech / "test.jsonl")
    }
    markdown = (run_dir / "eval/test/report.md").read_text()
    assert "## By voice" in markdown and "## By duration" in markdown
    assert sum(row["num_utterances"] for row in report["by_duration"].values()) == 6
    for png in ["wer_by_voice.png", "wer_by_duration.png"]:
        assert f"]({png})" in markdown
        assert_png(run_dir / "eval/test" / png)
    # The tiny model mostly deletes; the chart is there exactly when it substituted.
    substituted = bool(report["character_substitutions"])
    assert ("](substitutions.png)" in markdown) == substituted
    assert (run_dir / "eval/test/substitutions.png").exists() == substituted


def test_transcription_traces_the_network_once(run_dir, tiny_speech):
    """Batches of every length reuse one graph: no retracing per batch shape."""
    from data_prep.speech.manifest import read_manifest
    from pipelines.tasks.asr.task import Recognizer

    recognizer = Recognizer(run_dir)
    paths = [e["audio_filepath"] for e in read_manifest(tiny_speech / "test.jsonl")]
    for size in (1, 2, 6):
        recognizer.transcribe(paths[:size])
        recognizer.transcribe(paths[:size], beam_size=3)
    assert recognizer._logits.experimental_get_tracing_count() == 1


def test_ctc_posteriors_of_an_utterance(run_dir, tiny_speech):
    from data_prep.speech.audio import compute_features, load_audio
    from data_prep.speech.manifest import read_manifest
    from pipelines.tasks.asr.task import Recognizer
    from seq2seq.speech.model import subsampled_length

    recognizer = Recognizer(run_dir)
    path = read_manifest(tiny_speech / "test.jsonl")[0]["audio_filepath"]
    ((_, text),), errors = recognizer.transcribe([path])
    features = compute_features(load_audio(path, 16000), recognizer.config.features)
    posteriors = recognizer.posteriors(features)
    frames = subsampled_length(len(features), recognizer.config.model.subsampling)
    assert posteriors.shape == (frames, 29)
    np.testing.assert_allclose(posteriors.sum(axis=1), 1.0, rtol=1e-4)
    # Collapsing the most probable label per frame is the greedy transcript.
    path_ids = [int(i) for i in posteriors.argmax(axis=1)]
    collapsed = [i for j, i in enumerate(path_ids) if i and (j == 0 or i != path_ids[j - 1])]
    assert "".join(recognizer.vocabulary.alphabet[i - 1] for i in collapsed) == text


def test_transcribe_any_rate_and_channels(run_dir, tiny_speech, tmp_path):
    audio, rate = sf.read(tiny_speech / "wavs/test/test-000000.wav")
    stereo = tmp_path / "stereo.flac"
    sf.write(stereo, np.stack([audio, audio], 1), rate)  # FLAC, two channels
    resampled = tmp_path / "a44k.wav"
    sf.write(
        resampled,
        np.interp(np.arange(0, len(audio), rate / 44100), np.arange(len(audio)), audio),
        44100,
    )
    result = _cli("transcribe", "--run-dir", str(run_dir), str(stereo), str(resampled))
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(stereo), str(resampled)]
    assert all(line.count("\t") == 1 for line in lines)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"nothing")
    result = _cli("transcribe", "--run-dir", str(run_dir), str(stereo), str(bad), expect=1)
    assert "bad.wav" in result.stderr and "1 of 2 files could not be read" in result.stderr
    assert result.stdout.startswith(str(stereo))


def test_manifest_command(tmp_path, tiny_speech):
    listing = tmp_path / "list.tsv"
    listing.write_text(f"{tiny_speech / 'wavs/test/test-000000.wav'}\tsome text\n")
    result = _cli(
        "manifest", "--format", "tsv", "--root", str(listing), "--out", str(tmp_path / "m.jsonl")
    )
    assert "1 utterances (0 skipped)" in result.stdout
    assert json.loads((tmp_path / "m.jsonl").read_text())["text"] == "some text"


def test_help_and_config_errors(tmp_path):
    assert "features.normalization" in _cli("train", "--help").stdout
    result = _cli(
        "train",
        "--config",
        "configs/asr/tiny.yaml",
        "--run-dir",
        str(tmp_path / "r"),
        "--set",
        "model.layers=3",
        expect=2,
    )
    assert "unknown config key(s) ['model.layers']" in result.stderr
    result = _cli("evaluate", "--run-dir", str(tmp_path / "nothing"), expect=2)
    assert "not found" in result.stderr


def test_features_command_builds_every_cache(tiny_speech, tmp_path):
    result = _cli(
        "features",
        "--config",
        "configs/asr/tiny.yaml",
        "--set",
        *tiny_speech_data(tiny_speech, tmp_path),
        "data.workers=1",
    )
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["train", "dev", "test"]
    assert len(list(tmp_path.glob("*/*/index.json"))) == 3


def test_global_normalization_and_mfcc_run(tiny_speech, tmp_path):
    run = tmp_path / "run"
    settings = ["features.normalization=global", "features.kind=mfcc", "train.epochs=1"]
    run_command(tiny_speech_train(run, tiny_speech, tmp_path / "cache", *settings))
    stats = json.loads((run / "feature_stats.json").read_text())
    assert len(stats["mean"]) == len(stats["std"]) == 13  # MFCC size
    wav = tiny_speech / "wavs/test/test-000001.wav"
    assert _cli("transcribe", "--run-dir", str(run), str(wav)).stdout.startswith(f"{wav}\t")


@pytest.fixture(scope="module")
def talkative_run(talkative_speech_run):
    return talkative_speech_run


def test_export_serves_raw_audio_without_the_toolkit(talkative_run, tiny_speech, tmp_path):
    from pipelines.tasks.asr.task import Recognizer

    out = tmp_path / "export"
    assert (
        "exported to" in _cli("export", "--run-dir", str(talkative_run), "--out", str(out)).stdout
    )
    paths = [json.loads(line)["audio_filepath"] for line in open(tiny_speech / "test.jsonl")]
    paths = [str(tiny_speech / p) for p in paths]
    expected, errors = Recognizer(talkative_run).transcribe(paths)
    assert not errors and sum(len(text) for _, text in expected) > 50  # not trivially empty
    (tmp_path / "paths.json").write_text(json.dumps(paths))
    output = run_without_toolkit(
        f"""
        import json
        import numpy as np, soundfile as sf, tensorflow as tf
        model = tf.saved_model.load({str(out)!r})
        waves = [sf.read(p, dtype="float32")[0] for p in json.load(open("paths.json"))]
        batch = np.zeros((len(waves), max(map(len, waves))), np.float32)
        for row, wave in enumerate(waves):
            batch[row, : len(wave)] = wave
        lengths = tf.constant([len(w) for w in waves], tf.int32)
        serve = model.signatures["serving_default"]
        greedy = serve(waveforms=tf.constant(batch), lengths=lengths)["transcripts"]
        beam = model.signatures["transcribe_beam"](waveforms=batch, lengths=lengths)
        empty = serve(waveforms=tf.zeros([0, 0]), lengths=tf.zeros([0], tf.int32))
        posteriors = model.signatures["posteriors"](waveforms=batch, lengths=lengths)
        valid = posteriors["lengths"].numpy()
        log_probs = posteriors["log_probs"].numpy()
        np.save("log_probs_0.npy", log_probs[0, : valid[0]])
        silent = serve(waveforms=tf.zeros([1, 0]), lengths=tf.zeros([1], tf.int32))
        try:
            serve(waveforms=tf.zeros([1, 10]), lengths=tf.constant([20]))
            bad_length = "accepted"
        except tf.errors.InvalidArgumentError as err:
            bad_length = err.message
        print(json.dumps({{
            "greedy": [t.decode() for t in greedy.numpy()],
            "beam": len(beam["transcripts"].numpy()),
            "empty": empty["transcripts"].shape.as_list(),
            "silent": [t.decode() for t in silent["transcripts"].numpy()],
            "bad_length": bad_length,
            "frames": valid.tolist(),
            "frame_seconds": float(posteriors["frame_seconds"].numpy()),
        }}))
        """,
        cwd=tmp_path,
    )
    result = json.loads(output)
    # librosa features in the run, tf.signal features in the export: same transcripts.
    assert result["greedy"] == [text for _, text in expected]
    assert result["beam"] == len(paths) and result["empty"] == [0]
    assert len(result["silent"]) == 1
    assert "lengths exceed the waveform length" in result["bad_length"]
    # The posteriors signature: per-frame log-probabilities for word timings outside the
    # toolkit, the same as the run's (up to the two feature front ends' float differences).
    recognizer = Recognizer(talkative_run)
    assert result["frame_seconds"] == pytest.approx(recognizer.frame_seconds)
    ours = recognizer.waveform_log_probs([sf.read(p, dtype="float32")[0] for p in paths])
    assert result["frames"] == [len(x) for x in ours]
    np.testing.assert_allclose(np.load(tmp_path / "log_probs_0.npy"), ours[0], atol=0.05)


def test_transcribe_command_runs_from_an_export(run_dir, tiny_speech, tmp_path):
    out = tmp_path / "export"
    _cli("export", "--run-dir", str(run_dir), "--out", str(out))
    wavs = sorted(str(p) for p in (tiny_speech / "wavs/test").glob("*.wav"))[:3]
    from_run = _cli("transcribe", "--run-dir", str(run_dir), *wavs).stdout.splitlines()
    from_export = subprocess.run(
        [sys.executable, "-m", "pipelines.asr", "transcribe", "--run-dir", str(out)],
        input="\n".join(wavs) + "\n",  # paths from stdin
        capture_output=True,
        text=True,
    )
    assert from_export.returncode == 0, from_export.stderr[-2000:]
    assert [line.split("\t")[0] for line in from_export.stdout.splitlines()] == wavs
    assert from_export.stdout.splitlines() == from_run


def _in_process(capsys, *args, expect=0):
    """Runs the command line in this process, where TensorFlow is loaded already."""
    from pipelines.asr import main

    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    output = capsys.readouterr()
    assert exit_.value.code == expect, output.err[-3000:]
    return output


def test_word_lm_commands_evaluate_and_transcribe(talkative_run, tiny_speech, tmp_path, capsys):
    """lm, tune-lm, then evaluate and transcribe with the LM, on a copy of the talkative run
    (its random network spells many characters for the LM to weigh)."""
    import shutil

    from pipelines.tasks.asr.task import evaluate
    from seq2seq.speech.language_model import read_arpa

    run = tmp_path / "run"
    shutil.copytree(talkative_run, run)
    assert "40 sentences" in _in_process(capsys, "lm", "--run-dir", str(run)).out
    assert ("in", "the", "beginning") in read_arpa(run / "lm/lm.arpa").probs[2]
    info = json.loads((run / "lm/lm.json").read_text())
    assert info["texts"] == [str(tiny_speech / "train.jsonl")] and info["lm"] == "lm.arpa"
    test = str(tiny_speech / "test.jsonl")
    refused = _in_process(capsys, "lm", "--run-dir", str(run), "--text", test, expect=2)
    assert "data.test manifest" in refused.err

    grid = ("--alphas", "0", "1", "--betas", "0", "2")
    out = _in_process(capsys, "tune-lm", "--run-dir", str(run), *grid).out
    assert "alpha 1" in out and "beta 2" in out and "best on" in out
    info = json.loads((run / "lm/lm.json").read_text())
    assert info["alpha"] in (0, 1) and info["beta"] in (0, 2) and len(info["tuned"]["grid"]) == 4
    assert info["tuned"]["manifest"] == str(tiny_speech / "dev.jsonl")
    refused = _in_process(capsys, "tune-lm", "--run-dir", str(run), "--manifest", test, expect=2)
    assert "tune on the dev set" in refused.err
    dev = str(tiny_speech / "dev.jsonl")
    args = ("--manifest", dev, test)
    refused = _in_process(capsys, "tune-lm", "--run-dir", str(run), *args, expect=2)
    assert "tune on the dev set" in refused.err  # the test set among several manifests

    # Mixed with general words: the n-grams stay, everyday words join; tuned on two pooled sets.
    general = run / "general.arpa"
    args = ("--general-words", "0.3", "--out", str(general))
    out = _in_process(capsys, "lm", "--run-dir", str(run), *args).out
    assert "general words at weight 0.3" in out
    mixed = read_arpa(general)
    assert ("in", "the", "beginning") in mixed.probs[2] and ("badger",) in mixed.probs[0]
    info = json.loads((run / "lm/lm.json").read_text())
    assert info["general_words"]["weight"] == 0.3 and info["general_words"]["words"] > 20_000
    train = str(tiny_speech / "train.jsonl")
    args = ("--lm", str(general), "--manifest", dev, train, "--alphas", "1", "--betas", "0")
    _in_process(capsys, "tune-lm", "--run-dir", str(run), *args)
    tuned = json.loads((run / "lm/lm.json").read_text())["tuned"]
    assert tuned["manifest"] == f"{dev} {train}" and tuned["utterances"] == 6 + 40
    _in_process(capsys, "lm", "--run-dir", str(run))  # back to the run's own LM
    _in_process(capsys, "tune-lm", "--run-dir", str(run), *grid)
    info = json.loads((run / "lm/lm.json").read_text())

    report = evaluate(run, test, beam_size=3, lm_beam_size=5)
    rows = json.loads(report.with_suffix(".json").read_text())["results"]
    assert [row["decoding"]["strategy"] for row in rows] == ["greedy", "beam", "beam+lm"]
    assert [row["decoding"]["beam_size"] for row in rows] == [1, 3, 5]
    assert (rows[2]["decoding"]["alpha"], rows[2]["decoding"]["beta"]) == (
        info["alpha"],
        info["beta"],
    )
    assert all(row["seconds"] > 0 and row["real_time_factor"] > 0 for row in rows)
    assert "| beam 5 + LM |" in report.read_text()
    capsys.readouterr()  # evaluate's printed scores

    wav = str(tiny_speech / "wavs/test/test-000000.wav")
    out = _in_process(capsys, "transcribe", "--run-dir", str(run), "--hotwords", "light,day", wav)
    assert out.out.startswith(f"{wav}\t") and out.out.count("\n") == 1
    missing = str(run / "missing.arpa")
    err = _in_process(capsys, "transcribe", "--run-dir", str(run), "--lm", missing, wav, expect=2)
    assert "missing.arpa not found" in err.err
    assert "Python-side" in _in_process(capsys, "transcribe", "--help").out


def test_transcribe_long_recordings_in_every_format(run_dir, tiny_speech, tmp_path, capsys):
    """A 40-second recording (pauses, and a stretch with none) through `transcribe`: every
    format, n-best, audio on stdin, silence and a truncated file. The tiny model's words are
    poor; what is checked is that the outputs hold together."""
    import srt
    import webvtt

    from data_prep.speech.long_audio import write_wav_bytes
    from tests.data_prep.speech.test_long_audio import RATE, long_recording

    audio, _ = long_recording(tiny_speech)
    long_wav = tmp_path / "long.wav"
    sf.write(long_wav, audio, RATE)
    base = ["transcribe", "--run-dir", str(run_dir), "--max-segment-seconds", "6"]
    data = json.loads(_in_process(capsys, *base, "--format", "json", str(long_wav)).out)
    assert data["duration"] == pytest.approx(len(audio) / RATE, abs=0.01)
    assert data["settings"]["decoder"] == "greedy" and data["settings"]["max_segment_seconds"] == 6
    assert len(data["segments"]) > 5
    assert all(s["end"] - s["start"] <= 6.0 + 1e-3 for s in data["segments"])
    words = [w for s in data["segments"] for w in s["words"]]
    assert " ".join(w["word"] for w in words) == data["text"]
    assert all(0 <= w["start"] < w["end"] <= data["duration"] for w in words)
    assert all(0 <= w["confidence"] <= 1 for w in words)
    assert [w["start"] for w in words] == sorted(w["start"] for w in words)

    srt_text = _in_process(capsys, *base, "--format", "srt", str(long_wav)).out
    vtt_text = _in_process(capsys, *base, "--format", "vtt", str(long_wav)).out
    cues = list(srt.parse(srt_text))
    assert len(cues) == len(webvtt.from_buffer(io.StringIO(vtt_text)).captions)
    assert " ".join(c.content.replace("\n", " ") for c in cues) == data["text"]

    tsv = _in_process(capsys, *base, "--format", "tsv", str(long_wav)).out.splitlines()
    assert tsv[0] == "path\tstart\tend\tconfidence\tword" and len(tsv) == len(words) + 1

    nbest = _in_process(capsys, *base, "--beam-size", "4", "--n-best", "3", str(long_wav)).out
    ranks = [line.split("\t")[2] for line in nbest.splitlines()]
    assert set(ranks) <= {"1", "2", "3"} and ranks.count("1") == len(data["segments"])

    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros(20 * RATE, np.float32), RATE)
    assert _in_process(capsys, *base, str(silence)).out == f"{silence}\t\n"

    cut = tmp_path / "cut.wav"
    cut.write_bytes(write_wav_bytes(audio, RATE)[:200_000])
    err = _in_process(capsys, *base, str(cut), str(silence), expect=1).err
    assert "cut.wav: truncated" in err and "1 of 2 files could not be read" in err
    assert (
        "--n-best needs beam search"
        in _in_process(capsys, *base, "--n-best", "2", str(silence), expect=2).err
    )

    piped = subprocess.run(
        [sys.executable, "-m", "pipelines.asr", *base, "--format", "json", "-"],
        input=long_wav.read_bytes(),
        capture_output=True,
    )
    assert piped.returncode == 0, piped.stderr[-2000:]
    from_stdin = json.loads(piped.stdout)
    assert from_stdin["source"] == "stdin" and from_stdin["text"] == data["text"]
    empty = subprocess.run(
        [sys.executable, "-m", "pipelines.asr", *base, "-"], input=b"", capture_output=True
    )
    assert empty.returncode == 1 and b"stdin: no audio" in empty.stderr


def test_evaluate_refuses_a_manifest_with_nothing_readable(run_dir, tmp_path, capsys):
    manifest = tmp_path / "gone.jsonl"
    manifest.write_text(
        json.dumps({"audio_filepath": "missing.wav", "duration": 1.0, "text": "a b"}) + "\n"
    )
    err = _in_process(
        capsys, "evaluate", "--run-dir", str(run_dir), "--manifest", str(manifest), expect=2
    ).err
    assert "gone.jsonl: nothing to evaluate (1 unreadable" in err and "missing.wav" in err
