"""Peak memory of ``textclf predict`` as its input grows: it should stay flat.

Trains the tiny test model, exports it, then classifies JSONL inputs of growing size (and one
text of 20 MB on a line of its own) with ``--format jsonl --output FILE``, each in a fresh process,
and prints each run's peak resident memory (the child's ``ru_maxrss``) and time.

    .venv/bin/python benchmarks/predict_memory.py [--lines 20000 200000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from textclf.testing import TINY_MODEL_PLUGIN, PluginSite, write_separable_dataset

WORDS = "good great fine bad awful poor film plot actor scene music story ending".split()


def peak_mb(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Run ``python -m textclf ARGS`` in a child of a fresh interpreter; (peak RSS MB, seconds)."""
    probe = ("import resource, subprocess, sys, time\n"
             "start = time.perf_counter()\n"
             "done = subprocess.run([sys.executable, '-m', 'textclf', *sys.argv[1:]], capture_output=True, text=True)\n"
             "assert done.returncode == 0, done.stderr\n"
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, time.perf_counter() - start)\n")
    out = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, env=env,
                         cwd=cwd, check=True).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--workdir", type=Path)
    options = parser.parse_args()
    root = options.workdir or Path(tempfile.mkdtemp(prefix="textclf-predict-memory-"))
    root.mkdir(parents=True, exist_ok=True)
    site = PluginSite(root / "site")
    site.add("textclf-tiny", TINY_MODEL_PLUGIN)
    data = write_separable_dataset(root / "data")
    env = site.env(TEXTCLF_CACHE=str(root / "cache"))
    run = lambda *args: subprocess.run([sys.executable, "-m", "textclf", *args], cwd=root, env=env,  # noqa: E731
                                       capture_output=True, text=True, check=True)
    run("train", "--data", "files", "--data.train", str(data["train"]), "--data.test", str(data["test"]),
        "--model", "tiny", "--max-epochs", "1", "--run-dir", "run", "--overwrite")
    run("export", "run", "--output", "bundle", "--overwrite")

    rng = random.Random(0)
    print(f"{'input':>28}  {'peak RSS':>9}  {'time':>7}")
    for count in options.lines:
        source = root / f"in-{count}.jsonl"
        with source.open("w") as handle:
            for _ in range(count):
                text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 200)))
                handle.write(json.dumps({"text": text}) + "\n")
        mb, seconds = peak_mb(["predict", "bundle", "--input", str(source), "--format", "jsonl",
                               "--output", str(root / "out.jsonl")], env, root)
        size = os.path.getsize(source) / 1e6
        print(f"{f'{count:,} lines ({size:.0f} MB)':>28}  {mb:7.0f} MB  {seconds:5.1f} s", flush=True)
    long = root / "long.txt"
    long.write_text(" ".join(rng.choice(WORDS) for _ in range(3_500_000))[:20_000_000] + "\n")
    mb, seconds = peak_mb(["predict", "bundle", "--input", str(long), "--format", "jsonl",
                           "--output", str(root / "out.jsonl")], env, root)
    print(f"{'one 20 MB line':>28}  {mb:7.0f} MB  {seconds:5.1f} s")
    if not options.workdir:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
