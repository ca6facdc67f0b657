"""int8 settings for ``textclf export --quantize int8``, measured on a real fine-tuned run.

The run is exported to an fp32 bundle once (``textclf export``); its model is then quantized with
each candidate setting (onnxruntime dynamic quantization per tensor or per channel, over every
operator type or chosen ones, reduce_range on or off, layers kept fp32, and static QDQ
quantization calibrated on the run's validation texts encoded as the bundle encodes them), and
every variant scores the data's test reviews: accuracy, agreement with fp32, the accuracy drop
with its 95% paired interval, model size, and texts/s at the model's max length (128 for the
runs this was made for) in calls of 32 texts. PyTorch eager runs in the same rounds the way
``transformers.pipeline("text-classification")`` does (the run's Hugging Face model directory,
its tokenizer padding and truncating to the max length, batch 32, torch threads = the cores).

Timings are taken in rounds: each round passes over the test texts in chunks of 128, every
engine scoring each chunk in turn (in calls of 32), so that a load spike on a shared machine
touches all engines alike; an engine's texts/s is that of its median round. A second table
tries onnxruntime session settings on the chosen setting, and a profile splits one pass of the
fp32 and chosen int8 models by operator type.

    .venv/bin/python benchmarks/quantize.py RUN DATA [--workdir DIR] [--rounds 3] [--threads 2]

RUN is a finished run of a BERT-family ``distilbert`` model on ``imdb``; DATA the archive (or
aclImdb directory) it was trained on.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from textclf import runtime
from textclf.export import (INT8_SETTINGS, _quiet, _split_attention, cpu_has_vnni,
                            paired_drop, quantize_int8)
from textclf.text import pad_rows

TEXTCLF = str(Path(sys.executable).with_name("textclf"))
Quantizer = Callable[[Path, Path], dict[str, Any]]
#: Texts each engine scores in turn (in calls of 32) before the next engine's turn.
CHUNK = 128


# -- the candidates ---------------------------------------------------------------------------------
def raw_dynamic(**options: Any) -> Quantizer:
    """onnxruntime's quantize_dynamic on the exported graph as it is (what textclf did before)."""
    def run(source: Path, target: Path) -> dict[str, Any]:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        with _quiet():
            quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, **options)
        return {"method": "dynamic", **options}

    return run


def textclf_dynamic(**changes: Any) -> Quantizer:
    """textclf's ``quantize_int8`` with ``INT8_SETTINGS`` changed by ``changes``."""
    settings = dataclasses.replace(INT8_SETTINGS, **changes)
    return lambda source, target: quantize_int8(source, target, settings)


def first_layer_matmuls(source: Path) -> tuple[str, ...]:
    """The MatMul nodes of the first transformer layer (the first four after the attention split:
    query/key/value, attention output, feed-forward in and out), by name."""
    import onnx

    model = onnx.load(str(source))
    _split_attention(model)
    return tuple(n.name for n in model.graph.node if n.op_type == "MatMul")[:4]


def static_qdq(calibration: list[dict[str, np.ndarray]], method: str, **extra: Any) -> Quantizer:
    """Static QDQ quantization of the MatMuls (the attention projections split out first, Gemm
    layers fp32), activations uint8 and weights int8 per channel, calibrated on ``calibration``."""
    def run(source: Path, target: Path) -> dict[str, Any]:
        import onnx
        from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                              QuantType, quantize_static)

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self.feeds = iter(calibration)

            def get_next(self) -> dict[str, np.ndarray] | None:
                return next(self.feeds, None)

        model = onnx.load(str(source))
        split = _split_attention(model)
        prepared = target.with_suffix(".split.onnx")
        onnx.save(model, str(prepared))
        gemms = [n.name for n in model.graph.node if n.op_type == "Gemm"]
        reduce_range = cpu_has_vnni() is not True
        with _quiet():
            quantize_static(str(prepared), str(target), Reader(), quant_format=QuantFormat.QDQ,
                            op_types_to_quantize=["MatMul"], per_channel=True,
                            reduce_range=reduce_range, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8, nodes_to_exclude=gemms,
                            calibrate_method=getattr(CalibrationMethod, method), extra_options=extra)
        prepared.unlink()
        return {"method": f"static QDQ, {method} calibration", "split": split,
                "reduce_range": reduce_range, **extra}

    return run


