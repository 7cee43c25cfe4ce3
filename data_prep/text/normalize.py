"""Text normalization shared by corpus builders, readers and the in-graph tokenizer, and the
cutting of text lines into utterances for the speech corpus (`data_prep.corpora.synth_speech`)."""

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


def split_utterances(line: str, max_words: int = 14, min_words: int = 3) -> list[str]:
    """Splits a line at clause punctuation and joins clauses into utterances of at most
    `max_words` words (longer clauses are cut at word boundaries); a last piece shorter than
    `min_words` joins the previous utterance."""
    clauses = [c.strip() for c in re.split(r"(?<=[.;:?!,])\s+", line.strip()) if c.strip()]
    pieces = []
    for clause in clauses:
        words = clause.split()
        pieces += [" ".join(words[i : i + max_words]) for i in range(0, len(words), max_words)]
    utterances = []
    for piece in pieces:
        if utterances and len(utterances[-1].split()) + len(piece.split()) <= max_words:
            utterances[-1] += " " + piece
        else:
            utterances.append(piece)
    if len(utterances) > 1 and len(utterances[-1].split()) < min_words:
        last = utterances.pop()
        utterances[-1] += " " + last
    return utterances


SHORT_WORDS = (1, 3)  # words in a short training utterance (--short-share)


def short_pieces(utterances: list[str], share: float, rng) -> list[str]:
    """`utterances` with a `share` of them (drawn with `rng`) cut to SHORT_WORDS consecutive
    words of their own, punctuation stripped at the ends: isolated words and short phrases,
    which clauses of 3-14 words never are. The words stay those of the training text, so no
    other text enters the corpus."""
    if share <= 0:
        return utterances
    cut = set(rng.sample(range(len(utterances)), round(share * len(utterances))))
    result = []
    for i, text in enumerate(utterances):
        words = text.split()
        if i in cut:
            size = min(rng.randint(*SHORT_WORDS), len(words))
            start = rng.randrange(len(words) - size + 1)
            piece = " ".join(words[start : start + size]).strip('.,;:?!"“”‘’()[]-— ')
            text = piece if re.search(r"\w", piece) else text
        result.append(text)
    return result


def read_pairs(path, column: int, other: int) -> list[tuple[str, str]]:
    """(column, other) of each line of a TSV file (columns 1-based) where both hold text; a
    line without them is an error naming the file and line."""
    pairs = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) < max(column, other):
                raise ValueError(f"{path}:{number}: no column {max(column, other)}")
            first, second = fields[column - 1], fields[other - 1]
            if first.strip() and second.strip():
                pairs.append((first, second))
    return pairs


def read_lines(path, column: int | None = None) -> list[str]:
    """Lines of a text file, or one TAB-separated column (1-based) of a TSV file."""
    lines = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if column:
                fields = line.split("\t")
                if len(fields) < column:
                    raise ValueError(f"{path}:{number}: no column {column}")
                line = fields[column - 1]
            if line.strip():
                lines.append(line)
    return lines
