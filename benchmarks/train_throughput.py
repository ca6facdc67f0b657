"""Training throughput: textclf against a Hugging Face ``Trainer`` with dynamic padding.

Both train the same model on the same data, side by side in one run:

- model: DistilBERT from scratch (``--dim``/``--layers``/``--heads``), with one WordPiece tokenizer
  trained here and given to both;
- data: IMDB-format reviews of IMDB-like length (``textclf_imdb.synthetic``), ``--train`` of them
  for training and ``--test`` for the accuracy check;
- regime: batch ``--batch-size``, max length ``--max-length`` (head truncation for both, the only
  one the peer has), AdamW lr 1e-3 with 10% warmup then linear decay, weight decay 0.01,
  gradient clipping 1.0, ``--epochs`` epochs, no evaluation during training; fp32 on CPU, bf16
  on a GPU.

textclf: ``textclf train --data imdb --model distilbert`` (length-grouped batches, cached
tokens). Peer: ``transformers.Trainer`` with ``DataCollatorWithPadding`` (each random batch padded
to its longest row; ``group_by_length`` off, its default). Printed: training samples/s of each
(the training loop only), padding overhead, test accuracy, and the speed ratio.
Target: textclf >= 1.3x the peer, and its accuracy not more than one point below the peer's
(length grouping must not cost accuracy). ``--seed`` repeats the comparison with other seeds.

    .venv/bin/python benchmarks/train_throughput.py [--train 2000] [--test 1000] ...
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from textclf.data.batching import LengthGroupedBatchSampler
from textclf_distilbert.tokenizer import as_transformers, train_wordpiece
from textclf_imdb.data import IMDB
from textclf_imdb.synthetic import write_archive

TEXTCLF = str(Path(sys.executable).with_name("textclf"))
LR, WARMUP, WEIGHT_DECAY, CLIP, SEED = 1e-3, 0.1, 0.01, 1.0, 42


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=2000, help="training reviews")
    parser.add_argument("--test", type=int, default=1000, help="test reviews")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument("--cues", type=int, default=6, help="sentiment words per review (difficulty)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    global SEED
    SEED = args.seed
    work = args.workdir or Path(tempfile.mkdtemp(prefix="textclf-throughput-"))
    work.mkdir(parents=True, exist_ok=True)

    archive = work / "aclImdb_v1.tar.gz"
    if not archive.exists():
        write_archive(archive, args.train // 2, test_per_class=args.test // 2, seed=1, cues=args.cues)
    data = IMDB(path=archive, cache_dir=work / "cache")
    train, test = data.load_split("train"), data.load_split("test")
    tokenizer = train_wordpiece(train.texts, vocab_size=8000)
    tokenizer_file = work / "tokenizer.json"
    tokenizer.save(str(tokenizer_file))
    device = "GPU " + torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU ({os.cpu_count()} cores)"
    print(f"{len(train.texts):,} train / {len(test.texts):,} test reviews, batch {args.batch_size}, "
          f"max length {args.max_length}, DistilBERT dim {args.dim} x {args.layers} layers, "
          f"{args.epochs} epochs, on {device}")

    lengths = np.array([len(e.ids) + 2 for e in tokenizer.encode_batch(train.texts, add_special_tokens=False)])
    lengths = np.minimum(lengths, args.max_length)
    ours = run_textclf(args, archive, tokenizer_file, work)
    peer = run_trainer(args, train, test, tokenizer)
    padding = {"textclf": grouped_padding(lengths, args.batch_size), "HF Trainer": random_padding(lengths, args.batch_size)}

    print(f"\n{'':<12} {'samples/s':>10} {'padding':>8} {'test acc':>9}")
    for name, result in (("textclf", ours), ("HF Trainer", peer)):
        print(f"{name:<12} {result['samples_per_second']:>10.2f} {padding[name]:>7.0%} {result['accuracy']:>9.4f}")
    ratio = ours["samples_per_second"] / peer["samples_per_second"]
    difference = (ours["accuracy"] - peer["accuracy"]) * 100
    print(f"\nspeed: textclf / HF Trainer = {ratio:.2f}x (target >= 1.3x: {'ok' if ratio >= 1.3 else 'MISSED'})")
    print(f"accuracy: textclf - HF Trainer = {difference:+.2f} points "
          f"(target >= -1: {'ok' if difference >= -1 else 'MISSED'})")


def run_textclf(args: argparse.Namespace, archive: Path, tokenizer: Path, work: Path) -> dict[str, float]:
    precision = "bf16-mixed" if torch.cuda.is_available() else "32-true"
    command = [TEXTCLF, "train", "--data", "imdb", "--data.path", str(archive),
               "--data.val-fraction", "0", "--data.batch-size", str(args.batch_size),
               "--data.cache-dir", str(work / "cache"), "--model", "distilbert",
               "--model.pretrained", "false", "--model.tokenizer", str(tokenizer),
               "--model.dim", str(args.dim), "--model.layers", str(args.layers),
               "--model.heads", str(args.heads), "--model.max-length", str(args.max_length),
               "--model.truncation", "head", "--lit-model.lr", str(LR),
               "--lit-model.warmup-ratio", str(WARMUP), "--lit-model.weight-decay", str(WEIGHT_DECAY),
               "--gradient-clip", str(CLIP), "--seed", str(SEED), "--max-epochs", str(args.epochs),
               "--precision", precision, "--devices", "1", "--no-progress",
               "--run-dir", str(work / "run"), "--overwrite"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"textclf train failed:\n{done.stderr[-3000:]}")
    metrics = json.loads((work / "run" / "metrics.json").read_text())
    return {"samples_per_second": metrics["train_samples_per_second"], "accuracy": metrics["test"]["acc"]}


def run_trainer(args: argparse.Namespace, train, test, tokenizer) -> dict[str, float]:
    from transformers import (AutoModelForSequenceClassification, DataCollatorWithPadding,
                              DistilBertConfig, Trainer, TrainingArguments)

    hf_tokenizer = as_transformers(tokenizer)
    encode = lambda texts: hf_tokenizer(texts, truncation=True, max_length=args.max_length)["input_ids"]  # noqa: E731
    train_rows = [{"input_ids": ids, "labels": y} for ids, y in zip(encode(train.texts), train.labels)]
    test_rows = [{"input_ids": ids, "labels": y} for ids, y in zip(encode(test.texts), test.labels)]
    torch.manual_seed(SEED)
    config = DistilBertConfig(vocab_size=tokenizer.get_vocab_size(), dim=args.dim, n_layers=args.layers,
                              n_heads=args.heads, hidden_dim=4 * args.dim,
                              max_position_embeddings=max(512, args.max_length),
                              pad_token_id=tokenizer.token_to_id("[PAD]"), num_labels=2)
    model = AutoModelForSequenceClassification.from_config(config, attn_implementation="sdpa")
    RANDOM_BATCHES = _random_batches()  # noqa: N806
    steps = math.ceil(len(train_rows) / args.batch_size) * args.epochs
    training = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="hf-trainer-"), per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size, num_train_epochs=args.epochs, learning_rate=LR,
        warmup_steps=int(steps * WARMUP), lr_scheduler_type="linear", weight_decay=WEIGHT_DECAY,
        max_grad_norm=CLIP, seed=SEED, logging_strategy="no", save_strategy="no", eval_strategy="no",
        report_to=[], disable_tqdm=True, dataloader_num_workers=0, **RANDOM_BATCHES,
        bf16=torch.cuda.is_available(), use_cpu=not torch.cuda.is_available())
    trainer = Trainer(model=model, args=training, train_dataset=train_rows,
                      data_collator=DataCollatorWithPadding(hf_tokenizer))
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the Trainer prints its own metrics dict
        trainer.train()
    seconds = time.perf_counter() - start
    predictions = trainer.predict(test_rows)
    accuracy = float((predictions.predictions.argmax(-1) == np.array(test.labels)).mean())
    return {"samples_per_second": len(train_rows) * args.epochs / seconds, "accuracy": accuracy}


def _random_batches() -> dict[str, object]:
    """The Trainer's default, random batches, under its name in transformers 4 or 5."""
    import inspect

    from transformers import TrainingArguments

    names = inspect.signature(TrainingArguments).parameters
    return {"train_sampling_strategy": "random"} if "train_sampling_strategy" in names else {"group_by_length": False}


def grouped_padding(lengths: np.ndarray, batch_size: int) -> float:
    batches = list(LengthGroupedBatchSampler(lengths, batch_size, seed=SEED))
    return sum(len(b) * lengths[b].max() for b in batches) / lengths.sum() - 1


def random_padding(lengths: np.ndarray, batch_size: int) -> float:
    order = np.random.default_rng(SEED).permutation(len(lengths))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return sum(len(b) * lengths[b].max() for b in batches) / lengths.sum() - 1


if __name__ == "__main__":
    main()
