"""Word n-gram language models for CTC decoding: interpolated modified Kneser-Ney estimation
written as an ARPA file.

Why our own estimator: KenLM's `lmplz`, the reference, is not on PyPI (the `kenlm` wheels hold
only the query module) and needs a Boost/CMake build of several minutes, too slow for CI installs;
no maintained PyPI package estimates modified Kneser-Ney and writes ARPA (`nltk.lm` writes no
ARPA and has a single discount; `arpabo`'s Kneser-Ney discounts without interpolating the lower
orders; `knlm` is an unmaintained source-only package with its own file format). So this module
reproduces lmplz's estimate (Heafield et al. 2013, "Scalable Modified Kneser-Ney Language Model
Estimation"), and a test compares it with an ARPA that lmplz wrote. `build_arpa(..., lmplz=PATH)`
runs a compiled lmplz instead, the faster path for corpora of many millions of words.

The estimate, as lmplz does it:
- each sentence is `<s> w1 ... wn </s>`;
- the highest order uses raw counts; lower orders use adjusted counts, the number of distinct
  words seen before the n-gram, except n-grams that begin with `<s>` (raw counts);
- each order has three discounts D1, D2, D3+ from its counts of adjusted counts (Chen and
  Goodman's equation 26); where those counts cannot give them (small or repetitive text), the
  order falls back to lmplz's `--discount_fallback` values (0.5, 1, 1.5) and says so;
- p(w | h) = (a(hw) - D(a(hw))) / a(h.) + gamma(h) p(w | h'), with gamma(h) the discounted mass,
  down to unigrams interpolated with the uniform distribution over the vocabulary (its words,
  `</s>` and `<unk>`), so `<unk>` gets only its uniform share.
The ARPA file holds log10 p(w | h) of every seen n-gram (lower orders already interpolated in)
and log10 gamma(h) as the backoff weight of every n-gram that is a context; `<s>` is never
predicted (-99).
"""

import dataclasses
import math
import shutil
import subprocess
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from data_prep.speech.manifest import read_manifest
from data_prep.speech.transcripts import normalize_transcript

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)  # lmplz --discount_fallback
NEVER = -99.0  # log10 probability written for <s>, which is never predicted


@dataclasses.dataclass
class NGramModel:
    """A backoff n-gram model as an ARPA file holds it.

    Attributes:
        order: the highest n-gram order.
        probs: per order (index 0: unigrams), n-gram tuple -> log10 probability.
        backoffs: per order below `order`, n-gram tuple -> log10 backoff weight.
        discounts: per order, (D1, D2, D3+) (empty for a model read from a file).
        fallback_orders: orders whose discounts are the fallback values.
    """

    order: int
    probs: list[dict]
    backoffs: list[dict]
    discounts: list[tuple] = dataclasses.field(default_factory=list)
    fallback_orders: list[int] = dataclasses.field(default_factory=list)

    def log10_prob(self, word: str, context: Sequence[str] = ()) -> float:
        """log10 p(word | context) by the backoff rule (contexts longer than order - 1 are
        cut); an unknown word is `<unk>`."""
        word = word if (word,) in self.probs[0] else UNK
        context = tuple(context)[max(0, len(context) - self.order + 1) :]
        backoff = 0.0
        while context and (*context, word) not in self.probs[len(context)]:
            backoff += self.backoffs[len(context) - 1].get(context, 0.0)
            context = context[1:]
        return backoff + self.probs[len(context)][(*context, word)]


def _discounts(adjusted: Iterable[int]) -> tuple | None:
    """(D1, D2, D3+) from counts of counts (Chen and Goodman eq. 26), or None where the counts
    cannot give valid ones."""
    n = [0] * 5
    for count in adjusted:
        if 1 <= count <= 4:
            n[count] += 1
    if not all(n[1:4]):
        return None
    y = n[1] / (n[1] + 2 * n[2])
    discounts = tuple(j - (j + 1) * y * n[j + 1] / n[j] for j in (1, 2, 3))
    return discounts if all(0 <= d <= j for j, d in enumerate(discounts, 1)) else None


