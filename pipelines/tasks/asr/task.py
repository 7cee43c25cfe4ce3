"""Speech recognition as a task of the run skeleton (`pipelines.tasks.base`): its feature
caches, datasets and model; and `evaluate`. `Recognizer` (`pipelines.tasks.asr.recognizer`)
transcribes with a trained run.

The command line (`pipelines/asr.py`) and notebooks both drive these functions. Features are
cached under `data.cache_dir` (see `data_prep.speech.feature_cache`), shared by runs with the same
feature config; a run directory (`seq2seq.training.run_dir`) keeps `feature_stats.json` when
the normalization is global.
"""

import functools
import json
import time
from collections import defaultdict
from pathlib import Path

from data_prep.speech.augment import count_applied
from data_prep.speech.feature_cache import FeatureCache, build_feature_cache
from data_prep.speech.pipeline import make_speech_dataset, select_utterances
from data_prep.speech.transcripts import CharacterVocabulary, language, normalize_transcript
from pipelines.reports.confidence import confidence_quality
from pipelines.reports.evaluation import (
    DURATION_BUCKETS,
    aligned,
    buckets,
    character_substitutions,
    score_transcripts,
    word_errors,
    write_asr_reports,
)
from pipelines.tasks import base
from pipelines.tasks.asr.config import ASRConfig
from pipelines.tasks.asr.recognizer import Recognizer, feature_stats
from seq2seq.files import write_text
from seq2seq.speech.alignment import greedy_words, timed_words
from seq2seq.speech.encoder_cache import build_encoder_cache
from seq2seq.speech.lm_decoding import make_decoder, resolve_lm
from seq2seq.speech.model import CTCSpeechModel, subsampled_length
from seq2seq.speech.pretrained import encoder_info, encoder_record, encoder_tag, load_weights
from seq2seq.training.run_dir import RunDir

__all__ = ["Recognizer", "ASRTask", "build_caches", "evaluate", "make_datasets", "train"]


def build_caches(config: ASRConfig, splits=("train", "dev")) -> dict:
    """Builds (or reuses) the feature caches of the config's manifests; the training cache
    holds the perturbed copies. With a pretrained encoder, its frozen part then runs once over
    each (`seq2seq.speech.encoder_cache`), and those are the caches training reads. Returns
    {split: cache folder}."""
    data, perturbation = config.data, config.augment.perturbation()
    folders = {
        split: build_feature_cache(
            getattr(data, split),
            data.cache_dir,
            config.features,
            perturbation if split == "train" else None,
            data.workers,
        )
        for split in splits
    }
    if config.model.encoder == "none":
        return folders
    model = ASRTask().build_model(config)  # the encoder with its converted weights
    tag = encoder_tag(config.model.encoder, config.model.encoder_dir, model.encoder_front_layers)
    return {
        split: build_encoder_cache(
            folder, model.front, model.input_size, tag, config.decode.batch_frames
        )
        for split, folder in folders.items()
    }


def _write_data_summary(run: RunDir, config: ASRConfig, caches: dict, output_length):
    """`RUN/data_summary.json`: per split, the unreadable audio files of the manifest (with the
    line and reason of the first ones), the cached utterances (training: with their perturbed
    copies) and what the input pipeline keeps and filters, by reason."""
    summary = {}
    for split, cache in caches.items():
        keep, _, dropped = select_utterances(
            cache,
            output_length,
            config.data.max_frames,
            warn=False,  # the dataset warns
            language=config.data.language,
        )
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
    write_text(run.data_summary, json.dumps(summary, indent=2, ensure_ascii=False))


