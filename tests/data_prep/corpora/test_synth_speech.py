import importlib.util
from collections import Counter

import pytest
import soundfile as sf

from data_prep.corpora import engines as tts
from data_prep.corpora.neural_voices import HIBARI_VOICES
from data_prep.corpora.plans import WORD_SPLIT, plan_split
from data_prep.corpora.synth_speech import _speak, main, synthesize
from data_prep.corpora.voices import TRAIN_SHARES, VARIANTS, persons
from data_prep.speech.manifest import read_manifest
from data_prep.speech.transcripts import normalize_transcript
from data_prep.speech.word_list import common_words, word_frequencies, word_split
from data_prep.text.normalize import split_utterances
from tests.conftest import SPEECH_TEXT

ALL = ("espeak-ng", "flite", "festival", "piper", "hibari", "kokoro")
SPLITS = ("train", "dev", "test", "test_voices", "test_festival")


def test_split_utterances_keeps_every_word_within_the_limit():
    line = (
        "And he said to them, Go into all the world, and preach the good news to the whole "
        "creation; he who believes and is baptized will be saved, but he who disbelieves will "
        "be condemned."
    )
    utterances = split_utterances(line, max_words=10)
    assert " ".join(utterances).split() == line.split()
    assert all(len(u.split()) <= 10 for u in utterances)
    assert len(utterances) >= 3


def test_short_last_piece_joins_the_previous_utterance():
    assert split_utterances("One two three four five, six.", max_words=5) == [
        "One two three four five, six."
    ]


def test_tiny_corpus_holds_test_voices_out(tiny_speech):
    manifests = {s: read_manifest(tiny_speech / f"{s}.jsonl") for s in ("train", "dev", "test")}
    assert [len(m) for m in manifests.values()] == [40, 6, 6]
    variants = {s: {e["voice"].split("+")[1] for e in m} for s, m in manifests.items()}
    assert variants["test"] <= set(VARIANTS["test"]) and not variants["test"] & variants["train"]
    assert {e["engine"] for m in manifests.values() for e in m} == {"espeak-ng"}
    entry = manifests["test"][0]
    info = sf.info(entry["audio_filepath"])
    assert (info.samplerate, info.channels) == (16000, 1)
    assert abs(info.duration - entry["duration"]) < 1e-3 and 0.5 < entry["duration"] < 10


def test_rerun_skips_existing_files(tiny_speech):
    path = tiny_speech / "wavs/test/test-000000.wav"
    before = path.stat().st_mtime_ns
    synthesize({"test": []}, tiny_speech / "other", {}, workers=1)  # empty split is fine
    jobs = plan_split(
        ["God saw the light, and saw that it was good."], "test", tiny_speech, None, 0
    )
    assert jobs[0].path == str(path)
    result = _speak(jobs[0])
    assert path.stat().st_mtime_ns == before and result["entry"]["duration"] > 0
    assert result["seconds"] is None  # nothing was spoken


def test_fixed_splits_do_not_depend_on_the_engines():
    texts = SPEECH_TEXT * 3
    for split in ("test", "test_festival"):
        alone = plan_split(texts, split, "out", 10, 0)
        mixed = plan_split(texts, split, "out", 10, 0, engines=ALL, shares={"piper-joe": 1})
        assert alone == mixed and len(alone) == 10
    festival = plan_split(texts, "test_festival", "out", 10, 0)
    assert [j.text for j in festival] == [j.text for j in alone]
    assert {(j.engine, j.voice, j.speaker) for j in festival} == {
        ("festival", "kal_diphone", "kal")
    }


def test_train_shares_and_file_names():
    jobs = plan_split(SPEECH_TEXT * 40, "train", "out", 100, 0, engines=ALL)
    counts = Counter(
        j.engine if j.engine in ("espeak-ng", "hibari", "kokoro") else j.voice for j in jobs
    )
    assert counts == {
        "espeak-ng": 20,
        "awb": 10,
        "slt": 10,
        "cmu_us_slt_arctic_hts": 6,
        "en_US-joe-medium": 6,
        "hibari": 44,
        "kokoro": 4,
    }
    # the file name carries what is spoken: another plan for index 0 gets another file
    other = plan_split(SPEECH_TEXT * 40, "train", "out", 100, 0, engines=ALL, shares={"espeak": 1})
    assert jobs[0].path != other[0].path and jobs == plan_split(
        SPEECH_TEXT * 40, "train", "out", 100, 0, engines=ALL
    )


