"""Speech translation: the chain's output formats on a hand-made transcript, the recognizer-
style translator option, and the command end to end with a tiny Spanish recognizer (synthesized
from the tiny grammar's Spanish side by espeak-ng es voices) before the tiny translator: what is
tested is the plumbing, not the tiny models' accuracy."""

import io
import json
import sys
from pathlib import Path

import pytest
import srt
import webvtt

from data_prep.speech.manifest import read_manifest
from pipelines.tasks.asr.long_transcription import Transcript
from pipelines.tasks.speech_translation import formats
from pipelines.tasks.speech_translation.chain import SpeechTranslation, translate_segments
from pipelines.tasks.translation.task import asr_style
from seq2seq.speech.alignment import Word
from tests.conftest import tiny_pairs
from tests.helpers import run_command


def _result():
    """Two segments of Spanish with word times, the second's translation long enough for
    several cues, and a silent third segment."""
    spoken = [(1.0, "el rey ve la casa"), (4.0, "la mujer tiene el libro verde y el pan")]
    segments = []
    for start, text in spoken:
        words = [
            Word(w, start + 0.4 * i, start + 0.4 * i + 0.3, 0.9) for i, w in enumerate(text.split())
        ]
        segments.append(
            {
                "start": start - 0.2,
                "end": words[-1].end + 0.2,
                "text": text,
                "confidence": 0.9,
                "words": words,
            }
        )
    segments.append({"start": 9.0, "end": 9.5, "text": "", "confidence": None, "words": []})
    long = " ".join(["The woman has the green book and the bread"] * 4)
    transcript = Transcript("talk.wav", 10.0, segments, {"decoder": "greedy"})
    return SpeechTranslation(transcript, ["The king sees the house.", long, ""])


def test_subtitles_cue_the_translation_on_the_speech_times():
    result = _result()
    subtitles = list(srt.parse(formats.render(result, "srt")))
    captions = webvtt.from_buffer(io.StringIO(formats.render(result, "vtt"))).captions
    assert len(subtitles) == len(captions) >= 3
    said = " ".join(s.content.replace("\n", " ") for s in subtitles)
    assert said == result.text
    assert subtitles[0].content == "The king sees the house."
    assert subtitles[0].start.total_seconds() == 1.0  # the first word's start
    assert abs(subtitles[0].end.total_seconds() - 2.9) < 1e-3  # the last word's end
    second = [s for s in subtitles if s.start.total_seconds() >= 4.0]
    assert (
        second[0].start.total_seconds() == 4.0 and abs(second[-1].end.total_seconds() - 7.5) < 1e-3
    )
    for sub in subtitles:
        lines = sub.content.split("\n")
        assert len(lines) <= 2 and all(len(line) <= 42 for line in lines)
        assert 0 < (sub.end - sub.start).total_seconds() <= 7.0
    assert all(a.end <= b.start for a, b in zip(subtitles, subtitles[1:], strict=False))


def test_text_tsv_and_json_hold_transcript_and_translation():
    result = _result()
    assert formats.render(result, "text") == f"talk.wav\t{result.text}\n"
    rows = [line.split("\t") for line in formats.render(result, "tsv").splitlines()]
    assert len(rows) == 2  # the silent segment has no row
    assert rows[0] == [
        "talk.wav",
        "0.800",
        "3.100",
        "0.9000",
        "el rey ve la casa",
        "The king sees the house.",
    ]
    data = json.loads(formats.render(result, "json"))
    assert data["transcript"] == "el rey ve la casa la mujer tiene el libro verde y el pan"
    assert data["translation"] == result.text and len(data["segments"]) == 3
    assert data["segments"][0] == {
        "start": 0.8,
        "end": 3.1,
        "text": "el rey ve la casa",
        "confidence": 0.9,
        "translation": "The king sees the house.",
    }
    with pytest.raises(ValueError, match="format 'xml'"):
        formats.render(result, "xml")


def test_segments_are_translated_and_silent_ones_stay_empty():
    class Echo:
        calls = []

        def translate(self, sentences, beam_size=1):
            self.calls.append((list(sentences), beam_size))
            return [s.upper() for s in sentences]

    translator = Echo()
    result = _result()
    assert translate_segments(translator, result.transcript, 3) == [
        "EL REY VE LA CASA",
        "LA MUJER TIENE EL LIBRO VERDE Y EL PAN",
        "",
    ]
    assert Echo.calls == [(["el rey ve la casa", "la mujer tiene el libro verde y el pan"], 3)]


