import pytest

from data_prep.text.parallel import read_anki, read_moses, read_parallel, read_tsv


def test_read_tsv_filters_with_file_and_line(tmp_path):
    path = tmp_path / "corpus.tsv"
    path.write_bytes(
        "Hola.\tHello.\n"  # 1 kept
        "\tEmpty source.\n"  # 2 empty side
        "Sin traducción\n"  # 3 one column
        "\n".encode()  # 4 empty line
        + b"Mal \xff byte\tBad byte.\n"  # 5 invalid UTF-8
        + b"uno dos tres cuatro cinco seis\tone two.\n"  # 6 too long
        + "Adiós ,  amigo .\tGoodbye, friend.\n".encode()  # 7 kept, normalized
    )
    pairs, report = read_tsv(path, max_words=5)
    assert pairs == [("Hola.", "Hello."), ("Adiós, amigo.", "Goodbye, friend.")]
    assert report.kept == 2
    assert report.dropped == {
        "empty side": 1,
        "1 columns, expected 2": 1,
        "empty line": 1,
        "invalid UTF-8 at byte 4": 1,
        "longer than 5 words": 1,
    }
    assert [p.split(": ")[0] for p in report.problems] == [f"{path}:{n}" for n in (2, 3, 4, 5, 6)]


def test_read_tsv_logs_filtered_counts(tmp_path, caplog):
    path = tmp_path / "c.tsv"
    path.write_text("a\tb\n\tx\n", encoding="utf-8")
    read_tsv(path)
    assert "kept 1 pairs, filtered 1 empty side" in caplog.text
    assert f"{path}:2: empty side" in caplog.text


def test_read_anki_reverses_columns(tmp_path):
    path = tmp_path / "spa.txt"
    path.write_text("Go.\tVe.\tCC-BY 2.0 (France) Attribution: tatoeba.org\n", encoding="utf-8")
    assert read_anki(path)[0] == [("Ve.", "Go.")]
    assert read_anki(path, reverse=False)[0] == [("Go.", "Ve.")]


def test_read_moses_pairs_lines(tmp_path):
    (tmp_path / "train.es").write_text("Hola.\n\nAdiós.\n", encoding="utf-8")
    (tmp_path / "train.en").write_text("Hello.\nLost.\nBye.\n", encoding="utf-8")
    pairs, report = read_moses(tmp_path / "train.es", tmp_path / "train.en")
    assert pairs == [("Hola.", "Hello."), ("Adiós.", "Bye.")]
    assert report.problems == [f"{tmp_path / 'train.es'}:2: empty side"]
    spec = f"{tmp_path / 'train.es'},{tmp_path / 'train.en'}"
    assert read_parallel(spec, "moses")[0] == pairs


def test_read_moses_refuses_misaligned_files(tmp_path):
    (tmp_path / "a.es").write_text("uno\ndos\ntres\n", encoding="utf-8")
    (tmp_path / "a.en").write_text("one\ntwo\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"a.es has 3 lines but .*a.en has 2.*line 3"):
        read_moses(tmp_path / "a.es", tmp_path / "a.en")


def test_unknown_format_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="unknown corpus format 'xml'"):
        read_parallel(tmp_path / "x", "xml")


def test_read_moses_reports_invalid_utf8_by_file_and_line(tmp_path):
    (tmp_path / "b.es").write_bytes(b"uno\nd\xffos\n")
    (tmp_path / "b.en").write_text("one\ntwo\n", encoding="utf-8")
    pairs, report = read_moses(tmp_path / "b.es", tmp_path / "b.en")
    assert pairs == [("uno", "one")]
    assert report.problems == [f"{tmp_path / 'b.es'}:2: invalid UTF-8 at byte 1"]
