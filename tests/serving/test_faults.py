"""The server as a process (`python -m pipelines.serve`): SIGTERM with a request in flight
(it completes), a client that disconnects mid-upload, a bearer token from the environment."""

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf

pytestmark = pytest.mark.slow


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def serve(translation_run, talkative_speech_run):
    processes = []

    def start(*args, env=None):
        port = _free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "pipelines.serve", "--port", str(port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        import httpx2

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read()[-3000:]
            try:
                if httpx2.get(url + "/health", timeout=1).status_code == 200:
                    return process, url
            except httpx2.TransportError:
                time.sleep(0.2)
        raise AssertionError("the server did not start")

    yield start, translation_run, talkative_speech_run
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def _speech(tiny_speech, seconds):
    """A WAV of the tiny test utterances repeated to about `seconds`."""
    pieces, total = [], 0
    paths = sorted((tiny_speech / "wavs/test").glob("*.wav"))
    while total < seconds * 16000:
        for path in paths:
            audio, _ = sf.read(path, dtype="float32")
            pieces += [audio, np.zeros(8000, np.float32)]
            total += len(audio) + 8000
    out = io.BytesIO()
    sf.write(out, np.concatenate(pieces), 16000, format="WAV")
    return out.getvalue()


def test_sigterm_finishes_the_request_in_flight(serve, tiny_speech):
    import httpx2

    start, translation_run, speech_run = serve
    process, url = start("--asr", str(speech_run))
    audio = _speech(tiny_speech, 30)  # a beam search of many segments: seconds of work
    result = {}

    def request():
        response = httpx2.post(
            url + "/v1/transcribe?beam_size=16",
            content=audio,
            headers={"Content-Type": "audio/wav"},
            timeout=120,
        )
        result["status"], result["body"] = response.status_code, response.json()

    thread = threading.Thread(target=request)
    thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until the request is being answered
        metrics = httpx2.get(url + "/metrics").text
        if "seq2seq_requests_in_flight 1.0" in metrics:
            break
        time.sleep(0.02)
    else:
        raise AssertionError("the request never got in flight")
    process.send_signal(signal.SIGTERM)
    thread.join(120)
    assert result["status"] == 200 and result["body"]["text"]
    assert result["body"]["duration"] > 25
    assert process.wait(60) == 0
    assert "Traceback" not in process.stderr.read()


def test_a_client_leaving_mid_upload_does_not_hurt_the_server(serve, tiny_speech):
    import httpx2

    start, translation_run, speech_run = serve
    process, url = start("--translate", str(translation_run), "--asr", str(speech_run))
    port = int(url.rsplit(":", 1)[1])
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", port)) as raw:
            raw.sendall(
                b"POST /v1/transcribe HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\n"
                b"Content-Length: 1000000\r\n\r\n" + b"RIFF" + b"\0" * 5000
            )
        # The connection closes with 995,000 bytes missing.
    wav = (tiny_speech / "wavs/test/test-000000.wav").read_bytes()
    response = httpx2.post(
        url + "/v1/transcribe", content=wav, headers={"Content-Type": "audio/wav"}, timeout=60
    )
    assert response.status_code == 200 and response.json()["text"]
    health = httpx2.get(url + "/health").json()
    assert health["models"]["translate"] and health["models"]["transcribe"]
    assert process.poll() is None


def test_the_token_can_come_from_the_environment(serve):
    import httpx2

    start, translation_run, _ = serve
    process, url = start("--translate", str(translation_run), env={"SEQ2SEQ_TOKEN": "t0ken"})
    body = {"sentences": ["El rey ve la casa verde."]}
    assert httpx2.post(url + "/v1/translate", json=body).status_code == 401
    ok = httpx2.post(url + "/v1/translate", json=body, headers={"Authorization": "Bearer t0ken"})
    assert ok.json()["translations"] == ["The king sees the green house."]
    assert httpx2.get(url + "/health").json()["auth"] is True
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0
    out = process.stdout.read()
    assert out.startswith(f"serving on {url}/")
    # Quiet by default: no TensorFlow start-up notices on stderr.
    assert "oneDNN" not in process.stderr.read()
