"""Scoring (sacrebleu for translation, jiwer for speech) and the report files."""

import json
from pathlib import Path

import jiwer
import sacrebleu


def score_translations(hypotheses: list[str], references: list[str]) -> dict:
    """Corpus BLEU, chrF and TER (sacrebleu defaults: 13a tokenization, cased) with signatures."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    bleu, chrf, ter = sacrebleu.BLEU(), sacrebleu.CHRF(), sacrebleu.TER()
    return {
        "bleu": round(bleu.corpus_score(hypotheses, [references]).score, 2),
        "chrf": round(chrf.corpus_score(hypotheses, [references]).score, 2),
        "ter": round(ter.corpus_score(hypotheses, [references]).score, 2),
        "signature": {
            "bleu": str(bleu.get_signature()),
            "chrf": str(chrf.get_signature()),
            "ter": str(ter.get_signature()),
        },
    }


def write_reports(out_dir, rows: list[dict], samples: list[dict], title: str) -> Path:
    """Writes `report.json` (one entry per decoding strategy) and `report.md` (a score table
    and sample translations). Returns the Markdown path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(
        json.dumps({"results": rows, "samples": samples}, indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
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
    lines += ["", "Signatures:", ""]
    lines += [f"- `{v}`" for v in rows[0]["signature"].values()] if rows else []
    lines += ["", "## Sample translations", ""]
    for sample in samples:
        lines += [
            f"- **source:** {sample['source']}",
            f"  - **reference:** {sample['reference']}",
            *[f"  - **{k}:** {v}" for k, v in sample["hypotheses"].items()],
        ]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
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


def write_asr_reports(out_dir, report: dict, by_voice: dict, worst: list[dict], title: str):
    """Writes `report.json` and `report.md` (scores per decoding strategy, a per-voice table
    and the worst utterances as aligned REF/HYP lines). Returns the Markdown path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {**report, "by_voice": by_voice, "worst": worst}
    (out_dir / "report.json").write_text(
        json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    lines = [
        f"# {title}",
        "",
        f"{report['num_utterances']} utterances, {report['audio_seconds'] / 60:.1f} minutes of "
        "audio; WER and CER in %, transcripts normalized to the model alphabet.",
        "",
        "| decoding | WER | CER | hits | subs | dels | ins | real-time factor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report["results"]:
        lines.append(
            f"| {_decoding_name(row['decoding'])} | {row['wer']:.2f} | {row['cer']:.2f} | "
            f"{row['hits']} | {row['substitutions']} | {row['deletions']} | "
            f"{row['insertions']} | {row['real_time_factor']:.4f} |"
        )
    lines += [
        "",
        "## By voice",
        "",
        "| voice | utterances | "
        + " | ".join(f"WER {_decoding_name(r['decoding'])}" for r in report["results"])
        + " |",
        "|---|---:|" + "---:|" * len(report["results"]),
    ]
    for voice, row in sorted(by_voice.items()):
        lines.append(
            f"| {voice or '(none)'} | {row['num_utterances']} | "
            + " | ".join(f"{w:.2f}" for w in row["wer"])
            + " |"
        )
    lines += ["", f"## Worst utterances ({_decoding_name(report['results'][-1]['decoding'])})", ""]
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
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _decoding_name(decoding: dict) -> str:
    if decoding["strategy"] == "beam":
        return f"beam {decoding['beam_size']}"
    return decoding["strategy"]
