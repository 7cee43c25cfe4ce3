"""The options of `python -m data_prep.corpora.synth_speech` (its parser, kept apart so the
builder's module stays short)."""

import argparse

from data_prep.corpora import engines as tts
from data_prep.corpora.voices import CORE_ENGINES, TRAIN_SHARES, speaker_table


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m data_prep.corpora.synth_speech",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Build a synthetic English (or Spanish) speech corpus with several\n"
        "synthesizers: 16 kHz WAV files and train/dev/test/test_voices(/test_festival)\n"
        "(/test_verses) JSONL manifests, each speaker (a person, or an espeak-ng variant)\n"
        "heard in one split only.",
        epilog="English speakers per split (mbrola, pico and rhvoice only when installed):\n"
        + speaker_table()
        + "\n\nSpanish speakers per split (--language es):\n"
        + speaker_table("es"),
    )
    parser.add_argument(
        "--language",
        choices=["en", "es"],
        default="en",
        help="the text's language: its speaker table (default en)",
    )
    parser.add_argument("--text", required=True, help="text file, one or more sentences a line")
    parser.add_argument("--column", type=int, help="read this TAB-separated column (1-based)")
    parser.add_argument(
        "--dev-text", help="text for dev (same --column); default: a share of --text"
    )
    parser.add_argument("--test-text", help="text for test; default: a share of --text")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--train-utterances", type=int, default=None, help="at most N (random)")
    parser.add_argument("--dev-utterances", type=int, default=300, help="at most N (random)")
    parser.add_argument(
        "--test-utterances",
        type=int,
        default=500,
        help="at most N (random) for test, and the same utterances for test_voices and "
        "test_festival",
    )
    parser.add_argument(
        "--voices-utterances",
        type=int,
        metavar="N",
        help="at most the first N utterances of test_voices and test_verses_voices (the "
        "held-out persons; default: as many as test and test_verses). Kokoro, one of them, "
        "needs about 4 CPU seconds an utterance",
    )
    parser.add_argument(
        "--engines",
        help="engines train, dev and test_voices may use, comma-separated among "
        f"{', '.join(tts.ENGINES)} (espeak = espeak-ng); default: {', '.join(CORE_ENGINES)} and "
        "the optional ones that are installed. test is always espeak-ng",
    )
    parser.add_argument(
        "--engine-shares",
        metavar="NAME=SHARE,...",
        help="shares of the training utterances per train speaker set (names below; "
        "renormalized over the engines in use; 0 leaves one out); default: "
        + ",".join(f"{k}={v}" for k, v in TRAIN_SHARES.items()),
    )
    parser.add_argument(
        "--short-share",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="share of the training utterances cut to 1-3 consecutive words of their own, so "
        "that the model also hears isolated words and short phrases (default 0: clauses of "
        "3-14 words only)",
    )
    parser.add_argument(
        "--word-share",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="share of the training utterances replaced by phrases of 1-3 general words "
        "(wordfreq's most frequent words, data_prep/speech/word_list.py; one word in ten is kept "
        "for dev_words and never trained on), so that the model hears everyday words the "
        "Bible lacks (default 0)",
    )
    parser.add_argument(
        "--dev-word-utterances",
        type=int,
        default=0,
        metavar="N",
        help="also speak N phrases of the held-out general words by the dev speakers into "
        "dev_words.jsonl (a dev set for tuning the LM on everyday words; default 0: none)",
    )
    parser.add_argument(
        "--no-test-voices",
        action="store_true",
        help="do not write test_voices.jsonl (the test text spoken by held-out persons)",
    )
    parser.add_argument(
        "--festival",
        action="store_true",
        help="also speak the test text with festival's kal voice (as in the first corpus) into "
        "test_festival.jsonl",
    )
    parser.add_argument(
        "--verses",
        type=int,
        default=0,
        metavar="N",
        help="also speak N lines of the test text whole (not cut into clauses) by the test "
        "speakers into test_verses.jsonl, and by the test_voices speakers into "
        "test_verses_voices.jsonl, each with its --translation-column text as `translation` "
        "(for evaluating speech translation)",
    )
    parser.add_argument(
        "--dev-verses",
        type=int,
        default=0,
        metavar="N",
        help="also speak N lines of the dev text whole by the dev speakers into "
        "dev_verses.jsonl, with their translation (for choosing a speech translation chain's "
        "settings on dev)",
    )
    parser.add_argument(
        "--translation-column",
        type=int,
        metavar="K",
        help="the test (and dev) text's TAB-separated column (1-based) that holds each line's "
        "translation",
    )
    parser.add_argument("--workers", type=int, default=None, help="processes (default: cores)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    return parser
