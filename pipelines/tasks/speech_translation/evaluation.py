"""The chain evaluated on spoken sentences with their translations (a manifest whose lines
have a `translation`, such as `test_verses.jsonl` of `data_prep.corpora.synth_speech
--verses`).

One report says how much recognition costs the translation: the recognizer's WER and CER on
the audio, BLEU / chrF / TER of the chain's output against the references, and the same
translator's scores from the gold source text and from the gold text written as the recognizer
writes (lower case, no punctuation, numbers spelled out: `normalize_transcript`), so the loss
from recognition errors is `chain BLEU / gold BLEU`. The same figures per speaker.
"""

import json
import time
from collections import defaultdict
from pathlib import Path

from tqdm import tqdm

from data_prep.speech.audio import AudioError
from data_prep.speech.manifest import read_manifest
from data_prep.speech.transcripts import normalize_transcript
from pipelines.reports.chain_page import score_row
from pipelines.reports.evaluation import score_transcripts, score_translations
from pipelines.reports.results_pages import table
from pipelines.tasks.speech_translation.chain import translate_recording
from pipelines.tasks.speech_translation.formats import render
from seq2seq.files import write_text

SOURCES = ("chain", "gold", "asr_style")  # what the translator read
SAMPLES = 5


def read_pairs(manifest, limit: int | None = None) -> list[dict]:
    """The manifest's utterances, each with its `translation` (a missing one is an error
    naming the file and line)."""
    entries = read_manifest(manifest)[:limit]
    for number, entry in enumerate(entries, 1):
        if not str(entry.get("translation", "")).strip():
            raise ValueError(
                f"{manifest}:{number}: no `translation` to score against (build the verses "
                "with data_prep.corpora.synth_speech --verses N --translation-column K)"
            )
    if not entries:
        raise ValueError(f"{manifest}: no utterances")
    return entries


