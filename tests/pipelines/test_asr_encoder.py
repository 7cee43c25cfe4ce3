"""A speech run over the pretrained Whisper encoder, through the command line: training on
cached encoder outputs, evaluation, transcription and an export that takes raw audio."""

import csv
import json
import sys

import keras
import numpy as np
import pytest
import soundfile as sf

from tests.helpers import run_command, tiny_speech_train
from tests.pipelines.helpers import run_without_toolkit

ENCODER_SET = (
    "features.kind=whisper",
    "features.n_mels=80",
    "model.encoder=whisper_tiny_en",
    "augment.freq_masks=0",
    "train.epochs=2",
)


def _cli(*args, expect=0):
    return run_command([sys.executable, "-m", "pipelines.asr", *args], expect)


@pytest.fixture(scope="module")
def encoder_run(tiny_speech, tmp_path_factory):
    run = tmp_path_factory.mktemp("encoder_run")
    encoders = tmp_path_factory.mktemp("encoders")
    command = tiny_speech_train(
        run, tiny_speech, run / "cache", *ENCODER_SET, f"model.encoder_dir={encoders}"
    )
    run_command(command)
    return run


@pytest.fixture(scope="module")
def talkative_encoder_run(encoder_run, tmp_path_factory):
    """The encoder run with a random output layer that never picks the blank, so transcripts
    depend on the whole path (front end, encoder, head, decoding)."""
    import seq2seq.speech.model  # noqa: F401 (registers the model class)

    run = tmp_path_factory.mktemp("talkative_encoder")
    (run / "config.yaml").write_text((encoder_run / "config.yaml").read_text())
    model = keras.saving.load_model(encoder_run / "model.keras")
    kernel, bias = model.output_projection.get_weights()
    kernel = np.random.default_rng(0).normal(0, 2, kernel.shape).astype("float32")
    bias[:] = 0.0
    bias[0] = -20.0
    model.output_projection.set_weights([kernel, bias])
    model.save(run / "model.keras")
    return run


def test_training_reads_cached_encoder_outputs_and_records_the_encoder(encoder_run):
    caches = sorted((encoder_run / "cache").glob("*/train-*-whisper_tiny_en-4blocks-*"))
    assert len(caches) == 1 and (caches[0] / "index.json").exists()
    index = json.loads((caches[0] / "index.json").read_text())
    assert len(index["mean"]) == 384  # encodings, not log-mel
    info = json.loads((encoder_run / "encoder.json").read_text())
    assert info["licence"] == "MIT" and info["trained_by_others_on_real_speech"]
    with open(encoder_run / "history.csv") as f:
        losses = [float(row["loss"]) for row in csv.DictReader(f)]
    assert len(losses) == 2 and all(np.isfinite(losses))


def test_evaluate_runs_the_encoder_once_and_says_whose_it_is(encoder_run, tiny_speech):
    _cli("evaluate", "--run-dir", str(encoder_run), "--manifest", str(tiny_speech / "test.jsonl"))
    report = json.loads((encoder_run / "eval" / "test" / "report.json").read_text())
    assert report["pretrained_encoder"]["name"] == "whisper_tiny_en"
    assert "real speech" in report["pretrained_encoder"]["description"]
    assert "trained by others on real speech" in (encoder_run / "eval/test/report.md").read_text()
    assert all(row["real_time_factor"] > 0 for row in report["results"])


def test_export_takes_raw_audio_and_matches_the_run(talkative_encoder_run, tiny_speech, tmp_path):
    from pipelines.tasks.asr.task import Recognizer

    out = tmp_path / "export"
    _cli("export", "--run-dir", str(talkative_encoder_run), "--out", str(out))
    entries = [json.loads(line) for line in open(tiny_speech / "test.jsonl")]
    paths = [str(tiny_speech / e["audio_filepath"]) for e in entries]
    recognizer = Recognizer(talkative_encoder_run)
    expected, errors = recognizer.transcribe(paths)
    assert not errors and sum(len(text) for _, text in expected) > 50
    (tmp_path / "paths.json").write_text(json.dumps(paths))
    output = run_without_toolkit(
        """
        import json
        import numpy as np, soundfile as sf, tensorflow as tf
        model = tf.saved_model.load("export")
        waves = [sf.read(p, dtype="float32")[0] for p in json.load(open("paths.json"))]
        batch = np.zeros((len(waves), max(map(len, waves))), np.float32)
        for row, wave in enumerate(waves):
            batch[row, : len(wave)] = wave
        lengths = tf.constant([len(w) for w in waves], tf.int32)
        greedy = model.signatures["serving_default"](waveforms=batch, lengths=lengths)
        silent = model.signatures["serving_default"](
            waveforms=tf.zeros([1, 0]), lengths=tf.zeros([1], tf.int32)
        )
        posteriors = model.signatures["posteriors"](waveforms=batch, lengths=lengths)
        np.save("log_probs_0.npy", posteriors["log_probs"].numpy()[0, : posteriors["lengths"][0]])
        print(json.dumps({
            "greedy": [t.decode() for t in greedy["transcripts"].numpy()],
            "silent": len(silent["transcripts"].numpy()),
            "frame_seconds": float(posteriors["frame_seconds"].numpy()),
        }))
        """,
        cwd=tmp_path,
    )
    result = json.loads(output)
    # librosa's Whisper log-mel in the run, tf.signal's in the export: the same transcripts.
    assert result["greedy"] == [text for _, text in expected]
    assert result["silent"] == 1
    assert result["frame_seconds"] == pytest.approx(recognizer.frame_seconds) == 0.04
    ours = recognizer.waveform_log_probs([sf.read(paths[0], dtype="float32")[0]])[0]
    np.testing.assert_allclose(np.load(tmp_path / "log_probs_0.npy"), ours, atol=0.05)


def test_recognizer_refuses_more_than_30_seconds_at_once(encoder_run):
    from pipelines.tasks.asr.task import Recognizer

    recognizer = Recognizer(encoder_run)
    with pytest.raises(ValueError, match="takes at most 30 s"):
        recognizer.decode_features([np.zeros((3100, 80), np.float32)])


def test_long_recordings_are_cut_into_segments_the_encoder_takes(encoder_run, tmp_path):
    rate = 16000
    speech, _ = sf.read("/usr/share/sounds/alsa/Front_Left.wav", dtype="float32")
    pause = np.zeros(rate // 2, np.float32)
    recording = np.concatenate([speech, pause] * 30)  # over 30 s in all
    sf.write(tmp_path / "long.wav", recording, rate)
    result = _cli(
        "transcribe", "--run-dir", str(encoder_run), "--format", "json", str(tmp_path / "long.wav")
    )
    transcript = json.loads(result.stdout)
    assert transcript["duration"] > 30
    assert all(s["end"] - s["start"] <= 20.0 + 1e-6 for s in transcript["segments"])
