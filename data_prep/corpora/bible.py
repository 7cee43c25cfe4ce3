"""Builds the verse-aligned Spanish-English Bible corpus from installed SWORD modules.

The OSIS markup in the modules wraps words in `<w>` elements and puts footnotes, line
breaks and paragraph milestones between them. `pysword`'s own `clean=True` deletes notes
without leaving a space, which glues words ("Godcreated", "knewEve"), so this module
cleans the raw OSIS itself: footnotes are dropped, structural elements become spaces and
inline elements (`<w>`, `<divineName>`, ...) are unwrapped.

Usage:
    python -m data_prep.corpora.bible --out data/bible
"""

import argparse
import csv
import os
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tqdm import tqdm

from data_prep.text.normalize import normalize_text

SWORD_PATH = "/usr/share/sword"
SOURCE_MODULE = "spaRV1909eb"
TARGET_MODULE = "engWEB2015eb"
SECOND_REFERENCE_MODULE = "engKJV2006eb"
# The split is fixed by whole books so no verse of a test book is ever trained on.
TEST_BOOKS = ("Mark", "Ruth", "Jonah")
DEV_BOOKS = ("Amos", "Phil")

# What follows a book's closing milestone belongs to no verse (WEB appends its glossary to
# the last verse of Revelation).
_AFTER_BOOK_END = re.compile(r'<div\b(?=[^>]*\beID=)(?=[^>]*type="book")[^>]*/>.*', re.DOTALL)
_NOTE = re.compile(r"<note\b[^>]*?(?:/>|>.*?</note>)", re.DOTALL)
# Elements that wrap words inside a sentence; any other tag separates words.
_INLINE_TAG = re.compile(r"</?(?:w|divineName|transChange|hi|foreign|seg|q|rdg|name)\b[^>]*>")
_ANY_TAG = re.compile(r"<[^>]*>")
# RV1909 sometimes closes one word element and opens the next with no space between them.
# That is a word boundary, except for a verb and its enclitic pronoun ("Júrame" + "lo");
# the words below are the non-verbs that RV1909 puts right before such a pronoun.
_ENCLITIC = r"(?:lo|la|las|le|les|los|me|nos|os|se|te)\b"
_NOT_VERBS = (
    "de y que no ya como es sea eran estaban ella ellos os sólo éste también cuánto "
    "Dios Jehová Josué gentes ejército desolado"
).split()
_WORD_BOUNDARY = re.compile(
    r"(\w+)((?:</(?:w|transChange|divineName)>)+)(?=<(?:w|transChange|divineName)\b[^>]*>("
    + _ENCLITIC
    + ")?)"
)


def _separate_words(match: re.Match) -> str:
    word, closing, enclitic = match.groups()
    joined = enclitic and word.lower() not in {w.lower() for w in _NOT_VERBS}
    return word + closing + ("" if joined else " ")


def clean_osis(raw: str) -> str:
    """Turns one verse of OSIS markup into properly spaced plain text."""
    text = _AFTER_BOOK_END.sub(" ", raw)
    text = _NOTE.sub(" ", text)
    text = _WORD_BOUNDARY.sub(_separate_words, text)
    text = _INLINE_TAG.sub("", text)
    text = _ANY_TAG.sub(" ", text)
    return normalize_text(text)


def _read_module(sword_path: str, name: str, position: int = 0) -> dict[tuple[str, int, int], str]:
    """Returns {(osis_book, chapter, verse): raw OSIS} for every verse of a module."""
    from pysword.modules import SwordModules

    modules = SwordModules(sword_path)
    modules.parse_modules()
    bible = modules.get_bible_from_module(name)
    verses = {}
    books = [b for testament in bible.get_structure().get_books().values() for b in testament]
    for book in tqdm(books, desc=f"reading {name}", unit="book", position=position):
        for chapter, num_verses in enumerate(book.chapter_lengths, start=1):
            for verse in range(1, num_verses + 1):
                raw = bible.get(
                    books=[book.osis_name], chapters=[chapter], verses=[verse], clean=False
                )
                verses[(book.osis_name, chapter, verse)] = raw
    return verses


def split_of(book: str) -> str:
    if book in TEST_BOOKS:
        return "test"
    if book in DEV_BOOKS:
        return "dev"
    return "train"


def build_corpus(out_dir: str | Path, sword_path: str = SWORD_PATH) -> dict[str, int]:
    """Writes `train.tsv`, `dev.tsv`, `test.tsv` and `test.kjv.txt` into `out_dir`.

    Pairs are aligned by (book, chapter, verse); a pair where either side is empty after
    cleaning is dropped and counted. Returns the counts written per split and dropped.
    """
    from pysword.modules import SwordModules

    modules = SwordModules(sword_path)
    found = modules.parse_modules()
    missing = [m for m in (SOURCE_MODULE, TARGET_MODULE, SECOND_REFERENCE_MODULE) if m not in found]
    if missing:
        raise FileNotFoundError(
            f"SWORD modules {missing} not found under {sword_path}; install them with "
            "`apt-get install sword-text-sparv sword-text-web sword-text-kjv`"
        )
    # pysword decompresses verse by verse (about a minute a module): the three modules are read
    # in parallel processes.
    names = (SOURCE_MODULE, TARGET_MODULE, SECOND_REFERENCE_MODULE)
    with ProcessPoolExecutor(max_workers=min(len(names), os.cpu_count() or 1)) as pool:
        jobs = [pool.submit(_read_module, sword_path, n, i) for i, n in enumerate(names)]
        source, target, kjv = (job.result() for job in jobs)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = {"train": [], "dev": [], "test": []}
    kjv_lines = []
    dropped = 0
    for key, raw_source in source.items():
        src, tgt = clean_osis(raw_source), clean_osis(target.get(key, ""))
        if not src or not tgt:
            dropped += 1
            continue
        split = split_of(key[0])
        rows[split].append((src, tgt))
        if split == "test":
            kjv_lines.append(clean_osis(kjv.get(key, "")))
    for split, pairs in rows.items():
        with open(out_dir / f"{split}.tsv", "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar=None)
            writer.writerows(pairs)
    (out_dir / "test.kjv.txt").write_text("\n".join(kjv_lines) + "\n", encoding="utf-8")
    counts = {split: len(pairs) for split, pairs in rows.items()}
    counts["dropped_empty"] = dropped
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Build the Spanish->English Bible corpus (RV1909 -> WEB, KJV as a second "
        "reference of the test books) from the installed SWORD modules.",
    )
    parser.add_argument("--out", default="data/bible", help="output folder (default: data/bible)")
    parser.add_argument("--sword-path", default=SWORD_PATH, help="SWORD installation folder")
    args = parser.parse_args(argv)
    counts = build_corpus(args.out, args.sword_path)
    print(f"wrote {args.out}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
