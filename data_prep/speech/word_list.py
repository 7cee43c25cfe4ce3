"""General words of a language with their frequencies, for isolated-word utterances in the
speech corpus and the unigram part of the word LM.

The Bible's vocabulary lacks most words of everyday speech ("ball", "sky", "badger"): a
recognizer whose training text and LM hold only Bible words spells other words by ear. The
word frequencies come from `wordfreq` (PyPI; code Apache-2.0, data CC-BY-SA 4.0), which
merges Wikipedia, subtitles, news, books, web text and more; nothing is downloaded at run
time. The list is general and chosen without looking at any test set.

Words are split in two by a hash of the word: one in ten goes to `dev` (the isolated-word dev
set that tunes the LM), the rest to `train`, so dev words are never heard in training.
"""

import functools
import hashlib
import random
import re

from data_prep.speech.transcripts import normalize_transcript

WORDS = 30_000  # the most frequent words used
PHRASE_SIZES = {1: 0.6, 2: 0.25, 3: 0.15}  # words in a phrase, and how often
SAMPLING_POWER = 0.5  # draws weighted by frequency ** power (0: uniform, 1: as in text)
VOWELS = {"en": "[aeiouy]", "es": "[aeiouáéíóúü]"}
LICENSE = "wordfreq 3 (Apache-2.0 code, CC-BY-SA 4.0 data)"


@functools.cache
def common_words(language: str = "en", size: int = WORDS) -> tuple[tuple[str, float], ...]:
    """The `size` most frequent words of `language` that are written in its alphabet as they
    are (`normalize_transcript` leaves them unchanged: no digits, no punctuation but inner
    apostrophes) and can be read as words (a vowel; no single letters but the words "a", "i",
    "y": "crm" or "b" would be spelled out), with their frequencies (per word of text)."""
    import wordfreq

    words = []
    for word in wordfreq.top_n_list(language, size, wordlist="best"):
        spoken = re.search(VOWELS[language], word) and (len(word) > 1 or word in ("a", "i", "y"))
        if spoken and normalize_transcript(word, language) == word and " " not in word:
            words.append((word, wordfreq.word_frequency(word, language)))
    return tuple(words)


def word_split(word: str) -> str:
    """`dev` for one word in ten (by a hash of the word, so stable across runs), else `train`."""
    return "dev" if int(hashlib.sha1(word.encode()).hexdigest(), 16) % 10 == 0 else "train"


def word_phrases(count: int, split: str, rng: random.Random, language: str = "en") -> list[str]:
    """`count` phrases of 1-3 words (`PHRASE_SIZES`) of the `split` half of `common_words`,
    drawn with `rng` weighted by frequency ** `SAMPLING_POWER`."""
    if split not in ("train", "dev"):
        raise ValueError(f"word phrases: split {split!r} is not train or dev")
    pool = [(w, f) for w, f in common_words(language) if word_split(w) == split]
    words = [w for w, _ in pool]
    weights = [f**SAMPLING_POWER for _, f in pool]
    sizes = rng.choices(list(PHRASE_SIZES), list(PHRASE_SIZES.values()), k=count)
    return [" ".join(rng.choices(words, weights, k=n)) for n in sizes]


def word_frequencies(language: str = "en", size: int = WORDS) -> dict[str, float]:
    """{word: probability} over `common_words` (renormalized to sum to 1)."""
    words = common_words(language, size)
    total = sum(f for _, f in words)
    return {w: f / total for w, f in words}
