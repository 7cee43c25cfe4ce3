"""Dirty corpora: every bad line or file is reported (file, line, reason), counted in
RUN/data_summary.json and filtered, and the run goes on; a corpus with nothing left is an
error before any model is built."""

import json
import math
import shutil
import wave

import numpy as np
import pytest
import soundfile as sf

from data_prep.speech.manifest import read_manifest
from seq2seq.config import load_config
from tests.conftest import tiny_pairs

pytestmark = pytest.mark.slow


def _dirty_tsv(path):
    good = tiny_pairs()[:200]
    lines = [f"{s}\t{t}".encode() for s, t in good]
    bad = [
        b"El rey \xff\xfe ve.\tThe king sees.",  # invalid UTF-8
        b"",  # empty line
        b"El rey ve la casa.",  # target side missing
        b"El rey ve la casa.\t",  # target side empty
        " ".join(["palabra"] * 10_000).encode() + b"\tword",  # 10,000 words
        b"El rey\x00 ve la casa.\tThe king\x1b sees the house.",  # control characters
        b"El rey ve la casa.\tThe king sees the house.\tcc-by",  # three columns
    ]
    for i, line in enumerate(bad):
        lines.insert(20 * (i + 1), line)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return {20 * (i + 1) + 1: line for i, line in enumerate(bad)}  # 1-based line numbers


def test_dirty_parallel_text_is_reported_counted_and_filtered(tiny_corpus, tmp_path, caplog):
    from pipelines.tasks import translation

    train = tmp_path / "train.tsv"
    bad_lines = _dirty_tsv(train)
    settings = [f"data.train={train}", f"data.dev={tiny_corpus / 'dev.tsv'}", "train.epochs=2"]
    config = load_config(translation.TranslationConfig, "configs/translate/tiny.yaml", settings)
    history = translation.train(config, tmp_path / "run")
    assert all(math.isfinite(x) for x in history.history["loss"])
    summary = json.loads((tmp_path / "run/data_summary.json").read_text())["train"]
    assert summary["kept"] == 200
    assert summary["dropped"] == {
        "1 columns, expected 2": 1,
        "3 columns, expected 2": 1,
        "control characters": 1,
        "empty line": 1,
        "empty side": 1,
        "invalid UTF-8 at byte 7": 1,
        f"longer than {config.data.max_length} words": 1,
    }
    numbers = sorted(int(p.split(":")[-2]) for p in summary["problems"])
    assert numbers == sorted(bad_lines)  # every bad line named by its line number
    assert all(p.startswith(str(train)) for p in summary["problems"])
    assert "kept 200 pairs, filtered" in caplog.text


def test_a_corpus_with_nothing_usable_is_an_error_before_any_model(tmp_path):
    from pipelines.tasks import translation

    train = tmp_path / "train.tsv"
    train.write_bytes(b"\n\xff\xfe\tx\nonly one column\n")
    config = load_config(
        translation.TranslationConfig, "configs/translate/tiny.yaml", [f"data.train={train}"]
    )
    with pytest.raises(ValueError, match=f"no usable sentence pairs in train file {train}"):
        translation.train(config, tmp_path / "run")
    assert not (tmp_path / "run/model.keras").exists()
    assert not (tmp_path / "run/tokenizers").exists()


def _write_bad_audio(folder, good):
    """Bad and odd files next to good ones: {name: (path, text)}."""
    rate = 16000
    t = np.arange(rate) / rate
    tone = (0.2 * np.sin(2 * np.pi * 220 * t)).astype("float32")
    (folder / "zero.wav").write_bytes(b"")
    header = folder / "header.wav"
    header.write_bytes(open(good[0]["audio_filepath"], "rb").read()[:30])  # truncated header
    (folder / "text.wav").write_text("this is not audio\n")
    nan = tone.copy()
    nan[100] = np.nan
    sf.write(folder / "nan.wav", nan, rate, subtype="FLOAT")
    speech, _ = sf.read(good[1]["audio_filepath"], dtype="float32")
    import librosa

    sf.write(folder / "8k.wav", librosa.resample(speech, orig_sr=rate, target_sr=8000), 8000)
    stereo = librosa.resample(speech, orig_sr=rate, target_sr=48000)
    sf.write(folder / "48k_stereo.flac", np.stack([stereo, stereo], 1), 48000)
    sf.write(folder / "short.wav", tone[: rate // 20], rate)  # 0.05 s
    with wave.open(str(folder / "ten_minutes.wav"), "wb") as f:  # 10 minutes of silence
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(b"\x00\x00" * rate * 600)
    return {
        "zero": "zero.wav",
        "header": "header.wav",
        "text": "text.wav",
        "nan": "nan.wav",
        "8k": "8k.wav",
        "48k": "48k_stereo.flac",
        "short": "short.wav",
        "long": "ten_minutes.wav",
    }


def test_dirty_audio_is_reported_counted_filtered_or_resampled(tiny_speech, tmp_path):
    from pipelines.tasks import asr

    entries = read_manifest(tiny_speech / "train.jsonl")
    files = _write_bad_audio(tmp_path, entries)
    long_text = "and it came to pass " * 20
    bad = [
        {"audio_filepath": files[k], "duration": 1.0, "text": entries[0]["text"]}
        for k in ("zero", "header", "text", "nan")
    ]
    bad += [
        {"audio_filepath": files["8k"], "duration": 1.0, "text": entries[1]["text"]},
        {"audio_filepath": files["48k"], "duration": 1.0, "text": entries[1]["text"]},
        {"audio_filepath": files["short"], "duration": 0.05, "text": long_text},
        {"audio_filepath": files["long"], "duration": 600.0, "text": "silence"},
        {"audio_filepath": entries[2]["audio_filepath"], "duration": 1.0, "text": long_text * 3},
    ]
    manifest = tmp_path / "train.jsonl"
    lines = [json.dumps({**e, "audio_filepath": str(e["audio_filepath"])}) for e in entries + bad]
    manifest.write_text("\n".join(lines) + "\n")
    settings = [
        f"data.train={manifest}",
        f"data.dev={tiny_speech / 'dev.jsonl'}",
        f"data.cache_dir={tmp_path / 'cache'}",
        "train.epochs=2",
    ]
    config = load_config(asr.ASRConfig, "configs/asr/tiny.yaml", settings)
    history = asr.train(config, tmp_path / "run")
    assert all(math.isfinite(x) for x in history.history["loss"] + history.history["val_loss"])
    summary = json.loads((tmp_path / "run/data_summary.json").read_text())["train"]
    assert summary["unreadable_audio"] == 4  # empty, truncated header, not audio, NaN samples
    reasons = {e["line"]: e["error"] for e in summary["unreadable_examples"]}
    first_bad = len(entries) + 1
    assert sorted(reasons) == list(range(first_bad, first_bad + 4))  # manifest line numbers
    assert "NaN" in reasons[first_bad + 3] and "zero.wav" in reasons[first_bad]
    assert summary["filtered"] == {
        "empty_transcript": 0,
        "longer_than_max_frames": 1,  # ten minutes
        "label_longer_than_output": 2,  # 0.05 s with a long text, a text too long for its audio
    }
    # The 8 kHz and 48 kHz stereo files were resampled and kept, with the 40 good ones.
    assert summary["kept"] == len(entries) + 2
    shutil.rmtree(tmp_path / "cache")
