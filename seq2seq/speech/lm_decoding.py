"""CTC beam search with a word n-gram language model (shallow fusion), on the Python side.

A beam's score is log p_ctc + alpha * ln p_lm(words) + beta * words (+ hotword bonuses). The
decoder takes the network's CTC log-probabilities (frames, classes) of one utterance, so it runs
after `Recognizer` computes them; the exported SavedModel keeps its in-graph prefix beam search
without a language model, unchanged.

Why pyctcdecode with KenLM: the model spells words with characters and the LM scores words, so
the search must score a word when its space (or the utterance end) comes, keep words outside the
LM's vocabulary possible (the Bible's dev and test books use names the training text lacks) and
take hotwords; pyctcdecode does all three. flashlight-text's decoders, the other prebuilt
candidate, do not fit: its LexiconDecoder only spells words of a lexicon (an unknown word comes
out as `<unk>`, its spelling lost), and its LexiconFreeDecoder scores the LM on tokens, so it
needs a character LM; neither takes hotwords. `benchmarks/lm_decoders.py` measures both.
pyctcdecode needs the `kenlm` module, which the `ufal-kenlm` wheel provides (the `kenlm` package
on PyPI is a source build of several minutes).

An OOV partial word costs `alpha * unk_offset` (pyctcdecode adds `unk_offset` unscaled): with
alpha 0 the LM then has no say at all and only beta and the hotwords remain.

The run's language model lives in `RUN/lm/`: `lm.json` names the ARPA file (written by
`python -m pipelines.asr lm`) and holds the alpha and beta that `tune-lm` found on the dev set.
"""

import json
import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from data_prep.speech import transcripts
from data_prep.speech.transcripts import normalize_transcript
from seq2seq.files import write_text
from seq2seq.speech.language_model import read_unigrams

DEFAULT_ALPHA = 0.5
DEFAULT_BETA = 1.0
LM_INFO = Path("lm") / "lm.json"


class LMDecoder:
    """Prefix beam search over CTC log-probabilities with a KenLM word n-gram model, or
    without one (pyctcdecode's search alone, which gives word frames and n-best lists).

    Args:
        lm_path: an ARPA file (or a KenLM binary with `<path>.unigrams` beside it, one word a
            line), or None for no language model.
        alpha: LM weight (0: the LM has no effect).
        beta: word insertion bonus, added per word.
        beam_size: beams kept per frame.
        hotwords: words (or phrases) to favour, normalized like the labels.
        hotword_weight: bonus per hotword (partial matches get a share of it).
        unk_offset: natural-log cost of a word outside the LM's vocabulary, times alpha.
        alphabet: class i (i >= 1) is `alphabet[i - 1]`; class 0 is the blank (default: the
            alphabet of `language`).
        language: the transcripts' language code (`data_prep.speech.transcripts.LANGUAGES`):
            the default alphabet and how hotwords are normalized.

    `decode(log_probs)` takes (frames, classes) log-probabilities and returns the text.
    """

    def __init__(
        self,
        lm_path,
        alpha: float = DEFAULT_ALPHA,
        beta: float = DEFAULT_BETA,
        beam_size: int = 32,
        hotwords=(),
        hotword_weight: float = 10.0,
        unk_offset: float = -10.0,
        alphabet: str | None = None,
        language: str = "en",
    ):
        from pyctcdecode.alphabet import Alphabet
        from pyctcdecode.decoder import BeamSearchDecoderCTC

        self.lm_path = None if lm_path is None else Path(lm_path)
        self.alpha, self.beta, self.unk_offset = alpha, beta, unk_offset
        self.beam_size = beam_size
        self.hotwords = [
            normalize_transcript(h, language) for h in hotwords if normalize_transcript(h, language)
        ]
        self.hotword_weight = hotword_weight
        # pyctcdecode warns about small vocabularies and ARPA loading: not our users' concern.
        logging.getLogger("pyctcdecode").setLevel(logging.ERROR)
        lm = None if self.lm_path is None else self._language_model()
        alphabet = alphabet or transcripts.language(language).alphabet
        self._decoder = BeamSearchDecoderCTC(Alphabet.build_alphabet(["", *alphabet]), lm)

    def _language_model(self):
        import kenlm
        from pyctcdecode.language_model import LanguageModel

        if not self.lm_path.is_file():
            raise FileNotFoundError(f"language model {self.lm_path} not found")
        config = kenlm.Config()
        config.show_progress = False  # no loading bar on stderr
        config.arpa_complain = kenlm.ARPALoadComplain.NONE
        try:
            model = kenlm.Model(str(self.lm_path), config)
        except (OSError, RuntimeError) as err:
            raise ValueError(f"language model {self.lm_path} could not be read: {err}") from None
        self.unigrams = _unigrams(self.lm_path)
        alpha = self.alpha
        return LanguageModel(model, self.unigrams, alpha, self.beta, alpha * self.unk_offset)

    def __del__(self):  # pyctcdecode keeps the LM in a class-level registry
        if hasattr(self, "_decoder"):
            self._decoder.cleanup()

    def set_weights(self, alpha: float, beta: float):
        """Changes alpha and beta without reloading the LM (for tuning)."""
        self.alpha, self.beta = alpha, beta
        if self.lm_path is None:
            return
        self._decoder.reset_params(
            alpha=float(alpha), beta=float(beta), unk_score_offset=float(alpha * self.unk_offset)
        )

    def decode(self, log_probs: np.ndarray) -> str:
        """log_probs: (frames, classes) CTC log-probabilities of one utterance -> text."""
        log_probs = np.asarray(log_probs, np.float32)
        if len(log_probs) == 0:
            return ""
        return self._decoder.decode(
            log_probs,
            beam_width=self.beam_size,
            hotwords=self.hotwords or None,
            hotword_weight=self.hotword_weight,
        )

    def beams(self, log_probs: np.ndarray, n_best: int = 1) -> list[dict]:
        """The `n_best` best hypotheses of one utterance, best first: {"text", "score" (the
        decoder's total: CTC log-probability plus the LM's and bonuses' terms)}. Word frames:
        `seq2seq.speech.alignment.forced_words` of the text (pyctcdecode's own word frames
        are those of whichever path came first when prefixes merged)."""
        log_probs = np.asarray(log_probs, np.float32)
        if len(log_probs) == 0:
            return [{"text": "", "score": 0.0}]
        beams = self._decoder.decode_beams(
            log_probs,
            beam_width=max(self.beam_size, n_best),
            hotwords=self.hotwords or None,
            hotword_weight=self.hotword_weight,
        )
        return [
            {"text": text, "score": float(score)}
            for text, _state, _frames, _logit_score, score in beams[:n_best]
        ]

    def decode_batch(self, log_probs: list, progress: bool = False) -> list[str]:
        """`decode` of each (frames, classes) array."""
        return [
            self.decode(x)
            for x in tqdm(log_probs, desc="LM decoding", unit="utt", disable=not progress)
        ]


