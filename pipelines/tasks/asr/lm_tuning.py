"""A run's word language model: building it from the training transcripts (`lm` command) and
tuning its weight alpha and word bonus beta on the dev set (`tune-lm`).

The LM must never see the evaluation text. Mozilla DeepSpeech's published LibriSpeech 5-gram
held every 5-gram of the test and dev transcripts (mozilla/DeepSpeech issue #1485, 2018), so
its WER with the LM measured memory, not recognition. Here the default text is the run's own
training manifest; the run's dev and test manifests are refused as LM text, and the summary
counts dev/test sentences found verbatim in the text, so a leak through another file shows.
Tuning runs on the dev set and refuses the test manifest: alpha and beta chosen on test would
make its WER optimistic.
"""

from pathlib import Path

from tqdm import tqdm

from data_prep.speech.feature_cache import FeatureCache, build_feature_cache
from data_prep.speech.transcripts import normalize_transcript
from data_prep.speech.word_list import LICENSE as WORD_SOURCE
from data_prep.speech.word_list import word_frequencies
from pipelines.reports.evaluation import score_transcripts
from pipelines.tasks.asr.config import ASRConfig
from seq2seq.config import load_config
from seq2seq.files import atomic_write
from seq2seq.speech.language_model import build_arpa, read_sentences
from seq2seq.speech.lm_decoding import LMDecoder, read_lm_info, resolve_lm, write_lm_info
from seq2seq.speech.lm_mixing import mix_unigrams

ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
BETAS = (-1.0, 0.0, 1.0, 2.0, 3.0)


def run_config(run_dir) -> ASRConfig:
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: not a run directory")
    return load_config(ASRConfig, path)


def _same_file(a, b) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def _held_out(config: ASRConfig, path, use: str):
    """Raises ValueError if `path` is the run's dev or test manifest."""
    for split in ("dev", "test"):
        if _same_file(path, getattr(config.data, split)):
            raise ValueError(
                f"{path} is the run's data.{split} manifest: {use} must not use the evaluation "
                "text (see pipelines/tasks/asr/lm_tuning.py)"
            )


def build_run_lm(
    run_dir, texts=(), order: int = 3, out=None, lmplz=None, general_words: float = 0.0
) -> dict:
    """Builds the run's word n-gram LM (an ARPA file, default `RUN/lm/lm.arpa`) from `texts`
    (JSONL manifests or one-sentence-a-line files; default: the run's `data.train`
    transcripts), normalized like the labels (in the run's `data.language`), and records it
    in `RUN/lm/lm.json` (earlier tuned weights are dropped). `general_words` > 0 interpolates
    it with the unigram frequencies of the language's general words at that weight
    (`seq2seq.speech.lm_mixing`). Returns the summary written there."""
    config = run_config(run_dir)
    texts = list(texts) or [config.data.train]
    for text in texts:
        _held_out(config, text, "the language model")
    sentences, empty = read_sentences(texts, config.data.language)
    out = Path(out) if out else Path(run_dir) / "lm" / "lm.arpa"
    summary, mix = {}, None
    if general_words:
        words = word_frequencies(config.data.language)
        mix = lambda model: mix_unigrams(model, words, general_words)  # noqa: E731
        summary["general_words"] = {
            "weight": general_words,
            "words": len(words),
            "source": WORD_SOURCE,
        }
    # Into a temporary file: a killed build leaves no half-written ARPA file.
    atomic_write(out, lambda tmp: summary.update(build_arpa(sentences, tmp, order, lmplz, mix)))
    known = {" ".join(words) for words in sentences}
    leaks = {}
    for split in ("dev", "test"):
        manifest = getattr(config.data, split)
        if Path(manifest).is_file():
            held, _ = read_sentences([manifest], config.data.language)
            leaks[split] = sum(" ".join(words) in known for words in held)
    summary |= {
        "texts": [str(t) for t in texts],
        "empty_lines": empty,
        "held_out_sentences_in_text": leaks,
    }
    write_lm_info(run_dir, fresh=True, lm=out, **summary)
    return summary | {"lm": str(out)}


