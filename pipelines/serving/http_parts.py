"""The server's HTTP pieces besides the routes: limits and batching settings, the request and
response models (they generate the OpenAPI schema), JSON errors, Prometheus metrics, and
reading the audio of a transcribe request."""

import dataclasses

from fastapi import Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

AUDIO_TYPES = ("audio/", "application/octet-stream")


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one request may cost (the `serve` command's flags).

    Args:
        max_body_mb: the largest request body.
        max_audio_seconds: the longest recording to transcribe.
        max_sentences: sentences per translate request.
        max_chars: characters per sentence.
        max_beam_size: the widest beam a request may ask for.
        timeout: seconds a request may take before it gets a 504.
    """

    max_body_mb: float = 20.0
    max_audio_seconds: float = 600.0
    max_sentences: int = 64
    max_chars: int = 1000
    max_beam_size: int = 16
    timeout: float = 60.0

    def __post_init__(self):
        for field in dataclasses.fields(self):
            if not getattr(self, field.name) > 0:
                flag = "--" + field.name.replace("_", "-")
                raise ValueError(f"{flag} {getattr(self, field.name)}: must be positive")


@dataclasses.dataclass(frozen=True)
class Batching:
    """Dynamic batching settings: `max_items` sentences or segments per model call, and how
    long the first request waits for others; `enabled` False gives every request its own
    call."""

    enabled: bool = True
    max_items: int = 64
    max_wait_ms: float = 5.0

    def __post_init__(self):
        if self.max_items < 1:
            raise ValueError(f"--batch-items {self.max_items}: at least 1")
        if self.max_wait_ms < 0:
            raise ValueError(f"--batch-wait-ms {self.max_wait_ms}: 0 or more")


class TranslateRequest(BaseModel):
    """Sentences to translate (source language), and how."""

    model_config = ConfigDict(extra="forbid")
    sentences: list[StrictStr] = Field(description="source sentences, one translation each")
    beam_size: StrictInt = Field(1, ge=1, description="1: greedy; more: beam search")
    n_best: StrictInt = Field(1, ge=1, description="hypotheses per sentence (<= beam_size)")


class Hypothesis(BaseModel):
    text: str
    score: float


class TranslateResponse(BaseModel):
    translations: list[str]
    n_best: list[list[Hypothesis]] | None = None
    beam_size: int
    model: str


class ApiError(Exception):
    """A request the server refuses: becomes a JSON error with `status`."""

    def __init__(self, status: int, kind: str, message: str):
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def error_response(status: int, kind: str, message: str) -> JSONResponse:
    body = {"error": {"status": status, "type": kind, "message": message}}
    return JSONResponse(body, status_code=status)


class Metrics:
    """The Prometheus metrics of one app (its own registry)."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "seq2seq_requests", "HTTP requests", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "seq2seq_request_seconds",
            "request latency",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "seq2seq_requests_in_flight", "/v1/ requests being answered", registry=self.registry
        )
        self.batch_items = Histogram(
            "seq2seq_batch_items",
            "sentences or audio segments per model call",
            ["model"],
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=self.registry,
        )
        self.batch_requests = Histogram(
            "seq2seq_batch_requests",
            "requests per model call",
            ["model"],
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=self.registry,
        )

    def observer(self, model: str):
        def observe(requests, items):
            self.batch_requests.labels(model).observe(requests)
            self.batch_items.labels(model).observe(items)

        return observe


async def audio_bytes(request: Request, body_of) -> bytes:
    """The audio of a transcribe request: the first file of a multipart form, or the body."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        body_of_form = await body_of(request)  # bounded, then parsed from memory

        async def replay():
            return {"type": "http.request", "body": body_of_form, "more_body": False}

        form = await Request(request.scope, replay).form()
        files = [v for v in form.values() if hasattr(v, "read")]
        if not files:
            raise ApiError(422, "empty_input", "the form has no file: upload the audio as a file")
        data = await files[0].read()
    elif content_type.startswith(AUDIO_TYPES):
        data = await body_of(request)
    else:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Type {content_type or 'missing'}: send audio/* (WAV, FLAC, OGG, MP3), "
            "application/octet-stream or a multipart/form-data upload",
        )
    if not data:
        raise ApiError(422, "empty_input", "no audio: the upload is empty")
    return data


def version() -> str:
    try:
        from importlib.metadata import version

        return version("seq2seq-toolkit")
    except Exception:
        return "unknown"


def versions() -> dict:
    import keras
    import tensorflow as tf

    return {"toolkit": version(), "tensorflow": tf.__version__, "keras": keras.__version__}
