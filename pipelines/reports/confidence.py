"""How well word confidences rank recognition errors (the `confidence` section of a speech
evaluation report).

Each hypothesis word is correct when jiwer's alignment with the reference marks it equal, and
an error when it is a substitution or an insertion (a deleted word has no confidence to rank).
Reported: the error rate among the 25% least confident words against the rest's (a useful
confidence puts many more errors in the first group), the area under the ROC curve of
"confidence below a threshold" as an error detector (0.5: no better than chance; 1: every
error less confident than every correct word), and the mean confidence of correct and wrong
words.
"""

import jiwer
import numpy as np
from scipy.stats import rankdata

from seq2seq.speech.alignment import forced_words, word_confidence


def word_correctness(reference: str, hypothesis: str) -> list[bool]:
    """For each word of `hypothesis`, whether the alignment with `reference` matches it."""
    words = hypothesis.split()
    if not words:
        return []
    if not reference.split():
        return [False] * len(words)
    correct = [False] * len(words)
    for chunk in jiwer.process_words(reference, hypothesis).alignments[0]:
        if chunk.type == "equal":
            for i in range(chunk.hyp_start_idx, chunk.hyp_end_idx):
                correct[i] = True
    return correct


def text_confidences(log_probs: list, texts: list[str], alphabet: str) -> list[float | None]:
    """The mean word confidence of each text on the best CTC path that spells it (as
    `transcribe` computes it for a beam search's text); None for a text without words or one
    its frames cannot hold."""
    out = []
    for frames, text in zip(log_probs, texts, strict=True):
        try:
            spans = forced_words(frames, text, alphabet)
        except ValueError:
            spans = []
        scores = [word_confidence(frames, word, start, end, alphabet) for word, start, end in spans]
        out.append(float(np.mean(scores)) if scores else None)
    return out


def confidence_quality(references, hypotheses, confidences, share: float = 0.25) -> dict:
    """`hypotheses` are texts, `confidences` one list per hypothesis (one value per word)."""
    correct, scores = [], []
    for reference, hypothesis, values in zip(references, hypotheses, confidences, strict=True):
        flags = word_correctness(reference, hypothesis)
        if len(flags) != len(values):
            raise ValueError(f"{len(values)} confidences for {len(flags)} words: {hypothesis!r}")
        correct += flags
        scores += list(values)
    correct, scores = np.array(correct, bool), np.array(scores, float)
    if len(scores) == 0:
        return {"words": 0}
    order = np.argsort(scores, kind="stable")
    low = order[: max(int(round(share * len(scores))), 1)]
    rest = order[len(low) :]
    errors = ~correct
    result = {
        "words": int(len(scores)),
        "errors": int(errors.sum()),
        "least_confident_share": share,
        "error_rate_least_confident": _percent(errors[low]),
        "error_rate_rest": _percent(errors[rest]),
        "mean_confidence_correct": _mean(scores[correct]),
        "mean_confidence_wrong": _mean(scores[errors]),
    }
    n_wrong, n_right = int(errors.sum()), int(correct.sum())
    if n_wrong and n_right:
        # Mann-Whitney: the chance that a random error is less confident than a random
        # correct word (ties count half).
        ranks = rankdata(-scores)
        result["error_auroc"] = round(
            float((ranks[errors].sum() - n_wrong * (n_wrong + 1) / 2) / (n_wrong * n_right)), 4
        )
    return result


def _percent(flags) -> float | None:
    return round(100 * float(np.mean(flags)), 2) if len(flags) else None


def _mean(values) -> float | None:
    return round(float(np.mean(values)), 4) if len(values) else None


def markdown(quality: dict, decoding: str) -> list[str]:
    """Report lines for `quality` (empty when there were no words)."""
    if not quality.get("words"):
        return []
    share = int(round(100 * quality["least_confident_share"]))
    lines = [
        "",
        f"## Word confidence ({decoding})",
        "",
        f"{quality['words']} hypothesis words, {quality['errors']} of them substitutions or "
        f"insertions. Error rate of the {share}% least confident words: "
        f"{quality['error_rate_least_confident']}%, of the rest: {quality['error_rate_rest']}%. "
        f"Mean confidence {quality['mean_confidence_correct']} for correct words, "
        f"{quality['mean_confidence_wrong']} for wrong ones.",
    ]
    if "error_auroc" in quality:
        lines[-1] += f" AUROC of confidence as an error detector: {quality['error_auroc']}."
    return lines
