"""``textclf serve`` under concurrent load, next to the limit and the server a user writes first.

Side by side in one run, on the same texts (real reviews when DATA is the IMDB archive):
- **offline**: ``Bundle.predict`` over all the texts in one call: the most a server of this
  bundle could reach on this machine;
- **textclf serve BUNDLE** (its defaults), as a subprocess;
- **the naive peer**: FastAPI with ``transformers.pipeline("text-classification")`` on the run's
  Hugging Face model directory, one pipeline call per request (a plain ``def`` endpoint, so
  FastAPI runs calls in its thread pool), under uvicorn, as a subprocess.

Each server is loaded with 1, 8 and 64 concurrent clients, each sending one text per request
(and a run of 64 clients sending 32 texts per request). The load generator is this process:
one thread per client, each with its own keep-alive connection (``http.client``), taking the
next text from a shared list until every text is sent; every loop is bounded by the text count.
Reported: texts/s over the wall time, latency percentiles per request, the server's CPU use
(cores busy, over its process tree) and peak memory (RSS of the tree).

    .venv/bin/python benchmarks/serve.py RUN BUNDLE [--data ARCHIVE] [--texts 512] [--clients 1,8,64]

RUN is a finished ``distilbert`` run (its model directory is the peer's model); BUNDLE its
exported bundle. Only 127.0.0.1 is ever a target.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from textclf import runtime

PEER = textwrap.dedent("""
    import sys
    from fastapi import FastAPI, Request
    from transformers import pipeline
    import torch, uvicorn
    torch.set_num_threads(int(sys.argv[3]))
    classify = pipeline("text-classification", model=sys.argv[1], truncation=True, max_length=int(sys.argv[4]))
    app = FastAPI()

    @app.post("/")
    def predict(payload: dict):
        return classify(payload["inputs"], top_k=None)

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
""")


def read_texts(data: Path | None, count: int) -> list[str]:
    """``count`` test reviews from the IMDB archive (alternating labels), or generated texts."""
    if data is None:
        words = "a good film with fine acting but a dull and slow plot".split()
        return [" ".join(words[(i + j) % len(words)] for j in range(20 + i % 200)) for i in range(count)]
    texts: dict[str, list[str]] = {"pos": [], "neg": []}
    with tarfile.open(data) as archive:
        for member in archive:
            parts = member.name.split("/")
            if member.isfile() and len(parts) >= 3 and parts[-3] == "test" and parts[-2] in texts:
                if len(texts[parts[-2]]) < count:
                    texts[parts[-2]].append(archive.extractfile(member).read().decode("utf-8"))  # type: ignore[union-attr]
    return [t for pair in zip(texts["pos"], texts["neg"]) for t in pair][:count]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(process: subprocess.Popen[bytes], port: int, path: str, body: bytes | None) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request("POST" if body else "GET", path, body=body,
                               headers={"Content-Type": "application/json"})
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start in 5 minutes")


class Tree:
    """CPU time and peak RSS of a process and its children."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def processes(self) -> list[psutil.Process]:
        return [self.root, *self.root.children(recursive=True)]

    def cpu(self) -> float:
        total = 0.0
        for p in self.processes():
            try:
                times = p.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total

    def rss(self) -> int:
        total = 0
        for p in self.processes():
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.rss())

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def load(port: int, texts: list[str], clients: int, per_request: int) -> dict[str, Any]:
    """Send every text, ``per_request`` a request, from ``clients`` threads; returns throughput
    and latency."""
    chunks = [texts[i:i + per_request] for i in range(0, len(texts), per_request)]
    position = iter(range(len(chunks)))
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        while True:
            with lock:
                index = next(position, None)
            if index is None:
                break
            chunk = chunks[index]
            body = json.dumps({"inputs": chunk if per_request > 1 else chunk[0]})
            started = time.perf_counter()
            connection.request("POST", "/", body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            payload = response.read()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if response.status != 200:
                    failures.append(f"{response.status} {payload[:200]!r}")
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. {failures[0]}")
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"texts_per_s": len(texts) / wall, "wall_s": wall, "p50_ms": pct(0.50), "p95_ms": pct(0.95),
            "p99_ms": pct(0.99), "requests": len(latencies)}


