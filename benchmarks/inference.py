"""Inference: PyTorch eager (as transformers.pipeline runs it) against the ONNX bundle, fp32 and int8.

A DistilBERT (MiniLM-sized from scratch by default: dim 384, 6 layers, 6 heads, 8k WordPiece)
is trained briefly on generated IMDB-format reviews, exported with ``textclf export`` (fp32, and
``--quantize int8``), then the same IMDB-length test texts are scored by

  (a) ``transformers.pipeline("text-classification")`` on the run's model directory, fp32 eager;
  (b) the fp32 bundle through ``textclf.runtime`` (onnxruntime, CPU);
  (c) the int8 bundle,

at batch 1 and batch 32: throughput, p50/p95 latency per call, agreement with (a). Target on
the 2-core development machine: int8 >= 3x the PyTorch throughput at batch 32, fp32 >= 1.3x.

    .venv/bin/python benchmarks/inference.py [--texts 512] [--workdir DIR]
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

import numpy as np
import torch

from textclf import runtime
from textclf_distilbert.tokenizer import train_wordpiece
from textclf_imdb.data import IMDB
from textclf_imdb.synthetic import write_archive

TEXTCLF = str(Path(sys.executable).with_name("textclf"))


def run(*command: str) -> None:
    done = subprocess.run([TEXTCLF, *command], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"textclf {' '.join(command[:2])} failed:\n{done.stderr[-3000:]}")


def prepare(args: argparse.Namespace, work: Path) -> list[str]:
    archive = work / "aclImdb_v1.tar.gz"
    if not archive.exists():
        write_archive(archive, 1000, test_per_class=args.texts // 2, seed=2, cues=8)
    data = IMDB(path=archive, cache_dir=work / "cache")
    texts = data.load_split("test").texts
    if not (work / "run" / "metrics.json").exists():
        train_wordpiece(data.load_split("train").texts, 8000).save(str(work / "tokenizer.json"))
        run("train", "--data", "imdb", "--data.path", str(archive), "--data.cache-dir", str(work / "cache"),
            "--model", "distilbert", "--model.pretrained", "false", "--model.tokenizer",
            str(work / "tokenizer.json"), "--model.dim", str(args.dim), "--model.layers", str(args.layers),
            "--model.heads", str(args.heads), "--model.truncation", "head", "--max-epochs", "1",
            "--lit-model.lr", "5e-4", "--no-progress", "--run-dir", str(work / "run"), "--overwrite")
    for name, extra in (("bundle-fp32", ()), ("bundle-int8", ("--quantize", "int8"))):
        if not (work / name).exists():
            run("export", str(work / "run"), "--output", str(work / name), *extra)
    return texts


def measure(predict, texts: list[str], batch: int, repeat_single: int) -> dict[str, float]:
    calls = [texts[i : i + batch] for i in range(0, len(texts), batch)]
    if batch == 1:
        calls = calls[:repeat_single]
    predict(calls[0])  # warm up
    latencies, labels = [], []
    start = time.perf_counter()
    for call in calls:
        t = time.perf_counter()
        labels += predict(call)
        latencies.append(time.perf_counter() - t)
    seconds = time.perf_counter() - start
    done = sum(len(c) for c in calls)
    return {"texts_per_second": done / seconds, "p50_ms": 1000 * float(np.percentile(latencies, 50)),
            "p95_ms": 1000 * float(np.percentile(latencies, 95)), "labels": labels}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=512, help="test texts scored at batch 32")
    parser.add_argument("--single", type=int, default=64, help="texts scored one by one at batch 1")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--heads", type=int, default=6)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="textclf-inference-"))
    work.mkdir(parents=True, exist_ok=True)
    texts = prepare(args, work)

    from transformers import pipeline
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    torch.set_num_threads(os.cpu_count() or 1)
    classifier = pipeline("text-classification", model=str(work / "run" / "model"), device=-1)
    max_length = json.loads((work / "bundle-fp32" / "textclf.json").read_text())["max_length"]
    engines = {
        "PyTorch eager (pipeline)": lambda batch: [r["label"] for r in classifier(
            batch, batch_size=len(batch), truncation=True, max_length=max_length)],
        "ONNX fp32": runtime.load(work / "bundle-fp32").predict,
        "ONNX int8": runtime.load(work / "bundle-int8").predict,
    }
    sizes = {name: os.path.getsize(work / b / "model.onnx") for name, b in
             (("ONNX fp32", "bundle-fp32"), ("ONNX int8", "bundle-int8"))}
    parameters = json.loads((work / "run" / "model" / "config.json").read_text())
    print(f"{len(texts)} IMDB-length texts, DistilBERT dim {parameters['dim']} x {parameters['n_layers']} "
          f"layers, max length {max_length}, CPU with {os.cpu_count()} cores\n")
    results = {}
    for batch in (1, 32):
        for name, engine in engines.items():
            results[(name, batch)] = measure(
                lambda call, engine=engine, batch=batch: engine(call, batch_size=batch)
                if name != "PyTorch eager (pipeline)" else engine(call), texts, batch, args.single)
    print(f"{'engine':<26} {'batch':>5} {'texts/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'agree':>7} {'x eager':>8}")
    for (name, batch), result in results.items():
        eager = results[("PyTorch eager (pipeline)", batch)]
        agree = np.mean(np.array(result["labels"]) == np.array(eager["labels"]))
        print(f"{name:<26} {batch:>5} {result['texts_per_second']:>9.1f} {result['p50_ms']:>8.1f} "
              f"{result['p95_ms']:>8.1f} {agree:>7.1%} {result['texts_per_second'] / eager['texts_per_second']:>7.2f}x")
    eager32 = results[("PyTorch eager (pipeline)", 32)]["texts_per_second"]
    fp32 = results[("ONNX fp32", 32)]["texts_per_second"] / eager32
    int8 = results[("ONNX int8", 32)]["texts_per_second"] / eager32
    print(f"\nmodel.onnx: fp32 {sizes['ONNX fp32'] / 1e6:.1f} MB, int8 {sizes['ONNX int8'] / 1e6:.1f} MB")
    print(f"batch 32: fp32 {fp32:.2f}x eager (target >= 1.3x: {'ok' if fp32 >= 1.3 else 'MISSED'}), "
          f"int8 {int8:.2f}x eager (target >= 3x: {'ok' if int8 >= 3 else 'MISSED'})")


if __name__ == "__main__":
    main()
