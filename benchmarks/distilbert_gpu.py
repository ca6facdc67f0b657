"""DistilBERT at full size on IMDB-length texts: the GPU training speed of one epoch.

Random weights (speed does not depend on them) in DistilBERT-base's shape (768 wide, 6 layers,
12 heads, a 30,522-token vocabulary: 66M parameters), 25,000 generated reviews of IMDB-like
length, max length 512 with head+tail truncation, bf16, one epoch through textclf's pipeline.
Printed: samples/s, tokens/s (real, unpadded), time per 25,000-review epoch, peak GPU memory, and
the model-FLOPs utilisation, 6 x parameters x tokens/s over the GPU's dense bf16 peak.
Target: an IMDB epoch in under 20 s on one H100 (the best published single-GPU figure is about
2 minutes on an A100).

Runs from a source checkout without installing anything (the lent GPU machines have torch,
Lightning and transformers but no network):

    PYTHONPATH=core:plugins/textclf-imdb:plugins/textclf-distilbert \\
        python benchmarks/distilbert_gpu.py [--batch-size 64] [--compile]

``--reviews 2000 --dim 64 --layers 2 --heads 2`` makes a quick CPU check of the script itself.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from textclf.run_config import from_classes
from textclf.lit_models.classifier import Classifier
from textclf.training import pipeline
from textclf_distilbert.model import DistilBERT
from textclf_distilbert.tokenizer import train_wordpiece
from textclf_imdb.data import IMDB
from textclf_imdb.synthetic import write_archive

VOCAB = 30_522
#: Dense bf16 peak in FLOP/s, by the name torch reports.
PEAKS = {"H100 80GB HBM3": 989e12, "H100 PCIe": 756e12, "H200": 989e12, "A100": 312e12}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=25_000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="textclf-gpu-"))
    archive = work / "aclImdb_v1.tar.gz"
    if not archive.exists():
        write_archive(archive, args.reviews // 2, test_per_class=10, seed=0)
    texts = IMDB(path=archive, cache_dir=work / "cache").load_split("train").texts
    tokenizer = train_wordpiece(texts, VOCAB)
    tokenizer.add_tokens([f"[unused{i}]" for i in range(VOCAB - tokenizer.get_vocab_size())])
    tokenizer.save(str(work / "tokenizer.json"))

    gpu = torch.cuda.is_available()
    resolved = from_classes(
        {"data": IMDB, "model": DistilBERT, "lit-model": Classifier},
        {"data": {"path": str(archive), "cache_dir": str(work / "cache"), "val_fraction": 0.0,
                  "batch_size": args.batch_size, "num_workers": 2},
         "model": {"pretrained": False, "tokenizer": str(work / "tokenizer.json"), "dim": args.dim,
                   "layers": args.layers, "heads": args.heads, "max_length": args.max_length,
                   "truncation": "head+tail", "compile": args.compile},
         "lit_model": {"lr": 1e-4},
         "trainer": {"max_epochs": 1, "accelerator": "gpu" if gpu else "cpu", "devices": 1,
                     "precision": "bf16-mixed" if gpu else "32-true"}})
    start = time.perf_counter()
    metrics = pipeline.train(resolved, run_dir=work / "run", overwrite=True, progress=False,
                             echo=lambda line: None)
    wall = time.perf_counter() - start
    assert metrics is not None
    model = DistilBERT.load(work / "run" / "model")
    parameters = sum(p.numel() for p in model.parameters())
    name = torch.cuda.get_device_name() if gpu else "CPU"
    peak = next((v for k, v in PEAKS.items() if k in name), None)
    tokens = metrics["train_tokens_per_second"]
    report = {
        "device": name, "parameters": parameters, "batch_size": args.batch_size,
        "compile": args.compile, "samples_per_second": metrics["train_samples_per_second"],
        "tokens_per_second": tokens,
        "epoch_seconds_25k": round(25_000 / metrics["train_samples_per_second"], 1),
        "peak_gpu_memory_gb": metrics.get("peak_gpu_memory_gb"),
        "mfu": round(6 * parameters * tokens / peak, 3) if peak else None,
        "wall_seconds_incl_setup": round(wall, 1),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