def candidates(fp32: Path, calibration: list[dict[str, np.ndarray]]) -> dict[str, Quantizer]:
    first = first_layer_matmuls(fp32)
    return {
        "dynamic, per-tensor, all op types (textclf before)": raw_dynamic(),
        "dynamic, per-channel, all op types": raw_dynamic(per_channel=True),
        "dynamic, per-channel, all op types, reduce_range": raw_dynamic(per_channel=True, reduce_range=True),
        "dynamic, per-channel, MatMul only": raw_dynamic(per_channel=True, op_types_to_quantize=["MatMul"]),
        "dynamic, per-channel, MatMul only, reduce_range": raw_dynamic(
            per_channel=True, op_types_to_quantize=["MatMul"], reduce_range=True),
        "dynamic, per-channel, MatMul + QKV split, head fp32": textclf_dynamic(
            op_types=("MatMul",), reduce_range=False, unfuse_slow_kernels=False),
        "dynamic, per-channel, MatMul + QKV split + Gather, head fp32": textclf_dynamic(
            reduce_range=False, unfuse_slow_kernels=False),
        "  same, reduce_range": textclf_dynamic(reduce_range=True, unfuse_slow_kernels=False),
        "  same, per-tensor": textclf_dynamic(per_channel=False, reduce_range=False, unfuse_slow_kernels=False),
        "  same, head int8": textclf_dynamic(keep_gemm=False, reduce_range=False, unfuse_slow_kernels=False),
        "  same, first layer fp32": textclf_dynamic(exclude=first, reduce_range=False, unfuse_slow_kernels=False),
        "  same, skip-layer-norm and bias-GELU unfused (textclf's INT8_SETTINGS)": textclf_dynamic(),
        "static QDQ, per-channel MatMul + QKV split, MinMax": static_qdq(calibration, "MinMax"),
        "static QDQ, per-channel MatMul + QKV split, percentile 99.999": static_qdq(
            calibration, "Percentile", CalibPercentile=99.999),
    }


# -- engines ----------------------------------------------------------------------------------------
def export_fp32(run: Path, work: Path) -> Path:
    bundle = work / "fp32"
    if not (bundle / "textclf.json").exists():
        done = subprocess.run([TEXTCLF, "export", str(run), "--output", str(bundle), "--overwrite"],
                              capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"textclf export failed:\n{done.stderr[-3000:]}")
        print(done.stderr.strip(), "\n")
    return bundle


def variant(fp32: Path, directory: Path, quantizer: Quantizer) -> tuple[Path, dict[str, Any], float]:
    """A copy of the fp32 bundle with its model quantized by ``quantizer`` (loaded unverified)."""
    if directory.exists():
        shutil.rmtree(directory)
    shutil.copytree(fp32, directory)
    start = time.perf_counter()
    done = quantizer(fp32 / "model.onnx", directory / "model.int8.onnx")
    (directory / "model.int8.onnx").replace(directory / "model.onnx")
    return directory, done, time.perf_counter() - start


def session_bundle(directory: Path, threads: int, *, level: str = "ORT_ENABLE_ALL",
                   spinning: bool = True, max_batch_tokens: int | None = None) -> runtime.Bundle:
    """``runtime.load`` with chosen onnxruntime session options."""
    import onnxruntime as ort

    loaded = runtime.load(directory, threads=threads, verify_files=False, provider="cpu")
    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(directory / "model.onnx"), sess_options=options,
                                   providers=["CPUExecutionProvider"])
    return runtime.Bundle(directory, loaded.manifest, session, loaded.encoder,
                          max_batch_tokens or loaded.max_batch_tokens)


def bundle_engine(bundle: runtime.Bundle) -> Callable[[list[str]], np.ndarray]:
    """Probabilities for a call of texts (``predict_proba``, as a user calls it)."""
    return lambda texts: bundle.predict_proba(texts, batch_size=32)


