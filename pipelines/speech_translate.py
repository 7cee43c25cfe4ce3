"""Speech translation: Spanish recordings in, English text and subtitles out.

python -m pipelines.speech_translate --asr RUN_ES --translate RUN_ES_EN talk.wav [--format srt]
python -m pipelines.speech_translate --asr RUN_ES --translate RUN_ES_EN \\
    --evaluate data/speech_es/test_verses.jsonl --out reports/speech_translate/test_verses
"""

import argparse
from pathlib import Path

from pipelines import cli
from pipelines.tasks.asr.lm_commands import add_lm_options
from pipelines.tasks.asr.transcribe_command import (
    add_audio_argument,
    add_recording_options,
    recording_sources,
    write_recordings,
)
from pipelines.tasks.speech_translation.formats import FORMAT_HELP, FORMATS


def _parser():
    parser = cli.Parser(
        prog="python -m pipelines.speech_translate",
        description="Translate speech: a speech recognition run (or its export) transcribes "
        "recordings of any length as `pipelines.asr transcribe` does (segments at pauses, "
        "word times), and a translation run (or its export) translates each segment, so the "
        "translation keeps the speech's times. The recognizer's language must be the "
        "translator's source language (data.language: es for the Spanish -> English "
        "translator). With --evaluate, scores the chain on a manifest whose lines carry a "
        "`translation` and writes a report.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="formats:\n  " + "\n  ".join(FORMAT_HELP),
    )
    parser.add_argument("--asr", required=True, help="a speech recognition run or export")
    parser.add_argument("--translate", required=True, help="a translation run or export")
    parser.add_argument(
        "--beam-size",
        type=int,
        default=None,
        help="the recognizer's beam: 1 greedy (the default without an LM); more: prefix beam "
        "search; with the run's word LM its beam (default decode.lm_beam_size)",
    )
    parser.add_argument(
        "--translate-beam-size",
        type=int,
        default=None,
        help="the translator's beam (default: its decode.beam_size, an export's 1; 1: greedy)",
    )
    parser.add_argument(
        "--format", default="text", choices=FORMATS, help="output format (default: text)"
    )
    add_recording_options(parser, "default: the recognizer's data.max_frames of features")
    evaluation = parser.add_argument_group("evaluation")
    evaluation.add_argument(
        "--evaluate",
        metavar="MANIFEST",
        help="score the chain on MANIFEST (JSONL with audio_filepath, text and translation): "
        "WER/CER of the transcripts, BLEU/chrF/TER of the translations from the audio, from "
        "the gold text and from the gold text in recognizer style, per speaker",
    )
    evaluation.add_argument(
        "--out",
        default=None,
        help="the report's folder (default: reports/speech_translate/<manifest name>)",
    )
    evaluation.add_argument("--limit", type=int, default=None, help="the first N utterances")
    add_lm_options(parser)
    add_audio_argument(parser)
    return parser


def run(args) -> int:
    from pipelines.tasks.asr.lm_commands import transcriber
    from pipelines.tasks.speech_translation.chain import load_translator

    if args.evaluate and args.audio:
        raise ValueError("--evaluate reads its manifest's audio: give no audio files")
    translator = load_translator(args.translate)
    recognizer, beam = transcriber(args, args.asr)
    config = getattr(translator, "config", None)  # an export keeps no config: greedy
    language = recognizer.config.data.language
    if config is not None and config.data.source_language != language:
        raise ValueError(
            f"{args.asr} writes {language} (data.language) but {args.translate} reads "
            f"{config.data.source_language} (data.source_language): chain a recognizer of the "
            "translator's source language"
        )
    translate_beam = args.translate_beam_size or (config.decode.beam_size if config else 1)
    if args.evaluate:
        return _evaluate(args, recognizer, translator, beam, translate_beam)
    return _translate(args, recognizer, translator, beam, translate_beam)


def _evaluate(args, recognizer, translator, beam, translate_beam) -> int:
    from pipelines.tasks.speech_translation.evaluation import evaluate_chain

    name = Path(args.evaluate).name.removesuffix(".jsonl")
    out = Path(args.out or Path("reports/speech_translate") / name)
    runs = {"asr": str(args.asr), "translate": str(args.translate)}
    report = evaluate_chain(
        recognizer, translator, args.evaluate, out, beam, translate_beam, args.limit, runs
    )
    text = report["translation"]
    print(
        f"{name}: {report['utterances']} utterances, WER {report['asr']['wer']:.2f}%, "
        f"BLEU from speech {text['chain']['bleu']:.2f}, from gold text {text['gold']['bleu']:.2f} "
        f"({100 * (report['chain_share_of_gold_bleu'] or 0):.1f}% kept), from recognizer-style "
        f"text {text['asr_style']['bleu']:.2f}"
    )
    print(f"report: {out / 'report.md'} (and report.json)")
    return 0


def _translate(args, recognizer, translator, beam, translate_beam) -> int:
    from pipelines.tasks.asr.long_transcription import segment_config
    from pipelines.tasks.speech_translation.chain import translate_recording
    from pipelines.tasks.speech_translation.formats import SUFFIXES, TSV_HEADER, render

    sources = recording_sources(args)
    segmenting = segment_config(
        recognizer.config, max_seconds=args.max_segment_seconds, min_pause=args.min_pause
    )

    def translate(source, bar):
        return translate_recording(
            recognizer, translator, source, beam, translate_beam, segmenting, bar
        )

    return write_recordings(
        args,
        sources,
        translate,
        lambda result: render(result, args.format),
        SUFFIXES[args.format],
        TSV_HEADER if args.format == "tsv" else "",
    )


def main(argv=None):
    cli.main(_parser(), run, argv)


if __name__ == "__main__":
    main()