def test_plans_hold_the_test_voices_persons_out_of_training():
    """Over many draws: no person of test_voices (a Kokoro style, festival ked) is in a
    training voice, not even in a blend; hibari's derived voices all count as af_heart."""
    train = plan_split(SPEECH_TEXT * 200, "train", "out", 2000, 0, engines=ALL)
    held = plan_split(SPEECH_TEXT * 200, "test_voices", "out", 200, 0, engines=ALL)
    trained = {p for j in train for p in persons(j.speaker)}
    tested = {p for j in held for p in persons(j.speaker)}
    assert tested == {"ked", "kokoro:jf_nezumi"} and not tested & trained
    assert {j.voice for j in train if j.engine == "hibari"} == set(HIBARI_VOICES)
    assert {j.speaker for j in train if j.engine == "hibari"} == {"kokoro:af_heart"}
    assert len({j.voice for j in train if j.engine == "kokoro"}) == 7


def test_short_share_cuts_training_utterances_to_a_few_of_their_own_words():
    texts = SPEECH_TEXT * 40
    whole = plan_split(texts, "train", "out", 100, 0, engines=ALL)
    short = plan_split(texts, "train", "out", 100, 0, engines=ALL, short_share=0.25)
    cut = [(w, s) for w, s in zip(whole, short, strict=True) if w.text != s.text]
    assert len(cut) == 25  # a quarter, each still spoken by the speaker the plan gave it
    assert [(j.engine, j.voice) for j in whole] == [(j.engine, j.voice) for j in short]
    sizes = Counter(len(s.text.split()) for _, s in cut)
    assert set(sizes) == {1, 2, 3}
    for w, s in cut:
        assert s.text in w.text  # consecutive words of its own utterance
        assert s.text[0].isalnum() and s.text[-1].isalnum()
    # the same seed gives the same pieces; dev and test never change
    assert short == plan_split(texts, "train", "out", 100, 0, engines=ALL, short_share=0.25)
    for split in ("dev", "test"):
        assert plan_split(texts, split, "out", 10, 0, engines=ALL, short_share=0.5) == plan_split(
            texts, split, "out", 10, 0, engines=ALL
        )


def test_word_share_replaces_training_utterances_with_general_words_never_in_dev_words():
    texts = SPEECH_TEXT * 40
    whole = plan_split(texts, "train", "out", 100, 0, engines=ALL)
    worded = plan_split(texts, "train", "out", 100, 0, engines=ALL, word_share=0.2)
    replaced = [(w, s) for w, s in zip(whole, worded, strict=True) if w.text != s.text]
    assert len(replaced) == 20 and all(1 <= len(s.text.split()) <= 3 for _, s in replaced)
    assert [(j.engine, j.voice) for j in whole] == [(j.engine, j.voice) for j in worded]
    words = {word for _, s in replaced for word in s.text.split()}
    assert all(word_split(word) == "train" for word in words)
    assert worded == plan_split(texts, "train", "out", 100, 0, engines=ALL, word_share=0.2)

    dev_words = plan_split([], WORD_SPLIT, "out", 30, 0, engines=ALL)
    assert len(dev_words) == 30
    assert {j.speaker for j in dev_words} <= {
        j.speaker for j in plan_split(texts, "dev", "o", 50, 0, engines=ALL)
    }
    assert {j.engine for j in dev_words} == {"espeak-ng", "flite"}  # dev's speakers
    heard = {word for j in dev_words for word in j.text.split()}
    assert heard and all(word_split(word) == "dev" for word in heard)


def test_general_words_are_words_of_the_alphabet_with_frequencies():
    words = dict(common_words("en"))
    assert len(words) > 20_000 and words["the"] > words["badger"] > 0
    assert all(normalize_transcript(w) == w and " " not in w for w in words)
    assert "crm" not in words and "b" not in words and "a" in words  # read as letters, or not
    held = sum(word_split(w) == "dev" for w in words) / len(words)
    assert 0.08 < held < 0.12
    assert word_frequencies("en")["the"] == pytest.approx(words["the"] / sum(words.values()))


