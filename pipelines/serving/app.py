"""The HTTP server: a FastAPI app that translates and transcribes, with a web page.

Why FastAPI (on Starlette, served by uvicorn): request bodies are validated against typed
models and the OpenAPI schema is generated from the same models (`/openapi.json`), the test
client runs the app in-process, and uvicorn finishes in-flight requests on SIGTERM.

Routes: `GET /` (the page), `GET /health`, `GET /metrics` (Prometheus text), `POST
/v1/translate` (JSON), `POST /v1/transcribe` (a multipart upload or the raw audio bytes).
Every error is JSON `{"error": {"status", "type", "message"}}`. Model calls go through a
`DynamicBatcher` each and run in a worker thread. Limits (`Limits`) bound what one request may
cost; with a token, every `/v1/` route needs `Authorization: Bearer <token>`. No route takes a
path: audio arrives as bytes, and the models are the ones named when the server started.
"""

import asyncio
import dataclasses
import logging
import secrets
import time
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from data_prep.audio import AudioError
from pipelines.serving.batching import DynamicBatcher
from pipelines.serving.http import (
    ApiError,
    Batching,
    Limits,
    Metrics,
    TranslateRequest,
    TranslateResponse,
    audio_bytes,
    error_response,
    version,
    versions,
)
from pipelines.serving.services import TooLong

logger = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
ROUTES = ("/", "/health", "/metrics", "/v1/translate", "/v1/transcribe")