def tune_lm(
    run_dir,
    manifest=None,
    alphas=ALPHAS,
    betas=BETAS,
    beam_size: int | None = None,
    limit: int | None = None,
    lm=None,
) -> dict:
    """Grid search of alpha x beta on dev manifests (one path or a list; default `data.dev`),
    their utterances pooled: the network runs once, the LM beam search once per pair. The best
    pair (lowest WER, then CER) goes to `RUN/lm/lm.json`, where evaluate and transcribe take
    it by default. Returns {"best", "results", "manifest", "utterances", "beam_size", "lm"}."""
    from pipelines.tasks.asr.task import Recognizer

    config = run_config(run_dir)
    manifests = [manifest] if isinstance(manifest, str | Path) else list(manifest or [])
    manifests = manifests or [config.data.dev]
    for path in manifests:
        if _same_file(path, config.data.test):
            raise ValueError(f"{path} is the run's data.test manifest: tune on the dev set")
    settings = resolve_lm(run_dir, config.decode, lm)
    if settings is None:
        raise FileNotFoundError(
            f"no language model for {run_dir}: build one with `python -m pipelines.asr lm "
            f"--run-dir {run_dir}` or pass --lm FILE"
        )
    beam_size = beam_size or config.decode.lm_beam
    decoder = LMDecoder(settings["lm"], beam_size=beam_size, language=config.data.language)
    recognizer = Recognizer(run_dir)
    items = []  # (cache, index) of each utterance, the manifests' in turn
    for path in manifests:
        cache = FeatureCache(
            build_feature_cache(path, config.data.cache_dir, config.features, None, None)
        )
        items += [(cache, i) for i in range(len(cache.utterances))]
    items = items[:limit]
    language = config.data.language
    references = [normalize_transcript(c.utterances[i]["text"], language) for c, i in items]
    keep = [k for k, r in enumerate(references) if r]
    references = [references[k] for k in keep]
    features = [items[k][0].features(items[k][1]) for k in keep]
    log_probs = recognizer.log_probs(features, progress=True)
    results = []
    for alpha, beta in tqdm([(a, b) for a in alphas for b in betas], desc="alpha x beta"):
        decoder.set_weights(alpha, beta)
        scores = score_transcripts(references, decoder.decode_batch(log_probs))
        results.append({"alpha": alpha, "beta": beta, "wer": scores["wer"], "cer": scores["cer"]})
    best = min(results, key=lambda r: (r["wer"], r["cer"]))
    tuned = {
        "manifest": " ".join(map(str, manifests)),
        "utterances": len(keep),
        "beam_size": beam_size,
        "lm": settings["lm"],
    }
    registered = read_lm_info(run_dir)
    write_lm_info(
        run_dir,
        # Another LM than the one `lm` built: its build summary would not describe it.
        fresh=registered is None or not _same_file(registered["lm"], settings["lm"]),
        lm=settings["lm"],
        alpha=best["alpha"],
        beta=best["beta"],
        tuned=tuned | {"wer": best["wer"], "cer": best["cer"], "grid": results},
    )
    return tuned | {"best": best, "results": results}


def grid_table(results: list[dict]) -> str:
    """A plain-text WER table: alpha rows, beta columns, the best cell starred."""
    alphas = sorted({r["alpha"] for r in results})
    betas = sorted({r["beta"] for r in results})
    wer = {(r["alpha"], r["beta"]): r["wer"] for r in results}
    best = min(results, key=lambda r: (r["wer"], r["cer"]))
    lines = ["WER %   " + "".join(f"{f'beta {b:g}':>10}" for b in betas)]
    for a in alphas:
        cells = []
        for b in betas:
            mark = "*" if (a, b) == (best["alpha"], best["beta"]) else " "
            cells.append(f"{wer[a, b]:>9.2f}{mark}" if (a, b) in wer else f"{'':>10}")
        lines.append(f"alpha {a:<4g}" + "".join(cells))
    return "\n".join(lines)
