"""Pieces shared by the command lines: the train command's arguments, the config override
option, and error handling that turns bad input into a one-line message."""

import argparse
import importlib
import logging
import os
import subprocess
import sys


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose epilog may be a function, called only when help is shown (the
    config keys' text imports TensorFlow; a command that is not asking for help imports it
    later, after the quiet start). Its subcommand parsers are of this class too."""

    def format_help(self):
        if callable(self.epilog):
            self.epilog = self.epilog()
        return super().format_help()


def config_help(module: str, config_class: str):
    """A lazy epilog: every key of the config class `module.config_class` with its default
    and explanation (`seq2seq.config.describe`: generated from the dataclasses)."""

    def text():
        start_tensorflow(verbose="--verbose" in sys.argv)
        from seq2seq.config import describe

        return describe(getattr(importlib.import_module(module), config_class))

    return text


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
    train.add_argument(
        "--init-from",
        default=None,
        metavar="RUN",
        help="fine-tune: start from a trained run's best weights and keep its tokenizers (or "
        "feature statistics); the config must build the same model and vocabulary",
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
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show TensorFlow's C++ start-up and device-probe messages (hidden by default); "
        "give it before the command",
    )
    args = parser.parse_args(argv)
    start_tensorflow(args.verbose)
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


def start_tensorflow(verbose: bool = False):
    """Imports TensorFlow (without starting its devices: a multi-worker strategy must
    configure them first). TensorFlow 2.21 writes informational notices
    (oneDNN, the CUDA probe, graph rewrites) from C++ straight to file descriptor 2 whatever
    `TF_CPP_MIN_LOG_LEVEL` says. Unless `verbose`, descriptor 2 becomes a pipe whose lines are
    forwarded to the real stderr except absl's INFO and WARNING lines (`I1130 ...`,
    `W1130 ...`), its "before absl::InitializeLog()" banner and the CUDA probe's errors on a
    machine without a GPU driver; other errors and fatal messages still show. Python's own
    `sys.stderr` (progress bars, logging, tracebacks) writes to the real stderr directly."""
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        _filter_native_stderr()
    import tensorflow  # noqa: F401 (the first round of notices; the filter stays in place)


# Run by a child process that reads the pipe until every writer has closed it, so that a fatal
# message printed just before a crash still gets through. Drops absl's INFO/WARNING lines, its
# banner, the CUDA probe's error lines on a machine without a GPU driver ("failed call to
# cuInit") and oneDNN's notice, logged as an error, that it falls back to Eigen for booleans.
_FILTER = r"""
import re, sys
notice = re.compile(
    rb"^([IW]\d{4} |WARNING: All log messages before absl"
    rb"|E\d{4} .*(cuInit|cuda_|CUDA|oneDNN supports))"
)
for line in sys.stdin.buffer:
    if not notice.match(line):
        sys.stdout.buffer.write(line)
        sys.stdout.buffer.flush()
"""


def _filter_native_stderr():
    # Only once, and not where stderr is captured (tests run commands in-process).
    if sys.stderr is not sys.__stderr__ or getattr(_filter_native_stderr, "done", False):
        return
    _filter_native_stderr.done = True
    sys.stderr.flush()
    real = os.dup(2)
    filter_process = subprocess.Popen(
        [sys.executable, "-c", _FILTER], stdin=subprocess.PIPE, stdout=real, close_fds=True
    )
    os.dup2(filter_process.stdin.fileno(), 2)
    filter_process.stdin.close()  # descriptor 2 now holds the pipe's write end
    sys.stderr = open(real, "w", buffering=1, encoding="utf-8", errors="backslashreplace")
