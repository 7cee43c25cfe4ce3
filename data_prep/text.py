"""Text normalization shared by corpus builders, readers and the in-graph tokenizer."""

import re
import unicodedata

# No space before closing punctuation, none after opening punctuation.
_SPACE_BEFORE_CLOSING = re.compile(r"\s+([,.;:!?)\]}»”’])")
_SPACE_AFTER_OPENING = re.compile(r"([(\[{«“¿¡])\s+")
_SPACES = re.compile(r"\s+")


def normalize_text(text: str, form: str = "NFC") -> str:
    """Unicode-normalizes `text`, collapses whitespace and fixes punctuation spacing.

    Args:
        text: a sentence.
        form: a Unicode normal form (`NFC`, `NFKC`, ...).

    Returns:
        The sentence with single spaces, no space before `,.;:!?` and closing quotes or
        brackets, and no space after opening quotes or brackets; pilcrows (¶) removed.
    """
    text = unicodedata.normalize(form, text).replace("¶", " ")
    text = _SPACES.sub(" ", text).strip()
    text = _SPACE_BEFORE_CLOSING.sub(r"\1", text)
    return _SPACE_AFTER_OPENING.sub(r"\1", text)


def normalize_text_tf(texts, form: str = "NFC"):
    """`normalize_text` as TensorFlow ops on a string tensor, for exported models."""
    import tensorflow as tf
    import tensorflow_text as tf_text

    texts = tf_text.normalize_utf8(texts, form)
    texts = tf.strings.regex_replace(texts, "¶", " ")
    texts = tf.strings.strip(tf.strings.regex_replace(texts, r"[\s\p{Z}]+", " "))
    texts = tf.strings.regex_replace(texts, _SPACE_BEFORE_CLOSING.pattern, r"\1")
    return tf.strings.regex_replace(texts, _SPACE_AFTER_OPENING.pattern, r"\1")
