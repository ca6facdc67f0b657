"""Fault injection: kill a training, an export and a token-cache write at random moments, then
check that the next run recovers.

Each round starts one ``textclf`` command, sends it SIGKILL, SIGTERM or SIGINT (chosen at random)
after a random delay within the command's usual duration, and then does what a user would:

- **training** (tiny model with dropout, 3 epochs): ``textclf train --resume RUN`` until the run
  completes (restarting with ``--overwrite`` only when the run says it has no checkpoint yet).
  Recovered when the final weights equal an uninterrupted run's bit for bit and run.json says
  completed at the same step.
- **export** over an existing bundle with ``--overwrite``: the output directory afterwards is a
  whole bundle that verifies (the old or the new one, never a mix), and the next export succeeds
  and leaves no temporary directory behind.
- **cache write** (training on 40,000 texts, so tokenizing takes a while): the next training with
  the same cache succeeds, the cache holds exactly one entry, byte-identical to an entry written
  without interruption, and no temporary directory.

    .venv/bin/python benchmarks/fault_injection.py [--rounds 10] [--seed 0] [--workdir DIR]

Prints one line per round and a summary; exits non-zero if any round did not recover.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from textclf import runtime
from textclf.testing import TINY_MODEL_PLUGIN, PluginSite, separable_texts, write_rows, write_separable_dataset

SIGNALS = (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)
TRAIN = ("--model.dropout", "0.3", "--max-epochs", "3")


class Bench:
    def __init__(self, root: Path, rng: random.Random) -> None:
        self.root, self.rng = root, rng
        self.site = PluginSite(root / "site")
        self.site.add("textclf-tiny", TINY_MODEL_PLUGIN)
        self.data = write_separable_dataset(root / "data")
        self.env = self.site.env(TEXTCLF_CACHE=str(root / "cache"))

    def args(self, data: dict[str, Path] | None = None) -> list[str]:
        data = data or self.data
        return ["train", "--data", "files", "--data.train", str(data["train"]), "--data.test",
                str(data["test"]), "--model", "tiny"]

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "textclf", *args], capture_output=True, text=True, cwd=self.root,
                              env=env or self.env, timeout=600)

    def killed(self, args: list[str], within: float, env: dict[str, str] | None = None) -> tuple[str, float, int]:
        """Start ``textclf ARGS``, signal it after a random delay; (signal, delay, exit status)."""
        sig, delay = self.rng.choice(SIGNALS), self.rng.uniform(0.0, within)
        # Default signal dispositions in the child, whatever this script inherited (a background
        # job of a shell starts with SIGINT ignored, which the child would inherit).
        process = subprocess.Popen([sys.executable, "-m", "textclf", *args], cwd=self.root, env=env or self.env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   preexec_fn=_default_signals)
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            process.send_signal(sig)
        code = process.wait(timeout=600)
        return sig.name, delay, code


def _default_signals() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def weights_digest(run: Path) -> str:
    return hashlib.sha256((run / "model/model.safetensors").read_bytes()).hexdigest()


def tree_digest(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def training_round(bench: Bench, index: int, reference: tuple[str, int], within: float) -> tuple[bool, str]:
    run = f"runs/t{index}"
    sig, delay, code = bench.killed([*bench.args(), *TRAIN, "--run-dir", run], within)
    steps = ["killed"]
    for _ in range(5):
        state_file = bench.root / run / "run.json"
        status = json.loads(state_file.read_text()).get("status") if state_file.is_file() else None
        if status == "completed":
            break
        if status is None:
            result, how = bench.run(*bench.args(), *TRAIN, "--run-dir", run, "--overwrite"), "started again"
        else:
            result, how = bench.run("train", "--resume", run), "resumed"
            if result.returncode == 2 and "no checkpoint to continue from" in result.stderr:
                result, how = bench.run(*bench.args(), *TRAIN, "--run-dir", run, "--overwrite"), \
                    "restarted (no checkpoint yet)"
        steps.append(how)
        if result.returncode != 0:
            return False, f"{sig} after {delay:.2f} s (exit {code}): {how} failed: {result.stderr.strip()[-300:]}"
    state = json.loads((bench.root / run / "run.json").read_text())
    exact = (weights_digest(bench.root / run), state["step"]) == reference
    if code == 0:
        steps = ["finished before the signal"]
    return exact, f"{sig} after {delay:.2f} s (exit {code}): {', '.join(steps[1:]) or steps[0]}; " + \
        ("weights equal the uninterrupted run's" if exact else "WEIGHTS DIFFER")


def export_round(bench: Bench, index: int, source: str, within: float) -> tuple[bool, str]:
    out = bench.root / "bundles/out"
    before = tree_digest(out)
    sig, delay, code = bench.killed(["export", source, "--output", str(out), "--overwrite"], within)
    try:
        runtime.verify(out)
        whole = "whole bundle"
    except Exception as exc:  # noqa: BLE001 (any failure to verify is a broken bundle)
        return False, f"{sig} after {delay:.2f} s (exit {code}): bundle broken: {exc}"
    state = "old" if tree_digest(out) == before else "new"
    again = bench.run("export", source, "--output", str(out), "--overwrite")
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(".")]
    ok = again.returncode == 0 and not leftovers
    return ok, (f"{sig} after {delay:.2f} s (exit {code}): {whole} ({state}); next export "
                + ("ok, no leftovers" if ok else f"exit {again.returncode}, leftovers {leftovers}"))


def cache_round(bench: Bench, index: int, data: dict[str, Path], reference: dict[str, str],
                within: float) -> tuple[bool, str]:
    cache = bench.root / f"caches/c{index}"
    env = bench.site.env(TEXTCLF_CACHE=str(cache))
    args = [*bench.args(data), "--max-steps", "1", "--run-dir", f"runs/c{index}"]
    sig, delay, code = bench.killed(args, within, env)
    again = bench.run(*args, "--overwrite", env=env)
    if again.returncode != 0:
        return False, f"{sig} after {delay:.2f} s (exit {code}): next run failed: {again.stderr.strip()[-300:]}"
    entries = list((cache / "tokens").iterdir())
    same = len(entries) == 1 and tree_digest(entries[0]) == reference
    return same, (f"{sig} after {delay:.2f} s (exit {code}): next run ok; cache "
                  + ("one entry, identical to a clean one" if same else f"WRONG: {[e.name for e in entries]}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="rounds of each kind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None)
    options = parser.parse_args()
    rng = random.Random(options.seed)
    root = options.workdir or Path(tempfile.mkdtemp(prefix="textclf-faults-"))
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    bench = Bench(root, rng)

    straight, train_s = timed(bench.run, *bench.args(), *TRAIN, "--run-dir", "runs/straight")
    assert straight.returncode == 0, straight.stderr
    reference = (weights_digest(root / "runs/straight"),
                 json.loads((root / "runs/straight/run.json").read_text())["step"])
    first, export_s = timed(bench.run, "export", "runs/straight", "--output", str(root / "bundles/out"))
    assert first.returncode == 0, first.stderr

    big = root / "big"
    big.mkdir()
    texts = separable_texts(40_000, seed=1)
    write_rows(big / "train.csv", texts[:36_000])
    write_rows(big / "test.csv", texts[36_000:])
    big_data = {"train": big / "train.csv", "test": big / "test.csv"}
    clean_env = bench.site.env(TEXTCLF_CACHE=str(root / "caches/clean"))
    clean, cache_s = timed(bench.run, *bench.args(big_data), "--max-steps", "1", "--run-dir", "runs/clean",
                           env=clean_env)
    assert clean.returncode == 0, clean.stderr
    (clean_entry,) = (root / "caches/clean/tokens").iterdir()
    clean_digest = tree_digest(clean_entry)
    print(f"uninterrupted: training {train_s:.1f} s, export {export_s:.1f} s, cache write run {cache_s:.1f} s")

    results: Counter[tuple[str, bool]] = Counter()
    for index in range(options.rounds):
        for kind, check in (
            ("training", lambda: training_round(bench, index, reference, train_s)),
            ("export", lambda: export_round(bench, index, "runs/straight", export_s)),
            ("cache", lambda: cache_round(bench, index, big_data, clean_digest, cache_s)),
        ):
            ok, line = check()
            results[kind, ok] += 1
            print(f"{kind:8} {index + 1:3}  {'recovered' if ok else 'FAILED   '}  {line}", flush=True)
    print()
    failed = 0
    for kind in ("training", "export", "cache"):
        good, bad = results[kind, True], results[kind, False]
        failed += bad
        print(f"{kind}: {good}/{good + bad} recovered")
    shutil.rmtree(root, ignore_errors=True) if not options.workdir else None
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
