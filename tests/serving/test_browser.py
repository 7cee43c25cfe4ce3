"""The server's web page in a real headless browser (Debian's chromium, driven by Selenium and
chromium-driver): translate a typed sentence, transcribe an uploaded WAV with its words
highlighted as the audio plays, no console errors. The screenshot is kept in
$TEST_ARTIFACTS (default test-artifacts/)."""

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def server(translation_run, talkative_speech_run):
    from pipelines.serving.services import SpeechService, TranslationService

    yield from _serve(TranslationService(translation_run), SpeechService(talkative_speech_run))


def _serve(translation, speech):
    """Serves the two services on a free local port; yields the server's address."""
    import uvicorn

    from pipelines.serving.app import create_app

    app = create_app(translation, speech)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert CHROMIUM and DRIVER, "make test-deps installs chromium and chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--mute-audio"):
        options.add_argument(flag)
    # A fake microphone (a beeping tone), allowed without asking: the Record button's path.
    options.add_argument("--use-fake-device-for-media-stream")
    options.add_argument("--use-fake-ui-for-media-stream")
    options.add_argument("--window-size=1100,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    yield driver
    driver.quit()


def _wait(condition, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("the page did not get there in time")


def test_the_page_translates_and_transcribes(server, browser, tiny_speech):
    from selenium.webdriver.common.by import By

    browser.get(server + "/")
    find = browser.find_element
    _wait(lambda: "translate:" in find(By.ID, "models").text)
    source = find(By.ID, "source")
    source.clear()
    source.send_keys("El rey ve la casa verde.")
    find(By.ID, "beam").click()  # beam search
    find(By.ID, "translate").click()
    translation = _wait(lambda: find(By.ID, "translation").text)
    assert translation == "The king sees the green house."

    wav = tiny_speech / "wavs/test/test-000000.wav"
    find(By.ID, "audio-file").send_keys(str(wav))
    find(By.ID, "transcribe").click()
    spans = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#transcript .word"))
    import httpx2

    expected = httpx2.post(
        server + "/v1/transcribe", content=wav.read_bytes(), headers={"Content-Type": "audio/wav"}
    ).json()
    words = [w for s in expected["segments"] for w in s["words"]]
    assert [s.text for s in spans] == [w["word"] for w in words]
    # The word under the playhead is highlighted.
    middle = (words[1]["start"] + words[1]["end"]) / 2
    browser.execute_script(
        "const p = document.getElementById('player');"
        "p.currentTime = arguments[0]; p.dispatchEvent(new Event('timeupdate'));",
        middle,
    )
    current = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#transcript .word.current"))
    assert [s.text for s in current] == [words[1]["word"]]

    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe
    artifacts = Path(os.environ.get("TEST_ARTIFACTS", "test-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(artifacts / "server_page.png"))
    assert (artifacts / "server_page.png").stat().st_size > 10_000


def test_an_error_is_shown_not_thrown(server, browser):
    from selenium.webdriver.common.by import By

    browser.get(server + "/")
    _wait(lambda: "translate:" in browser.find_element(By.ID, "models").text)
    browser.find_element(By.ID, "token").send_keys("not-needed-here")  # ignored without one
    source = browser.find_element(By.ID, "source")
    source.clear()
    source.send_keys("a" * 1001)  # over the server's 1000 characters
    browser.find_element(By.ID, "translate").click()
    status = _wait(
        lambda: (
            browser.find_element(By.ID, "status").text
            if "413" in browser.find_element(By.ID, "status").text
            else None
        )
    )
    assert "characters" in status
    severe = [
        e
        for e in browser.get_log("browser")
        if e["level"] == "SEVERE" and "413" not in e["message"]  # the failed fetch itself
    ]
    assert not severe, severe


def test_recording_from_the_microphone_sends_a_wav(server, browser):
    """Record, then Stop: the page encodes the microphone's samples as a WAV, uploads it and
    shows the transcript of that many seconds of audio (the fake microphone beeps)."""
    from selenium.webdriver.common.by import By

    browser.get(server + "/")
    find = browser.find_element
    _wait(lambda: "transcribe:" in find(By.ID, "models").text)
    find(By.ID, "record").click()
    _wait(lambda: find(By.ID, "record").text == "Stop")
    time.sleep(1.5)
    find(By.ID, "record").click()
    status = _wait(
        lambda: "transcribed" in find(By.ID, "status").text and find(By.ID, "status").text
    )
    seconds = float(status.split(" s of audio")[0])
    assert 1.0 <= seconds <= 5.0, status
    assert find(By.ID, "player").get_attribute("src").startswith("blob:")
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe


def test_the_page_transcribes_a_real_recording(server, browser):
    """A human recording (alsa-utils' "Front left", 48 kHz) uploaded through the page: it is
    resampled, transcribed and shown, not refused."""
    from selenium.webdriver.common.by import By

    real = Path("/usr/share/sounds/alsa/Front_Left.wav")
    assert real.exists(), "make test-deps installs alsa-utils"
    browser.get(server + "/")
    find = browser.find_element
    _wait(lambda: "transcribe:" in find(By.ID, "models").text)
    find(By.ID, "audio-file").send_keys(str(real))
    find(By.ID, "transcribe").click()
    spans = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#transcript .word"))
    assert "".join(s.text for s in spans).strip()
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe


@pytest.fixture(scope="module")
def chain_server(translation_run, talkative_spanish_run):
    """A server whose speech model is Spanish: the page's speech-translate mode works."""
    from pipelines.serving.services import SpeechService, TranslationService

    yield from _serve(TranslationService(translation_run), SpeechService(talkative_spanish_run))


def test_the_page_translates_spanish_speech(chain_server, browser, spanish_speech):
    """Translate mode: a Spanish verse uploaded, a row per segment with its time, the
    transcript heard and the English translation, as /v1/speech-translate answers."""
    import json

    import httpx2
    from selenium.webdriver.common.by import By

    browser.get(chain_server + "/")
    find = browser.find_element
    _wait(lambda: find(By.ID, "speech-language").text == "es")
    assert find(By.ID, "speech-translate-mode").is_enabled()
    find(By.ID, "speech-translate-mode").click()
    verse = json.loads((spanish_speech / "test_verses.jsonl").read_text().splitlines()[0])
    wav = spanish_speech / verse["audio_filepath"]
    find(By.ID, "audio-file").send_keys(str(wav))
    find(By.ID, "transcribe").click()
    rows = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#speech-translation tbody tr"))
    expected = httpx2.post(
        chain_server + "/v1/speech-translate",
        content=wav.read_bytes(),
        headers={"Content-Type": "audio/wav"},
    ).json()
    spoken = [s for s in expected["segments"] if s["text"]]
    shown = [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in rows]
    assert [row[1:] for row in shown] == [[s["text"], s["translation"]] for s in spoken]
    assert shown[0][0] == f"{spoken[0]['start']:.1f}–{spoken[0]['end']:.1f} s"
    assert "translated in" in find(By.ID, "status").text
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe
