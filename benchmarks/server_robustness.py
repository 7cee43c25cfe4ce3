"""The model server under generated and sustained load, on localhost only.

    python -m benchmarks.server_robustness fuzz --translate RUN --asr RUN [--examples 200]
    python -m benchmarks.server_robustness soak --translate RUN --asr RUN [--minutes 10]
        [--clients 8] [--test-pairs data/bible/test.tsv] [--manifest data/speech_es/test.jsonl]

fuzz: schemathesis generates requests for every route of the server's own OpenAPI schema
(valid and invalid: its examples, coverage and fuzzing phases, `--examples` per route and
phase, seeded) and checks that none gets a 5xx answer; the server's own Prometheus counters
then say how many requests it answered, by status, and /health must still answer.

soak: `--clients` concurrent clients, each sending requests back to back for `--minutes`,
mixing every route (translate, transcribe, speech-translate when the speech model is of the
translator's source language, health, and one malformed request in ten); the server's
resident memory is sampled every 5 s. Passes when no request is lost (each gets an answer),
every valid request gets 200 and every malformed one a 4xx, and the memory after the
`--warmup-minutes` stays within 10% of its value then.

Each writes benchmarks/results/server_<fuzz|soak>-cpu<N>-<date>.json (`--out` to change).
"""

import argparse
import asyncio
import datetime
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.serve_load import start_server

MEMORY_GROWTH_LIMIT = 0.10  # the soak's memory may grow this much after the warm-up


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.server_robustness", description=__doc__.split("\n\n")[0]
    )
    modes = parser.add_subparsers(dest="mode", required=True)
    for mode in ("fuzz", "soak"):
        sub = modes.add_parser(mode, help=f"the {mode} test (see the module's docstring)")
        sub.add_argument("--translate", required=True, help="a translation run or export")
        sub.add_argument("--asr", required=True, help="a speech run or export")
        sub.add_argument("--out", default=None, help="the JSON file to write")
    fuzz, soak = modes.choices["fuzz"], modes.choices["soak"]
    fuzz.add_argument("--examples", type=int, default=200, help="per route and phase")
    fuzz.add_argument("--seed", type=int, default=0)
    soak.add_argument("--minutes", type=float, default=10.0)
    soak.add_argument("--warmup-minutes", type=float, default=2.0)
    soak.add_argument("--clients", type=int, default=8)
    soak.add_argument("--test-pairs", default="data/bible/test.tsv", help="sentences to send")
    soak.add_argument("--manifest", default="data/speech_es/test.jsonl", help="recordings to send")
    return parser


def _counts(url) -> Counter:
    """The server's answered requests by (route, status), from its /metrics."""
    import httpx2

    counts = Counter()
    for line in httpx2.get(url + "/metrics", timeout=30).text.splitlines():
        if line.startswith("seq2seq_requests_total{"):
            labels, value = line[len("seq2seq_requests_total{") :].split("} ")
            fields = dict(item.split("=", 1) for item in labels.split(","))
            counts[fields["route"].strip('"'), fields["status"].strip('"')] += int(float(value))
    return counts


