"""Scoring (sacrebleu for translation, jiwer for speech), score breakdowns and the report
files (`report.json`, `report.md` and the PNG figures it embeds)."""

import bisect
import json
from collections import Counter
from pathlib import Path

import jiwer
import sacrebleu

from pipelines.reports import confidence, figures
from seq2seq.files import write_text

SOURCE_WORD_BUCKETS = (10, 20, 30, 40)  # BLEU by source length (words)
DURATION_BUCKETS = (2.0, 4.0, 6.0, 8.0)  # WER by utterance length (seconds)


def score_translations(hypotheses: list[str], references: list[str], extra=None) -> dict:
    """Corpus BLEU, chrF and TER (sacrebleu defaults: 13a tokenization, cased) with signatures,
    against `references`. With `extra` ({name: more reference lines}), also `by_reference`:
    the scores against `references` ("reference"), each extra one, and all of them together
    ("all": sacrebleu's multi-reference scores); the top-level scores stay single-reference."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    bleu, chrf, ter = sacrebleu.BLEU(), sacrebleu.CHRF(), sacrebleu.TER()

    def scores(streams):
        return {
            "bleu": round(bleu.corpus_score(hypotheses, streams).score, 2),
            "chrf": round(chrf.corpus_score(hypotheses, streams).score, 2),
            "ter": round(ter.corpus_score(hypotheses, streams).score, 2),
        }

    result = scores([references])
    # The metric objects describe their last call: take the single-reference signatures now.
    metrics = {"bleu": bleu, "chrf": chrf, "ter": ter}
    signature = {name: str(metric.get_signature()) for name, metric in metrics.items()}
    if extra:
        result["by_reference"] = {
            "reference": dict(result),
            **{name: scores([lines]) for name, lines in extra.items()},
            "all": scores([references, *extra.values()]),
        }
    return {**result, "signature": signature}


def buckets(values, edges, unit: str = "") -> dict[str, list[int]]:
    """Groups indices by value into `≤e1`, `e1–e2` (e1 < value ≤ e2), ..., `>eN`, in that
    order; empty groups are left out."""
    names = [f"≤{edges[0]:g}{unit}"]
    names += [f"{a:g}–{b:g}{unit}" for a, b in zip(edges, edges[1:], strict=False)]
    names += [f">{edges[-1]:g}{unit}"]
    groups = {name: [] for name in names}
    for i, value in enumerate(values):
        groups[names[bisect.bisect_left(edges, value)]].append(i)
    return {name: index for name, index in groups.items() if index}


def bleu_by_length(sources, references, hypotheses: dict) -> dict:
    """Corpus BLEU per source-length bucket for each decoding strategy:
    {bucket: {"num_sentences": n, "bleu": {strategy: score}}}."""
    groups = buckets([len(s.split()) for s in sources], SOURCE_WORD_BUCKETS, " words")

    def bleu(texts, index):
        picked = [texts[i] for i in index], [[references[i] for i in index]]
        return round(sacrebleu.corpus_bleu(*picked).score, 2)

    return {
        name: {
            "num_sentences": len(index),
            "bleu": {s: bleu(h, index) for s, h in hypotheses.items()},
        }
        for name, index in groups.items()
    }


def write_reports(
    out_dir,
    rows: list[dict],
    samples: list[dict],
    title: str,
    by_length: dict | None = None,
    attention: list[dict] = (),
    sentences: list[dict] = (),
) -> Path:
    """Writes `report.json` (one entry per decoding strategy, the BLEU by source length, every
    sentence's outputs: `samples.translation_outputs`) and `report.md` (score tables, figures,
    samples), with `bleu_by_length.png` and one `attention_<i>.png` per `attention` item
    (`source_tokens`, `target_tokens`, `weights` (target, source), `title`). Returns its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {"results": rows, "by_source_length": by_length or {}, "samples": samples}
    payload["sentences"] = list(sentences)
    write_text(out_dir / "report.json", json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    lines = [
        f"# {title}",
        "",
        "| decoding | BLEU | chrF | TER | sentences | seconds | sentences/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        decoding = row["decoding"]
        name = decoding["strategy"] + (
            f" (beam {decoding['beam_size']})" if decoding["strategy"] == "beam" else ""
        )
        lines.append(
            f"| {name} | {row['bleu']:.2f} | {row['chrf']:.2f} | {row['ter']:.2f} | "
            f"{row['num_sentences']} | {row['seconds']:.1f} | {row['sentences_per_second']:.1f} |"
        )
    if rows and "by_reference" in rows[0]:
        lines += [
            "",
            "Against each reference and all together (sacrebleu's multi-reference scores):",
            "",
            "| decoding | reference | BLEU | chrF | TER |",
            "|---|---|---:|---:|---:|",
        ]
        for row in rows:
            for name, score in row["by_reference"].items():
                lines.append(
                    f"| {decoding_name(row['decoding'])} | {name} | {score['bleu']:.2f} | "
                    f"{score['chrf']:.2f} | {score['ter']:.2f} |"
                )
    lines += ["", "Signatures:", ""]
    lines += [f"- `{v}`" for v in rows[0]["signature"].values()] if rows else []
    if by_length:
        strategies = list(next(iter(by_length.values()))["bleu"])
        lines += [
            "",
            "## BLEU by source length",
            "",
            "| source length | sentences | " + " | ".join(f"BLEU {s}" for s in strategies) + " |",
            "|---|---:|" + "---:|" * len(strategies),
        ]
        for name, row in by_length.items():
            scores = " | ".join(f"{row['bleu'][s]:.2f}" for s in strategies)
            lines.append(f"| {name} | {row['num_sentences']} | {scores} |")
        figures.grouped_bars(
            list(by_length),
            {s: [row["bleu"][s] for row in by_length.values()] for s in strategies},
            out_dir / "bleu_by_length.png",
            "BLEU by source length",
            "BLEU",
            counts=[row["num_sentences"] for row in by_length.values()],
        )
        lines += ["", "![BLEU by source length](bleu_by_length.png)"]
    if attention:
        lines += ["", "## Attention", ""]
    for i, item in enumerate(attention, 1):
        figures.attention_heatmap(
            item["source_tokens"],
            item["target_tokens"],
            item["weights"],
            out_dir / f"attention_{i}.png",
            item.get("title"),
        )
        lines += [f"![attention {i}](attention_{i}.png)", ""]
    lines += ["", "## Sample translations", ""]
    for sample in samples:
        lines += [
            f"- **source:** {sample['source']}",
            f"  - **reference:** {sample['reference']}",
            *[f"  - **{k}:** {v}" for k, v in sample["hypotheses"].items()],
        ]
    path = out_dir / "report.md"
    write_text(path, "\n".join(lines) + "\n")
    return path


def score_transcripts(references: list[str], hypotheses: list[str]) -> dict:
    """Corpus WER and CER with jiwer (sum of edits over sum of reference words or characters)
    and the word-level hits, substitutions, deletions and insertions. References must be
    non-empty (normalized) strings."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    words = jiwer.process_words(references, hypotheses)
    chars = jiwer.process_characters(references, hypotheses)
    return {
        "wer": round(100 * words.wer, 2),
        "cer": round(100 * chars.cer, 2),
        "hits": words.hits,
        "substitutions": words.substitutions,
        "deletions": words.deletions,
        "insertions": words.insertions,
        "reference_words": words.hits + words.substitutions + words.deletions,
    }


def word_errors(reference: str, hypothesis: str) -> int:
    """Substitutions + deletions + insertions of one utterance."""
    out = jiwer.process_words(reference, hypothesis)
    return out.substitutions + out.deletions + out.insertions


def aligned(reference: str, hypothesis: str) -> str:
    """REF/HYP lines aligned word by word, with S/D/I marks (jiwer's visualization)."""
    text = jiwer.visualize_alignment(jiwer.process_words(reference, hypothesis), False)
    return "\n".join(line for line in text.splitlines() if line and not line.startswith("==="))


def character_substitutions(references, hypotheses, top: int = 15) -> list[tuple]:
    """The `top` most frequent character substitutions in the character alignments of
    references and hypotheses: [(reference char, hypothesis char, count)]."""
    out = jiwer.process_characters(references, hypotheses)
    counts = Counter()
    for ref, hyp, chunks in zip(out.references, out.hypotheses, out.alignments, strict=True):
        for chunk in chunks:
            if chunk.type == "substitute":
                pairs = zip(
                    ref[chunk.ref_start_idx : chunk.ref_end_idx],
                    hyp[chunk.hyp_start_idx : chunk.hyp_end_idx],
                    strict=True,
                )
                counts.update(pairs)
    return [(r, h, n) for (r, h), n in counts.most_common(top)]


def write_asr_reports(
    out_dir,
    report: dict,
    by_voice: dict,
    worst: list[dict],
    title: str,
    by_duration: dict | None = None,
    substitutions: list[tuple] = (),
    utterances: list[dict] = (),
):
    """Writes `report.json` and `report.md`: scores per decoding strategy, WER tables by
    voice and by utterance duration (with `wer_by_voice.png`, `wer_by_duration.png`), the most
    frequent character substitutions (`substitutions.png`) and the worst utterances as aligned
    REF/HYP lines; `report.json` keeps every utterance's outputs (`samples.speech_outputs`).
    `by_voice` and `by_duration` map a group to {"num_utterances", "wer": [one per decoding]}."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        **report,
        "by_voice": by_voice,
        "by_duration": by_duration or {},
        "character_substitutions": [list(s) for s in substitutions],
        "worst": worst,
        "utterances": list(utterances),
    }
    write_text(out_dir / "report.json", json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    lines = [
        f"# {title}",
        "",
        f"{report['num_utterances']} utterances, {report['audio_seconds'] / 60:.1f} minutes of "
        "audio; WER and CER in %, transcripts normalized to the model alphabet.",
        "",
        *figures.encoder_lines(report.get("pretrained_encoder")),
        "| decoding | WER | CER | hits | subs | dels | ins | real-time factor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report["results"]:
        lines.append(
            f"| {decoding_name(row['decoding'])} | {row['wer']:.2f} | {row['cer']:.2f} | "
            f"{row['hits']} | {row['substitutions']} | {row['deletions']} | "
            f"{row['insertions']} | {row['real_time_factor']:.4f} |"
        )
    decodings = [decoding_name(r["decoding"]) for r in report["results"]]
    groups = [("voice", "By voice", sorted(by_voice.items()), "wer_by_voice.png")]
    if by_duration:
        groups.append(("duration", "By duration", list(by_duration.items()), "wer_by_duration.png"))
    for column, heading, items, png in groups:
        lines += [
            "",
            f"## {heading}",
            "",
            f"| {column} | utterances | " + " | ".join(f"WER {d}" for d in decodings) + " |",
            "|---|---:|" + "---:|" * len(decodings),
        ]
        for name, row in items:
            lines.append(
                f"| {name or '(none)'} | {row['num_utterances']} | "
                + " | ".join(f"{w:.2f}" for w in row["wer"])
                + " |"
            )
        figures.grouped_bars(
            [name or "(none)" for name, _ in items],
            {d: [row["wer"][i] for _, row in items] for i, d in enumerate(decodings)},
            out_dir / png,
            f"WER by {column}",
            "WER %",
            counts=[row["num_utterances"] for _, row in items],
        )
        lines += ["", f"![WER by {column}]({png})"]
    if substitutions:
        figures.substitutions_chart(
            substitutions,
            out_dir / "substitutions.png",
            f"Most frequent character substitutions ({decodings[-1]})",
        )
        lines += [
            "",
            "## Character substitutions",
            "",
            "Reference → hypothesis, counted over the character alignments.",
            "",
            "![character substitutions](substitutions.png)",
        ]
    if report.get("confidence"):
        lines += confidence.markdown(report["confidence"], report["confidence"]["decoding"])
    lines += ["", f"## Worst utterances ({decoding_name(report['results'][-1]['decoding'])})", ""]
    for item in worst:
        lines += [
            f"- `{item['audio_filepath']}` ({item['voice'] or 'no voice'}, {item['errors']} "
            "word errors)",
            "",
            "```",
            item["alignment"],
            "```",
        ]
    path = out_dir / "report.md"
    write_text(path, "\n".join(lines) + "\n")
    return path


def decoding_name(decoding: dict) -> str:
    if decoding["strategy"] == "beam":
        return f"beam {decoding['beam_size']}"
    if decoding["strategy"] == "beam+lm":
        return f"beam {decoding['beam_size']} + LM"
    return decoding["strategy"]
