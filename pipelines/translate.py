"""Spanish -> English (or any TSV corpus) translation: train, evaluate, translate.

python -m pipelines.translate train --config configs/translate/bible_small.yaml --run-dir RUN
python -m pipelines.translate evaluate --run-dir RUN --split test --beam-size 5
python -m pipelines.translate translate --run-dir RUN --beam-size 5 < input.txt > output.txt
python -m pipelines.translate export --run-dir RUN --out EXPORT   # then: translate --run-dir EXPORT
"""

import argparse
import sys

from pipelines import cli
from pipelines.cli import add_train_command

CONFIG_HELP = cli.config_help("pipelines.tasks.translation_config", "TranslationConfig")


def _parser():
    parser = cli.Parser(
        prog="python -m pipelines.translate",
        description="Train, evaluate and run LSTM encoder-decoder translation models with "
        "Bahdanau attention.",
        epilog=CONFIG_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    add_train_command(
        commands,
        CONFIG_HELP,
        "Train a model. Rerunning the same command resumes from the last epoch.",
        "model.units=512 data.train=my.tsv",
    )

    evaluate = commands.add_parser(
        "evaluate",
        help="score a split with BLEU, chrF and TER",
        description="Translate a split with greedy search (and beam search when --beam-size "
        "> 1) and write RUN/eval/SPLIT/report.json and report.md.",
    )
    evaluate.add_argument("--run-dir", required=True, help="a trained run directory")
    evaluate.add_argument("--split", default="test", choices=["train", "dev", "test"])
    evaluate.add_argument(
        "--beam-size",
        type=int,
        default=None,
        help="beam size of the beam-search row (default: decode.beam_size; 1: greedy only)",
    )
    evaluate.add_argument("--limit", type=int, default=None, help="score only the first N pairs")

    translate = commands.add_parser(
        "translate",
        help="translate lines from stdin or files",
        description="Translate one sentence per line, writing one line per input in order.",
    )
    translate.add_argument(
        "--run-dir", required=True, help="a trained run directory or an exported SavedModel"
    )
    translate.add_argument("--beam-size", type=int, default=1, help="1: greedy (default)")
    translate.add_argument("inputs", nargs="*", help="input files (default: stdin)")

    export = commands.add_parser(
        "export",
        help="write a self-contained SavedModel (raw text in, translations out)",
        description="Write a TensorFlow SavedModel with normalization, SentencePiece "
        "tokenization, greedy and beam-search decoding and detokenization in the graph. "
        "Signatures: translate(sentences) (the default) and translate_beam(sentences, "
        "beam_size); it runs with tensorflow and tensorflow_text only.",
    )
    export.add_argument("--run-dir", required=True, help="a trained run directory")
    export.add_argument("--out", required=True, help="folder to write (replaced if it exists)")
    return parser


def main(argv=None):
    cli.main(_parser(), run, argv)


def run(args):
    from pipelines.tasks import translation as translator
    from seq2seq.config import load_config

    if args.command == "export":
        from pipelines.export import export_translator

        print(f"exported to {export_translator(args.run_dir, args.out)}")
    elif args.command == "train":
        config = load_config(translator.TranslationConfig, args.config, args.set)
        if translator.train(config, args.run_dir, args.strategy) is not None:
            print(f"model saved in {args.run_dir}/model.keras")
    elif args.command == "evaluate":
        report = translator.evaluate(args.run_dir, args.split, args.beam_size, args.limit)
        print(f"report: {report} (and {report.with_suffix('.json')})")
    else:
        lines = [line.rstrip("\n") for line in sys.stdin] if not args.inputs else []
        for path in args.inputs:
            with open(path, encoding="utf-8") as f:
                lines += [line.rstrip("\n") for line in f]
        from pipelines.export import ExportedTranslator, is_export

        model = (ExportedTranslator if is_export(args.run_dir) else translator.Translator)(
            args.run_dir
        )
        outputs = model.translate(lines, args.beam_size, progress=len(lines) > 100)
        sys.stdout.write("".join(o + "\n" for o in outputs))


if __name__ == "__main__":
    main()