def measure(name: str, command: list[str], port: int, probe: bytes, texts: list[str],
            levels: list[tuple[int, int]]) -> list[dict[str, Any]]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    rows = []
    try:
        wait_ready(process, port, "/", probe)
        tree = Tree(process.pid)
        load(port, texts[:64], 8, 1)  # warm-up
        for clients, per_request in levels:
            cpu, wall = tree.cpu(), time.perf_counter()
            result = load(port, texts, clients, per_request)
            busy = (tree.cpu() - cpu) / (time.perf_counter() - wall)
            rows.append({"server": name, "clients": clients, "texts_per_request": per_request,
                         **result, "cpu_cores": busy, "peak_rss_mb": tree.peak / 2**20})
            print(f"  {name:<14} {clients:>3} clients x {per_request:>2} texts: "
                  f"{result['texts_per_s']:7.1f} texts/s  p50 {result['p50_ms']:7.1f}  p99 "
                  f"{result['p99_ms']:7.1f} ms  cpu {busy:.2f} cores", flush=True)
        tree.close()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--data", type=Path, help="the IMDB archive (default: generated texts)")
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--clients", default="1,8,64")
    parser.add_argument("--peer-texts", type=int, help="texts for the peer (default: --texts)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    texts = read_texts(args.data, args.texts)
    levels = [(int(c), 1) for c in args.clients.split(",")] + [(64, 32)]
    bundle = runtime.load(args.bundle)
    manifest = bundle.manifest
    cores = os.cpu_count() or 1
    print(f"{len(texts)} texts ({'real reviews from ' + str(args.data) if args.data else 'generated'}); "
          f"bundle {args.bundle} ({manifest.get('quantization') or 'fp32'}, max length {manifest['max_length']}); "
          f"{cores} cores; load {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)

    bundle.predict(texts[:64])
    started = time.perf_counter()
    bundle.predict(texts)
    offline = len(texts) / (time.perf_counter() - started)
    print(f"  offline Bundle.predict: {offline:.1f} texts/s", flush=True)
    del bundle

    textclf = shutil.which("textclf", path=str(Path(sys.executable).parent)) or "textclf"
    probe = json.dumps({"inputs": "warm up"}).encode()
    port = free_port()
    rows = measure("textclf serve", [textclf, "serve", str(args.bundle), "--port", str(port),
                                     "--log-level", "warning"], port, probe, texts, levels)
    port = free_port()
    peer_texts = texts[:args.peer_texts] if args.peer_texts else texts
    rows += measure("FastAPI+pipeline", [sys.executable, "-c", PEER, str(args.run / "model"), str(port),
                                         str(cores), str(manifest["max_length"])],
                    port, probe, peer_texts, levels)

    print(f"\n| server | clients x texts/request | texts/s | p50 ms | p95 ms | p99 ms | CPU cores | peak RSS MB |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(f"| offline Bundle.predict | - | {offline:.1f} | | | | | |")
    for r in rows:
        print(f"| {r['server']} | {r['clients']} x {r['texts_per_request']} | {r['texts_per_s']:.1f} | "
              f"{r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {r['cpu_cores']:.2f} | "
              f"{r['peak_rss_mb']:.0f} |")
    ours = {(r["clients"], r["texts_per_request"]): r for r in rows if r["server"] == "textclf serve"}
    peer = {(r["clients"], r["texts_per_request"]): r for r in rows if r["server"] != "textclf serve"}
    at64 = ours[(64, 1)]
    print(f"\ntextclf serve at 64 clients / offline: {at64['texts_per_s'] / offline:.2f}x (goal >= 0.8)")
    print(f"textclf serve / FastAPI+pipeline at 64 clients: {at64['texts_per_s'] / peer[(64, 1)]['texts_per_s']:.2f}x "
          f"(goal >= 3); p99 {at64['p99_ms']:.0f} vs {peer[(64, 1)]['p99_ms']:.0f} ms")
    if args.json:
        args.json.write_text(json.dumps({"offline_texts_per_s": offline, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
