"""Facebook's fastText next to the example's ``fasttext`` model on real IMDB reviews, in one run.

For each seed, two whole commands, timed from start to exit:

- fastText: a Python process that runs ``fasttext.train_supervised(wordNgrams=2, epoch=5,
  lr=0.5, dim=50, bucket=2000000, thread=2)`` on a training file and ``model.test`` on the test
  file (reading, building its dictionary, training and evaluating);
- textclf: ``textclf train --data imdb --data.path DATA --model fasttext --lit-model
  fasttext-sgd --seed SEED``, the example's defaults (building its tokenizer, tokenizing,
  training, validating, testing and saving the run).

Both train on the same texts: the training reviews textclf trains on, that is the train split
less the validation split textclf holds out of it (10%, seeded by the data module's own seed, the
same in every run); fastText is given no validation split. Both are tested on the whole test
split. fastText reads its file in order and never shuffles it, and the reviews come grouped by
label, so its training file is shuffled, with each run's seed, as a fastText user would.

Not timed, for either: reading the archive. The reviews are read once into textclf's review
cache, which every textclf run starts from (its token cache starts empty, so each run tokenizes),
and fastText's files are written from the same reviews.

Printed: each run's test accuracy and wall time (and the 1-minute load when it started), the
mean ± standard deviation (min-max) of both over the seeds, the accuracy difference and the
ratio of mean wall times; then textclf's floor, what its command costs before it trains (importing
torch and Lightning; the command cut to one training step), unless ``--no-floor``.

    .venv/bin/python benchmarks/fasttext_imdb.py [--data PATH] [--seeds 0,1,2] [--workdir DIR]

``--data`` is an aclImdb_v1.tar.gz, a subset in its layout, or the extracted directory; by
default ``../shared/data/imdb-dev.tar.gz`` next to the repository, when it is there. Needs the
``bench`` extra (``pip install -e '.[bench]'``: fasttext-wheel) and the example plugin.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "imdb-dev.tar.gz"
TEXTCLF = str(Path(sys.executable).with_name("textclf"))
LINE_BREAKS = re.compile(r"[\r\n]+")
#: fastText's settings for IMDB in the issue (the fastText paper's, with 50 dimensions).
FASTTEXT = {"wordNgrams": 2, "epoch": 5, "lr": 0.5, "dim": 50, "bucket": 2_000_000, "thread": 2}
#: The fastText command: train on argv[1], test on argv[2], seed argv[3], settings argv[4] (JSON).
FASTTEXT_SCRIPT = """
import json, sys
import fasttext
model = fasttext.train_supervised(sys.argv[1], seed=int(sys.argv[3]), verbose=0, **json.loads(sys.argv[4]))
examples, precision, recall = model.test(sys.argv[2])  # one label each: recall@1 is accuracy
print(json.dumps({"acc": recall, "examples": examples}))
"""


def fasttext_line(text: str, label: str) -> str:
    """One example in fastText's format: a line, the label first. fastText splits on ASCII
    whitespace, so only the line breaks inside a review need to go."""
    return f"__label__{label} {LINE_BREAKS.sub(' ', text)}\n"


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"failed ({done.returncode}): {shlex.join(command)}\n{done.stderr[-3000:]}")
    return wall, done


def run_fasttext(work: Path, seed: int, params: dict[str, object]) -> dict[str, float]:
    wall, done = timed([sys.executable, "-c", FASTTEXT_SCRIPT, str(work / f"fasttext-train-{seed}.txt"),
                        str(work / "fasttext-test.txt"), str(seed), json.dumps(params)])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"acc": result["acc"], "wall": wall}


def run_textclf(work: Path, data: Path, seed: int, extra: list[str], train_texts: int) -> dict[str, float]:
    cache = work / f"cache-{seed}"
    shutil.rmtree(cache, ignore_errors=True)
    shutil.copytree(work / "reviews" / "imdb", cache / "imdb")  # the reviews read, no tokens yet
    run = work / f"run-{seed}"
    command = [TEXTCLF, "train", "--data", "imdb", "--data.path", str(data), "--model", "fasttext",
               "--lit-model", "fasttext-sgd", "--seed", str(seed), *extra, "--no-progress",
               "--run-dir", str(run), "--overwrite"]
    wall, done = timed(command, env={**os.environ, "TEXTCLF_CACHE": str(cache)})
    counted = re.search(r"data: imdb, ([\d,]+) train", done.stdout + done.stderr)
    if not counted or int(counted[1].replace(",", "")) != train_texts:
        sys.exit(f"textclf did not train on the {train_texts:,} texts fastText got: "
                 f"{counted[0] if counted else 'no data line'}")
    metrics = json.loads((run / "metrics.json").read_text())
    shutil.rmtree(cache)
    return {"acc": metrics["test"]["acc"], "wall": wall, "train": metrics["train_seconds"]}


def floors(work: Path, data: Path, train_texts: int) -> dict[str, float]:
    """What textclf's command costs before it trains: importing torch and Lightning, and the
    whole command cut to one training step (start-up, tokenizer, tokenizing, evaluating, saving)."""
    imports, _ = timed([sys.executable, "-c", "import torch, pytorch_lightning"])
    one_step = run_textclf(work, data, 0, ["--max-steps", "1"], train_texts)
    return {"imports": imports, "one_step": one_step["wall"]}


def spread(values: list[float], digits: int) -> str:
    """Mean ± sample standard deviation (min-max)."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {sd:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.exists() else None,
                        help="aclImdb_v1.tar.gz, a subset in its layout, or the extracted directory "
                             f"(default: {DEFAULT_DATA}, when present)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds, one run of each per seed")
    parser.add_argument("--workdir", type=Path, help="where files and runs go (default: a new temporary directory)")
    parser.add_argument("--textclf-args", default="", help="more options for textclf train, e.g. '--lit-model.lr 1'")
    parser.add_argument("--fasttext-args", default="", help="fastText settings to change, e.g. 'lr=1.0,epoch=10'")
    parser.add_argument("--no-floor", action="store_true",
                        help="skip timing textclf's floor (its imports, and its command cut to one step)")
    args = parser.parse_args()
    if args.data is None:
        sys.exit(f"no data: pass --data PATH (an aclImdb_v1.tar.gz or a subset in its layout); the "
                 f"default {DEFAULT_DATA} is not there")
    try:
        import fasttext  # noqa: F401
    except ImportError:
        sys.exit("fastText is not installed: pip install -e '.[bench]' (it brings fasttext-wheel)")
    from textclf_imdb.data import IMDB

    data = args.data.resolve()
    seeds = [int(s) for s in args.seeds.split(",")]
    params = dict(FASTTEXT)
    for item in filter(None, args.fasttext_args.split(",")):
        key, value = item.split("=")
        params[key] = type(FASTTEXT[key])(float(value)) if key in FASTTEXT else float(value)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="textclf-fasttext-"))
    work.mkdir(parents=True, exist_ok=True)

    # The texts textclf trains and tests on, read as the imdb data module reads them.
    imdb = IMDB(path=data, cache_dir=work / "reviews")
    imdb.prepare_data()
    names = imdb.label_names()
    found_train, found_test = imdb.raw_examples("train"), imdb.raw_examples("test")
    assert found_train is not None and found_test is not None
    train = [fasttext_line(text, names[label]) for text, label in zip(*found_train)]
    test = [fasttext_line(text, names[label]) for text, label in zip(*found_test)]
    (work / "fasttext-test.txt").write_text("".join(test))
    for seed in seeds:
        shuffled = list(train)
        random.Random(seed).shuffle(shuffled)
        (work / f"fasttext-train-{seed}.txt").write_text("".join(shuffled))

    load = os.getloadavg()
    print(f"data: {data} ({len(train):,} training texts for both, {len(test):,} test); "
          f"{os.cpu_count()} CPU cores; load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"fastText: train_supervised({', '.join(f'{k}={v}' for k, v in params.items())})")
    extra = shlex.split(args.textclf_args)
    print(f"textclf: textclf train --data imdb --model fasttext --lit-model fasttext-sgd {shlex.join(extra)}".rstrip())
    results: dict[str, list[dict[str, float]]] = {"fastText": [], "textclf": []}
    print(f"\n{'seed':>4}  {'command':<9} {'test acc':>8} {'wall s':>7}  {'load':>5}")
    for seed in seeds:
        order = ("fastText", "textclf") if seed % 2 == 0 else ("textclf", "fastText")
        for name in order:  # alternated, so that neither always runs first
            now = os.getloadavg()[0]
            result = (run_fasttext(work, seed, params) if name == "fastText"
                      else run_textclf(work, data, seed, extra, len(train)))
            results[name].append(result)
            print(f"{seed:>4}  {name:<9} {result['acc']:>8.4f} {result['wall']:>7.1f}  {now:>5.2f}", flush=True)

    print(f"\n{'command':<9} {'test accuracy: mean ± sd (min-max)':<36} {'wall s: mean ± sd (min-max)':<30}")
    for name, rows in results.items():
        print(f"{name:<9} {spread([r['acc'] for r in rows], 3):<36} {spread([r['wall'] for r in rows], 1):<30}")
    accuracy = {name: statistics.mean(r["acc"] for r in rows) for name, rows in results.items()}
    wall = {name: statistics.mean(r["wall"] for r in rows) for name, rows in results.items()}
    print(f"\ntextclf - fastText test accuracy: {100 * (accuracy['textclf'] - accuracy['fastText']):+.1f} points; "
          f"textclf / fastText wall time: {wall['textclf'] / wall['fastText']:.2f}x "
          f"(textclf's training loop: {statistics.mean(r['train'] for r in results['textclf']):.1f} s)")
    if not args.no_floor:
        floor = floors(work, data, len(train))
        print(f"textclf's floor: import torch + Lightning {floor['imports']:.1f} s; the command with "
              f"--max-steps 1 {floor['one_step']:.1f} s")
    load = os.getloadavg()
    print(f"load at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; files and runs in {work}")


if __name__ == "__main__":
    main()