def estimate(sentences: Iterable[Sequence[str]], order: int = 3) -> NGramModel:
    """Estimates an interpolated modified Kneser-Ney model from tokenized sentences (empty
    ones are skipped). Raises ValueError when there is no word to learn from."""
    if order < 1:
        raise ValueError(f"the n-gram order must be at least 1, not {order}")
    raw = [Counter() for _ in range(order)]
    for words in sentences:
        if not words:
            continue
        tokens = (BOS, *words, EOS)
        for n in range(1, order + 1):
            raw[n - 1].update(zip(*(tokens[i:] for i in range(n)), strict=False))
    if not raw[0]:
        raise ValueError("no text to estimate a language model from")
    # Adjusted counts: distinct left extensions, except for n-grams starting with <s>.
    adjusted = [None] * (order - 1) + [raw[-1]]
    for n in range(order - 1, 0, -1):
        counts = Counter(gram[1:] for gram in raw[n])
        counts.update({gram: count for gram, count in raw[n - 1].items() if gram[0] == BOS})
        adjusted[n - 1] = counts
    adjusted[0][(BOS,)] = 0  # never predicted
    adjusted[0].setdefault((UNK,), 0)
    model = NGramModel(order, [{} for _ in range(order)], [{} for _ in range(order - 1)])
    lower = {}  # the previous order's interpolated probabilities
    uniform = 1.0 / (len(adjusted[0]) - 1)  # the vocabulary, <unk> and </s>, without <s>
    for n, counts in enumerate(adjusted, 1):
        discounts = _discounts(counts.values())
        if discounts is None:
            discounts = FALLBACK_DISCOUNTS
            model.fallback_orders.append(n)
        model.discounts.append(discounts)
        stats = defaultdict(lambda: [0, 0.0])  # context -> [sum of counts, discounted mass]
        for gram, count in counts.items():
            total = stats[gram[:-1]]
            total[0] += count
            total[1] += discounts[min(count, 3) - 1] if count else 0.0
        probs = model.probs[n - 1]
        for gram, count in counts.items():
            total, mass = stats[gram[:-1]]
            discount = discounts[min(count, 3) - 1] if count else 0.0
            backed_off = uniform if n == 1 else lower[gram[1:]]
            probs[gram] = (count - discount) / total + mass / total * backed_off
        lower = probs
        if n > 1:  # the gammas of this order are the backoff weights of the order below
            model.backoffs[n - 2] = {
                h: math.log10(m / t) if m else NEVER for h, (t, m) in stats.items()
            }
    for n, probs in enumerate(model.probs):
        model.probs[n] = {gram: min(0.0, math.log10(p)) for gram, p in probs.items()}
        if n < order - 1:
            known = model.backoffs[n]
            model.backoffs[n] = {gram: known.get(gram, 0.0) for gram in probs}
    model.probs[0][(BOS,)] = NEVER
    return model