@pytest.mark.parametrize("option", ["--short-share", "--word-share"])
def test_cli_refuses_a_share_outside_0_to_1(tmp_path, capsys, option):
    text = tmp_path / "t.txt"
    text.write_text("In the beginning God created the heavens and the earth.\n")
    with pytest.raises(SystemExit) as exit_:
        main(["--text", str(text), "--out", str(tmp_path / "o"), option, "1.5"])
    assert exit_.value.code == 2 and f"{option} 1.5: expected 0 to 1" in capsys.readouterr().err


@pytest.fixture(scope="module")
def mixed_corpus(tmp_path_factory):
    """Every split with every core engine: train 14 (2 per train speaker set), dev 4,
    test(_voices/_festival) 3."""
    folder = tmp_path_factory.mktemp("mixed_speech")
    splits = {"train": SPEECH_TEXT * 2, "dev": SPEECH_TEXT[:4]}
    splits |= dict.fromkeys(("test", "test_voices", "test_festival"), SPEECH_TEXT[4:])
    limits = {"train": 14, "dev": 4, "test": 3, "test_voices": 3, "test_festival": 3}
    shares = dict.fromkeys(TRAIN_SHARES, 1.0)
    synthesize(splits, folder, limits, workers=2, seed=0, engines=ALL, shares=shares)
    return {s: read_manifest(folder / f"{s}.jsonl") for s in SPLITS}


def test_mixed_corpus_holds_whole_speakers_out(mixed_corpus):
    speakers = {s: {e["speaker"] for e in m} for s, m in mixed_corpus.items()}
    people = {
        s: {p for speaker in found for p in persons(speaker)} for s, found in speakers.items()
    }
    for held_out in ("dev", "test", "test_voices", "test_festival"):
        assert not speakers[held_out] & speakers["train"], held_out
        assert not people[held_out] & people["train"], held_out  # blends' styles too
    assert speakers["test_voices"] == {"ked", "kokoro:jf_nezumi"}
    assert speakers["test_festival"] == {"kal"}
    assert "rms" in speakers["dev"] and not speakers["dev"] & speakers["test_voices"]
    assert all("kal" not in speakers[s] for s in SPLITS if s != "test_festival")
    engines = {e["engine"] for e in mixed_corpus["train"]}
    assert engines == set(ALL)
    texts = {
        s: [e["text"] for e in mixed_corpus[s]] for s in ("test", "test_voices", "test_festival")
    }
    assert texts["test"] == texts["test_voices"] == texts["test_festival"]


def test_mixed_corpus_manifest_fields_and_audio(mixed_corpus):
    for split, manifest in mixed_corpus.items():
        assert len(manifest) == {"train": 14, "dev": 4}.get(split, 3)
        for entry in manifest:
            assert {"audio_filepath", "duration", "text", "engine", "voice", "speaker"} <= set(
                entry
            )
            info = sf.info(entry["audio_filepath"])
            assert (info.samplerate, info.channels) == (16000, 1) and 0.5 < info.duration < 12
    piper = next(e for e in mixed_corpus["train"] if e["engine"] == "piper")
    assert {"length_scale", "noise_scale", "noise_w_scale"} <= set(piper)
    hibari = [e for e in mixed_corpus["train"] if e["engine"] == "hibari"]
    assert all({"speed", "f0_scale", "warp", "seed"} <= set(e) for e in hibari)
    assert {e["speaker"] for e in hibari} == {"kokoro:af_heart"}
    kokoro = [
        e for s in ("train", "test_voices") for e in mixed_corpus[s] if e["engine"] == "kokoro"
    ]
    assert len(kokoro) == 3 and all(tts.missing("kokoro", e["voice"]) is None for e in kokoro)


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    text = capsys.readouterr().out
    for option in ("--engines", "--engine-shares", "--festival", "--no-test-voices", "--workers"):
        assert option in text
    assert exit_.value.code == 0 and "test_festival festival-kal" in text


