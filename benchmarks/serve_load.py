"""Load test of the model server (`python -m pipelines.serve`), on localhost only.

    python -m benchmarks.serve_load --translate runs/bible_small [--asr runs/asr_voices]
        [--clients 1 8 32] [--requests 256] [--out FILE.json]

For each model, with dynamic batching on and off, a fresh server process is started; then for
each number of concurrent clients, the clients send `--requests` requests in all (each client
one at a time, back to back) and the benchmark records throughput (requests/s) and latency
percentiles (p50/p95/p99), and counts failed or lost requests. Translation requests carry one
test sentence each (greedy); speech requests one test utterance each (greedy). A warm-up of a
few requests per run is not timed. Writes `benchmarks/results/serve_load-cpu<N>-<date>.json`.
"""

import argparse
import asyncio
import datetime
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.serve_load", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--translate", default=None, help="a translation run or export")
    parser.add_argument("--asr", default=None, help="a speech run or export")
    parser.add_argument("--test-pairs", default="data/bible/test.tsv")
    parser.add_argument("--test-manifest", default="data/speech/test.jsonl")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--requests", type=int, default=256, help="requests per measurement")
    parser.add_argument("--out", default=None)
    return parser


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(model_flag, path, batching):
    arguments = [model_flag, path, "--max-sentences", "64"]
    return start_server(arguments + ([] if batching else ["--no-batching"]))


def start_server(arguments: list[str]):
    """(process, base URL) of `python -m pipelines.serve ARGUMENTS` on a free local port, once
    its /health answers. Its stderr goes to a temporary file (a pipe nobody reads would fill
    up and stall a long run), shown when it fails to start."""
    import httpx2

    port = _free_port()
    args = [sys.executable, "-m", "pipelines.serve", *arguments, "--port", str(port)]
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(log.read().decode(errors="replace")[-3000:])
        try:
            if httpx2.get(url + "/health", timeout=1).status_code == 200:
                return process, url
        except httpx2.TransportError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("the server did not start")


async def _load(url, make_request, clients, total):
    import httpx2

    latencies, failures = [], []
    next_index = 0
    limits = httpx2.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx2.AsyncClient(base_url=url, timeout=300, limits=limits) as session:

        async def client():
            nonlocal next_index
            while next_index < total:
                index = next_index
                next_index += 1
                start = time.perf_counter()
                try:
                    response = await make_request(session, index)
                    ok = response.status_code == 200
                except Exception as err:  # a lost request counts as a failure
                    ok, response = False, err
                latencies.append(time.perf_counter() - start)
                if not ok:
                    failures.append(str(getattr(response, "status_code", response)))

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        seconds = time.perf_counter() - start
    return latencies, failures, seconds


def _measure(url, make_request, clients, total) -> dict:
    asyncio.run(_load(url, make_request, 2, 4))  # warm-up: traces, caches
    latencies, failures, seconds = asyncio.run(_load(url, make_request, clients, total))
    ms = np.array(latencies) * 1000
    return {
        "clients": clients,
        "requests": total,
        "failed": len(failures),
        "failures": sorted(set(failures))[:5],
        "seconds": round(seconds, 2),
        "requests_per_second": round(total / seconds, 2),
        "latency_ms": {
            "p50": round(float(np.percentile(ms, 50)), 1),
            "p95": round(float(np.percentile(ms, 95)), 1),
            "p99": round(float(np.percentile(ms, 99)), 1),
        },
    }


def _translation_requests(path):
    sources = [line.split("\t")[0] for line in Path(path).read_text().splitlines() if line]

    async def request(session, index):
        body = {"sentences": [sources[index % len(sources)]]}
        return await session.post("/v1/translate", json=body)

    return request


def _speech_requests(manifest):
    entries = [json.loads(line) for line in Path(manifest).read_text().splitlines() if line]
    folder = Path(manifest).parent
    clips = [(folder / e["audio_filepath"]).read_bytes() for e in entries[:64]]

    async def request(session, index):
        headers = {"Content-Type": "audio/wav"}
        return await session.post(
            "/v1/transcribe", content=clips[index % len(clips)], headers=headers
        )

    return request


def main(argv=None):
    args = _parser().parse_args(argv)
    if not args.translate and not args.asr:
        raise SystemExit("give --translate RUN and/or --asr RUN")
    results = []
    plans = []
    if args.translate:
        plans.append(
            ("translate", "--translate", args.translate, _translation_requests(args.test_pairs))
        )
    if args.asr:
        plans.append(("transcribe", "--asr", args.asr, _speech_requests(args.test_manifest)))
    for kind, flag, path, make_request in plans:
        for batching in (True, False):
            process, url = _start(flag, path, batching)
            try:
                for clients in args.clients:
                    row = {"model": kind, "path": path, "batching": batching}
                    row |= _measure(url, make_request, clients, args.requests)
                    print(json.dumps(row), flush=True)
                    results.append(row)
            finally:
                process.terminate()
                process.wait(60)
    for kind, *_ in plans:
        for clients in args.clients:
            on, off = (
                next(
                    r
                    for r in results
                    if (r["model"], r["clients"], r["batching"]) == (kind, clients, b)
                )
                for b in (True, False)
            )
            print(
                f"{kind} {clients:>2} clients: {on['requests_per_second']:.1f} req/s batched, "
                f"{off['requests_per_second']:.1f} one at a time "
                f"({on['requests_per_second'] / off['requests_per_second']:.2f}x)"
            )
    cpus = os.cpu_count()
    out = Path(args.out or f"benchmarks/results/serve_load-cpu{cpus}-{datetime.date.today()}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "benchmark": "serve_load",
                "machine": {"cpus": cpus, "processor": platform.processor()},
                "command": "python -m benchmarks.serve_load " + " ".join(sys.argv[1:]),
                "results": results,
            },
            indent=1,
        )
    )
    print(f"written: {out}")


if __name__ == "__main__":
    main()
