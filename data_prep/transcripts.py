"""Transcript normalization and the character vocabulary of the speech models.

The alphabet is lowercase `a`-`z`, the apostrophe and the space; id 0 is the CTC blank (and
the label padding, which never counts as a target because label lengths are passed
explicitly). Digits are spelled out with `num2words`, so "3 John 1:4" becomes "three john one
four". The same `normalize_transcript` is applied to training labels and to references at
scoring time.
"""

import re
import unicodedata

from num2words import num2words

BLANK_ID = 0
ALPHABET = " '" + "abcdefghijklmnopqrstuvwxyz"  # ids 1..28; 0 is the blank
VOCAB_SIZE = len(ALPHABET) + 1

_ORDINAL = re.compile(r"(\d+)(st|nd|rd|th)\b")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u02bc": "'"})
_OUTSIDE = re.compile(r"[^a-z' ]+")


def _spell(match: re.Match) -> str:
    return f" {num2words(match.group(0)).replace('-', ' ').replace(',', '')} "


def normalize_transcript(text: str) -> str:
    """Maps text to the model alphabet: lowercase ASCII letters, apostrophe and single spaces.

    Accents are stripped (NFKD), numbers and ordinals spelled out, `&` read as "and", hyphens
    and other punctuation become spaces, and apostrophes that are not inside a word (quotes)
    are dropped.
    """
    text = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = _ORDINAL.sub(
        lambda m: f" {num2words(int(m.group(1)), to='ordinal').replace('-', ' ')} ", text
    )
    text = _NUMBER.sub(_spell, _THOUSANDS.sub("", text).replace("&", " and "))
    text = _OUTSIDE.sub(" ", text)
    text = re.sub(r"(?<![a-z])'|'(?![a-z])", " ", text)  # quotes, not contractions
    return " ".join(text.split())


class CharacterVocabulary:
    """Encodes normalized transcripts to ids and decodes ids to text, as TensorFlow ops (so the
    same object runs in `tf.data` and inside an exported model)."""

    def __init__(self, alphabet: str = ALPHABET):
        import tensorflow as tf  # imported here: normalize_transcript needs no TensorFlow

        self.alphabet = alphabet
        self.vocab_size = len(alphabet) + 1
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
