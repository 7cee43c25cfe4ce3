"""Word-LM beam search on hand-made CTC log-probabilities."""

import json

import numpy as np
import pytest

from data_prep.speech.transcripts import ALPHABET
from pipelines.tasks.asr.config import DecodeConfig
from seq2seq.config import load_config
from seq2seq.speech.language_model import estimate, write_arpa
from seq2seq.speech.lm_decoding import LMDecoder, make_decoder, resolve_lm, write_lm_info

TEXT = ["the cat sat on the mat", "the cat ran home", "a dog and the cat", "the dog sat"]


@pytest.fixture(scope="module")
def arpa(tmp_path_factory):
    path = tmp_path_factory.mktemp("lm") / "lm.arpa"
    write_arpa(estimate([s.split() for s in TEXT], 3), path)
    return path


def _log_probs(*frames):
    """(frames, 29) log-probabilities: each item maps characters ("" the blank) to their
    probability, the rest of the mass spread thin; a blank frame follows each character."""
    rows = []
    for spec in frames:
        for probs in (spec, {"": 1.0}):
            row = np.full(len(ALPHABET) + 1, 1e-4)
            for char, p in probs.items():
                row[ALPHABET.index(char) + 1 if char else 0] = p
            rows.append(row / row.sum())
    return np.log(np.array(rows, np.float32))


def _spell(text):
    return [{c: 1.0} for c in text]


# "the kat" by a hair: the acoustic model slightly prefers k over c.
NEAR_TIE = _log_probs(*_spell("the "), {"k": 0.55, "c": 0.45}, *_spell("at"))


def test_lm_flips_a_near_tie_to_the_known_word_and_alpha_0_does_not(arpa):
    assert LMDecoder(arpa, alpha=0.5, beta=0.0, beam_size=16).decode(NEAR_TIE) == "the cat"
    # With alpha 0 the LM has no say, in the final ranking nor in pruning (a narrow beam).
    for beam_size in (1, 16):
        decoder = LMDecoder(arpa, alpha=0.0, beta=0.0, beam_size=beam_size)
        assert decoder.decode(NEAR_TIE) == "the kat", beam_size
    # A clear acoustic decision survives the LM.
    clear = _log_probs(*_spell("the "), {"k": 0.999, "c": 1e-4}, *_spell("at"))
    assert LMDecoder(arpa, alpha=0.5, beta=0.0).decode(clear) == "the kat"


def test_set_weights_retunes_without_reloading(arpa):
    decoder = LMDecoder(arpa, alpha=0.5, beta=0.0, beam_size=16)
    decoder.set_weights(0.0, 0.0)
    assert decoder.decode(NEAR_TIE) == "the kat"
    decoder.set_weights(0.5, 0.0)
    assert decoder.decode(NEAR_TIE) == "the cat"
    assert decoder.decode_batch([NEAR_TIE, np.zeros((0, 29), np.float32)]) == ["the cat", ""]


def test_beta_sets_the_number_of_words(arpa):
    """A doubtful word break (space 0.3, blank 0.7): a word bonus inserts it, a penalty
    leaves it out; more likely (0.7), a strong penalty still removes it."""
    for space, beta, words in [(0.3, 3.0, 2), (0.3, 0.0, 1), (0.7, 0.0, 2), (0.7, -3.0, 1)]:
        frames = _log_probs(*_spell("cat"), {" ": space, "": 1 - space}, *_spell("sat"))
        text = LMDecoder(arpa, alpha=0.0, beta=beta).decode(frames)
        assert text in ("cat sat", "catsat") and len(text.split()) == words, (space, beta)


def test_hotwords_favour_their_spelling(arpa):
    frames = _log_probs(*_spell("mo"), {"z": 0.55, "s": 0.45}, *_spell("es"))
    assert LMDecoder(arpa, alpha=0.5, beta=0.0).decode(frames) == "mozes"
    hot = LMDecoder(arpa, alpha=0.5, beta=0.0, hotwords=["Moses"], hotword_weight=5.0)
    assert hot.hotwords == ["moses"] and hot.decode(frames) == "moses"


