"""Transcript normalization and the character vocabulary of the speech models.

The English alphabet is lowercase `a`-`z`, the apostrophe and the space; the Spanish one adds
á é í ó ú ü ñ and has no apostrophe (`LANGUAGES`). Id 0 is the CTC blank (and the label
padding, which never counts as a target because label lengths are passed explicitly). Digits
are spelled out with `num2words` in the transcript's language, so "3 John 1:4" becomes "three
john one four" and "Juan 3:16" "juan tres dieciséis". The same `normalize_transcript` is
applied to training labels and to references at scoring time.
"""

import dataclasses
import re
import unicodedata

from num2words import num2words

BLANK_ID = 0
ALPHABET = " '" + "abcdefghijklmnopqrstuvwxyz"  # ids 1..28; 0 is the blank
VOCAB_SIZE = len(ALPHABET) + 1


@dataclasses.dataclass(frozen=True)
class Language:
    """What a transcript in one language may hold.

    Args:
        code: the language's code (num2words' too).
        alphabet: the model's characters, space first; ids 1..len (0 is the blank).
        letters: accented letters kept as they are (any other accent is stripped).
        ordinal: the pattern of a written ordinal (its digits in group 1).
        conjunction: how `&` is read.
    """

    code: str
    alphabet: str
    letters: str
    ordinal: str
    conjunction: str

    @property
    def vocab_size(self) -> int:
        return len(self.alphabet) + 1


LANGUAGES = {
    "en": Language("en", ALPHABET, "", r"(\d+)(?:st|nd|rd|th)\b", "and"),
    "es": Language("es", " abcdefghijklmnopqrstuvwxyzáéíóúüñ", "áéíóúüñ", r"(\d+)[ºª°]", "y"),
}

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u02bc": "'"})


def language(code: str) -> Language:
    """The `Language` of `code`, or a ValueError naming the known ones."""
    if code not in LANGUAGES:
        raise ValueError(f"language {code!r}: expected one of {tuple(LANGUAGES)}")
    return LANGUAGES[code]


def _strip_accents(text: str, keep: str) -> str:
    """Accents off every letter but those of `keep` (NFC letters such as ñ)."""
    out = []
    for char in unicodedata.normalize("NFC", text):
        if char in keep:
            out.append(char)
        else:
            decomposed = unicodedata.normalize("NFKD", char)
            out.append("".join(c for c in decomposed if not unicodedata.combining(c)))
    return "".join(out)


def normalize_transcript(text: str, code: str = "en") -> str:
    """Maps text to the alphabet of language `code`: lowercase letters (with that language's
    accented letters), the apostrophe where the alphabet has one, and single spaces.

    Other accents are stripped (NFKD), numbers and ordinals spelled out in that language, `&`
    read as its "and", hyphens and other punctuation (¿ ¡ « » included) become spaces, and
    apostrophes that are not inside a word (quotes) are dropped.
    """
    lang = language(code)
    text = unicodedata.normalize("NFC", text.translate(_APOSTROPHES)).lower()

    def ordinal(match):
        return f" {num2words(int(match.group(1)), lang=code, to='ordinal').replace('-', ' ')} "

    def spell(match):
        return f" {num2words(match.group(0), lang=code).replace('-', ' ').replace(',', '')} "

    text = _strip_accents(re.sub(lang.ordinal, ordinal, text), lang.letters)  # º: ordinal first
    text = _NUMBER.sub(spell, _THOUSANDS.sub("", text).replace("&", f" {lang.conjunction} "))
    text = _strip_accents(text, lang.letters)  # num2words writes accents (veintidós)
    text = re.sub(f"[^{re.escape(lang.alphabet)}]+", " ", text)
    if "'" in lang.alphabet:
        text = re.sub(r"(?<!\w)'|'(?!\w)", " ", text)  # quotes, not contractions
    return " ".join(text.split())


class CharacterVocabulary:
    """Encodes normalized transcripts to ids and decodes ids to text, as TensorFlow ops (so the
    same object runs in `tf.data` and inside an exported model), in the alphabet of the language
    `code` (`LANGUAGES`)."""

    def __init__(self, code: str = "en"):
        import tensorflow as tf  # imported here: normalize_transcript needs no TensorFlow

        self.language = language(code)
        self.alphabet = alphabet = self.language.alphabet
        self.vocab_size = self.language.vocab_size
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant([ord(c) for c in alphabet], tf.int32),
                tf.range(1, len(alphabet) + 1, dtype=tf.int32),
            ),
            default_value=-1,
        )
        self._chars = tf.constant([""] + list(alphabet))

    def encode(self, text):
        """Normalized text (a scalar string tensor) -> int32 ids (label_len,); characters
        outside the alphabet map to -1 (normalize first)."""
        import tensorflow as tf

        return self._table.lookup(tf.strings.unicode_decode(text, "UTF-8"))

    def decode(self, ids):
        """ids (batch, len) int, where blanks (0) and padding (-1) are skipped -> (batch,)
        strings."""
        import tensorflow as tf

        ids = tf.convert_to_tensor(ids)
        chars = tf.gather(self._chars, tf.maximum(ids, 0))  # -1 and 0 both map to ""
        return tf.strings.reduce_join(chars, axis=-1)
