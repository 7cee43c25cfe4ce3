"""Shared fixtures: a tiny Spanish->English corpus made from a small grammar, and a tiny model."""

import itertools
import os
import random

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

SUBJECTS = [
    ("el hombre", "the man"),
    ("la mujer", "the woman"),
    ("el niño", "the boy"),
    ("la niña", "the girl"),
    ("el rey", "the king"),
    ("el perro", "the dog"),
]
VERBS = [("ve", "sees"), ("ama", "loves"), ("busca", "seeks"), ("tiene", "has")]
OBJECTS = [
    ("la casa", "the house"),
    ("el libro", "the book"),
    ("el pan", "the bread"),
    ("la puerta", "the door"),
]
# Spanish puts the adjective after the noun, English before it: the model must reorder.
ADJECTIVES = [
    (None, None),
    ("grande", "big"),
    ("verde", "green"),
    ("azul", "blue"),
    ("alegre", "cheerful"),
]


def tiny_pairs():
    """All 480 sentence pairs of the grammar, e.g. 'El rey ve la casa verde.' ->
    'The king sees the green house.'"""
    pairs = []
    for (s_es, s_en), (v_es, v_en), (o_es, o_en), (a_es, a_en) in itertools.product(
        SUBJECTS, VERBS, OBJECTS, ADJECTIVES
    ):
        obj_es = f"{o_es} {a_es}" if a_es else o_es
        obj_en = o_en.replace("the ", f"the {a_en} ") if a_en else o_en
        pairs.append(
            (f"{s_es} {v_es} {obj_es}.".capitalize(), f"{s_en} {v_en} {obj_en}.".capitalize())
        )
    return pairs


def write_tsv(path, pairs):
    path.write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """train.tsv (400 pairs), dev.tsv (40) and test.tsv (40) in a temporary folder."""
    pairs = tiny_pairs()
    random.Random(0).shuffle(pairs)
    folder = tmp_path_factory.mktemp("tiny_corpus")
    write_tsv(folder / "train.tsv", pairs[:400])
    write_tsv(folder / "dev.tsv", pairs[400:440])
    write_tsv(folder / "test.tsv", pairs[440:])
    return folder


@pytest.fixture(scope="session")
def tiny_tokenizers(tiny_corpus):
    from data_prep.text.parallel import read_tsv
    from data_prep.text.subword import SubwordTokenizer

    pairs, _ = read_tsv(tiny_corpus / "train.tsv")
    return (
        SubwordTokenizer.train([p[0] for p in pairs], 120),
        SubwordTokenizer.train([p[1] for p in pairs], 120),
    )


def write_tone(path, seconds=1.0, rate=16000, channels=1, frequency=440.0, subtype=None):
    """Writes a sine tone (with a little noise) as any libsndfile format, by suffix."""
    import numpy as np
    import soundfile as sf

    t = np.arange(int(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * frequency * t)
    wave += 0.01 * np.random.default_rng(0).standard_normal(len(t))
    data = np.stack([wave] * channels, axis=1) if channels > 1 else wave
    sf.write(str(path), data.astype("float32"), rate, subtype=subtype)
    return path


SPEECH_TEXT = [
    "In the beginning God created the heavens and the earth.",
    "The earth was formless and empty, and darkness was on the surface of the deep.",
    "God said, let there be light, and there was light.",
    "God saw the light, and saw that it was good.",
    "God called the light day, and the darkness he called night.",
    "There was evening and there was morning, the first day.",
    "The king sent his servants to the city by the sea.",
    "She said to him, go and see the house of your father.",
]


@pytest.fixture(scope="session")
def tiny_speech(tmp_path_factory):
    """A tiny espeak-ng corpus (train 40, dev 6, test 6 utterances) built by the real
    corpus builder; returns the folder with train/dev/test.jsonl."""
    from data_prep.corpora.synth_speech import synthesize

    folder = tmp_path_factory.mktemp("tiny_speech")
    splits = {"train": SPEECH_TEXT * 5, "dev": SPEECH_TEXT[:4] * 2, "test": SPEECH_TEXT[4:] * 2}
    synthesize(splits, folder, {"train": 40, "dev": 6, "test": 6}, workers=2, seed=0)
    return folder


@pytest.fixture(scope="session")
def translation_run(tiny_corpus, tmp_path_factory):
    """configs/translate/tiny.yaml trained on the tiny corpus through the command line (the
    CLI tests and the server tests share it; tests only read it or add eval/ reports)."""
    from tests.helpers import run_command, tiny_translate_train

    run = tmp_path_factory.mktemp("run")
    run_command(tiny_translate_train(run, tiny_corpus))
    return run


@pytest.fixture(scope="session")
def speech_run(tiny_speech, tmp_path_factory):
    """configs/asr/tiny.yaml trained on the tiny speech corpus through the command line
    (shared like `translation_run`)."""
    from tests.helpers import run_command, tiny_speech_train

    run = tmp_path_factory.mktemp("asr_run")
    run_command(tiny_speech_train(run, tiny_speech, run / "cache"))
    return run


@pytest.fixture(scope="session")
def talkative_speech_run(speech_run, tmp_path_factory):
    """The tiny speech run with a random output layer that never picks the blank, so greedy
    decoding emits many characters that depend on the features: transcripts then compare the
    whole path (features, network, decoding)."""
    return talkative(speech_run, tmp_path_factory.mktemp("talkative"))


@pytest.fixture(scope="session")
def spanish_speech(tmp_path_factory):
    """The tiny grammar's Spanish spoken by espeak-ng es/es-419 voices: train 48, dev 6,
    test 6 utterances, and 4 test verses with their English translations."""
    from data_prep.corpora.synth_speech import synthesize

    pairs = tiny_pairs()
    folder = tmp_path_factory.mktemp("spanish_speech")
    texts = [s for s, _ in pairs]
    splits = {"train": texts[:200], "dev": texts[200:260], "test": texts[260:320]}
    splits["test_verses"] = texts[320:330]
    synthesize(
        splits,
        folder,
        {"train": 48, "dev": 6, "test": 6, "test_verses": 4},
        workers=2,
        language="es",
        translations={"test_verses": [t for _, t in pairs[320:330]]},
    )
    return folder


@pytest.fixture(scope="session")
def spanish_run(spanish_speech, tmp_path_factory):
    from tests.helpers import run_command, tiny_speech_train

    run = tmp_path_factory.mktemp("es_run")
    command = tiny_speech_train(run, spanish_speech, run / "cache", "data.language=es")
    run_command(command + ["train.epochs=2"])
    return run


@pytest.fixture(scope="session")
def talkative_spanish_run(spanish_run, tmp_path_factory):
    """`spanish_run` made talkative as `talkative_speech_run` is: Spanish transcripts with
    many words, for the chain's translations to have something to translate."""
    return talkative(spanish_run, tmp_path_factory.mktemp("talkative_es"))


def talkative(source, run):
    """A copy of the speech run `source` in `run` whose output layer is random and never
    picks the blank."""
    import shutil

    import keras
    import numpy as np

    import seq2seq.speech.model  # noqa: F401 (registers the model class)

    shutil.copy(source / "config.yaml", run / "config.yaml")
    model = keras.saving.load_model(source / "model.keras")
    kernel, bias = model.output_projection.get_weights()
    kernel = np.random.default_rng(0).normal(0, 2, kernel.shape).astype("float32")
    bias[:] = 0.0
    bias[0] = -20.0  # never blank
    model.output_projection.set_weights([kernel, bias])
    model.save(run / "model.keras")
    return run
