"""Readers for parallel corpora: TSV, Anki/Tatoeba and Moses-style aligned files.

Every reader returns the kept `(source, target)` pairs and a `ReadReport` that names each
dropped line by file and line number, so nothing is lost silently.
"""

import dataclasses
import logging
import re
from collections import Counter
from pathlib import Path

from data_prep.text.normalize import normalize_text

logger = logging.getLogger(__name__)
# C0/C1 control characters other than tab, newline and carriage return: binary junk in text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclasses.dataclass
class ReadReport:
    """What a reader kept and dropped. `problems` holds `path:line: reason` strings."""

    kept: int = 0
    dropped: Counter = dataclasses.field(default_factory=Counter)
    problems: list = dataclasses.field(default_factory=list)

    def drop(self, path, line_no: int, reason: str):
        self.dropped[reason] += 1
        self.problems.append(f"{path}:{line_no}: {reason}")

    def summary(self, max_lines: int = 20) -> dict:
        """Counts for the run's data summary: kept, dropped by reason, the first problems."""
        return {
            "kept": self.kept,
            "dropped": dict(sorted(self.dropped.items())),
            "problems": self.problems[:max_lines],
        }

    def log(self, max_lines: int = 10):
        """Logs a filtered-with-count warning (and the first problem lines) if anything was
        dropped."""
        if not self.dropped:
            return
        counts = ", ".join(f"{n} {reason}" for reason, n in sorted(self.dropped.items()))
        shown = "\n  ".join(self.problems[:max_lines])
        more = len(self.problems) - max_lines
        logger.warning(
            "kept %d pairs, filtered %s:\n  %s%s",
            self.kept,
            counts,
            shown,
            f"\n  ... and {more} more" if more > 0 else "",
        )


def _lines(path: Path, report: ReadReport):
    """Yields (line_no, text) for every line of a UTF-8 file; text is None for a line that is
    not valid UTF-8, which is reported as dropped."""
    with open(path, "rb") as f:
        for line_no, raw in enumerate(f, start=1):
            try:
                yield line_no, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as err:
                report.drop(path, line_no, f"invalid UTF-8 at byte {err.start}")
                yield line_no, None


def _keep(source, target, path, line_no, report, max_words):
    if _CONTROL.search(source) or _CONTROL.search(target):
        report.drop(path, line_no, "control characters")
        return None
    source, target = normalize_text(source), normalize_text(target)
    if not source or not target:
        report.drop(path, line_no, "empty side")
        return None
    if max_words and max(len(source.split()), len(target.split())) > max_words:
        report.drop(path, line_no, f"longer than {max_words} words")
        return None
    report.kept += 1
    return source, target


def read_tsv(
    path, max_words: int | None = None, columns: tuple[int, int] = (0, 1), exact: bool = True
):
    """Reads `source<TAB>target` lines (or the given pair of columns).

    Args:
        path: the TSV file.
        max_words: drop pairs with a side longer than this many words (None: keep all).
        columns: which columns hold the source and the target.
        exact: lines with more columns than needed are dropped (a stray tab would shift the
            text); False keeps them and ignores the extra columns (Anki's attribution).

    Returns:
        (pairs, report).
    """
    path = Path(path)
    report = ReadReport()
    pairs = []
    needed = max(columns) + 1
    for line_no, line in _lines(path, report):
        if line is None:
            continue
        if not line.strip():
            report.drop(path, line_no, "empty line")
            continue
        fields = line.split("\t")
        if len(fields) < needed or (exact and len(fields) > needed):
            report.drop(path, line_no, f"{len(fields)} columns, expected {needed}")
            continue
        pair = _keep(fields[columns[0]], fields[columns[1]], path, line_no, report, max_words)
        if pair:
            pairs.append(pair)
    report.log()
    return pairs, report


def read_anki(path, reverse: bool = True, max_words: int | None = None):
    """Reads the Anki/Tatoeba format `english<TAB>other<TAB>attribution`.

    With `reverse=True` (the default, as in the TensorFlow tutorial) the other language is the
    source and English the target.
    """
    columns = (1, 0) if reverse else (0, 1)
    return read_tsv(path, max_words=max_words, columns=columns, exact=False)


def read_moses(source_path, target_path, max_words: int | None = None):
    """Reads Moses-style aligned files (`train.es` + `train.en`), one sentence a line.

    Files with different line counts are misaligned: every pair after the first inserted or
    missing line would be wrong, so this raises instead of pairing them up.
    """
    source_path, target_path = Path(source_path), Path(target_path)
    report = ReadReport()
    source = [text for _, text in _lines(source_path, report)]
    target = [text for _, text in _lines(target_path, report)]
    source_count, target_count = len(source), len(target)
    if source_count != target_count:
        raise ValueError(
            f"misaligned corpus: {source_path} has {source_count} lines but {target_path} has "
            f"{target_count}; the first line without a partner is line "
            f"{min(source_count, target_count) + 1}"
        )
    pairs = []
    for line_no, (src, tgt) in enumerate(zip(source, target, strict=True), start=1):
        if src is None or tgt is None:
            continue  # already reported as invalid UTF-8
        pair = _keep(src, tgt, source_path, line_no, report, max_words)
        if pair:
            pairs.append(pair)
    report.log()
    return pairs, report


def read_parallel(path, fmt: str = "tsv", max_words: int | None = None):
    """Reads a corpus by format name: `tsv`, `anki` or `moses` (path = `prefix.src,prefix.tgt`)."""
    if fmt == "tsv":
        return read_tsv(path, max_words=max_words)
    if fmt == "anki":
        return read_anki(path, max_words=max_words)
    if fmt == "moses":
        source_path, target_path = str(path).split(",")
        return read_moses(source_path, target_path, max_words=max_words)
    raise ValueError(f"unknown corpus format {fmt!r}; expected tsv, anki or moses")


def extra_references(path, count: int) -> dict[str, list[str]]:
    """More reference translations of a split, found beside it: `<stem>.<name>.txt` files (one
    line per pair of the split, in order; e.g. `test.kjv.txt` beside `test.tsv`), as {name:
    lines}. A file whose line count is not `count` is an error naming it."""
    path = Path(str(path).split(",")[0])
    found = {}
    for extra in sorted(path.parent.glob(f"{path.stem}.*.txt")):
        name = extra.name[len(path.stem) + 1 : -len(".txt")]
        lines = extra.read_text(encoding="utf-8").rstrip("\n").split("\n")
        if len(lines) != count:
            raise ValueError(
                f"{extra}: {len(lines)} lines for the {count} pairs of {path}; a second "
                "reference needs one line per pair, in order"
            )
        found[name] = lines
    return found
