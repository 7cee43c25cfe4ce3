"""The server's API in-process (FastAPI's test client): every route, every limit and every kind
of bad request (docs/reliability.md lists them with the answers)."""

import io
import json
import time

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from pipelines.serving.app import Batching, Limits, create_app
from tests.conftest import write_tone

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def services(translation_run, talkative_speech_run):
    from pipelines.serving.services import SpeechService, TranslationService

    return TranslationService(translation_run), SpeechService(talkative_speech_run)


@pytest.fixture(scope="module")
def client(services):
    limits = Limits(max_body_mb=1.0, max_audio_seconds=30.0, max_sentences=4, max_chars=200)
    with TestClient(create_app(*services, limits)) as client:
        yield client


@pytest.fixture(scope="module")
def wav(tiny_speech):
    return (tiny_speech / "wavs/test/test-000000.wav").read_bytes()


def _error(response, status, kind):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["status"] == status and error["type"] == kind and error["message"]
    return error["message"]


def test_translate_greedy_beam_and_n_best(client, services):
    sentences = ["El rey ve la casa verde.", "La niña tiene el pan."]
    greedy = client.post("/v1/translate", json={"sentences": sentences}).json()
    assert greedy["translations"] == services[0].model.translate(sentences)
    assert greedy["translations"][0] == "The king sees the green house."
    beam = client.post("/v1/translate", json={"sentences": sentences, "beam_size": 3, "n_best": 2})
    body = beam.json()
    assert body["beam_size"] == 3 and len(body["n_best"]) == 2
    for best, hypotheses in zip(body["translations"], body["n_best"], strict=True):
        assert hypotheses[0]["text"] == best and len(hypotheses) == 2
        assert hypotheses[0]["score"] >= hypotheses[1]["score"]


def test_transcribe_a_multipart_upload_or_a_raw_body(client, services, wav, tiny_speech):
    upload = client.post("/v1/transcribe", files={"audio": ("clip.wav", wav, "audio/wav")})
    raw = client.post("/v1/transcribe", content=wav, headers={"Content-Type": "audio/wav"})
    assert upload.status_code == raw.status_code == 200
    result = upload.json()
    assert result["text"] and result == raw.json()  # the talkative model always spells
    audio, _ = sf.read(io.BytesIO(wav))
    assert result["duration"] == pytest.approx(len(audio) / 16000, abs=0.01)
    words = [w for s in result["segments"] for w in s["words"]]
    assert " ".join(w["word"] for w in words) == result["text"]
    assert all(0 <= w["start"] < w["end"] <= result["duration"] + 0.01 for w in words)
    assert all(0 <= w["confidence"] <= 1 for w in words)
    # The same text as the toolkit's recognizer gives for the file.
    path = str(tiny_speech / "wavs/test/test-000000.wav")
    ((_, text),), _ = services[1].model.transcribe([path])
    assert text.split() == result["text"].split()


def test_transcribe_any_format_rate_and_channels(client, tmp_path):
    for name in ("stereo.flac", "a44k.ogg"):
        rate = 44100 if "44k" in name else 16000
        path = write_tone(tmp_path / name, seconds=1.5, rate=rate, channels=2)
        response = client.post(
            "/v1/transcribe", files={"audio": (name, path.read_bytes(), "audio/x-sound")}
        )
        assert response.status_code == 200, response.text
        assert response.json()["duration"] == pytest.approx(1.5, abs=0.02)


def test_health_metrics_and_openapi(client):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["models"]["translate"]["kind"] == "run"
    assert health["models"]["transcribe"]["sample_rate"] == 16000
    assert {"toolkit", "tensorflow", "keras"} <= set(health["versions"])
    client.post("/v1/translate", json={"sentences": ["El rey ve la casa."]})
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'seq2seq_requests_total{route="/v1/translate",status="200"}' in text
    assert "seq2seq_request_seconds_bucket" in text and "seq2seq_batch_items_count" in text
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/v1/translate",
        "/v1/transcribe",
        "/v1/speech-translate",
        "/health",
        "/metrics",
    } <= set(paths)
    schema = client.get("/openapi.json").json()
    sentences = schema["components"]["schemas"]["TranslateRequest"]["properties"]["sentences"]
    assert sentences["maxItems"] == 4 and sentences["items"]["maxLength"] == 200  # the Limits
    for path, name in [
        ("/v1/transcribe", "beam_size"),
        ("/v1/speech-translate", "translate_beam_size"),
    ]:
        parameters = {p["name"]: p for p in schema["paths"][path]["post"]["parameters"]}
        assert parameters[name]["schema"]["maximum"] == Limits().max_beam_size
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # nothing from elsewhere
    assert client.get("/static/app.js").status_code == 200


