import numpy as np
import pytest

from data_prep.speech.transcripts import (
    ALPHABET,
    BLANK_ID,
    LANGUAGES,
    VOCAB_SIZE,
    CharacterVocabulary,
    normalize_transcript,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("In the Beginning, God said:", "in the beginning god said"),
        ("“Don’t go!” she said", "don't go she said"),
        ("'Hello' — the king's men", "hello the king's men"),
        ("3 John 1:4", "three john one four"),
        ("the 1st and 22nd day", "the first and twenty second day"),
        ("Café & crème", "cafe and creme"),
        ("1,000 men", "one thousand men"),
        ("well-known", "well known"),
        ("  ¶  ", ""),
    ],
)
def test_normalize_transcript(text, expected):
    assert normalize_transcript(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("¿Cómo estás? Él dijo: «Señor»", "cómo estás él dijo señor"),
        ("Juan 3:16", "juan tres dieciséis"),  # num2words' Spanish, accents kept
        ("el 2º día y la 3ª noche", "el segundo día y la tercero noche"),
        ("Pingüinos & niños", "pingüinos y niños"),
        ("ÁRBOL, Ñandú", "árbol ñandú"),
        ("Façade à l'école", "facade a l école"),  # ç and à lose theirs; no apostrophe
    ],
)
def test_normalize_spanish_keeps_its_letters(text, expected):
    assert normalize_transcript(text, "es") == expected


def test_spanish_vocabulary_round_trip():
    spanish = LANGUAGES["es"]
    vocabulary = CharacterVocabulary("es")
    assert vocabulary.alphabet == spanish.alphabet and vocabulary.language is spanish
    assert vocabulary.vocab_size == spanish.vocab_size == 35
    text = normalize_transcript("¡Año nuevo, vida nueva! Mañana, 21 pingüinos.", "es")
    assert set(text) <= set(spanish.alphabet) and "ñ" in text
    ids = vocabulary.encode(text).numpy()
    assert ids.min() >= 1 and vocabulary.decode(ids[None]).numpy()[0].decode() == text


def test_an_unknown_language_is_refused():
    with pytest.raises(ValueError, match="language 'fr': expected one of"):
        normalize_transcript("bonjour", "fr")


def test_normalized_text_stays_in_the_alphabet():
    text = normalize_transcript("Ünïcödé 42 %$#@! Æsir — ½ “quotes” tab\there")
    assert set(text) <= set(ALPHABET), text


def test_vocabulary_round_trip_and_blank():
    vocabulary = CharacterVocabulary()
    assert vocabulary.vocab_size == VOCAB_SIZE == 29 and BLANK_ID == 0
    ids = vocabulary.encode("the king's men").numpy()
    assert ids.min() >= 1  # the blank is never a label
    assert vocabulary.decode(ids[None]).numpy()[0].decode() == "the king's men"


def test_decode_skips_blanks_and_padding():
    vocabulary = CharacterVocabulary()
    a, b = vocabulary.encode("ab").numpy()
    ids = np.array([[0, a, 0, b, -1, -1], [b, b, 0, 0, 0, -1]])
    assert [t.decode() for t in vocabulary.decode(ids).numpy()] == ["ab", "bb"]


def test_unknown_characters_encode_to_minus_one():
    assert CharacterVocabulary().encode("a!").numpy()[1] == -1