def create_app(
    translation=None,
    speech=None,
    limits: Limits | None = None,
    batching: Batching | None = None,
    token: str | None = None,
) -> FastAPI:
    """The server's app for a `TranslationService` and/or a `SpeechService` (either None)."""
    limits, batching, metrics = limits or Limits(), batching or Batching(), Metrics()
    batchers = {}
    for service in (translation, speech):
        if service is not None:
            batchers[service.kind] = DynamicBatcher(
                service.run,
                batching.max_items if batching.enabled else 1,
                batching.max_wait_ms / 1000 if batching.enabled else 0.0,
                metrics.observer(service.kind),
                name=service.kind,
            )

    async def lifespan(app):
        for batcher in batchers.values():
            batcher.start()
        yield
        for batcher in batchers.values():
            await batcher.stop()

    app = FastAPI(
        title="seq2seq toolkit server",
        description="Translate and transcribe with the toolkit's trained models.",
        version=version(),
        lifespan=lifespan,
        docs_url=None,  # the interactive docs load scripts from a CDN; /openapi.json stays
        redoc_url=None,
    )
    app.state.metrics, app.state.batchers = metrics, batchers
    max_body = int(limits.max_body_mb * 1024 * 1024)

    @app.middleware("http")
    async def json_only(request: Request, call_next):
        """/v1/translate reads JSON: another Content-Type is refused before the body is read
        (registered first: the counting middleware around it sees the answer)."""
        if request.url.path == "/v1/translate" and request.method == "POST":
            kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if kind != "application/json":
                return error_response(
                    415,
                    "unsupported_media_type",
                    f"Content-Type {kind or 'missing'}: send application/json",
                )
        return await call_next(request)

    @app.middleware("http")
    async def count(request: Request, call_next):
        route = request.url.path if request.url.path in ROUTES else "other"
        start, api = time.perf_counter(), route.startswith("/v1/")
        if api:
            metrics.in_flight.inc()
        try:
            response = await call_next(request)
        finally:
            if api:
                metrics.in_flight.dec()
        metrics.requests.labels(route, str(response.status_code)).inc()
        metrics.latency.labels(route).observe(time.perf_counter() - start)
        return response

    @app.exception_handler(ApiError)
    async def api_error(request, err: ApiError):
        return error_response(err.status, err.kind, err.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request, err: RequestValidationError):
        problems = err.errors()
        if any(p.get("type") == "json_invalid" for p in problems):
            detail = problems[0].get("ctx", {}).get("error", "")
            return error_response(400, "bad_json", f"the body is not valid JSON: {detail}".strip())
        messages = []
        for p in problems:
            where = ".".join(str(x) for x in p.get("loc", ()) if x != "body")
            messages.append(f"{where or 'body'}: {p.get('msg', 'invalid')}")
        return error_response(422, "invalid_request", "; ".join(messages))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, err: StarletteHTTPException):
        kinds = {404: "not_found", 405: "method_not_allowed"}
        return error_response(
            err.status_code, kinds.get(err.status_code, "http_error"), str(err.detail)
        )

    @app.exception_handler(Exception)
    async def crashed(request, err: Exception):
        logger.exception("request failed")
        return error_response(500, "internal_error", f"the model call failed: {type(err).__name__}")

    def authorized(request: Request):
        if token is None:
            return
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(value.strip(), token):
            raise ApiError(401, "unauthorized", "missing or wrong bearer token")

    async def body_of(request: Request) -> bytes:
        """The body, refused past the limit while it arrives (Content-Length is not trusted)."""
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_body:
            raise ApiError(413, "too_large", f"the body is over {limits.max_body_mb:g} MB")
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_body:
                    raise ApiError(413, "too_large", f"the body is over {limits.max_body_mb:g} MB")
                chunks.append(chunk)
        except ClientDisconnect:
            raise ApiError(400, "client_disconnected", "the client left mid-upload") from None
        return b"".join(chunks)

    async def answer(kind: str, key, items: list) -> list:
        if kind not in batchers:
            raise ApiError(503, "no_model", f"this server has no {kind} model")
        try:
            return await asyncio.wait_for(batchers[kind].submit(key, items), limits.timeout)
        except TimeoutError:
            raise ApiError(
                504, "timeout", f"the request took longer than {limits.timeout:g} s"
            ) from None
        except Exception as err:  # the model call failed for this request (logged there)
            raise ApiError(
                500, "internal_error", f"the model call failed: {type(err).__name__}: {err}"
            ) from None

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/health", summary="models loaded and versions")
    async def health():
        return {
            "status": "ok",
            "models": {
                "translate": None if translation is None else translation.info(),
                "transcribe": None if speech is None else speech.info(),
            },
            "versions": versions(),
            "batching": dataclasses.asdict(batching),
            "limits": dataclasses.asdict(limits),
            "auth": token is not None,
        }

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus():
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post(
        "/v1/translate",
        response_model=TranslateResponse,
        response_model_exclude_none=True,
        summary="translate sentences",
        dependencies=[Depends(authorized)],
    )
    async def translate(body: TranslateRequest):
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
                    f"sentences[{i}] has {len(sentence)} characters; the limit is "
                    f"{limits.max_chars}",
                )
        if body.beam_size > limits.max_beam_size:
            raise ApiError(
                422, "invalid_request", f"beam_size: at most {limits.max_beam_size} here"
            )
        if body.n_best > body.beam_size:
            raise ApiError(422, "invalid_request", "n_best: must not exceed beam_size")
        if body.n_best > 1 and translation is not None and not translation.has_n_best:
            raise ApiError(422, "invalid_request", "n_best: the model is an export (best only)")
        results = await answer("translate", (body.beam_size, body.n_best), sentences)
        response = {"beam_size": body.beam_size, "model": str(translation.path)}
        if body.n_best > 1:
            response["translations"] = [row[0][0] for row in results]
            response["n_best"] = [[{"text": t, "score": s} for t, s in row] for row in results]
        else:
            response["translations"] = results
        return response

    @app.post(
        "/v1/transcribe",
        summary="transcribe a recording",
        description="The audio as a multipart upload (any field name) or as the raw body "
        "(Content-Type audio/* or application/octet-stream): WAV, FLAC, OGG, MP3 (what "
        "libsndfile reads), any rate and channels. Returns the text, segments and words with "
        "start/end seconds and confidence, as `transcribe --format json`.",
        dependencies=[Depends(authorized)],
        openapi_extra={
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
        },
    )
    async def transcribe(request: Request, beam_size: Annotated[int, Field(ge=1)] = 1):
        if speech is None:
            raise ApiError(503, "no_model", "this server has no transcribe model")
        if beam_size > limits.max_beam_size:
            raise ApiError(422, "invalid_request", f"beam_size: at most {limits.max_beam_size}")
        data = await audio_bytes(request, body_of)
        loop = asyncio.get_running_loop()
        try:  # reading and cutting at pauses: off the event loop too
            duration, pieces = await loop.run_in_executor(
                None, speech.read, data, limits.max_audio_seconds
            )
        except TooLong as err:
            raise ApiError(413, "too_long", str(err)) from None
        except AudioError as err:
            raise ApiError(422, "bad_audio", str(err)) from None
        decoded = await answer("transcribe", beam_size, pieces) if pieces else []
        result = speech.transcript(duration, pieces, decoded, beam_size)
        return {**result, "model": str(speech.path)}

    return app
