"""The real-speech builder on fake package layouts with tiny generated audio (no Debian data
packages, no network)."""

import io
import shutil
import subprocess
import tarfile

import numpy as np
import pytest
import soundfile as sf

from data_prep.corpora import real_speech
from data_prep.speech.manifest import read_manifest

KLETTRES_XML = """<!-- comment --><klettres><language code="{code}"><alphabet>
<sound name="A" file="{code}/alpha/A.ogg" /></alphabet><syllables>
<sound name="CAR" file="{code}/syllab/car.ogg" /><sound name="TH" file="{code}/syllab/th.ogg" />
<sound name="!" file="{code}/syllab/bang.ogg" /></syllables></language></klettres>"""
KTUBERLING_THEME = """<language code="en"><sound name="ball" file="en/ball.ogg" />
<sound name="egypt_palmtree" file="en/egypt_palmtree.ogg" /></language>"""


def _tone(path, seconds=0.2, rate=22050, channels=1, frequency=440):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    audio = np.repeat((0.3 * np.sin(2 * np.pi * frequency * t))[:, None], channels, axis=1)
    fmt = {".ogg": "OGG", ".wav": "WAV"}[path.suffix]
    sf.write(path, audio, rate, format=fmt, subtype="VORBIS" if fmt == "OGG" else "PCM_16")


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def share(tmp_path_factory):
    """Fake /usr/share with the four Debian layouts; every file holds a tone."""
    root = tmp_path_factory.mktemp("share")
    for code in ("en", "en_GB", "fr"):
        _write(root / "klettres" / code / "sounds.xml", KLETTRES_XML.format(code=code))
        for name in ("alpha/A", "syllab/car", "syllab/th", "syllab/bang"):
            _tone(root / "klettres" / code / f"{name}.ogg")
    _write(root / "ktuberling/sounds/en.soundtheme", KTUBERLING_THEME)
    for name in ("ball", "egypt_palmtree", "tv_tree"):  # tv_tree: not in the theme
        _tone(root / f"ktuberling/sounds/en/{name}.ogg", channels=2, rate=44100)
    stamps = root / "tuxpaint/stamps"
    _write(stamps / "animals/frog.txt", "A frog.\nfr.utf8=Une grenouille.\n")
    for name in ("frog_desc", "frog_desc_fr", "frog", "wallaby_desc"):  # wallaby: no text
        _tone(stamps / f"animals/{name}.ogg")
    _write(stamps / "math/7.txt", "Seven.\nde.utf8=Sieben.\n")
    for name in ("7", "7_en_GB", "7_fr", "7_de"):
        _tone(stamps / f"math/{name}.ogg", frequency=300 + 50 * len(name))
    _tone(stamps / "letters/A_filled_en_GB.ogg", frequency=600)
    shutil.copy(stamps / "letters/A_filled_en_GB.ogg", stamps / "letters/A_outline_en_GB.ogg")
    for shape in ("filled", "outline"):  # the same recording twice: kept once
        _write(stamps / f"letters/A_{shape}.txt", "The letter A.\n")
    for name in ("Front_Left", "Noise"):
        _tone(root / f"sounds/alsa/{name}.wav", rate=48000)
    return root


def _add(tar, name, data: bytes):
    info = tarfile.TarInfo(f"pocketsphinx-9.9/{name}")
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


@pytest.fixture(scope="module")
def sdist(tmp_path_factory):
    """A fake pocketsphinx sdist with the test/data files the builder reads."""
    folder = tmp_path_factory.mktemp("sdist")
    wav = folder / "tone.wav"
    _tone(wav, rate=16000)
    raw = (np.sin(np.arange(3200) / 5) * 8000).astype("<i2").tobytes()
    path = folder / "pocketsphinx-9.9.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, "LICENSE", b"BSD")
        _add(tar, "test/data/librivox/transcription", b"<s> he was not ill </s> (utt1)\n")
        _add(tar, "test/data/librivox/utt1.wav", wav.read_bytes())
        _add(tar, "test/data/cards/cards.transcription", b"<s> ten of clubs  </s> (001)\n")
        _add(tar, "test/data/cards/001.wav", wav.read_bytes())
        _add(tar, "test/data/goforward.raw", raw)
        _add(tar, "test/data/tidigits/dhd.2934z.raw", raw)
        _add(tar, "src/ignored.c", b"int main;")
    return path


