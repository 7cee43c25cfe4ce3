"""CTC decoding with a word LM: pyctcdecode (with KenLM) against flashlight-text's decoder.

    python -m benchmarks.lm_decoders --lm RUN/lm/lm.arpa \
        (--run-dir RUN --manifest dev.jsonl | --text lines.txt) \
        [--utterances 200] [--beam-size 32] [--alpha 0.5] [--beta 1.0] > decoders.json

Posteriors: with `--run-dir`, the run's CTC log-probabilities of a manifest's utterances;
with `--text`, synthetic "noisy oracle" ones for its lines (a frame a character, as CTC is
peaky, and 0-2 blank frames after it; a third of the letters given a near-tie with a
similar-sounding letter), at 25 frames a second (10 ms hop, subsampling 4), so speeds compare
with a real run's.

Decoders: greedy; pyctcdecode without and with the LM (`seq2seq.speech.lm_decoding.LMDecoder`); and
flashlight-text's LexiconDecoder with the same KenLM file, its lexicon the LM's words (it
cannot spell any other word) and a word-end frame appended (its words end with the space
token). flashlight's LM scores are log10, pyctcdecode's natural logs: alpha is scaled by ln 10
for it. Prints JSON: per decoder, seconds per utterance, real-time factor of the decoding
alone, WER.
"""

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

FRAMES_PER_SECOND = 25.0
SIMILAR = dict(zip("ckszmnbpdtgjeiaovfuy", "kcsznmpbtdjgieoavfyu", strict=True))


def make_parser():
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.lm_decoders", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--lm", required=True, help="ARPA file")
    parser.add_argument("--run-dir", help="a trained run: decode its posteriors of --manifest")
    parser.add_argument("--manifest", help="JSONL manifest (with --run-dir)")
    parser.add_argument("--text", help="text lines for synthetic posteriors")
    parser.add_argument("--utterances", type=int, default=200)
    parser.add_argument("--beam-size", type=int, default=32)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--beta", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    return parser


def synthetic_posteriors(text: str, rng) -> np.ndarray:
    """(frames, 29) log-probabilities of a noisy CTC acoustic model for `text`."""
    from data_prep.speech.transcripts import ALPHABET

    rows = []
    for char in text:
        scores = rng.normal(0.0, 1.0, len(ALPHABET) + 1)
        scores[ALPHABET.index(char) + 1] += 8.0
        if char in SIMILAR and rng.random() < 0.33:  # a near-tie, either way
            scores[ALPHABET.index(SIMILAR[char]) + 1] += 8.0 + rng.normal(0.0, 0.7)
        rows.append(scores)  # CTC is peaky: one frame a character
        for _ in range(rng.integers(0, 3)):
            blank = rng.normal(0.0, 1.0, len(ALPHABET) + 1)
            blank[0] += 9.0
            rows.append(blank)
    logits = np.array(rows, np.float32)
    return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)


def real_posteriors(run_dir, manifest, limit):
    from data_prep.speech.feature_cache import FeatureCache, build_feature_cache
    from data_prep.speech.transcripts import normalize_transcript
    from pipelines.tasks.asr.task import Recognizer

    recognizer = Recognizer(run_dir)
    config = recognizer.config
    cache = FeatureCache(
        build_feature_cache(manifest, config.data.cache_dir, config.features, None, None)
    )
    utterances = cache.utterances[:limit]
    features = [cache.features(i) for i in range(len(utterances))]
    references = [normalize_transcript(u["text"]) for u in utterances]
    seconds = sum(u["duration"] for u in utterances)
    return recognizer.log_probs(features), references, seconds


