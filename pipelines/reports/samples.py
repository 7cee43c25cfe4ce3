"""What the models write: every evaluated sentence or utterance with its reference, the output
of each decoding and a sentence score (the `sentences` / `utterances` lists of an evaluation's
`report.json`), and a reproducible pick of a few of them to show in a report.

The pick is a seeded draw (the same report gives the same sentences on every machine) plus the
worst and the best by sentence score, so a reader sees a typical output and both ends.
Translations are scored with sentence chrF (character n-grams: sentence BLEU is zero for most
short sentences without a matching 4-gram, so it ranks them poorly); transcripts with their
WER, and each carries the mean confidence of its words.
"""

import random

import sacrebleu

from pipelines.reports.evaluation import score_transcripts

DRAWN = 3  # sentences drawn at random per evaluated set, besides the worst and the best
SEED = 0


def translation_outputs(sources, references, hypotheses: dict) -> list[dict]:
    """One entry per sentence: source, reference, {decoding: output} and the sentence chrF and
    BLEU of the last decoding's output (the report's final row)."""
    final = list(hypotheses.values())[-1]
    chrf, bleu = sacrebleu.CHRF(), sacrebleu.BLEU(effective_order=True)
    return [
        {
            "index": i,
            "source": source,
            "reference": reference,
            "hypotheses": {name: texts[i] for name, texts in hypotheses.items()},
            "chrf": round(chrf.sentence_score(final[i], [reference]).score, 2),
            "bleu": round(bleu.sentence_score(final[i], [reference]).score, 2),
        }
        for i, (source, reference) in enumerate(zip(sources, references, strict=True))
    ]


def speech_outputs(
    audio_files, voices, references, hypotheses: dict, confidences: list
) -> list[dict]:
    """One entry per utterance: audio file, voice, normalized reference, {decoding: transcript},
    the WER of the last decoding's transcript and its mean word confidence (None without
    words)."""
    final = list(hypotheses.values())[-1]
    return [
        {
            "index": i,
            "audio_filepath": str(audio),
            "voice": voice,
            "reference": reference,
            "hypotheses": {name: texts[i] for name, texts in hypotheses.items()},
            "wer": score_transcripts([reference], [final[i]])["wer"],
            "confidence": None if confidences[i] is None else round(confidences[i], 4),
        }
        for i, (audio, voice, reference) in enumerate(
            zip(audio_files, voices, references, strict=True)
        )
    ]


def pick(items: list[dict], score: str, higher_is_better: bool, drawn: int = DRAWN):
    """[(label, item)]: `drawn` items drawn with a fixed seed (in their order in the set), then
    the worst and the best by `score` (ties: the first), each item at most once."""
    if not items:
        return []
    chosen = sorted(random.Random(SEED).sample(range(len(items)), min(drawn, len(items))))
    picks = [("drawn", items[i]) for i in chosen]
    sign = 1 if higher_is_better else -1
    order = sorted(range(len(items)), key=lambda i: (sign * items[i][score], i))
    for label, i in [("worst", order[0]), ("best", order[-1])]:
        if i not in chosen:
            chosen.append(i)
            picks.append((label, items[i]))
    return picks


def sample_table(report: dict) -> tuple[list, list] | None:
    """(header, rows) of the picked outputs of one evaluation's `report.json`; None when it
    has no per-sentence outputs (written before they were saved)."""
    if report.get("sentences"):
        items = report["sentences"]
        decoding = list(items[0]["hypotheses"])[-1]
        header = ["pick", "source", "reference", f"output ({decoding})", "chrF", "BLEU"]
        rows = [
            [label, s["source"], s["reference"], s["hypotheses"][decoding], s["chrf"], s["bleu"]]
            for label, s in pick(items, "chrf", higher_is_better=True)
        ]
        return header, rows
    if report.get("utterances"):
        items = report["utterances"]
        decoding = list(items[0]["hypotheses"])[-1]
        header = ["pick", "audio", "reference", f"transcript ({decoding})", "WER %", "confidence"]
        rows = [
            [
                label,
                u["audio_filepath"].rsplit("/", 1)[-1],
                u["reference"],
                u["hypotheses"][decoding],
                u["wer"],
                "" if u["confidence"] is None else f"{u['confidence']:.3f}",
            ]
            for label, u in pick(items, "wer", higher_is_better=False)
        ]
        return header, rows
    return None
