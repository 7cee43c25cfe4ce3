"""The speech recognition runner: train, evaluate and transcribe with a run directory.

The command line (`pipelines/asr.py`) and notebooks both drive these functions. A run
directory holds:

    config.yaml            the resolved config
    feature_stats.json     training-set feature mean/std (used when normalization is global)
    model.keras            the best model on the dev set
    backup/                resumable training state (rerun the same command to resume)
    history.csv, logs/     per-epoch metrics and TensorBoard logs
    eval/<manifest>/       report.json and report.md

Features are cached under `data.cache_dir` (see `data_prep.feature_cache`), shared by runs
with the same feature config.
"""

import dataclasses
import functools
import json
import time
from collections import defaultdict
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from data_prep.audio import compute_features, load_audio_files, pad_batch
from data_prep.augment import count_applied
from data_prep.feature_cache import FeatureCache, Perturbation, build_feature_cache
from data_prep.speech_pipeline import SpecAugment, make_speech_dataset, select_utterances
from data_prep.transcripts import CharacterVocabulary, normalize_transcript
from seq2seq.asr_config import ASRConfig
from seq2seq.config import save_config
from seq2seq.decoding import ctc_decode, length_batches
from seq2seq.distributed import make_strategy, model_scope, write_dir
from seq2seq.evaluation import (
    DURATION_BUCKETS,
    aligned,
    buckets,
    character_substitutions,
    score_transcripts,
    word_errors,
    write_asr_reports,
)
from seq2seq.files import write_text
from seq2seq.lm_decoding import make_decoder, resolve_lm
from seq2seq.speech import CTCSpeechModel, subsampled_length
from seq2seq.training import (
    fit,
    is_trained,
    load_run,
    make_optimizer,
    seed_everything,
)


def _stats(run_dir: Path, config: ASRConfig, cache: FeatureCache):
    """(mean, std) for global normalization, saved in the run directory; None otherwise."""
    if config.features.normalization != "global":
        return None
    path = run_dir / "feature_stats.json"
    if not path.exists():
        if cache is None:
            raise FileNotFoundError(f"{path} not found: the run was not trained to the end")
        stats = {"mean": cache.mean.tolist(), "std": cache.std.tolist()}
        write_text(path, json.dumps(stats))
    stats = json.loads(path.read_text(encoding="utf-8"))
    return np.array(stats["mean"], np.float32), np.array(stats["std"], np.float32)


def build_caches(config: ASRConfig, splits=("train", "dev")) -> dict:
    """Builds (or reuses) the feature caches of the config's manifests; the training cache
    holds the perturbed copies. Returns {split: cache folder}."""
    data, augment = config.data, config.augment
    perturbation = Perturbation(
        augment.perturbed_copies, augment.speed, augment.noise_snr_db, augment.chain()
    )
    return {
        split: build_feature_cache(
            getattr(data, split),
            data.cache_dir,
            config.features,
            perturbation if split == "train" else None,
            data.workers,
        )
        for split in splits
    }


def _write_data_summary(run_dir: Path, config: ASRConfig, caches: dict, output_length):
    """`RUN/data_summary.json`: per split, the unreadable audio files of the manifest (with the
    line and reason of the first ones), the cached utterances (training: with their perturbed
    copies) and what the input pipeline keeps and filters, by reason."""
    summary = {}
    for split, cache in caches.items():
        keep, _, dropped = select_utterances(cache, output_length, config.data.max_frames)
        summary[split] = {
            "manifest": getattr(config.data, split),
            "unreadable_audio": len(cache.skipped),
            "unreadable_examples": cache.skipped[:20],
            "cached_utterances": len(cache.utterances),
            "perturbed_copies": config.augment.perturbed_copies if split == "train" else 0,
            "augmentations": count_applied(cache.utterances),  # copies per applied transform
            "kept": len(keep),
            "kept_frames": sum(cache.utterances[i]["frames"] for i in keep),
            "filtered": dropped,
        }
    write_text(run_dir / "data_summary.json", json.dumps(summary, indent=2, ensure_ascii=False))


def build_model(config: ASRConfig) -> CTCSpeechModel:
    model = CTCSpeechModel(
        config.features.feature_size, **dataclasses.asdict(config.model), name="ctc_speech_model"
    )
    model.build()
    return model


