"""The server's routes, in two FastAPI routers: `pages` (the web page, health, metrics) and
`api` (`/v1/translate`, `/v1/transcribe`, `/v1/speech-translate`; a bearer token guards them
when the server has one).

Each handler reaches the models, limits and batchers through `Server`, which `create_app`
(`pipelines.serving.app`) keeps on `app.state.server`.
"""

import asyncio
import dataclasses
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import Field
from starlette.requests import ClientDisconnect

from data_prep.speech.audio import AudioError
from pipelines.serving.batching import DynamicBatcher
from pipelines.serving.http_parts import (
    ApiError,
    Batching,
    Limits,
    Metrics,
    TranslateRequest,
    TranslateResponse,
    audio_bytes,
    versions,
)
from pipelines.serving.services import TooLong
from pipelines.tasks.speech_translation.chain import translated_json

STATIC = Path(__file__).parent / "static"


@dataclasses.dataclass
class Server:
    """What the routes share: the services (either may be None), limits, batching, the token,
    the metrics and one `DynamicBatcher` per service kind."""

    translation: object
    speech: object
    limits: Limits
    batching: Batching
    token: str | None
    metrics: Metrics
    batchers: dict = dataclasses.field(default_factory=dict)

    @property
    def chain_problem(self) -> str | None:
        """Why the two models cannot be chained for speech translation, or None."""
        if self.speech is None or self.translation is None:
            return "speech translation needs a transcribe and a translate model"
        language = self.speech.config.data.language
        # an exported translator keeps no config: nothing to check
        config = getattr(getattr(self.translation, "model", None), "config", None)
        if config is not None and config.data.source_language != language:
            return (
                f"the speech model writes {language} and the translation model reads "
                f"{config.data.source_language}"
            )
        return None

    def __post_init__(self):
        for service in (self.translation, self.speech):
            if service is not None:
                self.batchers[service.kind] = DynamicBatcher(
                    service.run,
                    self.batching.max_items if self.batching.enabled else 1,
                    self.batching.max_wait_ms / 1000 if self.batching.enabled else 0.0,
                    self.metrics.observer(service.kind),
                    name=service.kind,
                )

    async def body_of(self, request: Request) -> bytes:
        """The body, refused past the limit while it arrives (Content-Length is not trusted)."""
        max_body = int(self.limits.max_body_mb * 1024 * 1024)
        too_large = f"the body is over {self.limits.max_body_mb:g} MB"
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_body:
            raise ApiError(413, "too_large", too_large)
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_body:
                    raise ApiError(413, "too_large", too_large)
                chunks.append(chunk)
        except ClientDisconnect:
            raise ApiError(400, "client_disconnected", "the client left mid-upload") from None
        return b"".join(chunks)

    async def answer(self, kind: str, key, items: list) -> list:
        """`items` through the batcher of `kind`, within the request timeout."""
        if kind not in self.batchers:
            raise ApiError(503, "no_model", f"this server has no {kind} model")
        timeout = self.limits.timeout
        try:
            return await asyncio.wait_for(self.batchers[kind].submit(key, items), timeout)
        except TimeoutError:
            raise ApiError(504, "timeout", f"the request took longer than {timeout:g} s") from None
        except Exception as err:  # the model call failed for this request (logged there)
            raise ApiError(
                500, "internal_error", f"the model call failed: {type(err).__name__}: {err}"
            ) from None


def server(request: Request) -> Server:
    return request.app.state.server


ServerDep = Annotated[Server, Depends(server)]


def authorized(request: Request):
    """Refuses a /v1/ request without the server's bearer token (when it has one)."""
    token = server(request).token
    if token is None:
        return
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(value.strip(), token):
        raise ApiError(401, "unauthorized", "missing or wrong bearer token")


pages = APIRouter()
api = APIRouter(prefix="/v1", dependencies=[Depends(authorized)])


@pages.get("/", include_in_schema=False)
async def page():
    return FileResponse(STATIC / "index.html", media_type="text/html")


@pages.get("/health", summary="models loaded and versions")
async def health(state: ServerDep):
    return {
        "status": "ok",
        "models": {
            "translate": None if state.translation is None else state.translation.info(),
            "transcribe": None if state.speech is None else state.speech.info(),
            "speech_translate": None
            if state.chain_problem
            else {"language": state.speech.config.data.language},
        },
        "versions": versions(),
        "batching": dataclasses.asdict(state.batching),
        "limits": dataclasses.asdict(state.limits),
        "auth": state.token is not None,
    }