def eager_engine(model_dir: Path, max_length: int, labels: list[str], threads: int):
    import torch
    from transformers import pipeline
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    torch.set_num_threads(threads)
    classifier = pipeline("text-classification", model=str(model_dir), device=-1)
    index = {label: i for i, label in enumerate(labels)}

    def predict(texts: list[str]) -> np.ndarray:
        out = classifier(texts, batch_size=32, truncation=True, max_length=max_length, top_k=None)
        probabilities = np.zeros((len(texts), len(labels)))
        for row, scores in enumerate(out):
            for score in scores:
                probabilities[row, index[score["label"]]] = score["score"]
        return probabilities

    return predict


def torch_textclf_encoding(run: Path, bundle: runtime.Bundle, texts: list[str], threads: int) -> np.ndarray:
    """The run's PyTorch model on the texts encoded exactly as the bundle encodes them."""
    import torch
    from textclf_distilbert.model import DistilBERT

    torch.set_num_threads(threads)
    model = DistilBERT.load(run / "model").eval()

    def logits(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(ids), torch.from_numpy(mask)).float().numpy()

    rows = bundle.encoder.encode_batch(texts)
    return runtime.batched(rows, 32, bundle.encoder.pad_id, len(bundle.labels), logits).argmax(axis=1)


def timed(predict: Callable[[list[str]], np.ndarray], texts: list[str]) -> tuple[np.ndarray, float]:
    """Probabilities for ``texts`` in calls of 32 texts, and the seconds they took."""
    out = []
    start = time.perf_counter()
    for i in range(0, len(texts), 32):
        out.append(predict(texts[i : i + 32]))
    return np.concatenate(out), time.perf_counter() - start


def profile(directory: Path, texts: list[str], threads: int) -> dict[str, float]:
    """Time by operator type over one pass of ``texts``, in ms per text: the profiler's duration
    of each node run (one node runs at a time, on all the threads), summed by type."""
    import onnxruntime as ort

    loaded = runtime.load(directory, threads=threads, verify_files=False, provider="cpu")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    options.enable_profiling = True
    options.profile_file_prefix = str(directory.parent / f"profile-{directory.name}")  # not in the bundle
    session = ort.InferenceSession(str(directory / "model.onnx"), sess_options=options,
                                   providers=["CPUExecutionProvider"])
    runtime.Bundle(directory, loaded.manifest, session, loaded.encoder).logits(texts, batch_size=32)
    events = json.loads(Path(session.end_profiling()).read_text())
    by_op: collections.Counter[str] = collections.Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            by_op[event["args"]["op_name"]] += event["dur"]
    return {op: time_ / 1000 / len(texts) for op, time_ in by_op.most_common()}


# -- the run ----------------------------------------------------------------------------------------
def load_data(run: Path, data_path: Path, work: Path) -> tuple[list[str], np.ndarray, list[str], list[str]]:
    """Test texts and labels, validation texts, and label names, split as the run split them."""
    import yaml
    from textclf_imdb.data import IMDB

    recorded = yaml.safe_load((run / "config.yaml").read_text())["data"]
    data = IMDB(path=data_path, cache_dir=work / "cache", keep_html=recorded["keep_html"],
                limit_train=recorded["limit_train"], limit_test=recorded["limit_test"],
                val_fraction=recorded["val_fraction"], seed=recorded["seed"])
    data.prepare_data()
    test, val = data.raw_examples("test"), data.raw_examples("val")
    assert test is not None and val is not None
    return test[0], np.asarray(test[1]), val[0], list(data.label_names())


def calibration_feeds(bundle: runtime.Bundle, texts: list[str], rows_per_batch: int = 8) -> list[dict[str, np.ndarray]]:
    """The validation texts as the bundle feeds them, in length order, in batches of the same
    shape (padded to the max length: the percentile calibrator stacks them; a last partial
    batch is left out)."""
    rows = sorted(bundle.encoder.encode_batch(texts), key=len)
    width = bundle.manifest["max_length"]
    feeds = []
    for start in range(0, len(rows) - rows_per_batch + 1, rows_per_batch):
        ids, mask = pad_rows(rows[start : start + rows_per_batch], bundle.encoder.pad_id)
        ids = np.pad(ids, ((0, 0), (0, width - ids.shape[1])), constant_values=bundle.encoder.pad_id)
        mask = np.pad(mask, ((0, 0), (0, width - mask.shape[1])))
        feeds.append(dict(zip(bundle.input_names, (ids, mask))))
    return feeds


