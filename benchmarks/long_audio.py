"""Long recordings through `transcribe`: accuracy against per-utterance decoding, word-time
accuracy at known boundaries, real-time factor and peak memory by length, and hours of noise.

    python -m benchmarks.long_audio --run-dir runs/asr_voices [--manifest data/speech/test.jsonl]
        [--utterances 80] [--minutes 1 5 10 60] [--noise-hours 3] [--out FILE.json]

1. Accuracy: `--utterances` utterances of the manifest (trimmed of their own leading and
   trailing silence, top_db 40) joined by pauses of 0.4-1.2 s (seeded), except one stretch
   of 8 utterances joined with none (about 30 s, longer than a segment: it is cut into
   overlapping windows). The long-file WER (the whole transcript against the references joined) is
   compared with the WER of decoding each trimmed utterance alone, greedy, same model. Word
   times: for each utterance, the recognized words whose centre falls inside it; the first
   word's start and the last word's end against the utterance's known start and end.
2. Speed and memory: recordings of `--minutes` built the same way (utterances cycled),
   written to WAV and transcribed by a fresh process each (`--child`), which reports its wall
   time and the peak resident memory while it transcribes (VmHWM, reset through
   /proc/self/clear_refs once the model is loaded and has run; `ru_maxrss` of the whole process
   too).
3. Noise: `--noise-hours` of pink noise at -30 dBFS, the same way (bounded memory, finishes).
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import soundfile as sf

RATE = 16000
UNPAUSED = 8  # utterances joined with no pause (about 30 s: longer than a segment)


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.long_audio", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--run-dir", required=True, help="a trained speech run")
    parser.add_argument("--manifest", default="data/speech/test.jsonl")
    parser.add_argument("--utterances", type=int, default=80)
    parser.add_argument("--minutes", type=float, nargs="*", default=[1, 5, 10, 60])
    parser.add_argument("--noise-hours", type=float, default=3.0, help="0: skip")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="JSON path (default: benchmarks/results/)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    return parser


def _utterances(manifest, count, seed):
    import librosa

    from data_prep.speech.manifest import read_manifest

    entries = read_manifest(manifest)[:count]
    out = []
    for entry in entries:
        audio, _ = librosa.load(entry["audio_filepath"], sr=RATE)
        audio, _ = librosa.effects.trim(audio, top_db=40)
        out.append((audio.astype(np.float32), entry["text"]))
    return out


def _layout(count, rng, unpaused_at):
    """Pause before each utterance (seconds): 0.4-1.2, none inside the unpaused stretch."""
    pauses = rng.uniform(0.4, 1.2, count)
    pauses[unpaused_at + 1 : unpaused_at + UNPAUSED] = 0.0
    return pauses


def accuracy(recognizer, utterances, seed) -> dict:
    from data_prep.speech.transcripts import normalize_transcript
    from pipelines.reports.evaluation import score_transcripts
    from pipelines.tasks.asr.long_transcription import transcribe_long

    rng = np.random.default_rng(seed)
    pauses = _layout(len(utterances), rng, len(utterances) // 2)
    pieces, spans, position = [], [], 0
    for (audio, _), pause in zip(utterances, pauses, strict=True):
        gap = int(pause * RATE)
        pieces += [np.zeros(gap, np.float32), audio]
        spans.append(((position + gap) / RATE, (position + gap + len(audio)) / RATE))
        position += gap + len(audio)
    pieces.append(np.zeros(RATE, np.float32))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.wav"
        sf.write(path, np.concatenate(pieces), RATE)
        start = time.perf_counter()
        transcript = transcribe_long(recognizer, str(path))
        seconds = time.perf_counter() - start
    references = [normalize_transcript(text) for _, text in utterances]
    alone = recognizer.decode_features(
        [_features(recognizer, audio) for audio, _ in utterances], beam_size=1
    )
    long_wer = score_transcripts([" ".join(references)], [transcript.text])["wer"]
    alone_wer = score_transcripts([" ".join(references)], [" ".join(alone)])["wer"]
    starts, ends, right = [], [], []
    for (begin, end), reference in zip(spans, references, strict=True):
        words = [w for w in transcript.words if begin <= (w.start + w.end) / 2 <= end]
        if words:
            starts.append(words[0].start - begin)
            ends.append(words[-1].end - end)
            right += [
                words[0].word == reference.split()[0],
                words[-1].word == reference.split()[-1],
            ]
    errors = np.abs(np.array(starts + ends))
    right = np.array(right[0::2] + right[1::2])  # the order of starts + ends
    return {
        "utterances": len(utterances),
        "audio_minutes": round(position / RATE / 60, 2),
        "segments": len(transcript.segments),
        "windows_cut_without_pause": sum(
            1
            for a, b in zip(transcript.segments, transcript.segments[1:], strict=False)
            if a["end"] == b["start"]
        ),
        "wer_long_file": long_wer,
        "wer_each_utterance_alone": alone_wer,
        "wer_difference_points": round(long_wer - alone_wer, 2),
        "boundary_words": int(len(errors)),
        "boundary_within_0_15_s": round(float(np.mean(errors <= 0.15)), 4),
        "boundary_error_median_s": round(float(np.median(errors)), 3),
        "boundary_error_p90_s": round(float(np.percentile(errors, 90)), 3),
        "boundary_within_0_15_s_when_the_word_is_right": round(
            float(np.mean(errors[right] <= 0.15)), 4
        ),
        "boundary_words_right": int(right.sum()),
        "boundary_within_0_15_s_when_the_word_is_wrong": round(
            float(np.mean(errors[~right] <= 0.15)), 4
        ),
        "start_offset_median_s": round(float(np.median(starts)), 3),
        "end_offset_median_s": round(float(np.median(ends)), 3),
        "utterances_without_words": len(spans) - len(starts),
        "real_time_factor": round(seconds / (position / RATE), 5),
    }


def _features(recognizer, audio):
    from data_prep.speech.audio import compute_features

    return compute_features(audio, recognizer.config.features)


def _write_long(path, utterances, minutes, seed):
    """Cycles the utterances with pauses into a WAV of `minutes`, writing as it goes."""
    rng = np.random.default_rng(seed)
    total, written = int(minutes * 60 * RATE), 0
    with sf.SoundFile(path, "w", RATE, 1, "PCM_16") as out:
        while written < total:
            for i, pause in enumerate(_layout(len(utterances), rng, len(utterances) // 2)):
                chunk = np.concatenate([np.zeros(int(pause * RATE), np.float32), utterances[i][0]])
                chunk = chunk[: total - written]
                out.write(chunk)
                written += len(chunk)
                if written >= total:
                    break


def _write_noise(path, hours, seed):
    rng = np.random.default_rng(seed)
    total, written, block = int(hours * 3600 * RATE), 0, 60 * RATE
    with sf.SoundFile(path, "w", RATE, 1, "PCM_16") as out:
        while written < total:
            white = rng.standard_normal(block)
            pink = np.fft.irfft(np.fft.rfft(white) / np.sqrt(np.arange(1, block // 2 + 2)), block)
            pink *= 10 ** (-30 / 20) / (np.sqrt(np.mean(pink**2)) + 1e-12)
            out.write(pink[: total - written].astype(np.float32))
            written += min(block, total - written)


def _child(path, run_dir) -> dict:
    from pipelines.tasks.asr.long_transcription import transcribe_long
    from pipelines.tasks.asr.recognizer import Recognizer

    recognizer = Recognizer(run_dir)
    recognizer.waveform_log_probs([np.zeros(5 * RATE, np.float32)])  # traced, memory allocated
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    start = time.perf_counter()
    transcript = transcribe_long(recognizer, path)
    seconds = time.perf_counter() - start
    status = Path("/proc/self/status").read_text().splitlines()
    kb = {line.split(":")[0]: int(line.split()[1]) for line in status if line.startswith("Vm")}
    return {
        "audio_minutes": round(transcript.duration / 60, 2),
        "seconds": round(seconds, 2),
        "real_time_factor": round(seconds / transcript.duration, 5),
        "peak_rss_transcribing_mb": round(kb["VmHWM"] / 1024, 1),
        "rss_at_end_mb": round(kb["VmRSS"] / 1024, 1),
        "peak_rss_process_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_rss_before_transcribing_mb": round(baseline / 1024, 1),
        "segments": len(transcript.segments),
        "words": len(transcript.words),
    }


def _in_child(path, run_dir) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.long_audio", "--run-dir", run_dir, "--child", path],
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.run_dir)))
        return
    from pipelines.cli import start_tensorflow

    start_tensorflow()
    from pipelines.tasks.asr.recognizer import Recognizer

    recognizer = Recognizer(args.run_dir)
    utterances = _utterances(args.manifest, args.utterances, args.seed)
    results = {
        "benchmark": "long_audio",
        "run_dir": args.run_dir,
        "manifest": args.manifest,
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor()},
        "accuracy": accuracy(recognizer, utterances, args.seed),
    }
    print(json.dumps(results["accuracy"], indent=2), flush=True)
    results["by_length"] = []
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in args.minutes:
            path = str(Path(tmp) / f"long_{minutes:g}.wav")
            _write_long(path, utterances, minutes, args.seed)
            row = {"minutes": minutes, **_in_child(path, args.run_dir)}
            os.remove(path)
            print(json.dumps(row), flush=True)
            results["by_length"].append(row)
        if args.noise_hours:
            path = str(Path(tmp) / "noise.wav")
            _write_noise(path, args.noise_hours, args.seed)
            results["noise"] = {"hours": args.noise_hours, **_in_child(path, args.run_dir)}
            print(json.dumps(results["noise"]), flush=True)
    rows = {r["minutes"]: r for r in results["by_length"]}
    if 5 in rows and 60 in rows:
        results["peak_rss_60_over_5_minutes"] = round(
            rows[60]["peak_rss_transcribing_mb"] / rows[5]["peak_rss_transcribing_mb"], 3
        )
    out = Path(args.out or f"benchmarks/results/long_audio-cpu{os.cpu_count()}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
