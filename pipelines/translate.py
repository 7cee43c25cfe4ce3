"""Spanish -> English (or any TSV corpus) translation: train, evaluate, translate.

python -m pipelines.translate train --config configs/translate/bible_small.yaml --run-dir RUN
python -m pipelines.translate evaluate --run-dir RUN --split test --beam-size 5
python -m pipelines.translate translate --run-dir RUN --beam-size 5 < input.txt > output.txt
python -m pipelines.translate export --run-dir RUN --out EXPORT   # then: translate --run-dir EXPORT
python -m pipelines.translate average --run-dir RUN [--epochs 4 5 6]  # checkpoint averaging
python -m pipelines.translate score --run-dir RUN < pairs.tsv   # log-probabilities of targets
python -m pipelines.translate evaluate --run-dir RUN1 --run-dir RUN2   # an ensemble of two runs
"""

import argparse
import sys

from pipelines import cli
from pipelines.cli import add_train_command

CONFIG_HELP = cli.config_help("pipelines.tasks.translation.config", "TranslationConfig")
ENSEMBLE_HELP = (
    "a trained run directory; repeat it (--run-dir A --run-dir B) for an ensemble, decoding "
    "with the mean of the runs' log-probabilities (they must share their tokenizers)"
)


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
        "> 1) and write RUN/eval/SPLIT/report.json and report.md (an ensemble of N runs: "
        "the first run's eval/SPLIT-ensembleN/).",
    )
    evaluate.add_argument("--run-dir", required=True, action="append", help=ENSEMBLE_HELP)
    evaluate.add_argument("--split", default="test", choices=["train", "dev", "test"])
    evaluate.add_argument(
        "--beam-size",
        type=int,
        default=None,
        help="beam size of the beam-search row (default: decode.beam_size; 1: greedy only)",
    )
    evaluate.add_argument("--limit", type=int, default=None, help="score only the first N pairs")
    _checkpoint_option(evaluate)

    translate = commands.add_parser(
        "translate",
        help="translate lines from stdin or files",
        description="Translate one sentence per line, writing one line per input in order.",
    )
    translate.add_argument(
        "--run-dir",
        required=True,
        action="append",
        help=f"an exported SavedModel, or {ENSEMBLE_HELP}",
    )
    translate.add_argument("--beam-size", type=int, default=1, help="1: greedy (default)")
    translate.add_argument(
        "--n-best",
        type=int,
        default=1,
        help="K > 1: the K best beam hypotheses per input as TSV lines (input index, rank, "
        "score, text); needs --beam-size >= K",
    )
    _checkpoint_option(translate)
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
    _checkpoint_option(export)

    score = commands.add_parser(
        "score",
        help="log-probability of given translations (forced decoding)",
        description="Read source<TAB>target lines (files or stdin) and print, a line per pair "
        "in order, the target's log-probability under the model (natural log, summed over its "
        "subword tokens and EOS), the per-token average and the token count: "
        "log_prob<TAB>per_token<TAB>tokens. Filter a noisy corpus or rerank with it.",
    )
    score.add_argument("--run-dir", required=True, action="append", help=ENSEMBLE_HELP)
    score.add_argument("inputs", nargs="*", help="TSV files (default: stdin)")
    _checkpoint_option(score)

    average = commands.add_parser(
        "average",
        help="average the kept weights of chosen epochs into model.averaged.keras",
        description="Average the weights of epochs a finished run kept (train.average_last "
        "keeps the last N in RUN/epochs/) into RUN/model.averaged.keras, which evaluate, "
        "translate and export then use by default (--checkpoint best: the best single epoch).",
    )
    average.add_argument("--run-dir", required=True, help="a trained run directory")
    average.add_argument(
        "--epochs", type=int, nargs="+", default=None, help="epochs to average (default: all kept)"
    )
    return parser


def _checkpoint_option(parser):
    parser.add_argument(
        "--checkpoint",
        default="auto",
        choices=["auto", "best", "averaged"],
        help="which model of the run: best (the best epoch by train.select_by: dev BLEU by "
        "default), averaged (train.average_last's average), auto (averaged when the run has "
        "it, else best; the default)",
    )


def main(argv=None):
    cli.main(_parser(), run, argv)


def run(args):
    from pipelines.tasks import translation
    from seq2seq.config import load_config

    if args.command == "export":
        from pipelines.export import export_translator

        print(f"exported to {export_translator(args.run_dir, args.out, args.checkpoint)}")
    elif args.command == "average":
        from pipelines.tasks.base import average

        epochs, path = average(translation.TranslationTask(), args.run_dir, args.epochs)
        print(f"averaged the weights of epochs {', '.join(map(str, epochs))}: {path}")
    elif args.command == "train":
        config = load_config(translation.TranslationConfig, args.config, args.set)
        if translation.train(config, args.run_dir, args.strategy, args.init_from) is not None:
            print(f"model saved in {args.run_dir}/model.keras")
    elif args.command == "evaluate":
        report = translation.evaluate(
            args.run_dir, args.split, args.beam_size, args.limit, args.checkpoint
        )
        print(f"report: {report} (and {report.with_suffix('.json')})")
    elif args.command == "score":
        from pipelines.tasks.translation.scoring import read_pairs, score_pairs

        pairs = [] if args.inputs else read_pairs(sys.stdin)
        for path in args.inputs:
            with open(path, encoding="utf-8") as f:
                pairs += read_pairs(f, path)
        scores = score_pairs(translation.Translator(args.run_dir, args.checkpoint), pairs)
        sys.stdout.write("".join(f"{t:.4f}\t{a:.4f}\t{n}\n" for t, a, n in scores))
    else:
        lines = [line.rstrip("\n") for line in sys.stdin] if not args.inputs else []
        for path in args.inputs:
            with open(path, encoding="utf-8") as f:
                lines += [line.rstrip("\n") for line in f]
        from pipelines.export import ExportedTranslator, is_export

        exported = any(is_export(path) for path in args.run_dir)
        if exported and len(args.run_dir) > 1:
            raise ValueError("an ensemble needs run directories, not exported SavedModels")
        if exported:
            model = ExportedTranslator(args.run_dir[0])
        else:
            model = translation.Translator(args.run_dir, args.checkpoint)
        if args.n_best > 1:
            if exported:
                raise ValueError("--n-best needs a run directory (an export returns the best)")
            hypotheses = model.n_best(lines, args.beam_size, args.n_best, len(lines) > 100)
            sys.stdout.write(
                "".join(
                    f"{i}\t{rank}\t{score:.4f}\t{text}\n"
                    for i, row in enumerate(hypotheses)
                    for rank, (text, score) in enumerate(row, 1)
                )
            )
            return
        outputs = model.translate(lines, args.beam_size, progress=len(lines) > 100)
        sys.stdout.write("".join(o + "\n" for o in outputs))


if __name__ == "__main__":
    main()
