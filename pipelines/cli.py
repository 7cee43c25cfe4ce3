"""Pieces shared by the command lines: the train command's arguments, the config override
option, and error handling that turns bad input into a one-line message."""

import argparse
import logging
import os


def add_train_command(commands, config_help: str, description: str, example: str):
    """Adds `train --config --run-dir --set` with the config keys in its epilog."""
    train = commands.add_parser(
        "train",
        help="train a model into a run directory (rerun to resume)",
        description=description,
        epilog=config_help,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--config", required=True, help="YAML config (see configs/)")
    train.add_argument("--run-dir", required=True, help="folder for the config, model and logs")
    train.add_argument(
        "--strategy",
        choices=["default", "mirrored", "multi_worker"],
        default="default",
        help="default: one device; mirrored: synchronous data parallelism over all local GPUs "
        "(MirroredStrategy); multi_worker: over several processes or machines "
        "(MultiWorkerMirroredStrategy), each started with the same command and its own "
        "TF_CONFIG; the chief writes --run-dir, the others RUN_DIR/workers/ (see README)",
    )
    add_set_option(train, example)
    return train


def add_set_option(parser, example: str):
    parser.add_argument(
        "--set",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help=f"override config values (one or more, repeatable), e.g. --set {example}",
    )


def main(parser, run, argv=None):
    """Parses arguments and calls `run(args)` (which returns an exit status or None). Bad input
    (ValueError, a missing file) exits with status 2 and a one-line message; a full disk or
    another system error, and a NaN loss, with status 1; Ctrl-C with status 130."""
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        status = run(args)
    except (ValueError, FileNotFoundError) as err:
        parser.exit(2, f"error: {err}\n")
    except (OSError, FloatingPointError) as err:
        parser.exit(1, f"error: {err}\n")
    except KeyboardInterrupt:
        parser.exit(130, "interrupted\n")
    raise SystemExit(status or 0)