def make_datasets(config: ASRConfig, caches: dict, stats=None) -> dict:
    """{split: dataset} of feature `caches` ({split: FeatureCache}) as training feeds them:
    bucketed by length, the training split shuffled with the run's seed and masked by
    SpecAugment as `augment` says, normalized with `stats` when global."""
    data, masks = config.data, config.augment.masks()
    output_length = functools.partial(subsampled_length, subsampling=config.model.subsampling)
    return {
        split: make_speech_dataset(
            cache,
            CharacterVocabulary(config.data.language),
            output_length,
            data.batch_frames,
            data.max_frames,
            shuffle=split == "train",
            seed=config.train.seed,
            spec_augment_config=masks if split == "train" else None,
            stats=stats,
            cache_in_memory=data.cache_in_memory,
        )
        for split, cache in caches.items()
    }


class ASRTask(base.Task):
    name = "speech"
    config_class = ASRConfig
    shape_keys = ("model", "features")

    def inherit(self, source: RunDir, run: RunDir):
        if source.feature_stats.exists() and not run.feature_stats.exists():
            write_text(run.feature_stats, source.feature_stats.read_text(encoding="utf-8"))

    def datasets(self, config: ASRConfig, run: RunDir) -> base.Datasets:
        caches = {split: FeatureCache(folder) for split, folder in build_caches(config).items()}
        if config.model.encoder != "none":  # what the encoder is, its licence, its source
            info = encoder_info(config.model.encoder, config.model.encoder_dir)
            write_text(run.path / "encoder.json", json.dumps(info, indent=2) + "\n")
        stats = feature_stats(run, config, caches["train"])
        output_length = functools.partial(subsampled_length, subsampling=config.model.subsampling)
        _write_data_summary(run, config, caches, output_length)
        datasets = make_datasets(config, caches, stats)
        hours = sum(u["duration"] for u in caches["train"].utterances) / 3600
        copies = config.augment.perturbed_copies
        summary = (
            f"training utterances: {len(caches['train'].utterances)} ({hours:.2f} h of audio"
            f"{f', {copies} perturbed copies each' if copies else ''}), "
            f"dev: {len(caches['dev'].utterances)}"
        )
        return base.Datasets(datasets["train"], datasets["dev"], {}, summary)

    def build_model(self, config: ASRConfig) -> CTCSpeechModel:
        model = CTCSpeechModel(
            config.features.feature_size,
            **config.model.network(),
            vocab_size=language(config.data.language).vocab_size,
            name="ctc_speech_model",
        )
        model.build()
        if model.encoder is not None:  # pretrained weights (a resumed run then loads its own)
            load_weights(model.encoder, config.model.encoder, config.model.encoder_dir)
        return model

    def load(self, run_dir):
        return Recognizer(run_dir)


def train(config: ASRConfig, run_dir, strategy="default", init_from=None):
    """Trains a speech model into `run_dir` (see `pipelines.tasks.base.train`)."""
    return base.train(ASRTask(), config, run_dir, strategy, init_from)