def test_missing_or_unreadable_lm_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.arpa"):
        LMDecoder(tmp_path / "nothing.arpa")
    bad = tmp_path / "bad.arpa"
    bad.write_text("not a language model\n")
    with pytest.raises(ValueError, match="bad.arpa"):
        LMDecoder(bad)
    settings = {"lm": str(tmp_path / "gone.arpa"), "alpha": 1.0, "beta": 0.0}
    with pytest.raises(FileNotFoundError, match="gone.arpa"):
        make_decoder(settings | {"hotwords": [], "hotword_weight": 1.0}, 4)


def test_resolve_lm_precedence(arpa, tmp_path):
    run = tmp_path / "run"
    assert resolve_lm(run, DecodeConfig()) is None  # auto, nothing built
    (run / "lm").mkdir(parents=True)
    own = run / "lm" / "lm.arpa"
    own.write_bytes(arpa.read_bytes())
    write_lm_info(run, lm=own, alpha=0.9, beta=2.0)
    assert json.loads((run / "lm" / "lm.json").read_text())["lm"] == "lm.arpa"  # relative
    tuned = resolve_lm(run, DecodeConfig())
    assert (tuned["lm"], tuned["alpha"], tuned["beta"]) == (str(own), 0.9, 2.0)
    assert resolve_lm(run, DecodeConfig(alpha=0.3))["alpha"] == 0.3
    assert resolve_lm(run, DecodeConfig(alpha=0.3), alpha=0.1, beta=-1)["beta"] == -1
    assert resolve_lm(run, DecodeConfig(lm="none")) is None
    assert resolve_lm(run, DecodeConfig(), lm="none") is None
    other = resolve_lm(run, DecodeConfig(hotwords=("moses",)), lm=str(arpa))
    assert (other["alpha"], other["beta"], other["hotwords"]) == (0.5, 1.0, ["moses"])
    write_lm_info(run, fresh=True, lm=arpa)  # another LM: absolute path, no tuned weights
    assert json.loads((run / "lm" / "lm.json").read_text()) == {"lm": str(arpa)}
    (run / "lm" / "lm.json").write_text("{")
    with pytest.raises(ValueError, match="lm.json"):
        resolve_lm(run, DecodeConfig())


def test_decode_config_lm_keys():
    config = load_config(DecodeConfig, None, ["lm=my.arpa", "alpha=0.7", "hotwords=[moses]"])
    assert (config.lm, config.alpha, config.beta) == ("my.arpa", 0.7, None)
    assert config.hotwords == ("moses",)
    for bad, key in [("hotwords=moses", "hotwords"), ("alpha=-1", "alpha"), ("lm=", "lm")]:
        with pytest.raises(ValueError, match=f"decode.{key}"):
            load_config(DecodeConfig, None, [bad])


def test_the_language_sets_the_alphabet_and_how_hotwords_are_normalized(tmp_path):
    from data_prep.speech.transcripts import LANGUAGES
    from pipelines.tasks.asr.config import ASRConfig

    spanish = LANGUAGES["es"]
    rows = []
    for char in "año":
        for probs in ({char: 1.0}, {"": 1.0}):
            row = np.full(spanish.vocab_size, 1e-4)
            for c, p in probs.items():
                row[spanish.alphabet.index(c) + 1 if c else 0] = p
            rows.append(row / row.sum())
    frames = np.log(np.array(rows, np.float32))
    decoder = LMDecoder(None, beam_size=4, hotwords=["Jesús"], language="es")
    assert decoder.decode(frames) == "año" and decoder.hotwords == ["jesús"]
    assert LMDecoder(None, beam_size=4, hotwords=["Jesús"]).hotwords == ["jesus"]
    settings = {"lm": None, "alpha": 0.5, "beta": 1.0, "hotwords": [], "hotword_weight": 1.0}
    assert make_decoder(settings, 4, "es").decode(frames) == "año"
    config = load_config(ASRConfig, None, ["data.language=es", "decode.hotwords=[jesús]"])
    assert config.data.language == "es"
    with pytest.raises(ValueError, match="decode.hotwords.*data.language en"):
        load_config(ASRConfig, None, ["decode.hotwords=[jesús]"])
    with pytest.raises(ValueError, match="data.language.*one of en, es"):
        load_config(ASRConfig, None, ["data.language=fr"])
