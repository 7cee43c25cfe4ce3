"""The speech translation results page (`docs/results/speech_translation.md`) and the README's
headline table of the chain, written from committed result files only.

A recorded chain result (`python -m pipelines.results record-chain`) is a folder
`results/speech_translate/<name>/` holding `environment.json` (commit, dates, CPU, versions,
the commands) and one `<set>/report.json` per evaluated set, as `pipelines.speech_translate
--evaluate` wrote it: the recognizer's WER and CER, and BLEU / chrF / TER of the translations
from the audio, from the gold text and from the gold text in recognizer style, overall and per
speaker. The recognizer and translator runs are results of their own tasks.
"""

import json

from pipelines.reports.results_pages import GENERATED, recorded, table

TASK = "speech_translate"
PAGE = "speech_translation.md"
HEADER = ["set", "utterances", "WER %", "CER %", "BLEU from speech", "BLEU from gold text"]
HEADER += ["BLEU from recognizer-style text", "chain / gold"]


def load(root) -> list[dict]:
    """Every recorded chain result: {"name", "folder", "environment", "reports": {set: report}},
    newest first."""
    return [
        result
        | {
            "reports": {
                path.parent.name: json.loads(path.read_text(encoding="utf-8"))
                for path in sorted(folder.glob("*/report.json"))
            }
        }
        for folder, result in recorded(root, TASK)
    ]


def score_row(name, count, scores) -> list:
    """The cells of HEADER for one set or speaker of a chain report (also its report.md's)."""
    text, share = scores["translation"], scores["chain_share_of_gold_bleu"]
    return [
        name,
        count,
        f"{scores['asr']['wer']:.2f}",
        f"{scores['asr']['cer']:.2f}",
        f"{text['chain']['bleu']:.2f}",
        f"{text['gold']['bleu']:.2f}",
        f"{text['asr_style']['bleu']:.2f}",
        "–" if share is None else f"{100 * share:.1f}%",
    ]


def section(result: dict) -> list[str]:
    env = result["environment"]
    cpu = env.get("cpu", {})
    lines = ["", f"## {result['name']}", ""]
    if env.get("note"):
        lines += [f"**Note:** {env['note']}", ""]
    lines += [
        f"- date: recorded {env.get('recorded', '?')}",
        f"- commit: `{env.get('commit', '?')}`"
        + (" (with local changes)" if env.get("dirty") else ""),
        f"- CPU: {cpu.get('model', '?')}, {cpu.get('cores', '?')} cores "
        f"({', '.join(cpu.get('flags', [])) or 'none of avx2, avx512*, amx*'})",
        f"- Python {env.get('python')}, TensorFlow {env.get('tensorflow')}, "
        f"Keras {env.get('keras')}",
        "- commands:",
        "",
        "```bash",
        *env.get("commands", []),
        "```",
    ]
    for name, report in result["reports"].items():
        decoding, runs = report["decoding"], report["runs"]
        asr, minutes = decoding["asr"], report["audio_seconds"] / 60
        lines += [
            "",
            f"### {name} ({report['utterances']} recordings, {minutes:.1f} min)",
            "",
            f"Recognizer `{runs.get('asr')}` ({asr['strategy']}, beam {asr['beam_size']}), "
            f"translator `{runs.get('translate')}` (beam {decoding['translate_beam_size']}); "
            f"real-time factor {report['real_time_factor']:.3f}.",
            "",
        ]
        rows = [score_row("all", report["utterances"], report)]
        rows += [score_row(s, v["utterances"], v) for s, v in report["by_speaker"].items()]
        lines += table(HEADER, rows, "lrrrrrrr")
        lines += subtitles(report)
    return lines


def subtitles(report: dict) -> list[str]:
    """The report's first recording with its English subtitles (SRT), as the chain wrote them."""
    sample = report.get("subtitles")
    if not sample or not sample["srt"].strip():
        return []
    said = next((x for x in report["samples"] if x["audio"] == sample["audio"]), None)
    lines = ["", f"`{sample['audio']}`"]
    if said:
        lines[-1] += f" says “{said['source']}”; the recognizer heard “{said['transcript']}”"
    lines[-1] += ". Its English subtitles (`--format srt`):"
    return lines + ["", "```", sample["srt"].rstrip(), "```"]


def page(root) -> str:
    lines = ["# Speech translation results", "", GENERATED.format(folder=f"results/{TASK}/"), ""]
    lines += [
        "Spanish speech in, English text out (`python -m pipelines.speech_translate`, "
        "[speech_translation.md](../speech_translation.md)). Every figure comes from a "
        f"committed `results/{TASK}/<name>/<set>/report.json`, written by `speech_translate "
        "--evaluate` and recorded with `python -m pipelines.results record-chain`. BLEU from "
        "speech translates the recognizer's transcript; from gold text, the manifest's Spanish; "
        "from recognizer-style text, that Spanish lower-cased without punctuation; chain / gold "
        "is the share of the gold BLEU the chain keeps.",
    ]
    results = load(root)
    if not results:
        lines += ["", "No committed chain result yet."]
    for result in results:
        lines += section(result)
    return "\n".join(lines) + "\n"


def headline(root) -> list[str]:
    results = load(root)
    page_file = f"docs/results/{PAGE}"
    if not results:
        return [
            f"No committed chain result yet; [{page_file}]({page_file}) fills in with the first."
        ]
    rows = []
    for result in results:
        for name, report in result["reports"].items():
            link = f"[{result['name']}]({page_file}#{result['name'].lower()})"
            rows.append([link, *score_row(name, report["utterances"], report)])
    lines = table(["result", *HEADER], rows, "llrrrrrrr")
    # the subtitles of the result whose chain scores best on its first set
    firsts = [next(iter(r["reports"].values())) for r in results if r["reports"]]
    if firsts:
        lines += subtitles(max(firsts, key=lambda r: r["translation"]["chain"]["bleu"]))
    notes = [
        f"- {r['name']}: {r['environment']['note']}"
        for r in results
        if r["environment"].get("note")
    ]
    return lines + ["", f"Per speaker and the commands: [{page_file}]({page_file})."] + notes


def with_headline(readme: str, root) -> str:
    begin, end = f"<!-- results:{TASK} begin -->", f"<!-- results:{TASK} end -->"
    if readme.count(begin) != 1 or readme.count(end) != 1:
        raise ValueError(f"README.md needs one `{begin}` and one `{end}` line")
    head, rest = readme.split(begin)
    _, tail = rest.split(end)
    return "\n".join([head + begin, *headline(root), end + tail])