def _unigrams(path: Path) -> list[str]:
    """The LM's words: from the ARPA file's unigrams, or `<binary>.unigrams` for a binary."""
    listing = path.with_name(path.name + ".unigrams")
    if listing.is_file():
        words = listing.read_text(encoding="utf-8").split()
    else:
        if not _is_arpa(path):
            raise ValueError(f"{path} is a binary language model: put its words in {listing}")
        try:
            words = read_unigrams(path)
        except UnicodeDecodeError as err:
            raise ValueError(f"language model {path} could not be read: {err}") from None
    return [w for w in words if w not in ("<s>", "</s>", "<unk>")]


def _is_arpa(path: Path) -> bool:
    with open(path, "rb") as f:
        return b"\\data\\" in f.read(4096)


def read_lm_info(run_dir) -> dict | None:
    """`RUN/lm/lm.json` (the run's LM, its build summary and tuned weights), or None."""
    path = Path(run_dir) / LM_INFO
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        lm = Path(info["lm"])
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path} is not a language model description ({err})") from None
    info["lm"] = str(lm if lm.is_absolute() else path.parent / lm)
    return info


def write_lm_info(run_dir, fresh: bool = False, **values) -> Path:
    """Updates `RUN/lm/lm.json` with `values` (`lm`: the LM path, stored relative to RUN/lm
    when inside it), or replaces it when `fresh`; returns its path."""
    path = Path(run_dir) / LM_INFO
    info = json.loads(path.read_text(encoding="utf-8")) if path.is_file() and not fresh else {}
    if "lm" in values:
        lm = Path(values["lm"]).resolve()
        inside = lm.is_relative_to(path.parent.resolve())
        values["lm"] = str(lm.relative_to(path.parent.resolve()) if inside else lm)
    info.update(values)
    return write_text(path, json.dumps(info, indent=2, ensure_ascii=False) + "\n")


def resolve_lm(run_dir, decode, lm=None, alpha=None, beta=None, hotwords=None) -> dict | None:
    """The LM settings for a run, or None for no LM. The arguments (from the command line)
    override the config's `decode` section, which overrides `RUN/lm/lm.json`; `lm` is "auto"
    (the run's own LM if `lm` built one), "none", or a file. Returns {lm, alpha, beta,
    hotwords, hotword_weight}."""
    choice = decode.lm if lm is None else lm
    info = read_lm_info(run_dir) or {}
    if choice == "none" or (choice == "auto" and not info):
        return None
    path = info["lm"] if choice == "auto" else choice
    tuned = info if info and Path(info["lm"]).resolve() == Path(path).resolve() else {}

    def pick(argument, configured, key, default):
        for value in (argument, configured, tuned.get(key)):
            if value is not None:
                return value
        return default

    return {
        "lm": str(path),
        "alpha": pick(alpha, decode.alpha, "alpha", DEFAULT_ALPHA),
        "beta": pick(beta, decode.beta, "beta", DEFAULT_BETA),
        "hotwords": list(decode.hotwords if hotwords is None else hotwords),
        "hotword_weight": decode.hotword_weight,
    }


def make_decoder(settings: dict | None, beam_size: int, code: str = "en") -> LMDecoder | None:
    """An `LMDecoder` from `resolve_lm`'s settings (None stays None) for transcripts in the
    language `code` (its alphabet, its hotword normalization)."""
    if settings is None:
        return None
    return LMDecoder(
        settings["lm"],
        settings["alpha"],
        settings["beta"],
        beam_size,
        settings["hotwords"],
        settings["hotword_weight"],
        language=code,
    )