def report(engines: dict[str, Any], predictions: dict[str, np.ndarray], probabilities: dict[str, np.ndarray],
           speeds: dict[str, list[float]], truth: np.ndarray, sizes: dict[str, int],
           details: dict[str, Any]) -> dict[str, Any]:
    """Print the table (median texts/s of the rounds so far); returns its rows. The probability
    difference is the mean total variation distance from fp32's probabilities (for two labels:
    the mean absolute difference of one label's probability)."""
    eager, fp32 = "PyTorch eager (pipeline)", "ONNX fp32 (textclf bundle)"
    accuracy = {name: float((p == truth).mean()) for name, p in predictions.items()}
    speed = {name: statistics.median(s) for name, s in speeds.items()}
    header = ("| setting | accuracy | drop vs fp32, points (95% CI) | vs PyTorch pipeline | agreement "
              "with fp32 | mean prob. diff. | model.onnx MB | texts/s | x fp32 | x PyTorch eager |")
    print(f"{header}\n|{' --- |' + ' ---: |' * 9}")
    rows = {}
    for name in engines:
        drop = paired_drop(predictions[fp32] == truth, predictions[name] == truth)
        size = sizes.get(name)
        rows[name] = {"accuracy": accuracy[name], "drop_vs_fp32": drop,
                      "drop_vs_pipeline_points": 100 * (accuracy[eager] - accuracy[name]),
                      "agreement_with_fp32": float((predictions[name] == predictions[fp32]).mean()),
                      "probability_difference": float(np.abs(probabilities[name] - probabilities[fp32]).sum(1).mean() / 2),
                      "bytes": size, "texts_per_second": speed[name], "rounds": speeds[name],
                      **details.get(name, {})}
        low, high = drop["ci95"]
        print(f"| {name.strip()} | {accuracy[name]:.4f} | {drop['points']:+.2f} ({low:+.2f} to {high:+.2f}) | "
              f"{rows[name]['drop_vs_pipeline_points']:+.2f} | {rows[name]['agreement_with_fp32']:.1%} | "
              f"{rows[name]['probability_difference']:.4f} | "
              f"{'' if size is None else f'{size / 1e6:.1f}'} | {speed[name]:.1f} | "
              f"{speed[name] / speed[fp32]:.2f} | {speed[name] / speed[eager]:.2f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a finished run of a BERT-family model on imdb")
    parser.add_argument("data", type=Path, help="the IMDB archive or directory it was trained on")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--rounds", type=int, default=3, help="timed passes per engine (median)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="textclf-quantize-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"load: {os.getloadavg()[0]:.2f} (1 min); {os.cpu_count()} cores; VNNI: {cpu_has_vnni()}")

    fp32_dir = export_fp32(args.run, work)
    fp32_bundle = runtime.load(fp32_dir, threads=args.threads, provider="cpu")
    labels, max_length = fp32_bundle.labels, fp32_bundle.manifest["max_length"]
    texts, truth, val_texts, names = load_data(args.run, args.data, work)
    assert names == labels, (names, labels)
    calibration = calibration_feeds(fp32_bundle, val_texts)
    lengths = [len(r) for r in fp32_bundle.encoder.encode_batch(texts)]
    print(f"{len(texts)} test reviews ({np.mean(lengths):.0f} tokens on average at max length "
          f"{max_length}, {np.mean(np.array(lengths) == max_length):.0%} cut to it); "
          f"{len(val_texts)} validation texts for calibration\n")

    engines: dict[str, Callable[[list[str]], np.ndarray]] = {
        "PyTorch eager (pipeline)": eager_engine(args.run / "model", max_length, labels, args.threads),
        "ONNX fp32 (textclf bundle)": bundle_engine(fp32_bundle),
    }
    sizes = {"ONNX fp32 (textclf bundle)": (fp32_dir / "model.onnx").stat().st_size}
    details: dict[str, Any] = {}
    for i, (name, quantizer) in enumerate(candidates(fp32_dir / "model.onnx", calibration).items()):
        directory, done, seconds = variant(fp32_dir, work / f"int8-{i}", quantizer)
        print(f"quantized in {seconds:5.1f} s: {name.strip()}")
        engines[name] = bundle_engine(runtime.load(directory, threads=args.threads, verify_files=False,
                                                   provider="cpu"))
        sizes[name] = (directory / "model.onnx").stat().st_size
        details[name] = {"directory": str(directory), "settings": done}
    # textclf's setting (reduce_range by the CPU: on where VNNI is missing or unknown).
    chosen = next(name for name in details if "INT8_SETTINGS" in name)
    chosen_dir = Path(details[chosen]["directory"])
    sessions = {
        "chosen, threads 1": session_bundle(chosen_dir, 1),
        "chosen, spinning off": session_bundle(chosen_dir, args.threads, spinning=False),
        "chosen, graph optimization basic": session_bundle(chosen_dir, args.threads, level="ORT_ENABLE_BASIC"),
        "chosen, graph optimization extended": session_bundle(chosen_dir, args.threads, level="ORT_ENABLE_EXTENDED"),
        "chosen, 4096 tokens per batch (32 rows)": session_bundle(chosen_dir, args.threads, max_batch_tokens=4096),
        "chosen, 512 tokens per batch (4 rows)": session_bundle(chosen_dir, args.threads, max_batch_tokens=512),
        "fp32, 4096 tokens per batch (32 rows)": session_bundle(fp32_dir, args.threads, max_batch_tokens=4096),
    }
    engines.update({name: bundle_engine(bundle) for name, bundle in sessions.items()})

    torch_encoded = torch_textclf_encoding(args.run, fp32_bundle, texts, args.threads)
    print(f"\nload before timing: {os.getloadavg()[0]:.2f}")
    predictions: dict[str, np.ndarray] = {}
    probabilities: dict[str, np.ndarray] = {}
    speeds: dict[str, list[float]] = {name: [] for name in engines}
    loads = []
    for engine in engines.values():
        engine(texts[:32])  # warm up
    for round_ in range(args.rounds):
        # Chunk by chunk, every engine in turn: a load spike on the shared machine touches all.
        seconds = dict.fromkeys(engines, 0.0)
        scores: dict[str, list[np.ndarray]] = {name: [] for name in engines}
        for start in range(0, len(texts), CHUNK):
            for name, engine in engines.items():
                chunk, took = timed(engine, texts[start : start + CHUNK])
                scores[name].append(chunk)
                seconds[name] += took
        for name in engines:
            probabilities.setdefault(name, np.concatenate(scores[name]))
            predicted = np.concatenate(scores[name]).argmax(axis=1)
            predictions.setdefault(name, predicted)
            assert (predictions[name] == predicted).all(), f"{name}: predictions changed between rounds"
            speeds[name].append(len(texts) / seconds[name])
        loads.append(os.getloadavg()[0])
        print(f"\nround {round_ + 1}/{args.rounds} done; load {loads[-1]:.2f}; medians so far:")
        rows = report(engines, predictions, probabilities, speeds, truth, sizes, details)
    fp32 = "ONNX fp32 (textclf bundle)"
    torch_accuracy = float((torch_encoded == truth).mean())
    print(f"\nPyTorch on textclf's encoding (head+tail {max_length}): accuracy {torch_accuracy:.4f}, "
          f"same prediction as ONNX fp32 on {(torch_encoded == predictions[fp32]).mean():.2%}")

    print("\nkernel time by operator type, ms per text, one pass over 256 test texts:")
    shares = {}
    for name, directory in (("fp32", fp32_dir), ("chosen int8", chosen_dir)):
        shares[name] = profile(directory, texts[:256], args.threads)
        total = sum(shares[name].values())
        print(f"  {name}: {total:.2f} ms per text: " + ", ".join(
            f"{op} {ms:.2f} ({ms / total:.0%})" for op, ms in list(shares[name].items())[:8]))
    print(f"\nload at the end: {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "profile": shares, "torch_textclf_encoding": torch_accuracy,
                                         "chosen": chosen, "texts": len(texts), "loads": loads},
                                        indent=1, default=str))


if __name__ == "__main__":
    main()