def evaluate_chain(
    recognizer,
    translator,
    manifest,
    out_dir,
    beam=None,
    translate_beam: int = 1,
    limit: int | None = None,
    runs: dict | None = None,
) -> dict:
    """Translates every recording of `manifest` through the chain and scores it (see the
    module's docstring); writes `out_dir/report.json` and `report.md`; returns the report.
    `runs` ({"asr": path, "translate": path}) goes into the report as it is."""
    language = recognizer.config.data.language
    entries = read_pairs(manifest, limit)
    transcripts, outputs, kept, unreadable, first = [], [], [], [], None
    started = time.perf_counter()
    for entry in tqdm(entries, desc="speech-translating", unit="utt"):
        try:
            result = translate_recording(
                recognizer, translator, entry["audio_filepath"], beam, translate_beam
            )
        except AudioError as err:
            unreadable.append({"audio_filepath": entry["audio_filepath"], "error": str(err)})
            continue
        kept.append(entry)
        first = first or result
        transcripts.append(result.transcript.text)
        outputs.append(result.text)
    seconds = time.perf_counter() - started
    if not kept:
        raise ValueError(f"{manifest}: no readable audio ({unreadable[0]['error']})")
    gold = [e["text"] for e in kept]
    styled = [normalize_transcript(text, language) for text in gold]
    translations = {
        "chain": outputs,
        "gold": translator.translate(gold, translate_beam, progress=True),
        "asr_style": translator.translate(styled, translate_beam, progress=True),
    }
    references = [e["translation"] for e in kept]
    speakers = [e.get("speaker") or e.get("voice") or "?" for e in kept]
    report = {
        "manifest": str(manifest),
        "runs": runs or {},
        "language": language,
        "utterances": len(kept),
        "unreadable": unreadable,
        "audio_seconds": round(sum(e["duration"] for e in kept), 2),
        "real_time_factor": round(seconds / sum(e["duration"] for e in kept), 4),
        "decoding": {
            "asr": _asr_decoding(beam),
            "translate_beam_size": translate_beam,
        },
        **_scores(styled, transcripts, translations, references),
        "by_speaker": {
            speaker: {"utterances": len(rows)}
            | _scores(
                [styled[i] for i in rows],
                [transcripts[i] for i in rows],
                {k: [v[i] for i in rows] for k, v in translations.items()},
                [references[i] for i in rows],
            )
            for speaker, rows in _groups(speakers).items()
        },
        "subtitles": {  # the first recording's English subtitles, as --format srt writes them
            "audio": Path(kept[0]["audio_filepath"]).name,
            "srt": render(first, "srt"),
        },
        "samples": [
            {
                "audio": Path(kept[i]["audio_filepath"]).name,
                "source": gold[i],
                "transcript": transcripts[i],
                "reference": references[i],
                "chain": translations["chain"][i],
                "gold": translations["gold"][i],
            }
            for i in range(min(SAMPLES, len(kept)))
        ],
    }
    out_dir = Path(out_dir)
    write_text(out_dir / "report.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    write_text(out_dir / "report.md", markdown(report))
    return report


def _asr_decoding(beam) -> dict:
    if beam is None:
        return {"strategy": "greedy", "beam_size": 1}
    strategy = "beam+lm" if beam.lm_path is not None else "beam"
    decoding = {"strategy": strategy, "beam_size": beam.beam_size}
    if beam.lm_path is not None:
        decoding |= {"lm": str(beam.lm_path), "alpha": beam.alpha, "beta": beam.beta}
    return decoding


def _groups(keys) -> dict:
    groups = defaultdict(list)
    for i, key in enumerate(keys):
        groups[key].append(i)
    return dict(sorted(groups.items()))


def _scores(styled, transcripts, translations, references) -> dict:
    """WER/CER of the transcripts, the three translations' scores and the chain's share of
    the gold BLEU."""
    speech = score_transcripts(styled, transcripts)
    scores = {k: score_translations(v, references) for k, v in translations.items()}
    text = {k: {m: scores[k][m] for m in ("bleu", "chrf", "ter")} for k in SOURCES}
    gold = text["gold"]["bleu"]
    return {
        "asr": {"wer": speech["wer"], "cer": speech["cer"]},
        "translation": text,
        "chain_share_of_gold_bleu": round(text["chain"]["bleu"] / gold, 4) if gold else None,
        "signature": scores["chain"].get("signature", {}),
    }


def markdown(report: dict) -> str:
    """The report as Markdown: the overall table, the table per speaker, a few samples."""
    header = ["speaker", "utterances", "WER %", "CER %", "BLEU chain", "BLEU gold"]
    header += ["BLEU asr-style", "chain / gold", "chrF chain", "chrF gold"]
    rows = [_row("all", report["utterances"], report)]
    rows += [_row(speaker, s["utterances"], s) for speaker, s in report["by_speaker"].items()]
    lines = [
        f"# Speech translation report: {Path(report['manifest']).name}",
        "",
        f"Runs: recognizer `{report['runs'].get('asr', '?')}`, translator "
        f"`{report['runs'].get('translate', '?')}`; recognizer decoding "
        f"{report['decoding']['asr']['strategy']} (beam {report['decoding']['asr']['beam_size']}), "
        f"translation beam {report['decoding']['translate_beam_size']}; "
        f"{report['audio_seconds'] / 60:.1f} min of audio, real-time factor "
        f"{report['real_time_factor']:.3f}.",
        "",
        "BLEU chain: the translation of the recognizer's transcript; gold: of the manifest's "
        "text; asr-style: of that text lower-cased without punctuation (as the recognizer "
        "writes). chain / gold is the share of the gold BLEU the chain keeps.",
        "",
        *table(header, rows, "l" + "r" * 9),
    ]
    if report["unreadable"]:
        lines += ["", f"{len(report['unreadable'])} unreadable recordings left out."]
    lines += ["", "## Samples", ""]
    for sample in report["samples"]:
        lines += [
            f"- `{sample['audio']}`",
            f"  - source: {sample['source']}",
            f"  - transcript: {sample['transcript']}",
            f"  - reference: {sample['reference']}",
            f"  - chain: {sample['chain']}",
            f"  - from gold text: {sample['gold']}",
        ]
    return "\n".join(lines) + "\n"


def _row(name, count, scores) -> list:
    """The results page's cells (`chain_page.score_row`) and the two chrF scores."""
    text = scores["translation"]
    return score_row(name, count, scores) + [
        f"{text['chain']['chrf']:.2f}",
        f"{text['gold']['chrf']:.2f}",
    ]
