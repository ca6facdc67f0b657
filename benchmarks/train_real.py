"""Fine-tuning a real checkpoint on real reviews: ``textclf train`` against a Hugging Face
``Trainer`` script, whole command and training loop, side by side in one run.

Data: the IMDB dev subset (``../shared/data/imdb-dev.tar.gz``, real reviews), ``--limit-train``
training reviews of which textclf holds out 10% for validation (stratified, seed 42): the peer
trains on exactly the texts textclf trains on, and both are scored on the 1,000 test reviews.
Model: a real pretrained checkpoint (``../shared/tools/fetch-minilm DIR`` gives MiniLM-L6).
Regime, both: batch ``--batch-size`` (16), AdamW lr ``--lr`` (5e-5), ``--warmup-ratio`` (0) then
linear decay, no weight decay, gradient clipping 1.0, ``--epochs`` epochs (1), on the CPU with
torch's default threads. The README's recipe is ``--batch-size 32 --lr 2e-5 --warmup-ratio 0.1``
at ``--max-length 512`` (and 2 epochs).

- peer: a script as the Trainer's docs write one: the checkpoint's tokenizer with truncation at
  ``--max-length`` (its head), ``DataCollatorWithPadding`` (each random batch padded to its
  longest row), ``Trainer.train()``, then ``Trainer.predict`` on the test reviews;
- textclf: ``textclf train --data imdb --model distilbert --model.checkpoint DIR`` with the same
  regime (its default truncation, head+tail, keeps as many tokens), which also validates after
  each epoch, evaluates the best model on val and test, and writes the run directory.

Precision: each side's default. The Trainer trains in fp32 on a CPU unless told ``bf16=True``;
textclf's ``precision: auto`` picks bf16-mixed on a CPU with native bf16 (AVX512-BF16, AMX) for a
model this size, and says so. ``--peer-bf16`` adds the Trainer script with ``bf16=True``.

Printed per max length: whole-command wall (process start to exit), training-loop seconds, test
accuracy, run-directory size (textclf) and the ratios (peer / textclf: above 1 is textclf faster).

    .venv/bin/python benchmarks/train_real.py --checkpoint DIR [--data PATH] [--max-length 128 256]
        [--peer-bf16]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEXTCLF = str(Path(sys.executable).with_name("textclf"))
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "imdb-dev.tar.gz"

PEER = r'''
import json, sys, time
start = time.perf_counter()
import numpy as np, torch
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,
                          Trainer, TrainingArguments)
spec = json.load(open(sys.argv[1]))
tokenizer = AutoTokenizer.from_pretrained(spec["checkpoint"])
model = AutoModelForSequenceClassification.from_pretrained(spec["checkpoint"], num_labels=2)
def encoded(texts, labels):
    enc = tokenizer(texts, truncation=True, max_length=spec["max_length"])
    return [{"input_ids": ids, "attention_mask": mask, "labels": label}
            for ids, mask, label in zip(enc["input_ids"], enc["attention_mask"], labels)]
train = encoded(spec["train_texts"], spec["train_labels"])
test = encoded(spec["test_texts"], spec["test_labels"])
args = TrainingArguments(output_dir=spec["output"], per_device_train_batch_size=spec["batch_size"],
                         per_device_eval_batch_size=64, learning_rate=spec["lr"], weight_decay=0.0,
                         warmup_steps=spec["warmup_ratio"], lr_scheduler_type="linear", max_grad_norm=1.0,
                         num_train_epochs=spec["epochs"], save_strategy="no", eval_strategy="no",
                         logging_strategy="no", report_to=[], use_cpu=True, seed=42,
                         dataloader_num_workers=0, disable_tqdm=True, bf16=spec["bf16"])
trainer = Trainer(model=model, args=args, train_dataset=train,
                  data_collator=DataCollatorWithPadding(tokenizer))
loop = time.perf_counter()
trainer.train()
loop = time.perf_counter() - loop
predictions = trainer.predict(test).predictions.argmax(-1)
print(json.dumps({"train_seconds": loop,
                  "test_acc": float((predictions == np.array(spec["test_labels"])).mean())}))
'''


def split_texts(data: Path, limit_train: int, cache: Path) -> dict[str, list]:
    """The texts and labels textclf trains and tests on, from its own data module."""
    from textclf_imdb.data import IMDB

    module = IMDB(path=data, limit_train=limit_train, cache_dir=cache)
    module.prepare_data()
    (train_texts, train_labels), (test_texts, test_labels) = (module.raw_examples(s) for s in ("train", "test"))
    return {"train_texts": train_texts, "train_labels": [int(x) for x in train_labels],
            "test_texts": test_texts, "test_labels": [int(x) for x in test_labels]}


def size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit-train", type=int, default=2000)
    parser.add_argument("--max-length", type=int, nargs="+", default=[128])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--warmup-ratio", type=float, default=0.0)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--peer-bf16", action="store_true",
                        help="also run the Trainer script with bf16=True (its default is fp32)")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="textclf-train-real-"))
    cache = work / "cache"
    texts = split_texts(args.data, args.limit_train, cache)
    print(f"IMDB dev subset, real reviews ({args.data}): {len(texts['train_texts'])} train, "
          f"{len(texts['test_texts'])} test; checkpoint {args.checkpoint}; {args.epochs} epoch(s) of "
          f"batch {args.batch_size}, lr {args.lr:g}, warmup {args.warmup_ratio:g}; "
          f"{os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}")
    env = {**os.environ, "TEXTCLF_CACHE": str(cache), "NO_COLOR": "1"}
    for max_length in args.max_length:
        peers = {"Trainer script": run_peer(work, texts, args, max_length, bf16=False, env=env)}
        if args.peer_bf16:
            peers["Trainer, bf16=True"] = run_peer(work, texts, args, max_length, bf16=True, env=env)

        run = work / f"textclf-{max_length}"
        start = time.perf_counter()
        ours = subprocess.run([
            TEXTCLF, "train", "--data", "imdb", "--data.path", str(args.data), "--data.limit-train",
            str(args.limit_train), "--data.batch-size", str(args.batch_size), "--model", "distilbert",
            "--model.checkpoint", str(args.checkpoint), "--model.max-length", str(max_length),
            "--lit-model.lr", str(args.lr), "--lit-model.warmup-ratio", str(args.warmup_ratio),
            "--lit-model.weight-decay", "0",
            "--gradient-clip", "1.0", "--max-epochs", str(args.epochs), "--run-dir", str(run),
            "--overwrite", "--no-progress"], capture_output=True, text=True, env=env)
        our_wall = time.perf_counter() - start
        assert ours.returncode == 0, ours.stderr[-3000:]
        metrics = json.loads((run / "metrics.json").read_text())
        precision = next((line.split(":", 1)[1].strip() for line in (run / "config.yaml").read_text().splitlines()
                          if line.strip().startswith("precision:")), "?")
        model_bytes, last_bytes = size(run / "model"), (run / "checkpoints" / "last.ckpt").stat().st_size
        print(f"\nmax length {max_length}:")
        for name, (wall, result) in peers.items():
            print(f"  {name:<19} wall {wall:7.1f} s  loop {result['train_seconds']:7.1f} s  "
                  f"test acc {result['test_acc']:.4f}")
        print(f"  {'textclf train':<19} wall {our_wall:7.1f} s  loop {metrics['train_seconds']:7.1f} s  "
              f"test acc {metrics['test']['acc']:.4f}  precision {precision}")
        print(f"  run dir {size(run) / 1e6:.0f} MB: model {model_bytes / 1e6:.0f} MB, last.ckpt "
              f"{last_bytes / 1e6:.0f} MB (resumable), limit 2 x model + last = "
              f"{(2 * model_bytes + last_bytes) / 1e6:.0f} MB")
        for name, (wall, result) in peers.items():
            print(f"  {name} / textclf: wall {wall / our_wall:.2f}x, loop "
                  f"{result['train_seconds'] / metrics['train_seconds']:.2f}x, test accuracy "
                  f"{100 * (metrics['test']['acc'] - result['test_acc']):+.1f} points")
        print(f"  load {os.getloadavg()[0]:.2f}", flush=True)


def run_peer(work: Path, texts: dict[str, list], args: argparse.Namespace, max_length: int, *, bf16: bool,
             env: dict[str, str]) -> tuple[float, dict[str, float]]:
    """The Trainer script, timed from process start to exit: (wall seconds, its JSON line)."""
    name = f"peer-{max_length}{'-bf16' if bf16 else ''}"
    spec = work / f"{name}.json"
    spec.write_text(json.dumps({**texts, "checkpoint": str(args.checkpoint), "max_length": max_length,
                                "epochs": args.epochs, "output": str(work / name), "bf16": bf16,
                                "batch_size": args.batch_size, "lr": args.lr,
                                "warmup_ratio": args.warmup_ratio}))
    start = time.perf_counter()
    peer = subprocess.run([sys.executable, "-c", PEER, str(spec)], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    assert peer.returncode == 0, peer.stderr[-3000:]
    return wall, json.loads(peer.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