def test_asr_style_rewrites_a_seeded_share_of_the_sources():
    pairs = tiny_pairs()[:200] + [("¡Año 1909!", "Year 1909!"), ("¿?", "?")]
    styled, count = asr_style(pairs, 0.5, "es", seed=0)
    changed = [(a, b) for a, b in zip(pairs, styled, strict=True) if a != b]
    assert count == len(changed) and 70 <= count <= 130
    assert all(new[1] == old[1] for old, new in changed)  # targets never change
    assert all(new[0] == new[0].lower() and "." not in new[0] for _, new in changed)
    assert styled == asr_style(pairs, 0.5, "es", seed=0)[0]
    everything, _ = asr_style(pairs, 1.0, "es", seed=0)
    assert everything[-2] == ("año mil novecientos nueve", "Year 1909!")
    assert everything[-1] == ("¿?", "?")  # empty once normalized: kept as it was
    assert asr_style(pairs, 0.0, "es", 0) == (pairs, 0)


def _speech_translate(*args, expect=0):
    return run_command([sys.executable, "-m", "pipelines.speech_translate", *args], expect)


def test_spanish_recognizer_writes_the_spanish_alphabet(spanish_run):
    from pipelines.tasks.asr.recognizer import Recognizer

    recognizer = Recognizer(spanish_run)
    assert recognizer.config.data.language == "es"
    assert recognizer.model.output_projection.units == 35  # 34 characters and the blank
    assert "ñ" in recognizer.alphabet and "'" not in recognizer.alphabet


def test_chain_command_and_evaluation(
    talkative_spanish_run, spanish_speech, translation_run, tmp_path
):
    verses = read_manifest(spanish_speech / "test_verses.jsonl")
    assert len(verses) == 4 and all(v["translation"] and v["language"] == "es" for v in verses)
    wav = verses[0]["audio_filepath"]
    run = talkative_spanish_run  # writes many words: the translator gets something to read
    common = ["--asr", str(run), "--translate", str(translation_run)]
    out = _speech_translate(*common, "--format", "json", wav).stdout
    result = json.loads(out)
    assert result["source"] == wav and result["settings"]["decoder"] == "greedy"
    assert {"transcript", "confidence", "translation", "segments"} <= set(result)
    assert result["transcript"] and result["translation"]
    for segment in result["segments"]:
        assert set(segment) == {"start", "end", "text", "confidence", "translation"}
        assert bool(segment["text"]) == bool(segment["translation"])
    # the translation of each segment is the translator's translation of its transcript
    from pipelines.tasks.translation.translator import Translator

    texts = [s["text"] for s in result["segments"] if s["text"]]
    beam = Translator(translation_run).config.decode.beam_size
    assert Translator(translation_run).translate(texts, beam) == [
        s["translation"] for s in result["segments"] if s["text"]
    ]
    folder = tmp_path / "subs"
    _speech_translate(*common, "--format", "srt", "--out-dir", str(folder), wav, "--beam-size", "4")
    subtitles = list(srt.parse((folder / f"{Path(wav).stem}.srt").read_text()))
    assert subtitles and all(s.content for s in subtitles)

    report_dir = tmp_path / "report"
    done = _speech_translate(
        *common, "--evaluate", str(spanish_speech / "test_verses.jsonl"), "--out", str(report_dir)
    )
    assert "4 utterances, WER" in done.stdout and "BLEU from speech" in done.stdout
    report = json.loads((report_dir / "report.json").read_text())
    assert report["utterances"] == 4 and report["language"] == "es"
    assert set(report["translation"]) == {"chain", "gold", "asr_style"}
    assert 0 <= report["translation"]["gold"]["bleu"] <= 100 and report["asr"]["wer"] >= 0
    assert sum(s["utterances"] for s in report["by_speaker"].values()) == 4
    assert all(s.startswith("espeak-ng+") for s in report["by_speaker"])
    assert report["runs"] == {"asr": str(run), "translate": str(translation_run)}
    cues = list(srt.parse(report["subtitles"]["srt"]))  # the first recording's subtitles
    assert report["subtitles"]["audio"] == report["samples"][0]["audio"] and cues
    markdown = (report_dir / "report.md").read_text()
    assert markdown.startswith("# Speech translation report: test_verses.jsonl")
    assert "| all | 4 |" in markdown


def test_chain_refuses_a_recognizer_of_another_language(speech_run, translation_run, tmp_path):
    wav = tmp_path / "x.wav"
    from tests.conftest import write_tone

    write_tone(wav, 1.0)
    result = _speech_translate(
        "--asr", str(speech_run), "--translate", str(translation_run), str(wav), expect=2
    )
    assert "writes en (data.language)" in result.stderr and "reads es" in result.stderr


def test_evaluation_needs_translations(
    talkative_spanish_run, spanish_speech, translation_run, tmp_path
):
    result = _speech_translate(
        "--asr",
        str(talkative_spanish_run),
        "--translate",
        str(translation_run),
        "--evaluate",
        str(spanish_speech / "test.jsonl"),
        "--out",
        str(tmp_path / "r"),
        expect=2,
    )
    assert "test.jsonl:1: no `translation` to score against" in result.stderr
