// The server's page: translate, and transcribe an uploaded or recorded clip with the words
// highlighted as the audio plays, or translate it into English segment by segment (the
// transcript beside each translation). Plain browser JavaScript, no build step, no external
// files.
"use strict";

const $ = (id) => document.getElementById(id);
const LOW_CONFIDENCE = 0.5; // words under it are underlined

function headers(extra) {
  const h = Object.assign({}, extra || {});
  const token = $("token").value.trim();
  if (token) h["Authorization"] = "Bearer " + token;
  return h;
}

function status(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function call(url, options) {
  const response = await fetch(url, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = body.error ? body.error.message : response.statusText;
    throw new Error(response.status + ": " + message);
  }
  return body;
}

async function loadHealth() {
  try {
    const health = await call("/health");
    const names = Object.entries(health.models)
      .filter(([, info]) => info)
      .map(([kind, info]) => kind + ": " + info.path);
    $("models").textContent = names.join(" · ") || "no models loaded";
    $("translate").disabled = !health.models.translate;
    $("transcribe").disabled = $("record").disabled = !health.models.transcribe;
    const chain = health.models.speech_translate;
    $("speech-translate-mode").disabled = !chain;
    $("speech-language").textContent = chain ? chain.language : "no model for";
  } catch (err) {
    $("models").textContent = "health check failed: " + err.message;
  }
}

async function translate() {
  const sentences = $("source").value.split("\n").map((s) => s.trim()).filter(Boolean);
  if (!sentences.length) return status("type a sentence first", true);
  const beam = Number(document.querySelector("input[name=search]:checked").value);
  status("translating…");
  $("translate").disabled = true;
  const start = performance.now();
  try {
    const result = await call("/v1/translate", {
      method: "POST",
      headers: headers({ "Content-Type": "application/json" }),
      body: JSON.stringify({ sentences: sentences, beam_size: beam }),
    });
    $("translation").textContent = result.translations.join("\n");
    status(`translated ${sentences.length} sentence(s) in ${Math.round(performance.now() - start)} ms`);
  } catch (err) {
    $("translation").textContent = "";
    status("translation failed: " + err.message, true);
  } finally {
    $("translate").disabled = false;
  }
}

let words = [];

function showTranscript(result) {
  const box = $("transcript");
  box.textContent = "";
  words = [];
  for (const segment of result.segments) {
    for (const word of segment.words) {
      const span = document.createElement("span");
      span.className = "word" + (word.confidence < LOW_CONFIDENCE ? " low" : "");
      span.textContent = word.word;
      span.title = `${word.start.toFixed(2)}–${word.end.toFixed(2)} s, confidence ${word.confidence.toFixed(2)}`;
      span.dataset.start = word.start;
      span.dataset.end = word.end;
      span.addEventListener("click", () => {
        $("player").currentTime = word.start;
        $("player").play();
      });
      box.appendChild(span);
      box.appendChild(document.createTextNode(" "));
      words.push(span);
    }
  }
  if (!words.length) box.textContent = result.text || "(no speech heard)";
}

function highlight() {
  const now = $("player").currentTime;
  for (const span of words) {
    const on = now >= Number(span.dataset.start) && now < Number(span.dataset.end);
    span.classList.toggle("current", on);
  }
}

function showSpeechTranslation(result) {
  const rows = $("speech-translation").querySelector("tbody");
  rows.textContent = "";
  for (const segment of result.segments) {
    if (!segment.text) continue;
    const row = rows.insertRow();
    row.insertCell().textContent = `${segment.start.toFixed(1)}–${segment.end.toFixed(1)} s`;
    row.insertCell().textContent = segment.text;
    row.insertCell().textContent = segment.translation;
    row.cells[0].className = "time";
    row.addEventListener("click", () => {
      $("player").currentTime = segment.start;
      $("player").play();
    });
  }
  $("transcript").textContent = rows.rows.length ? "" : "(no speech heard)";
}

async function transcribeBlob(blob, name) {
  const translating = document.querySelector("input[name=audio-mode]:checked").value === "speech-translate";
  status((translating ? "translating " : "transcribing ") + name + "…");
  $("player").src = URL.createObjectURL(blob);
  $("speech-translation").hidden = !translating;
  const form = new FormData();
  form.append("audio", blob, name);
  const start = performance.now();
  try {
    const url = translating ? "/v1/speech-translate" : "/v1/transcribe";
    const result = await call(url, { method: "POST", headers: headers(), body: form });
    if (translating) showSpeechTranslation(result);
    else showTranscript(result);
    const done = translating ? "translated" : "transcribed";
    status(`${result.duration.toFixed(1)} s of audio ${done} in ${Math.round(performance.now() - start)} ms`);
  } catch (err) {
    $("transcript").textContent = "";
    status((translating ? "translation" : "transcription") + " failed: " + err.message, true);
  }
}

function transcribeFile() {
  const file = $("audio-file").files[0];
  if (!file) return status("choose an audio file first", true);
  transcribeBlob(file, file.name);
}

// Recording: the microphone's samples, encoded as a 16-bit WAV here (the server reads WAV;
// the browser's own recorder writes WebM, which it does not).
let recorder = null;

async function toggleRecording() {
  if (recorder) return recorder.stop();
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (err) {
    return status("no microphone: " + err.message, true);
  }
  const context = new AudioContext();
  const source = context.createMediaStreamSource(stream);
  const node = context.createScriptProcessor(4096, 1, 1);
  const chunks = [];
  node.onaudioprocess = (event) => chunks.push(new Float32Array(event.inputBuffer.getChannelData(0)));
  source.connect(node);
  node.connect(context.destination);
  $("record").textContent = "Stop";
  $("record").classList.add("recording");
  status("recording… press Stop to transcribe");
  recorder = {
    stop() {
      node.disconnect();
      source.disconnect();
      stream.getTracks().forEach((t) => t.stop());
      context.close();
      recorder = null;
      $("record").textContent = "Record";
      $("record").classList.remove("recording");
      transcribeBlob(wav(chunks, context.sampleRate), "recording.wav");
    },
  };
}

function wav(chunks, rate) {
  const length = chunks.reduce((n, c) => n + c.length, 0);
  const buffer = new ArrayBuffer(44 + 2 * length);
  const view = new DataView(buffer);
  const text = (offset, s) => [...s].forEach((ch, i) => view.setUint8(offset + i, ch.charCodeAt(0)));
  text(0, "RIFF");
  view.setUint32(4, 36 + 2 * length, true);
  text(8, "WAVEfmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, rate, true);
  view.setUint32(28, 2 * rate, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  text(36, "data");
  view.setUint32(40, 2 * length, true);
  let offset = 44;
  for (const chunk of chunks) {
    for (const sample of chunk) {
      view.setInt16(offset, Math.max(-1, Math.min(1, sample)) * 0x7fff, true);
      offset += 2;
    }
  }
  return new Blob([view], { type: "audio/wav" });
}

$("translate").addEventListener("click", translate);
$("transcribe").addEventListener("click", transcribeFile);
$("record").addEventListener("click", toggleRecording);
$("player").addEventListener("timeupdate", highlight);
loadHealth();