@pages.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus(state: ServerDep):
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def check_sentences(body: TranslateRequest, limits: Limits, translation) -> None:
    """Refuses what a translate request may not ask (empty or long sentences, wide beams)."""
    sentences = body.sentences
    if not sentences:
        raise ApiError(422, "empty_input", "sentences: give at least one sentence")
    if len(sentences) > limits.max_sentences:
        raise ApiError(
            413,
            "too_many_sentences",
            f"{len(sentences)} sentences; the limit is {limits.max_sentences} a request",
        )
    for i, sentence in enumerate(sentences):
        if not sentence.strip():
            raise ApiError(422, "empty_input", f"sentences[{i}] is empty")
        if len(sentence) > limits.max_chars:
            raise ApiError(
                413,
                "sentence_too_long",
                f"sentences[{i}] has {len(sentence)} characters; the limit is {limits.max_chars}",
            )
    if body.beam_size > limits.max_beam_size:
        raise ApiError(422, "invalid_request", f"beam_size: at most {limits.max_beam_size} here")
    if body.n_best > body.beam_size:
        raise ApiError(422, "invalid_request", "n_best: must not exceed beam_size")
    if body.n_best > 1 and translation is not None and not translation.has_n_best:
        raise ApiError(422, "invalid_request", "n_best: the model is an export (best only)")


@api.post(
    "/translate",
    response_model=TranslateResponse,
    response_model_exclude_none=True,
    summary="translate sentences",
)
async def translate(body: TranslateRequest, state: ServerDep):
    check_sentences(body, state.limits, state.translation)
    results = await state.answer("translate", (body.beam_size, body.n_best), body.sentences)
    response = {"beam_size": body.beam_size, "model": str(state.translation.path)}
    if body.n_best > 1:
        response["translations"] = [row[0][0] for row in results]
        response["n_best"] = [[{"text": t, "score": s} for t, s in row] for row in results]
    else:
        response["translations"] = results
    return response


AUDIO_BODY = {
    "requestBody": {
        "content": {
            "audio/wav": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"audio": {"type": "string", "format": "binary"}},
                }
            },
        },
        "required": True,
    }
}


@api.post(
    "/transcribe",
    summary="transcribe a recording",
    description="The audio as a multipart upload (any field name) or as the raw body "
    "(Content-Type audio/* or application/octet-stream): WAV, FLAC, OGG, MP3 (what "
    "libsndfile reads), any rate and channels. Returns the text, segments and words with "
    "start/end seconds and confidence, as `transcribe --format json`.",
    openapi_extra=AUDIO_BODY,
)
async def transcribe(
    request: Request, state: ServerDep, beam_size: Annotated[int, Field(ge=1)] = 1
):
    if state.speech is None:
        raise ApiError(503, "no_model", "this server has no transcribe model")
    return {**await _transcript(request, state, beam_size), "model": str(state.speech.path)}


@api.post(
    "/speech-translate",
    summary="translate a recording",
    description="The audio as for /v1/transcribe. The speech model transcribes it (segments "
    "at pauses, words with times and confidence) and the translation model translates each "
    "segment: returns the transcript, the translation and per segment its start/end "
    "seconds, transcript, confidence and translation, as `speech_translate --format json`. "
    "Needs a speech model of the translation model's source language.",
    openapi_extra=AUDIO_BODY,
)
async def speech_translate(
    request: Request,
    state: ServerDep,
    beam_size: Annotated[int, Field(ge=1)] = 1,
    translate_beam_size: Annotated[int, Field(ge=1)] = 1,
):
    if state.chain_problem:
        raise ApiError(
            503, "no_model", f"this server cannot translate speech: {state.chain_problem}"
        )
    if translate_beam_size > state.limits.max_beam_size:
        raise ApiError(
            422, "invalid_request", f"translate_beam_size: at most {state.limits.max_beam_size}"
        )
    transcript = await _transcript(request, state, beam_size)
    texts = [s["text"] for s in transcript["segments"]]
    spoken = [i for i, text in enumerate(texts) if text.strip()]
    translated = [""] * len(texts)
    if spoken:
        key = (translate_beam_size, 1)
        answers = await state.answer("translate", key, [texts[i] for i in spoken])
        for i, text in zip(spoken, answers, strict=True):
            translated[i] = text
    body = translated_json(transcript, translated)
    body["settings"] |= {"translate_beam_size": translate_beam_size}
    body["model"] = {"transcribe": str(state.speech.path), "translate": str(state.translation.path)}
    return body


async def _transcript(request: Request, state: Server, beam_size: int) -> dict:
    """The JSON transcript of the request's audio (as `transcribe --format json`)."""
    speech, limits = state.speech, state.limits
    if beam_size > limits.max_beam_size:
        raise ApiError(422, "invalid_request", f"beam_size: at most {limits.max_beam_size}")
    data = await audio_bytes(request, state.body_of)
    loop = asyncio.get_running_loop()
    try:  # reading and cutting at pauses: off the event loop too
        duration, pieces = await loop.run_in_executor(
            None, speech.read, data, limits.max_audio_seconds
        )
    except TooLong as err:
        raise ApiError(413, "too_long", str(err)) from None
    except AudioError as err:
        raise ApiError(422, "bad_audio", str(err)) from None
    decoded = await state.answer("transcribe", beam_size, pieces) if pieces else []
    return speech.transcript(duration, pieces, decoded, beam_size)
