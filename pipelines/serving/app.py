"""The HTTP server: a FastAPI app that translates and transcribes, with a web page.

Why FastAPI (on Starlette, served by uvicorn): request bodies are validated against typed
models and the OpenAPI schema is generated from the same models (`/openapi.json`), the test
client runs the app in-process, and uvicorn finishes in-flight requests on SIGTERM.

Routes (`pipelines.serving.routes`): `GET /` (the page), `GET /health`, `GET /metrics`
(Prometheus text), `POST /v1/translate` (JSON), `POST /v1/transcribe` and
`POST /v1/speech-translate` (a multipart upload or the raw audio bytes). Every error is JSON
`{"error": {"status", "type", "message"}}`. Model calls go through a `DynamicBatcher` each and
run in a worker thread. Limits (`Limits`) bound what one request may cost; with a token, every
`/v1/` route needs `Authorization: Bearer <token>`. No route takes a path: audio arrives as
bytes, and the models are the ones named when the server started.
"""

import logging
import time

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipelines.serving.http_parts import (
    ApiError,
    Batching,
    Limits,
    Metrics,
    error_response,
    version,
)
from pipelines.serving.routes import STATIC, Server, api, pages

__all__ = ["Batching", "Limits", "create_app"]

logger = logging.getLogger(__name__)
ROUTES = ("/", "/health", "/metrics", "/v1/translate", "/v1/transcribe", "/v1/speech-translate")


def create_app(
    translation=None,
    speech=None,
    limits: Limits | None = None,
    batching: Batching | None = None,
    token: str | None = None,
) -> FastAPI:
    """The server's app for a `TranslationService` and/or a `SpeechService` (either None)."""
    state = Server(
        translation, speech, limits or Limits(), batching or Batching(), token, Metrics()
    )

    async def lifespan(app):
        for batcher in state.batchers.values():
            batcher.start()
        yield
        for batcher in state.batchers.values():
            await batcher.stop()

    app = FastAPI(
        title="seq2seq toolkit server",
        description="Translate and transcribe with the toolkit's trained models.",
        version=version(),
        lifespan=lifespan,
        docs_url=None,  # the interactive docs load scripts from a CDN; /openapi.json stays
        redoc_url=None,
    )
    app.state.server = state
    add_middleware(app, state.metrics)
    add_error_handlers(app)
    app.include_router(pages)
    app.include_router(api)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    add_limits_to_schema(app, state.limits)
    return app


def add_limits_to_schema(app: FastAPI, limits: Limits) -> None:
    """/openapi.json states this server's limits (set when it starts, so not in the request
    models): at most `max_sentences` non-blank sentences of `max_chars` characters, beams up to
    `max_beam_size`. The routes check them (with their own status codes: 413 for too many or
    too long); the schema tells clients, and lets a fuzzer aim at requests the server takes."""

    def openapi():
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            request = schema["components"]["schemas"]["TranslateRequest"]["properties"]
            sentences = request["sentences"]
            sentences |= {"minItems": 1, "maxItems": limits.max_sentences}
            sentences["items"] |= {"minLength": 1, "maxLength": limits.max_chars, "pattern": r"\S"}
            request["beam_size"]["maximum"] = request["n_best"]["maximum"] = limits.max_beam_size
            for path in ("/v1/transcribe", "/v1/speech-translate"):
                for parameter in schema["paths"][path]["post"].get("parameters", []):
                    if parameter["name"].endswith("beam_size"):
                        parameter["schema"]["maximum"] = limits.max_beam_size
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi


def add_middleware(app: FastAPI, metrics: Metrics) -> None:
    """Content-Type check of /v1/translate, then request counts and latencies."""

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


def add_error_handlers(app: FastAPI) -> None:
    """Every error as JSON `{"error": {"status", "type", "message"}}`."""

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
