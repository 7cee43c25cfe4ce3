"""A feature cache: librosa runs once per utterance, training epochs only read arrays.

    CACHE_ROOT/<feature hash>/<manifest name>-<manifest hash>[-aug<hash>]/
        shard-00000.npy    float16 features of the shard's utterances, concatenated in time
        shard-00000.json   per utterance: offset, frames, text, voice, duration, manifest line;
                           the shard's skipped files and feature sums (for global statistics)
        index.json         written last: all shards' utterances, skipped files, statistics

The folder name carries the hash of the feature config and of the manifest's contents, so a
change to either builds a new cache and a rerun reuses a finished one. Shards are built by
parallel worker processes (which never import TensorFlow) with a progress bar; a shard file
that exists is finished (written under a temporary name, then renamed), so an interrupted
build resumes where it stopped; temporary files a killed build left behind are deleted by the
next build or reuse of the cache. Augmented copies of the training audio are cached too, each
with its own fixed random draw (`np.random.default_rng([manifest line, copy])`): the clean
utterance is copy 0, and each copy's metadata records what was applied under `augment`
(`data_prep.speech.augment` explains why augmentation runs here and not on the fly).
"""

import dataclasses
import hashlib
import json
import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from data_prep.speech.audio import AudioError, FeatureConfig, compute_features, load_audio, perturb
from data_prep.speech.augment import WaveAugmentation, augment
from data_prep.speech.manifest import read_manifest

logger = logging.getLogger(__name__)

SHARD_SIZE = 200
# A temporary file is renamed as soon as it is written: one older than this belongs to a build
# that was killed (a concurrent worker's own temporary file is seconds old).
STALE_SECONDS = 600


@dataclasses.dataclass(frozen=True)
class Perturbation:
    """Waveform augmentation cached as extra copies of each training utterance.

    Args:
        copies: perturbed copies per utterance (0 disables; the clean one is always kept).
        speed: (low, high) speed factor range, e.g. (0.9, 1.1).
        noise_snr_db: (low, high) signal-to-noise ratio range of added white noise in dB.
        chain: the whole augmentation chain (`data_prep.speech.augment.WaveAugmentation`, which has
            its own `speed` and `noise_snr_db`); None keeps `audio.perturb` with the two
            ranges above, as caches built before the chain existed were (same folder name).
    """

    copies: int = 0
    speed: tuple[float, float] | None = (0.9, 1.1)
    noise_snr_db: tuple[float, float] | None = (10.0, 30.0)
    chain: WaveAugmentation | None = None

    def digest(self) -> str:
        fields = dataclasses.asdict(self)
        if self.chain is None:
            del fields["chain"]  # the digest of caches built before the chain existed
        else:
            del fields["speed"], fields["noise_snr_db"]  # the chain's own are used
            if not self.chain.vtlp_prob:  # caches built before VTLP existed keep their name
                del fields["chain"]["vtlp_prob"], fields["chain"]["vtlp_alpha"]
        return hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:8]


def cache_dir(manifest, cache_root, config: FeatureConfig, perturbation=None) -> Path:
    manifest = Path(manifest)
    content = hashlib.sha1(manifest.read_bytes()).hexdigest()[:8]
    name = f"{manifest.stem}-{content}"
    if perturbation and perturbation.copies:
        name += f"-aug{perturbation.digest()}"
    return Path(cache_root) / config.digest() / name


def _build_shard(job):
    """Worker: computes one shard's features and writes shard-NNNNN.{npy,json}."""
    folder, shard, entries, config, perturbation = job
    arrays, utterances, skipped, offset = [], [], [], 0
    for entry in entries:
        try:
            audio = load_audio(entry["audio_filepath"], config.sample_rate)
        except AudioError as err:
            skipped.append({"line": entry["line"], "error": str(err)})
            continue
        copies = perturbation.copies if perturbation else 0
        for copy in range(copies + 1):
            applied = None
            if copy:
                rng = np.random.default_rng([entry["line"], copy])
                if perturbation.chain is None:
                    version = perturb(
                        audio,
                        rng,
                        config.sample_rate,
                        perturbation.speed,
                        perturbation.noise_snr_db,
                    )
                else:
                    version, applied = augment(audio, rng, config.sample_rate, perturbation.chain)
            else:
                version = audio
            features = compute_features(version, config)
            arrays.append(features)
            utterances.append(
                {
                    "offset": offset,
                    "frames": len(features),
                    "text": entry["text"],
                    "voice": entry.get("voice") or entry.get("speaker") or "",
                    "duration": round(len(version) / config.sample_rate, 3),
                    "line": entry["line"],
                    "audio_filepath": entry["audio_filepath"],
                    "copy": copy,
                    **({"augment": applied} if applied is not None else {}),
                }
            )
            offset += len(features)
    write_shard(folder, shard, arrays, utterances, skipped, config.feature_size)
    return shard


