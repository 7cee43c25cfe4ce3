"""One comparison report of several runs (translation and speech), Markdown and HTML.

python -m pipelines.report runs/bible_small runs/bible runs/asr_small --out reports/all
python -m pipelines.report --check reports/all --kinds translation speech
"""

import argparse

from pipelines import cli


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.report",
        description="Compare trained runs: a table of each run's model, epochs and best dev "
        "loss; tables and bar charts of every evaluation report in RUN/eval/ (BLEU/chrF/TER "
        "and sentences/s for translation, WER/CER and real-time factor for speech); and the "
        "training curves. Writes report.md, report.html (self-contained: images inlined), "
        "comparison.json and the PNG figures. Run `evaluate` on each run first.",
    )
    parser.add_argument("runs", nargs="*", metavar="RUN", help="run directories")
    parser.add_argument("--out", default="reports/comparison", help="report folder")
    parser.add_argument("--title", default="Run comparison", help="the report's heading")
    parser.add_argument(
        "--check",
        metavar="FOLDER",
        help="write nothing: check that the report in FOLDER holds a scored run of each of "
        "--kinds (exit status 1 and what is missing when it does not)",
    )
    parser.add_argument(
        "--kinds",
        nargs="+",
        choices=["translation", "speech"],
        default=["translation", "speech"],
        help="the kinds of run --check requires (default: both)",
    )
    return parser


def run(args):
    from pipelines.reports.comparison import check_report, write_comparison

    if args.check:
        if args.runs:
            raise ValueError("--check reads a written report: give no run directories")
        problems = check_report(args.check, args.kinds)
        for problem in problems:
            print(problem)
        if problems:
            return 1
        print(f"{args.check}: holds a scored run of each of {', '.join(args.kinds)}")
        return 0
    if not args.runs:
        raise ValueError("give the run directories to compare (or --check FOLDER)")

    markdown, page = write_comparison(args.runs, args.out, args.title)
    print(f"report: {markdown} and {page}")


def main(argv=None):
    cli.main(_parser(), run, argv)


if __name__ == "__main__":
    main()
