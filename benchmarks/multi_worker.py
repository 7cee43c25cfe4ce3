"""Multi-worker scaling on one machine: N worker processes on localhost against one process.

    python -m benchmarks.multi_worker --task translate --config configs/translate/bible_small.yaml \
        --set train.epochs=1 [--workers 2] [--out DIR]

Starts the `train` command of the pipeline once with `--strategy default` and once as
`--workers` processes with `--strategy multi_worker` (each with its own TF_CONFIG on
localhost ports, CPU only), with the same config and so the same global batches. Reports
each run's training minutes (from `history.csv`), the losses, and the speed-up; prints one
JSON object and writes it to `OUT/multi_worker.json`. On one machine the workers share its
cores, so this shows the cost of the collective communication, not the gain of more
machines.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_local_workers(command: list[str], logs: list[Path]) -> list[subprocess.Popen]:
    """Starts `command` once per log file, as the workers of one localhost cluster."""
    hosts = [f"localhost:{port}" for port in free_ports(len(logs))]
    workers = []
    for index, log in enumerate(logs):
        tf_config = {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(tf_config), "CUDA_VISIBLE_DEVICES": ""}
        with open(log, "w") as out:
            workers.append(subprocess.Popen(command, env=env, stdout=out, stderr=out))
    return workers


def history(run_dir) -> list[dict]:
    """The run's history (one row per epoch)."""
    from seq2seq.training.run_dir import RunDir

    return RunDir(run_dir).history()


def _train_command(args, run_dir, strategy):
    return [
        sys.executable,
        "-m",
        f"pipelines.{args.task}",
        "train",
        "--config",
        args.config,
        "--run-dir",
        str(run_dir),
        "--strategy",
        strategy,
        *(["--set", *args.set] if args.set else []),
    ]


def _summary(run_dir, wall):
    rows = history(run_dir)
    return {
        "wall_minutes": round(wall / 60, 2),
        "train_minutes": round(rows[-1]["elapsed_minutes"], 2),
        "epochs": len(rows),
        "loss": [round(r["loss"], 4) for r in rows],
        "val_loss": [round(r["val_loss"], 4) for r in rows],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.multi_worker", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--task", choices=["translate", "asr"], default="translate")
    parser.add_argument("--config", required=True)
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="runs/multi_worker")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    subprocess.run(_train_command(args, out / "single", "default"), check=True)
    single = _summary(out / "single", time.perf_counter() - start)

    logs = [out / f"worker-{i}.log" for i in range(args.workers)]
    start = time.perf_counter()
    workers = start_local_workers(_train_command(args, out / "multi", "multi_worker"), logs)
    for worker, log in zip(workers, logs, strict=True):
        if worker.wait() != 0:
            raise SystemExit(f"error: a worker failed; see {log}")
    multi = _summary(out / "multi", time.perf_counter() - start)

    result = {
        "benchmark": "multi_worker",
        "task": args.task,
        "config": args.config,
        "overrides": args.set,
        "cpus": os.cpu_count(),
        "workers": args.workers,
        "single_process": single,
        "multi_worker": multi,
        "training_speedup": round(single["train_minutes"] / multi["train_minutes"], 2),
    }
    (out / "multi_worker.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
