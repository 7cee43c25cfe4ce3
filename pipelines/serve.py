"""Serve trained models over HTTP, with a web page: translate and transcribe.

python -m pipelines.serve --translate runs/bible_small --asr runs/asr_small [--port 8000]

Then open http://127.0.0.1:8000/ or call the JSON API (see README "Serving"):
  curl -s localhost:8000/v1/translate -H 'Content-Type: application/json' \\
       -d '{"sentences": ["Dios es amor."], "beam_size": 5}'
  curl -s localhost:8000/v1/transcribe -F audio=@clip.wav
"""

import argparse
import contextlib
import logging
import os
import signal

import uvicorn

from pipelines import cli

TOKEN_VARIABLE = "SEQ2SEQ_TOKEN"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _parser():
    parser = cli.Parser(
        prog="python -m pipelines.serve",
        description="Serve a translation model and/or a speech model (run directories or\n"
        "exported SavedModels) over HTTP: a web page at /, the JSON API at /v1/translate and\n"
        "/v1/transcribe, /health, /metrics (Prometheus) and /openapi.json. Concurrent\n"
        "requests are batched into shared model calls. SIGTERM or Ctrl-C finishes the\n"
        "requests in flight, then stops.",
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--translate", metavar="RUN_OR_EXPORT", help="a translation model")
    parser.add_argument("--asr", metavar="RUN_OR_EXPORT", help="a speech recognition model")
    parser.add_argument(
        "--checkpoint",
        default="auto",
        choices=["auto", "best", "averaged"],
        help="which model of a translation run (as translate --checkpoint)",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1: this machine only; 0.0.0.0 exposes it, "
        "so set a token)",
    )
    parser.add_argument("--port", type=int, default=8000, help="default 8000")
    parser.add_argument(
        "--token",
        default=None,
        help=f"require 'Authorization: Bearer TOKEN' on every /v1/ route (default: the "
        f"{TOKEN_VARIABLE} environment variable; unset: no token)",
    )
    limits = parser.add_argument_group("limits (each bad request gets a 4xx JSON error)")
    limits.add_argument("--max-body-mb", type=float, default=20.0, help="request body (MB)")
    limits.add_argument("--max-audio-seconds", type=float, default=600.0)
    limits.add_argument("--max-sentences", type=int, default=64, help="sentences per request")
    limits.add_argument("--max-chars", type=int, default=1000, help="characters per sentence")
    limits.add_argument("--max-beam-size", type=int, default=16)
    limits.add_argument(
        "--timeout", type=float, default=60.0, help="seconds before a request gets a 504"
    )
    batching = parser.add_argument_group("dynamic batching")
    batching.add_argument("--no-batching", action="store_true", help="one model call per request")
    batching.add_argument(
        "--batch-items", type=int, default=64, help="sentences or audio segments per call"
    )
    batching.add_argument(
        "--batch-wait-ms",
        type=float,
        default=5.0,
        help="how long the first request of a batch waits for others",
    )
    return parser


def main(argv=None):
    cli.main(_parser(), run, argv)


def run(args):
    from pipelines.serving.app import Batching, Limits, create_app
    from pipelines.serving.services import SpeechService, TranslationService

    if not args.translate and not args.asr:
        raise ValueError("nothing to serve: give --translate RUN, --asr RUN, or both")
    token = args.token or os.environ.get(TOKEN_VARIABLE) or None
    limits = Limits(
        args.max_body_mb,
        args.max_audio_seconds,
        args.max_sentences,
        args.max_chars,
        args.max_beam_size,
        args.timeout,
    )  # checked before the models load
    batching = Batching(not args.no_batching, args.batch_items, args.batch_wait_ms)
    translation = TranslationService(args.translate, args.checkpoint) if args.translate else None
    speech = SpeechService(args.asr) if args.asr else None
    app = create_app(translation, speech, limits, batching, token)
    logging.getLogger("pipelines.serving").setLevel(logging.INFO)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        timeout_graceful_shutdown=max(args.timeout, 1.0),
    )
    print(f"serving on http://{args.host}:{args.port}/ (Ctrl-C or SIGTERM stops)", flush=True)
    _Server(config).run()
    print("stopped", flush=True)
    return 0


class _Server(uvicorn.Server):
    """uvicorn's server, stopping on SIGTERM or Ctrl-C after the requests in flight are
    answered, then exiting with status 0 (uvicorn itself re-raises the signal when it is
    done, so the process would end as killed by it)."""

    @contextlib.contextmanager
    def capture_signals(self):
        previous = {s: signal.signal(s, self.handle_exit) for s in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


if __name__ == "__main__":
    main()