BAD_TRANSLATE = [
    # (what, body or raw bytes, content type, status, error type)
    ("bad JSON", b'{"sentences": [', "application/json", 400, "bad_json"),
    ("not JSON", b"El rey", "text/plain", 415, "unsupported_media_type"),
    ("sentences not a list", {"sentences": "El rey"}, None, 422, "invalid_request"),
    ("a sentence not a string", {"sentences": [42]}, None, 422, "invalid_request"),
    (
        "beam size not a number",
        {"sentences": ["a"], "beam_size": "5"},
        None,
        422,
        "invalid_request",
    ),
    ("no sentences", {"sentences": []}, None, 422, "empty_input"),
    ("a blank sentence", {"sentences": ["El rey.", "  "]}, None, 422, "empty_input"),
    ("too many sentences", {"sentences": ["a"] * 5}, None, 413, "too_many_sentences"),
    ("a sentence too long", {"sentences": ["a" * 201]}, None, 413, "sentence_too_long"),
    ("beam size 0", {"sentences": ["a"], "beam_size": 0}, None, 422, "invalid_request"),
    ("beam too wide", {"sentences": ["a"], "beam_size": 17}, None, 422, "invalid_request"),
    ("n-best over the beam", {"sentences": ["a"], "n_best": 2}, None, 422, "invalid_request"),
    ("an unknown field", {"sentences": ["a"], "path": "/etc/passwd"}, None, 422, "invalid_request"),
    ("no body", b"", "application/json", 422, "invalid_request"),
]


@pytest.mark.parametrize("what, body, kind, status, error", BAD_TRANSLATE)
def test_bad_translate_requests_get_a_json_error(client, what, body, kind, status, error):
    if isinstance(body, bytes):
        response = client.post("/v1/translate", content=body, headers={"Content-Type": kind})
    else:
        response = client.post("/v1/translate", json=body)
    _error(response, status, error)


