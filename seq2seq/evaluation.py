"""Translation scoring with sacrebleu and the report files."""

import json
from pathlib import Path

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