def test_build_collects_each_source(share, sdist, tmp_path):
    out = tmp_path / "real"
    summary = real_speech.build(out, share=share, sdist=sdist)
    entries = read_manifest(out / "real.jsonl")
    found = {(e["source"], e["speaker"], e["text"]) for e in entries}
    assert found == {
        ("pocketsphinx", "pocketsphinx-librivox", "he was not ill"),
        ("pocketsphinx", "pocketsphinx-cards", "ten of clubs"),
        ("pocketsphinx", "pocketsphinx-goforward", "go forward ten meters"),
        ("pocketsphinx", "pocketsphinx-dhd", "two nine three four zero"),
        *{("klettres", f"klettres-{v}", t) for v in ("en", "en_GB") for t in ("A", "CAR")},
        ("ktuberling", "ktuberling-en", "ball"),
        ("ktuberling", "ktuberling-en", "palm tree"),
        ("tuxpaint", "tuxpaint-desc", "A frog."),
        ("tuxpaint", "tuxpaint-numbers", "Seven."),
        ("tuxpaint", "tuxpaint-en_GB", "Seven."),
        ("tuxpaint", "tuxpaint-en_GB", "A"),  # the letter sounds say the letter only
        ("alsa", "alsa", "Front Left"),
    }
    assert len(entries) == len(found)
    assert summary["skipped"] == {
        "klettres phonics sound, not a word": 2,
        "empty text after normalization": 2,
        "tuxpaint recording without English text": 1,
        "tuxpaint duplicate recording": 1,
        "alsa noise test signal": 1,
    }
    for entry in entries:
        info = sf.info(entry["audio_filepath"])
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert entry["duration"] == pytest.approx(info.duration, abs=1e-3) and info.duration > 0
        assert entry["licence"]
    licences = {e["speaker"]: e["licence"] for e in entries}
    assert licences["pocketsphinx-librivox"].startswith("public domain")
    assert licences["alsa"].startswith("GPL-2")
    raw = next(e for e in entries if e["speaker"] == "pocketsphinx-dhd")
    assert raw["duration"] == pytest.approx(0.2)  # 3200 samples at 16 kHz, not resampled
    rows = summary["sources"]
    assert rows["klettres"]["utterances"] == 4 and rows["all"]["utterances"] == len(entries)
    assert rows["tuxpaint"]["speakers"] == ["tuxpaint-desc", "tuxpaint-en_GB", "tuxpaint-numbers"]
    assert rows["all"]["minutes"] == pytest.approx(sum(e["duration"] for e in entries) / 60, 0.01)
    # A rerun reuses the extracted sdist and the WAV files.
    wav = out / "wavs" / "alsa" / "Front_Left.wav"
    before = wav.stat().st_mtime_ns
    real_speech.build(out, sources=["alsa", "pocketsphinx"], share=share, sdist=sdist)
    assert wav.stat().st_mtime_ns == before
    assert {e["source"] for e in read_manifest(out / "real.jsonl")} == {"alsa", "pocketsphinx"}


def test_missing_packages_are_named(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="apt-get install klettres-data alsa-utils"):
        real_speech.collect(["klettres", "alsa"], share=tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        out = ["--out", str(tmp_path / "out")]
        real_speech.main([*out, "--share", str(tmp_path), "--sources", "tuxpaint"])
    assert exit_info.value.code == 1
    assert "tuxpaint-stamps-default" in capsys.readouterr().err


def test_download_failure_says_what_to_do(tmp_path, monkeypatch):
    failed = subprocess.CompletedProcess([], 1, "", "Could not find a version (network down)")
    monkeypatch.setattr(real_speech.subprocess, "run", lambda *a, **k: failed)
    with pytest.raises(RuntimeError, match="--pocketsphinx-sdist") as error:
        real_speech.fetch_pocketsphinx(tmp_path)
    assert "network down" in str(error.value) and "PyPI" in str(error.value)


def test_malformed_transcription_names_the_line(tmp_path):
    table = tmp_path / "test/data/librivox/transcription"
    _write(table, "<s> fine </s> (a)\nno markers here\n")
    with pytest.raises(ValueError, match=r"transcription:2: expected"):
        real_speech.pocketsphinx_recordings(tmp_path, None)


def test_help_lists_sources_and_licences(capsys):
    with pytest.raises(SystemExit) as exit_info:
        real_speech.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "--sources" in text and "GPL-2+ (Debian ktuberling-data)" in text