@pytest.mark.parametrize("engines", [None, "espeak,hibari"])
def test_a_missing_neural_engine_says_what_to_install(tmp_path, capsys, monkeypatch, engines):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "hibari" else real(name)
    )
    text = tmp_path / "text.txt"
    text.write_text("In the beginning God created the heavens and the earth.\n")
    tts.missing.cache_clear()
    try:
        with pytest.raises(SystemExit) as exit_:
            arguments = ["--engines", engines] if engines else []
            main(["--text", str(text), "--out", str(tmp_path / "out"), *arguments])
    finally:
        tts.missing.cache_clear()
    error = capsys.readouterr().err
    assert exit_.value.code == 2 and "module hibari is missing (pip install hibari-tts)" in error


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--engines", "espeak,tacotron"], "unknown 'tacotron'"),
        (["--engine-shares", "flite-kal=0.5"], "unknown 'flite-kal'"),
        (["--engine-shares", "espeak=lots"], "is not NAME=NUMBER"),
        (["--language", "es", "--festival"], "festival's kal speaks English only"),
        (["--verses", "3"], "--verses needs --test-text and its --translation-column"),
        (["--dev-verses", "3"], "--dev-verses needs --dev-text and its --translation-column"),
    ],
)
def test_bad_options_give_clear_errors(tmp_path, capsys, arguments, message):
    text = tmp_path / "text.txt"
    text.write_text("In the beginning God created the heavens and the earth.\n")
    with pytest.raises(SystemExit) as exit_:
        main(["--text", str(text), "--out", str(tmp_path / "out"), *arguments])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_spanish_plans_use_spanish_accents_and_verses_keep_whole_lines():
    lines = ["En el principio creó Dios los cielos y la tierra, y la tierra estaba desordenada."]
    texts = lines * 40
    train = plan_split(texts, "train", "out", 200, 0, ALL, language="es")
    assert {j.engine for j in train} == {"espeak-ng", "kokoro"}
    espeak = [j for j in train if j.engine == "espeak-ng"]
    assert {j.voice.split("+")[0] for j in espeak} == {"es", "es-419"}
    assert all(j.params["language"] == "es" for j in train)
    english = plan_split(texts, "train", "out", 200, 0, ALL)
    assert all("language" not in j.params for j in english)  # English plans are unchanged
    held = plan_split(texts, "test_voices", "out", 20, 0, ALL, language="es")
    assert {j.speaker for j in held} == {"kokoro:jf_nezumi"}
    translations = [f"translation {i}" for i in range(len(texts))]
    verses = plan_split(texts, "test_verses", "out", 5, 0, ALL, None, 0.0, "es", translations)
    assert [j.text for j in verses] == [lines[0]] * 5  # whole lines, not clauses
    assert all(j.extra["translation"].startswith("translation ") for j in verses)
    assert {j.voice.split("+")[1] for j in verses} <= set(VARIANTS["test"])
    neural = plan_split(
        texts, "test_verses_voices", "out", 5, 0, ALL, None, 0.0, "es", translations
    )
    assert [j.extra for j in neural] == [j.extra for j in verses]  # the same lines
    assert {j.engine for j in neural} == {"kokoro"}
    with pytest.raises(ValueError, match="one translation per line"):
        plan_split(texts, "test_verses", "out", 5, 0, ALL, language="es")


def test_spanish_corpus_with_verses_from_the_command_line(tmp_path):
    corpus = tmp_path / "bible.tsv"
    corpus.write_text(
        "Y dijo Dios: Sea la luz, y fué la luz.\tAnd God said, let there be light.\n"
        "Y vió Dios que la luz era buena.\tGod saw the light, and saw that it was good.\n"
        "\tAn English line without its Spanish one.\n"
    )
    out = tmp_path / "es"
    main(
        ["--language", "es", "--text", str(corpus), "--column", "1", "--test-text", str(corpus)]
        + ["--dev-text", str(corpus), "--out", str(out), "--train-utterances", "3"]
        + ["--dev-utterances", "1", "--test-utterances", "1", "--verses", "2"]
        + ["--translation-column", "2", "--engines", "espeak", "--no-test-voices"]
        + ["--dev-verses", "1"]
    )
    verses = read_manifest(out / "test_verses.jsonl")
    assert sorted(e["translation"] for e in verses) == [
        "And God said, let there be light.",
        "God saw the light, and saw that it was good.",
    ]
    assert all(e["language"] == "es" and e["voice"].startswith("es") for e in verses)
    assert not (out / "test_verses_voices.jsonl").exists()
    assert len(read_manifest(out / "train.jsonl")) == 2  # the two Spanish lines
    (dev_verse,) = read_manifest(out / "dev_verses.jsonl")  # by a dev speaker, translated
    assert dev_verse["translation"] in [e["translation"] for e in verses]
    assert dev_verse["voice"].split("+")[1] in VARIANTS["dev"]