def train(config: ASRConfig, run_dir, strategy: str = "default") -> keras.callbacks.History | None:
    """Trains a model into `run_dir`; rerunning resumes, and a finished run is left as it is
    (returns None). `strategy`: `default`, `mirrored` or `multi_worker` (see
    `distributed.make_strategy`)."""
    strategy = make_strategy(strategy)
    run_dir = write_dir(strategy, run_dir)  # the chief's run_dir; other workers' own folders
    if is_trained(run_dir):
        return None
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, run_dir / "config.yaml")
    seed_everything(config.train.seed, config.train.deterministic)
    data, augment = config.data, config.augment
    caches = {split: FeatureCache(folder) for split, folder in build_caches(config).items()}
    stats = _stats(run_dir, config, caches["train"])
    output_length = functools.partial(subsampled_length, subsampling=config.model.subsampling)
    _write_data_summary(run_dir, config, caches, output_length)
    vocabulary = CharacterVocabulary()
    masks = SpecAugment(
        augment.freq_masks, augment.freq_width, augment.time_masks, augment.time_width
    )
    datasets = {
        split: make_speech_dataset(
            caches[split],
            vocabulary,
            output_length,
            data.batch_frames,
            data.max_frames,
            shuffle=split == "train",
            seed=config.train.seed,
            spec_augment_config=masks if split == "train" and augment.spec_augment else None,
            stats=stats,
            cache_in_memory=data.cache_in_memory,
        )
        for split in ("train", "dev")
    }
    train_ds, dev_ds = datasets["train"], datasets["dev"]
    steps_per_epoch = int(train_ds.cardinality())
    with model_scope(strategy, config.train.precision):
        model = build_model(config)
        model.compile(
            optimizer=make_optimizer(
                config.train.learning_rate,
                steps_per_epoch * config.train.epochs,
                config.train.warmup_steps,
                config.train.clipnorm,
            ),
            jit_compile=False,  # the cuDNN kernels are not XLA-compiled; XLA is slower on CPU
        )
    hours = sum(u["duration"] for u in caches["train"].utterances) / 3600
    copies = (
        f", {augment.perturbed_copies} perturbed copies each" if augment.perturbed_copies else ""
    )
    print(
        f"training utterances: {len(caches['train'].utterances)} ({hours:.2f} h of audio"
        f"{copies}), dev: {len(caches['dev'].utterances)}\n"
        f"model: {model.count_params():,} parameters, {steps_per_epoch} batches per epoch"
    )
    return fit(model, train_ds, dev_ds, run_dir, config.train)


class Recognizer:
    """A trained run ready to transcribe: config, feature settings, model and decoder.

    Args:
        run_dir: a run directory written by `train`.
    """

    def __init__(self, run_dir):
        self.run_dir = Path(run_dir)
        self.config, self.model = load_run(self.run_dir, ASRConfig)
        self.vocabulary = CharacterVocabulary()
        self.stats = _stats(self.run_dir, self.config, None)
        size = self.config.features.feature_size
        self._logits = tf.function(
            self._forward,
            input_signature=[
                tf.TensorSpec([None, None, size], tf.float32),
                tf.TensorSpec([None], tf.int32),
            ],
        )

    def _normalize(self, features):
        return features if self.stats is None else (features - self.stats[0]) / self.stats[1]

    def _forward(self, features, lengths):
        logits = self.model({"features": features, "feature_lengths": lengths})
        return logits, self.model.output_lengths(lengths)

    def _batches(self, features: list[np.ndarray], progress=False):
        """Yields (input indices, logits, output lengths) of length-bucketed batches."""
        lengths = [len(f) for f in features]
        batches = list(length_batches(lengths, self.config.decode.batch_frames))
        for batch in tqdm(batches, desc="decoding", unit="batch", disable=not progress):
            # Normalized before padding, as in training.
            padded, batch_lengths = pad_batch([self._normalize(features[i]) for i in batch])
            yield batch, *self._logits(tf.constant(padded), tf.constant(batch_lengths))

    def log_probs(self, features: list[np.ndarray], progress=False) -> list[np.ndarray]:
        """CTC log-probabilities (output frames, classes) of feature arrays, in input order."""
        out = [None] * len(features)
        for batch, logits, out_lengths in self._batches(features, progress):
            log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32)).numpy()
            for row, i in enumerate(batch):
                out[i] = log_probs[row, : int(out_lengths[row])]
        return out

    def decode_features(
        self, features: list[np.ndarray], beam_size: int = 1, progress=False, lm=None
    ):
        """Transcribes feature arrays (frames, dim); returns texts in input order. With `lm`
        (a `seq2seq.lm_decoding.LMDecoder`), its word-LM beam search (its own beam size)
        decodes the log-probabilities instead of the in-graph greedy/beam search."""
        if lm is not None:
            return lm.decode_batch(self.log_probs(features, progress), progress)
        texts = [""] * len(features)
        for batch, logits, out_lengths in self._batches(features, progress):
            ids = ctc_decode(logits, out_lengths, beam_size)
            for i, text in zip(batch, self.vocabulary.decode(ids).numpy(), strict=True):
                texts[i] = text.decode("utf-8")
        return texts

    def posteriors(self, features: np.ndarray) -> np.ndarray:
        """CTC posteriors (output frames, classes) of one utterance's features (frames, dim);
        class 0 is the blank, class i the character `vocabulary.alphabet[i - 1]`."""
        padded, lengths = pad_batch([self._normalize(features)])
        logits, out_lengths = self._logits(tf.constant(padded), tf.constant(lengths))
        return tf.nn.softmax(logits[0, : int(out_lengths[0])]).numpy()

    def transcribe(self, paths, beam_size: int = 1, progress: bool = False, lm=None):
        """Transcribes audio files (any rate, channels, format libsndfile reads), with the
        word-LM decoder `lm` if given. Returns (path, text) for the readable files and (path,
        error) for the others."""
        audios, done, errors = load_audio_files(paths, self.config.features.sample_rate)
        features = [compute_features(audio, self.config.features) for audio in audios]
        texts = self.decode_features(features, beam_size, progress, lm) if features else []
        return list(zip(done, texts, strict=True)), errors