class FlashlightDecoder:
    """flashlight-text's LexiconDecoder over our alphabet, the lexicon being the LM's words."""

    def __init__(self, lm_path, alpha, beta, beam_size):
        from flashlight.lib.text.decoder import (
            CriterionType,
            LexiconDecoder,
            LexiconDecoderOptions,
            SmearingMode,
            Trie,
        )
        from flashlight.lib.text.decoder.kenlm import KenLM
        from flashlight.lib.text.dictionary import Dictionary

        from data_prep.speech.transcripts import ALPHABET
        from seq2seq.speech.language_model import read_unigrams

        self.tokens = ["<blank>", *ALPHABET]
        words = [w for w in read_unigrams(lm_path) if w not in ("<s>", "</s>", "<unk>")]
        self.word_dict = Dictionary()
        for word in ["<unk>", *words]:
            self.word_dict.add_entry(word)
        self.lm = KenLM(str(lm_path), self.word_dict)
        self.space = self.tokens.index(" ")
        trie = Trie(len(self.tokens), self.space)
        start = self.lm.start(False)
        for word in words:
            _, score = self.lm.score(start, self.word_dict.get_index(word))
            spelling = [self.tokens.index(c) for c in word] + [self.space]
            trie.insert(spelling, self.word_dict.get_index(word), score)
        trie.smear(SmearingMode.MAX)
        options = LexiconDecoderOptions(
            beam_size=beam_size,
            beam_size_token=len(self.tokens),
            beam_threshold=25.0,
            lm_weight=alpha * math.log(10),
            word_score=beta,
            unk_score=-math.inf,
            sil_score=0.0,
            log_add=False,
            criterion_type=CriterionType.CTC,
        )
        self.decoder = LexiconDecoder(options, trie, self.lm, self.space, 0, 0, [], False)

    def decode(self, log_probs):
        end = np.full((1, log_probs.shape[1]), -30.0, np.float32)
        end[0, self.space] = 0.0  # words end with the space token
        emissions = np.ascontiguousarray(np.concatenate([log_probs, end]), np.float32)
        best = self.decoder.decode(emissions.ctypes.data, *emissions.shape)[0]
        return " ".join(self.word_dict.get_entry(w) for w in best.words if w >= 0)


def greedy(log_probs):
    from data_prep.speech.transcripts import ALPHABET

    ids = log_probs.argmax(axis=1)
    keep = [i for j, i in enumerate(ids) if i and (j == 0 or i != ids[j - 1])]
    return " ".join("".join(ALPHABET[i - 1] for i in keep).split())


def measure(args) -> dict:
    import jiwer

    from data_prep.speech.transcripts import normalize_transcript
    from seq2seq.speech.lm_decoding import LMDecoder

    if args.run_dir:
        posteriors, references, seconds = real_posteriors(
            args.run_dir, args.manifest, args.utterances
        )
    else:
        rng = np.random.default_rng(args.seed)
        lines = Path(args.text).read_text(encoding="utf-8").splitlines()
        references = [t for t in map(normalize_transcript, lines) if t][: args.utterances]
        posteriors = [synthetic_posteriors(t, rng) for t in references]
        seconds = sum(len(p) for p in posteriors) / FRAMES_PER_SECOND
    no_lm = LMDecoder(args.lm, 0.0, 0.0, args.beam_size)
    decoders = {
        "greedy": greedy,
        "pyctcdecode, no LM": no_lm.decode,
        "pyctcdecode + LM": LMDecoder(args.lm, args.alpha, args.beta, args.beam_size).decode,
    }
    try:  # not a dependency of the toolkit: pip install flashlight-text
        flashlight = FlashlightDecoder(args.lm, args.alpha, args.beta, args.beam_size)
        decoders["flashlight LexiconDecoder + LM"] = flashlight.decode
    except ImportError as err:
        print(f"flashlight-text skipped: {err}", file=sys.stderr)
    results = {}
    for name, decode in decoders.items():
        start = time.perf_counter()
        texts = [decode(p) for p in posteriors]
        elapsed = time.perf_counter() - start
        results[name] = {
            "seconds_per_utterance": round(elapsed / len(posteriors), 5),
            "real_time_factor": round(elapsed / seconds, 5),
            "wer": round(100 * jiwer.wer(references, texts), 2),
        }
        print(f"{name}: {results[name]}", file=sys.stderr)
    return {
        "posteriors": "run" if args.run_dir else "synthetic",
        "utterances": len(posteriors),
        "audio_seconds": round(seconds, 1),
        "beam_size": args.beam_size,
        "alpha": args.alpha,
        "beta": args.beta,
        "decoders": results,
    }


def main(argv=None):
    print(json.dumps(measure(make_parser().parse_args(argv)), indent=2))


if __name__ == "__main__":
    main()