def test_bad_audio_gets_a_json_error(client, wav, tmp_path):
    post = client.post
    _error(post("/v1/transcribe", json={"path": "/etc/passwd"}), 415, "unsupported_media_type")
    _error(
        post("/v1/transcribe", content=b"", headers={"Content-Type": "audio/wav"}),
        422,
        "empty_input",
    )
    garbage = post(
        "/v1/transcribe", content=b"RIFF....garbage", headers={"Content-Type": "audio/wav"}
    )
    assert "cannot read audio" in _error(garbage, 422, "bad_audio")
    truncated = post(
        "/v1/transcribe", content=wav[: len(wav) // 2], headers={"Content-Type": "audio/wav"}
    )
    assert "truncated" in _error(truncated, 422, "bad_audio")
    long = io.BytesIO()
    sf.write(long, np.zeros(16000 * 31, np.float32), 16000, format="WAV")
    message = _error(
        post("/v1/transcribe", files={"audio": ("long.wav", long.getvalue())}), 413, "too_long"
    )
    assert "31.0 s" in message
    no_file = post("/v1/transcribe", files={"note": (None, "no file here")})  # a text field
    _error(no_file, 422, "empty_input")
    huge = b"\0" * (1024 * 1024 + 1)
    _error(
        post("/v1/transcribe", content=huge, headers={"Content-Type": "audio/wav"}),
        413,
        "too_large",
    )
    _error(
        post("/v1/transcribe?beam_size=0", content=wav, headers={"Content-Type": "audio/wav"}),
        422,
        "invalid_request",
    )


def test_silence_is_an_empty_transcript_not_an_error(client):
    silence = io.BytesIO()
    sf.write(silence, np.zeros(16000 * 2, np.float32), 16000, format="WAV")
    response = client.post(
        "/v1/transcribe", content=silence.getvalue(), headers={"Content-Type": "audio/wav"}
    )
    assert response.status_code == 200
    assert response.json()["text"] == "" and response.json()["segments"] == []


def test_speech_translate_chains_the_two_models(
    translation_run, talkative_spanish_run, spanish_speech
):
    from pipelines.serving.services import SpeechService, TranslationService

    services = TranslationService(translation_run), SpeechService(talkative_spanish_run)
    verse = (spanish_speech / "test_verses.jsonl").read_text().splitlines()[0]
    audio = (spanish_speech / json.loads(verse)["audio_filepath"]).read_bytes()
    with TestClient(create_app(*services)) as client:
        assert client.get("/health").json()["models"]["speech_translate"] == {"language": "es"}
        upload = {"audio": ("verse.wav", audio, "audio/wav")}
        body = client.post("/v1/speech-translate", files=upload, params={"beam_size": 2}).json()
        transcript = client.post("/v1/transcribe", files=upload, params={"beam_size": 2}).json()
        assert body["transcript"] == transcript["text"] != ""
        texts = [s["text"] for s in body["segments"] if s["text"]]
        expected = client.post("/v1/translate", json={"sentences": texts}).json()["translations"]
        assert [s["translation"] for s in body["segments"] if s["text"]] == expected
        assert body["translation"] == " ".join(expected)
        assert body["settings"]["beam_size"] == 2 and body["settings"]["translate_beam_size"] == 1
        assert body["model"] == {
            "transcribe": str(talkative_spanish_run),
            "translate": str(translation_run),
        }
        wide = client.post("/v1/speech-translate", files=upload, params={"translate_beam_size": 99})
        _error(wide, 422, "invalid_request")
        _error(
            client.post(
                "/v1/speech-translate", content=b"RIFF", headers={"Content-Type": "audio/wav"}
            ),
            422,
            "bad_audio",
        )


def test_speech_translate_needs_models_that_chain(client, services):
    assert client.get("/health").json()["models"]["speech_translate"] is None
    response = client.post(
        "/v1/speech-translate", content=b"RIFF", headers={"Content-Type": "audio/wav"}
    )
    assert "speech model writes en and the translation model reads es" in _error(
        response, 503, "no_model"
    )
    with TestClient(create_app(services[0], None)) as alone:
        response = alone.post(
            "/v1/speech-translate", content=b"RIFF", headers={"Content-Type": "audio/wav"}
        )
        assert "needs a transcribe and a translate model" in _error(response, 503, "no_model")


def test_routes_and_methods(client):
    _error(client.get("/v1/nothing"), 404, "not_found")
    _error(client.get("/v1/translate"), 405, "method_not_allowed")
    _error(client.get("/static/../../../etc/passwd"), 404, "not_found")


def test_a_server_without_a_model_says_so(services):
    with TestClient(create_app(services[0], None)) as client:
        response = client.post(
            "/v1/transcribe", content=b"RIFF", headers={"Content-Type": "audio/wav"}
        )
        _error(response, 503, "no_model")
        assert client.get("/health").json()["models"]["transcribe"] is None


def test_a_token_guards_every_v1_route(services, wav):
    with TestClient(create_app(*services, token="s3cret")) as client:
        body = {"sentences": ["El rey ve la casa."]}
        _error(client.post("/v1/translate", json=body), 401, "unauthorized")
        wrong = {"Authorization": "Bearer nope"}
        _error(client.post("/v1/translate", json=body, headers=wrong), 401, "unauthorized")
        audio = {"Content-Type": "audio/wav"}
        _error(client.post("/v1/transcribe", content=wav, headers=audio), 401, "unauthorized")
        right = {"Authorization": "Bearer s3cret"}
        assert client.post("/v1/translate", json=body, headers=right).status_code == 200
        assert (
            client.post("/v1/transcribe", content=wav, headers={**audio, **right}).status_code
            == 200
        )
        assert client.get("/health").status_code == 200  # not a /v1/ route


class Slow:
    """A translation service whose calls take `delay` seconds, failing on "boom"."""

    kind, has_n_best, path = "translate", False, "slow"

    def __init__(self, delay):
        self.delay = delay

    def info(self):
        return {"path": "slow"}

    def run(self, key, sentences):
        time.sleep(self.delay)
        if "boom" in sentences:
            raise RuntimeError("the decoder broke")
        return [s.upper() for s in sentences]


def test_a_slow_request_times_out_and_the_server_goes_on():
    with TestClient(create_app(Slow(0.5), None, Limits(timeout=0.1))) as client:
        message = _error(client.post("/v1/translate", json={"sentences": ["a"]}), 504, "timeout")
        assert "0.1 s" in message
        assert client.get("/health").status_code == 200


def test_a_decoding_error_fails_only_its_request():
    with TestClient(create_app(Slow(0.0), None)) as client:
        _error(client.post("/v1/translate", json={"sentences": ["boom"]}), 500, "internal_error")
        assert client.post("/v1/translate", json={"sentences": ["ok"]}).json()["translations"] == [
            "OK"
        ]


def test_batching_off_still_answers(services):
    with TestClient(create_app(services[0], None, batching=Batching(enabled=False))) as client:
        body = {"sentences": ["El rey ve la casa verde."]}
        assert client.post("/v1/translate", json=body).json()["translations"] == [
            "The king sees the green house."
        ]
        assert json.loads(client.get("/health").text)["batching"]["enabled"] is False


def test_exported_models_serve_the_same_answers(
    services, translation_run, talkative_speech_run, tmp_path, wav
):
    """The server takes exported SavedModels as well as run directories: same translations,
    same transcript text; an export has no n-best lists, and says so."""
    from pipelines.export import export_recognizer, export_translator
    from pipelines.serving.services import SpeechService, TranslationService

    translator = TranslationService(export_translator(translation_run, tmp_path / "translator"))
    recognizer = SpeechService(export_recognizer(talkative_speech_run, tmp_path / "recognizer"))
    body = {"sentences": ["El rey ve la casa verde.", "La niña tiene el pan."]}
    audio = {"Content-Type": "audio/wav"}
    with (
        TestClient(create_app(*services)) as runs,
        TestClient(create_app(translator, recognizer)) as exports,
    ):
        assert exports.get("/health").json()["models"]["translate"]["kind"] == "export"
        for beam in (1, 3):
            request = {**body, "beam_size": beam}
            ours = exports.post("/v1/translate", json=request).json()["translations"]
            assert ours == runs.post("/v1/translate", json=request).json()["translations"]
        _error(
            exports.post("/v1/translate", json={**body, "beam_size": 3, "n_best": 2}),
            422,
            "invalid_request",
        )
        ours = exports.post("/v1/transcribe", content=wav, headers=audio).json()
        theirs = runs.post("/v1/transcribe", content=wav, headers=audio).json()
        assert ours["text"] == theirs["text"] and ours["text"]
