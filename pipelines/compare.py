"""Architecture comparison on your data: the same config as LSTM, GRU, simple RNN and
Transformer under one training budget, evaluated and tabulated.

python -m pipelines.compare --task translate --config configs/translate/bible_small.yaml \
    --variants lstm,gru,rnn,transformer --budget-minutes 30 --out runs/compare
"""

import argparse

from pipelines import cli
from pipelines.cli import add_set_option


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.compare",
        description="Train each variant of a config under the same wall-clock budget (and "
        "optionally the same number of epochs), evaluate each on the test split, and write "
        "OUT/comparison.md and .json: parameters, epochs, training time and throughput, best "
        "dev loss (and perplexity), BLEU/chrF or WER/CER, decoding speed; plus "
        "OUT/dev_loss_vs_time.png and OUT/by_length.png (score by source length or duration: "
        "where each architecture's memory gives out). Each variant is a run directory in OUT; "
        "rerunning resumes.",
    )
    parser.add_argument("--task", choices=["translate", "asr"], required=True)
    parser.add_argument("--config", required=True, help="the base YAML config")
    parser.add_argument(
        "--variants",
        default="lstm,gru,rnn,transformer",
        help="comma-separated: lstm, gru, rnn (SimpleRNN), transformer (translation only)",
    )
    parser.add_argument("--budget-minutes", type=float, required=True, help="per variant")
    parser.add_argument("--epochs", type=int, default=None, help="the same epochs for all")
    parser.add_argument("--out", required=True, help="folder for the runs and the table")
    add_set_option(parser, "data.train=my.tsv")
    return parser


def run(args):
    from pipelines.reports.architectures import compare

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    table = compare(
        args.task, args.config, variants, args.budget_minutes, args.out, args.set, args.epochs
    )
    print(table.read_text())
    print(f"table: {table} (and {table.with_suffix('.json')})")


def main(argv=None):
    cli.main(_parser(), run, argv)


if __name__ == "__main__":
    main()