def write_shard(folder: Path, shard: int, arrays, utterances, skipped, feature_size: int):
    """Writes shard-NNNNN.{npy,json}: `arrays` (frames, feature_size) concatenated in time as
    float16, and the utterances' metadata (each with its offset and frames), skipped files and
    feature sums. The JSON is renamed into place last: its presence marks a finished shard."""
    features = np.concatenate(arrays) if arrays else np.zeros((0, feature_size), np.float32)
    stats = {
        "frames": int(len(features)),
        "sum": features.sum(0, dtype=np.float64).tolist(),
        "sum_squares": (features.astype(np.float64) ** 2).sum(0).tolist(),
    }
    stem = folder / f"shard-{shard:05d}"
    tmp = f"{stem}.tmp-{os.getpid()}"  # per process: workers may build one cache together
    with open(f"{tmp}.npy", "wb") as f:
        np.save(f, features.astype(np.float16))
    meta = {"utterances": utterances, "skipped": skipped, "stats": stats}
    Path(f"{tmp}.json").write_text(json.dumps(meta), encoding="utf-8")
    os.replace(f"{tmp}.npy", f"{stem}.npy")
    os.replace(f"{tmp}.json", f"{stem}.json")  # last: the shard is finished


def build_feature_cache(
    manifest,
    cache_root,
    config: FeatureConfig,
    perturbation: Perturbation | None = None,
    workers: int | None = None,
) -> Path:
    """Builds (or reuses) the cache of a manifest; returns its folder.

    Args:
        manifest: a JSONL manifest.
        cache_root: folder that holds caches of all manifests and feature configs.
        config: the feature config.
        perturbation: augmented copies to cache too (training data only).
        workers: processes (default: all cores).
    """
    folder = cache_dir(manifest, cache_root, config, perturbation)
    remove_stale_temporaries(folder)
    if (folder / "index.json").exists():
        logger.info("features of %s cached in %s", manifest, folder)
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    entries = read_manifest(manifest)
    shards = [entries[i : i + SHARD_SIZE] for i in range(0, len(entries), SHARD_SIZE)]
    jobs = [
        (folder, number, shard, config, perturbation)
        for number, shard in enumerate(shards)
        if not (folder / f"shard-{number:05d}.json").exists()
    ]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    progress = tqdm(total=len(shards), initial=len(shards) - len(jobs), unit="shard")
    progress.set_description(f"features {Path(manifest).name}")
    if workers == 1:
        for job in jobs:
            _build_shard(job)
            progress.update()
    else:
        # spawn: workers start clean, without the parent's TensorFlow threads.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            for _ in pool.map(_build_shard, jobs):
                progress.update()
    progress.close()
    write_index(folder, len(shards), config.feature_size, dataclasses.asdict(config))
    return folder


def remove_stale_temporaries(folder: Path):
    now = time.time()
    removed = 0
    for path in folder.glob("*.tmp-*"):
        try:
            if now - path.stat().st_mtime > STALE_SECONDS:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # renamed or removed by another process meanwhile
            pass
    if removed:
        logger.info("removed %d temporary files of an interrupted build in %s", removed, folder)


def write_index(folder: Path, num_shards: int, feature_size: int, feature_config: dict):
    """Writes index.json from the finished shards (`feature_config` describes the features)."""
    utterances, skipped = [], []
    frames, total, squares = 0, np.zeros(feature_size), np.zeros(feature_size)
    for shard in range(num_shards):
        meta = json.loads((folder / f"shard-{shard:05d}.json").read_text(encoding="utf-8"))
        utterances += [{**u, "shard": shard} for u in meta["utterances"]]
        skipped += meta["skipped"]
        frames += meta["stats"]["frames"]
        total += np.array(meta["stats"]["sum"])
        squares += np.array(meta["stats"]["sum_squares"])
    if skipped:
        logger.warning(
            "skipped %d unusable audio files of %s, e.g. %s",
            len(skipped),
            folder.name,
            skipped[0]["error"],
        )
    mean = total / max(frames, 1)
    std = np.sqrt(np.maximum(squares / max(frames, 1) - mean**2, 1e-10))
    index = {
        "feature_config": feature_config,
        "utterances": utterances,
        "skipped": skipped,
        "frames": frames,
        "mean": mean.tolist(),
        "std": std.tolist(),
    }
    tmp = folder / f"index.tmp-{os.getpid()}.json"
    tmp.write_text(json.dumps(index), encoding="utf-8")
    os.replace(tmp, folder / "index.json")


class FeatureCache:
    """Reads a finished cache: `utterances` (dicts) and `features(i)` -> float32 (frames, dim)."""

    def __init__(self, folder):
        self.folder = Path(folder)
        index = json.loads((self.folder / "index.json").read_text(encoding="utf-8"))
        self.utterances = index["utterances"]
        self.skipped = index["skipped"]
        self.mean = np.array(index["mean"], np.float32)
        self.std = np.array(index["std"], np.float32)
        self._shards = {}

    def features(self, i: int) -> np.ndarray:
        u = self.utterances[i]
        if u["shard"] not in self._shards:
            path = self.folder / f"shard-{u['shard']:05d}.npy"
            self._shards[u["shard"]] = np.load(path, mmap_mode="r")
        return np.asarray(
            self._shards[u["shard"]][u["offset"] : u["offset"] + u["frames"]], np.float32
        )
