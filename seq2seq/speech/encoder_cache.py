"""A cache of a frozen encoder's outputs, in the feature cache's own format.

A pretrained encoder is the costliest part of a speech model; frozen, it gives the same output
every epoch, so it runs once over each finished feature cache (`data_prep.speech.feature_cache`),
augmented copies included, and training reads its outputs as it reads features:

    <feature cache folder>-<tag>/shard-NNNNN.{npy,json}, index.json

The shards mirror the feature cache's (the same utterances in the same order, each with its
frames counted at the encoder's rate); an interrupted build resumes at the first missing shard.
The encoder runs in the main process (TensorFlow), batched by length with masks, so each
utterance gets what it would get alone.
"""

import json
import logging
from pathlib import Path

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from data_prep.speech.audio import pad_batch
from data_prep.speech.feature_cache import (
    FeatureCache,
    remove_stale_temporaries,
    write_index,
    write_shard,
)
from seq2seq.speech.decoding import length_batches

logger = logging.getLogger(__name__)


def build_encoder_cache(feature_folder, front, output_size: int, tag: str, batch_frames=20000):
    """Runs `front` over every utterance of a finished feature cache; returns the new folder.

    Args:
        feature_folder: a finished feature cache.
        front: callable (features (batch, frames, dim), lengths (batch,)) -> (outputs (batch,
            time, output_size), output lengths), e.g. `CTCSpeechModel.front`.
        output_size: the size of each output frame.
        tag: names what `front` is (encoder, its frozen blocks, its weights' digest); the
            folder is `<feature_folder>-<tag>`.
        batch_frames: padded input frames per batch.
    """
    source = FeatureCache(feature_folder)
    folder = Path(f"{Path(feature_folder)}-{tag}")
    remove_stale_temporaries(folder)
    if (folder / "index.json").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    run = tf.function(front, reduce_retracing=True)
    skipped = _skipped_by_shard(Path(feature_folder))  # every shard, empty ones included
    by_shard = {shard: [] for shard in skipped}
    for i, u in enumerate(source.utterances):
        by_shard[u["shard"]].append(i)
    todo = [s for s in sorted(by_shard) if not (folder / f"shard-{s:05d}.json").exists()]
    progress = tqdm(total=len(source.utterances), unit="utt", desc=f"encoder {folder.name}")
    progress.update(len(source.utterances) - sum(len(by_shard[s]) for s in todo))
    for shard in todo:
        members = by_shard[shard]
        outputs = [None] * len(members)
        frames = [source.utterances[i]["frames"] for i in members]
        for batch in length_batches(frames, batch_frames):
            padded, lengths = pad_batch([source.features(members[j]) for j in batch])
            encoded, out_lengths = run(tf.constant(padded), tf.constant(lengths))
            encoded, out_lengths = np.asarray(encoded, np.float32), np.asarray(out_lengths)
            for row, j in enumerate(batch):
                outputs[j] = encoded[row, : out_lengths[row]]
            progress.update(len(batch))
        utterances, offset = [], 0
        for i, array in zip(members, outputs, strict=True):
            meta = {k: v for k, v in source.utterances[i].items() if k != "shard"}
            utterances.append({**meta, "offset": offset, "frames": len(array)})
            offset += len(array)
        write_shard(folder, shard, outputs, utterances, skipped[shard], output_size)
    progress.close()
    write_index(folder, len(by_shard), output_size, {"encoder": tag})
    return folder


def _skipped_by_shard(folder: Path) -> dict:
    """{shard number: its skipped files} of every shard of a finished feature cache."""
    skipped = {}
    for path in folder.glob("shard-*.json"):
        meta = json.loads(path.read_text(encoding="utf-8"))
        skipped[int(path.stem.split("-")[1])] = meta["skipped"]
    return skipped