def evaluate(
    run_dir,
    manifest,
    beam_size: int | None = None,
    limit: int | None = None,
    lm=None,
    lm_beam_size: int | None = None,
    **weights,
):
    """Transcribes a manifest with greedy decoding, beam search when `beam_size` > 1 (default
    `decode.beam_size`), and beam search of `lm_beam_size` (default `decode.lm_beam_size`, else
    `beam_size`) with the word LM when there is one (`seq2seq.speech.lm_decoding.resolve_lm`:
    `lm` "auto", "none" or a file, default `decode.lm`; `weights`: alpha, beta, hotwords),
    scores each with jiwer against the normalized references and writes
    `RUN/eval/<manifest name>/report.{json,md}`. Returns the Markdown path.

    Nothing is filtered for length here; unreadable audio and utterances whose reference is
    empty after normalization are skipped and counted in the report. `report.json` keeps
    every utterance with its transcripts, WER and confidence (`pipelines.reports.samples`)."""
    from pipelines.reports.confidence import text_confidences
    from pipelines.reports.evaluation import decoding_name
    from pipelines.reports.samples import speech_outputs

    recognizer = Recognizer(run_dir)
    config = recognizer.config
    if lm_beam_size is None:
        lm_beam_size = config.decode.lm_beam_size or beam_size or config.decode.beam_size
    beam_size = config.decode.beam_size if beam_size is None else beam_size
    lm_settings = resolve_lm(run_dir, config.decode, lm, **weights)
    # loaded before the clock starts
    decoder = make_decoder(lm_settings, lm_beam_size, config.data.language)
    cache = FeatureCache(
        build_feature_cache(manifest, config.data.cache_dir, config.features, None, None)
    )
    utterances = cache.utterances[:limit]
    references = [normalize_transcript(u["text"], config.data.language) for u in utterances]
    keep = [i for i, r in enumerate(references) if r]
    if not keep:
        first = cache.skipped[0]["error"] if cache.skipped else "every reference is empty"
        raise ValueError(
            f"{manifest}: nothing to evaluate ({len(cache.skipped)} unreadable, "
            f"{len(utterances)} with empty references); first problem: {first}"
        )
    features = [cache.features(i) for i in keep]
    started = time.perf_counter()
    features = recognizer.encode(features, progress=True)  # a pretrained encoder runs once
    encoder_seconds = time.perf_counter() - started if recognizer.model.encoder else 0.0
    references = [references[i] for i in keep]
    voices = [utterances[i]["voice"] for i in keep]
    audio_seconds = sum(utterances[i]["duration"] for i in keep)
    strategies = [("greedy", 1, {})] + ([("beam", beam_size, {})] if beam_size > 1 else [])
    strategies += [("beam+lm", lm_beam_size, lm_settings)] if decoder else []

    def decode(strategy, size):
        lm = decoder if strategy == "beam+lm" else None
        return recognizer.decode_features(features, size, progress=True, lm=lm)

    def show(row):
        decoding = row["decoding"]
        print(
            f"{Path(manifest).name} {decoding['strategy']} (beam {decoding['beam_size']}): "
            f"WER {row['wer']:.2f}%  CER {row['cer']:.2f}%"
        )

    rows, hypotheses = base.timed_decodings(
        strategies,
        decode,
        lambda texts: score_transcripts(references, texts),
        # The encoder's one pass counts in every decoding's speed.
        lambda seconds: {"real_time_factor": round((seconds + encoder_seconds) / audio_seconds, 5)},
        show,
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
        **encoder_record(config.model.encoder, config.model.encoder_dir),
        "confidence": greedy_confidence(recognizer, features, references),
        "num_utterances": len(keep),
        "audio_seconds": round(audio_seconds, 2),
        "skipped": {
            "unreadable_audio": len(cache.skipped),
            "empty_reference": len(utterances) - len(keep),
        },
        "results": rows,
    }
    # The final transcripts' word confidences, from one more pass of the network (not timed).
    outputs = speech_outputs(
        [utterances[i]["audio_filepath"] for i in keep],
        voices,
        references,
        {
            decoding_name(row["decoding"]): texts
            for row, texts in zip(rows, hypotheses, strict=True)
        },
        text_confidences(recognizer.log_probs(features), final, recognizer.alphabet),
    )
    name = Path(manifest).name.removesuffix(".jsonl").removesuffix(".json")
    title = f"Speech recognition report: {Path(manifest).name}"
    return write_asr_reports(
        RunDir(run_dir).eval_dir(name),
        report,
        voice_rows,
        worst,
        title,
        duration_rows,
        character_substitutions(references, final),
        outputs,
    )


def greedy_confidence(recognizer, features, references) -> dict:
    """How well the greedy words' confidences rank their errors (`pipelines.reports.confidence`),
    from one more pass of the network (not timed)."""
    texts, confidences = [], []
    for log_probs in recognizer.log_probs(features):
        spans = greedy_words(log_probs, recognizer.alphabet)
        words = timed_words(log_probs, spans, recognizer.alphabet, recognizer.frame_seconds)
        texts.append(" ".join(w.word for w in words))
        confidences.append([w.confidence for w in words])
    return {"decoding": "greedy", **confidence_quality(references, texts, confidences)}