def evaluate(
    run_dir, manifest, beam_size: int | None = None, limit: int | None = None, lm=None, **weights
):
    """Transcribes a manifest with greedy decoding, beam search when `beam_size` > 1, and beam
    search with the word LM when there is one (`seq2seq.lm_decoding.resolve_lm`: `lm` "auto",
    "none" or a file, default `decode.lm`; `weights`: alpha, beta, hotwords), scores each with
    jiwer against the normalized references and writes `RUN/eval/<manifest name>/report.{json,
    md}`. Returns the Markdown path.

    Nothing is filtered for length here; unreadable audio and utterances whose reference is
    empty after normalization are skipped and counted in the report."""
    recognizer = Recognizer(run_dir)
    config = recognizer.config
    beam_size = config.decode.beam_size if beam_size is None else beam_size
    lm_settings = resolve_lm(run_dir, config.decode, lm, **weights)
    decoder = make_decoder(lm_settings, beam_size)  # loaded before the clock starts
    cache = FeatureCache(
        build_feature_cache(manifest, config.data.cache_dir, config.features, None, None)
    )
    utterances = cache.utterances[:limit]
    references = [normalize_transcript(u["text"]) for u in utterances]
    keep = [i for i, r in enumerate(references) if r]
    features = [cache.features(i) for i in keep]
    references = [references[i] for i in keep]
    voices = [utterances[i]["voice"] for i in keep]
    audio_seconds = sum(utterances[i]["duration"] for i in keep)
    rows, hypotheses = [], []
    strategies = [("greedy", 1)] + ([("beam", beam_size)] if beam_size > 1 else [])
    for strategy, size in strategies + ([("beam+lm", beam_size)] if decoder else []):
        with_lm = decoder if strategy == "beam+lm" else None
        start = time.perf_counter()
        texts = recognizer.decode_features(features, size, progress=True, lm=with_lm)
        seconds = time.perf_counter() - start
        scores = score_transcripts(references, texts)
        rows.append(
            {
                **scores,
                "decoding": {"strategy": strategy, "beam_size": size}
                | (lm_settings if with_lm else {}),
                "seconds": round(seconds, 2),
                "real_time_factor": round(seconds / audio_seconds, 5),
            }
        )
        hypotheses.append(texts)
        print(
            f"{Path(manifest).name} {strategy} (beam {size}): WER {scores['wer']:.2f}%  "
            f"CER {scores['cer']:.2f}%"
        )
    by_voice = defaultdict(list)
    for i, voice in enumerate(voices):
        by_voice[voice].append(i)
    durations = [utterances[i]["duration"] for i in keep]
    by_duration = buckets(durations, DURATION_BUCKETS, " s")
    voice_rows, duration_rows = (
        {
            name: {
                "num_utterances": len(index),
                "wer": [
                    score_transcripts([references[i] for i in index], [h[i] for i in index])["wer"]
                    for h in hypotheses
                ],
            }
            for name, index in groups.items()
        }
        for groups in (by_voice, by_duration)
    )
    final = hypotheses[-1]
    errors = [word_errors(r, h) for r, h in zip(references, final, strict=True)]
    worst = [
        {
            "audio_filepath": utterances[keep[i]]["audio_filepath"],
            "voice": voices[i],
            "errors": errors[i],
            "alignment": aligned(references[i], final[i]),
        }
        for i in sorted(range(len(keep)), key=lambda i: -errors[i])[:10]
        if errors[i]
    ]
    report = {
        **rows[-1],
        "num_utterances": len(keep),
        "audio_seconds": round(audio_seconds, 2),
        "skipped": {
            "unreadable_audio": len(cache.skipped),
            "empty_reference": len(utterances) - len(keep),
        },
        "results": rows,
    }
    name = Path(manifest).name.removesuffix(".jsonl").removesuffix(".json")
    title = f"Speech recognition report: {Path(manifest).name}"
    return write_asr_reports(
        Path(run_dir) / "eval" / name,
        report,
        voice_rows,
        worst,
        title,
        duration_rows,
        character_substitutions(references, final),
    )
