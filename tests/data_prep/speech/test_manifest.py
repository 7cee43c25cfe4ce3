import json
import logging

import pytest

from data_prep.speech.manifest import convert, read_manifest, write_manifest
from tests.conftest import write_tone


def test_ljspeech(tmp_path, caplog):
    (tmp_path / "wavs").mkdir()
    write_tone(tmp_path / "wavs/LJ001-0001.wav", seconds=1.0)
    write_tone(tmp_path / "wavs/LJ001-0002.wav", seconds=0.5)
    (tmp_path / "metadata.csv").write_text(
        "LJ001-0001|Printing, in 1st sense|Printing, in first sense\n"
        "LJ001-0002|Only raw text|\n"
        "LJ001-0003|missing audio|missing audio\n"
        "broken line\n",
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING):
        written, skipped = convert("ljspeech", tmp_path, tmp_path / "m.jsonl")
    assert (written, skipped) == (2, 2)
    assert "metadata.csv:3" in caplog.text and "metadata.csv:4" in caplog.text
    entries = read_manifest(tmp_path / "m.jsonl")
    assert [e["text"] for e in entries] == ["Printing, in first sense", "Only raw text"]
    assert [e["duration"] for e in entries] == [1.0, 0.5]
    assert entries[0]["audio_filepath"] == str(tmp_path / "wavs/LJ001-0001.wav")
    # Paths are stored relative to the manifest, so a corpus folder can move.
    assert json.loads((tmp_path / "m.jsonl").read_text().splitlines()[0])["audio_filepath"] == (
        "wavs/LJ001-0001.wav"
    )


def test_librispeech(tmp_path):
    chapter = tmp_path / "dev-clean/84/121123"
    chapter.mkdir(parents=True)
    write_tone(chapter / "84-121123-0000.flac", seconds=0.8)
    write_tone(chapter / "84-121123-0001.flac", seconds=0.4)
    (chapter / "84-121123.trans.txt").write_text(
        "84-121123-0000 GO DO YOU HEAR\n84-121123-0001 BUT IN LESS THAN FIVE MINUTES\n"
    )
    assert convert("librispeech", tmp_path, tmp_path / "m.jsonl") == (2, 0)
    entries = read_manifest(tmp_path / "m.jsonl")
    assert entries[1]["text"] == "BUT IN LESS THAN FIVE MINUTES"
    assert entries[0]["speaker"] == "84" and entries[0]["duration"] == 0.8


def test_commonvoice(tmp_path):
    (tmp_path / "clips").mkdir()
    write_tone(tmp_path / "clips/a.wav", seconds=0.3)
    (tmp_path / "test.tsv").write_text(
        "client_id\tpath\tsentence\tup_votes\nabc\ta.wav\tHello there.\t2\nabc\tb.wav\tNo file\t1\n"
    )
    assert convert("commonvoice", tmp_path, tmp_path / "m.jsonl", split="test") == (1, 1)
    assert read_manifest(tmp_path / "m.jsonl")[0]["speaker"] == "abc"


def test_tsv_and_corrupt_audio(tmp_path, caplog):
    write_tone(tmp_path / "good.wav", seconds=0.2)
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    (tmp_path / "list.tsv").write_text("good.wav\tgood one\nbad.wav\tbad one\nno tab here\n")
    with caplog.at_level(logging.WARNING):
        assert convert("tsv", tmp_path / "list.tsv", tmp_path / "m.jsonl") == (1, 2)
    assert "list.tsv:2" in caplog.text and "bad.wav" in caplog.text
    assert "list.tsv:3: expected path<TAB>text" in caplog.text
    assert "skipped 2 of 3 utterances" in caplog.text


def test_no_usable_utterances_is_an_error(tmp_path):
    (tmp_path / "list.tsv").write_text("missing.wav\ttext\n")
    with pytest.raises(ValueError, match="no usable utterances"):
        convert("tsv", tmp_path / "list.tsv", tmp_path / "m.jsonl")


def test_read_manifest_reports_file_and_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"audio_filepath": "a.wav", "duration": 1, "text": "a"}\n\n{oops\n')
    with pytest.raises(ValueError, match=r"m.jsonl:3: not valid JSON"):
        read_manifest(path)
    path.write_text('{"audio_filepath": "a.wav", "text": "a"}\n')
    with pytest.raises(ValueError, match=r"m.jsonl:1: a manifest line needs the keys"):
        read_manifest(path)


def test_write_then_read_round_trip(tmp_path):
    entries = [{"audio_filepath": str(tmp_path / "x/a.wav"), "duration": 1.5, "text": "hi"}]
    assert write_manifest(entries, tmp_path / "sub/m.jsonl") == 1
    back = read_manifest(tmp_path / "sub/m.jsonl")
    assert back[0]["audio_filepath"] == str(tmp_path / "x/a.wav")
    assert back[0]["line"] == 1 and back[0]["text"] == "hi"