def write_arpa(model: NGramModel, path) -> Path:
    """Writes `model` as an ARPA file; n-grams sorted within each order."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\\data\\\n")
        f.writelines(f"ngram {n}={len(p)}\n" for n, p in enumerate(model.probs, 1))
        for n, probs in enumerate(model.probs, 1):
            f.write(f"\n\\{n}-grams:\n")
            backoffs = model.backoffs[n - 1] if n < model.order else None
            for gram in sorted(probs):
                line = f"{probs[gram]:.7g}\t{' '.join(gram)}"
                f.write(f"{line}\t{backoffs[gram]:.7g}\n" if backoffs else f"{line}\n")
        f.write("\n\\end\\\n")
    return path


def read_arpa(path) -> NGramModel:
    """Reads an ARPA file; a malformed one raises ValueError naming the file and line (the
    header's counts must match the sections)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"language model {path} not found")
    declared, probs, backoffs, section = {}, [], [], None
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            where = f"{path}:{number}"
            if not line or line == "\\data\\":
                continue
            if line == "\\end\\":
                section = "end"
            elif line.startswith("ngram ") and section is None:
                n, _, count = line[6:].partition("=")
                if not (n.strip().isdigit() and count.strip().isdigit()):
                    raise ValueError(f"{where}: expected 'ngram N=COUNT', got {line!r}")
                declared[int(n)] = int(count)
            elif line.startswith("\\") and line.endswith("-grams:"):
                section = int(line[1:].split("-")[0])
                if section != len(probs) + 1 or section not in declared:
                    raise ValueError(f"{where}: unexpected section {line!r}")
                probs.append({})
                backoffs.append({})
            elif isinstance(section, int):
                fields = line.split("\t")
                gram = tuple(fields[1].split()) if len(fields) > 1 else ()
                if len(gram) != section or len(fields) > 3:
                    raise ValueError(f"{where}: not a {section}-gram line: {line!r}")
                try:
                    probs[-1][gram] = float(fields[0])
                    backoffs[-1][gram] = float(fields[2]) if len(fields) == 3 else 0.0
                except ValueError:
                    raise ValueError(f"{where}: not a number in {line!r}") from None
            else:
                raise ValueError(f"{where}: unexpected line {line!r}")
    if section != "end" or not probs:
        raise ValueError(f"{path}: not an ARPA file (no n-gram sections or no \\end\\)")
    for n, grams in enumerate(probs, 1):
        if declared.get(n) != len(grams):
            raise ValueError(
                f"{path}: the header declares {declared.get(n)} {n}-grams, the file holds "
                f"{len(grams)}"
            )
    return NGramModel(len(probs), probs, backoffs[:-1])


def read_unigrams(path) -> list[str]:
    """The words of an ARPA file's unigram section (read alone, for a large model); raises
    ValueError naming the file when it has none."""
    words, inside = [], False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("\\"):
                if inside:
                    break
                inside = line.strip() == "\\1-grams:"
            elif inside and line.strip():
                fields = line.split("\t")
                words.append(fields[1].strip() if len(fields) > 1 else "")
    if not all(words) or not words:
        raise ValueError(f"{path}: not an ARPA file (no unigram section, or a malformed one)")
    return words


def read_sentences(paths, language: str = "en") -> tuple[list[list[str]], int]:
    """Normalized word lists (`normalize_transcript` in `language`, as the labels) of text
    files: a JSONL manifest gives its `text` fields, any other file one sentence a line.
    Returns the non-empty sentences and the number of lines that were empty after
    normalization."""
    sentences, empty = [], 0
    for path in map(Path, paths):
        if path.suffix == ".jsonl":
            lines = [entry["text"] for entry in read_manifest(path)]
        elif path.is_file():
            lines = path.read_text(encoding="utf-8").splitlines()
        else:
            raise FileNotFoundError(f"text file {path} not found")
        for line in lines:
            words = normalize_transcript(line, language).split()
            if words:
                sentences.append(words)
            empty += not words
    return sentences, empty


def build_arpa(
    sentences: list[list[str]], path, order: int = 3, lmplz=None, transform=None
) -> dict:
    """Estimates a model of `order` from tokenized sentences and writes it as an ARPA file at
    `path`, with our estimator or, given `lmplz` (the path of KenLM's binary), with lmplz
    (`--discount_fallback`); `transform`, a function of an `NGramModel`, changes the estimate
    before it is written (`seq2seq.speech.lm_mixing`). Returns a summary: order, sentences,
    words, n-gram counts (of the model written), discounts and fallback orders (ours only)."""
    summary = {"order": order, "sentences": len(sentences), "words": sum(map(len, sentences))}
    if lmplz is None:
        model = estimate(sentences, order)
        summary["estimator"] = "modified Kneser-Ney (seq2seq.speech.language_model)"
        summary["discounts"] = [[round(d, 4) for d in ds] for ds in model.discounts]
        summary["fallback_discount_orders"] = model.fallback_orders
    else:
        if shutil.which(lmplz) is None:
            raise FileNotFoundError(f"lmplz binary {lmplz} not found")
        text = "".join(" ".join(words) + "\n" for words in sentences)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp, open(path, "w", encoding="utf-8") as f:
            args = [lmplz, "-o", str(order), "--discount_fallback", "-S", "20%", "-T", tmp]
            subprocess.run(args, input=text, stdout=f, text=True, check=True)
        model = read_arpa(path)
        summary["estimator"] = f"KenLM lmplz ({lmplz})"
    if transform is not None:
        model = transform(model)
    if lmplz is None or transform is not None:
        write_arpa(model, path)
    summary["ngrams"] = [len(p) for p in model.probs]
    return summary