def fuzz(args, url) -> dict:
    before = _counts(url)
    with tempfile.TemporaryDirectory() as folder:
        command = [
            *(sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json"),
            *("--checks", "not_a_server_error", "--max-examples", str(args.examples)),
            *("--seed", str(args.seed), "--workers", "1", "--mode", "all"),
            *("--phases", "examples,coverage,fuzzing", "--suppress-health-check", "all"),
            *("--request-timeout", "120", "--report-dir", folder),
        ]
        started = time.perf_counter()
        # in the temporary folder: schemathesis keeps a cache folder where it runs
        done = subprocess.run(command, capture_output=True, text=True, cwd=folder)
        seconds = time.perf_counter() - started
    answered = _counts(url) - before
    import httpx2

    alive = httpx2.get(url + "/health", timeout=30).status_code == 200
    statuses = Counter()
    for (_, status), n in answered.items():
        statuses[status] += n
    server_errors = sum(n for status, n in statuses.items() if status.startswith("5"))
    by_route = Counter()
    for (route, _), n in answered.items():
        by_route[route] += n
    return {
        "requests": sum(answered.values()),
        "by_status": dict(sorted(statuses.items())),
        "by_route": dict(sorted(by_route.items())),
        "server_errors": server_errors,
        "schemathesis_exit_code": done.returncode,
        "schemathesis_summary": done.stdout[-2500:],
        "still_answering": alive,
        "seconds": round(seconds, 1),
        "passed": server_errors == 0 and alive and done.returncode == 0,
    }


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _requests(args, chain: bool):
    """The soak's request makers: (kind, valid, coroutine factory(session, rng))."""
    sources = [line.split("\t")[0] for line in Path(args.test_pairs).read_text().splitlines()]
    entries = [json.loads(line) for line in Path(args.manifest).read_text().splitlines() if line]
    folder = Path(args.manifest).parent
    clips = [(folder / e["audio_filepath"]).read_bytes() for e in entries[:64]]
    audio = {"Content-Type": "audio/wav"}

    def translate(session, rng):
        return session.post("/v1/translate", json={"sentences": rng.sample(sources, 2)})

    def transcribe(session, rng):
        return session.post("/v1/transcribe", content=rng.choice(clips), headers=audio)

    def speech_translate(session, rng):
        return session.post("/v1/speech-translate", content=rng.choice(clips), headers=audio)

    def health(session, rng):
        return session.get("/health")

    def malformed(session, rng):
        bad = rng.choice([b'{"sentences": [', b"RIFF\x00\x00garbage"])
        route = "/v1/translate" if bad.startswith(b"{") else "/v1/transcribe"
        kind = "application/json" if bad.startswith(b"{") else "audio/wav"
        return session.post(route, content=bad, headers={"Content-Type": kind})

    makers = [("translate", True, translate), ("transcribe", True, transcribe)]
    makers += [("speech-translate", True, speech_translate)] if chain else []
    return makers + [("health", True, health), ("malformed", False, malformed)]


async def _soak(args, url, pid) -> dict:
    import httpx2

    health = httpx2.get(url + "/health", timeout=30).json()
    makers = _requests(args, chain=health["models"].get("speech_translate") is not None)
    outcomes, memory = Counter(), []
    started = time.monotonic()
    end = started + args.minutes * 60
    limits = httpx2.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)

    async def client(number):
        rng = random.Random(number)
        async with httpx2.AsyncClient(base_url=url, timeout=300, limits=limits) as session:
            while time.monotonic() < end:
                if rng.random() < 0.1:
                    kind, valid, make = makers[-1]
                else:
                    kind, valid, make = rng.choice(makers[:-1])
                try:
                    response = await make(session, rng)
                    status = response.status_code
                except Exception as err:  # no answer: a lost request
                    outcomes[kind, f"lost: {type(err).__name__}"] += 1
                    continue
                expected = status == 200 if valid else 400 <= status < 500
                outcomes[kind, str(status) if expected else f"unexpected {status}"] += 1

    async def sample_memory():
        while time.monotonic() < end:
            memory.append((round(time.monotonic() - started, 1), round(_rss_mb(pid), 1)))
            await asyncio.sleep(5)

    await asyncio.gather(sample_memory(), *(client(i) for i in range(args.clients)))
    warm = [mb for t, mb in memory if t <= args.warmup_minutes * 60]
    after = [mb for t, mb in memory if t > args.warmup_minutes * 60]
    baseline = warm[-1] if warm else memory[0][1]
    growth = (max(after) - baseline) / baseline if after else 0.0
    bad = {f"{k} {s}": n for (k, s), n in outcomes.items() if "lost" in s or "unexpected" in s}
    return {
        "clients": args.clients,
        "minutes": args.minutes,
        "warmup_minutes": args.warmup_minutes,
        "requests": sum(outcomes.values()),
        "outcomes": {f"{k} {s}": n for (k, s), n in sorted(outcomes.items())},
        "lost_or_unexpected": bad,
        "memory_mb": {
            "after_warmup": baseline,
            "max_after_warmup": max(after) if after else baseline,
            "end": memory[-1][1],
            "growth_after_warmup": round(growth, 4),
            "samples": memory,
        },
        "passed": not bad and growth <= MEMORY_GROWTH_LIMIT,
    }


def main(argv=None):
    args = _parser().parse_args(argv)
    process, url = start_server(["--translate", args.translate, "--asr", args.asr])
    try:
        if args.mode == "fuzz":
            result = fuzz(args, url)
        else:
            result = asyncio.run(_soak(args, url, process.pid))
    finally:
        process.terminate()
        process.wait(60)
    cpus = os.cpu_count()
    name = f"server_{args.mode}-cpu{cpus}-{datetime.date.today()}.json"
    out = Path(args.out or Path("benchmarks/results") / name)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": f"server_{args.mode}",
        "machine": {"cpus": cpus, "processor": platform.processor()},
        "command": f"python -m benchmarks.server_robustness {' '.join(sys.argv[1:])}",
        "models": {"translate": args.translate, "asr": args.asr},
        "result": result,
    }
    out.write_text(json.dumps(record, indent=1) + "\n")
    summary = {k: v for k, v in result.items() if k not in ("memory_mb", "schemathesis_summary")}
    print(json.dumps(summary, indent=1))
    print(f"written: {out}")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
