"""``textclf export``: a finished run's model as a self-contained ONNX bundle (needs torch).

The bundle is written to a temporary directory beside the output and renamed into place only
after every check passed: the ONNX model must give the PyTorch model's logits (within 1e-4) on
texts of varied lengths and at the edges (empty, 1 and 2 tokens, max length), must keep the model
contract (``textclf.contract``: a text's logits do not depend on its padding), and an int8 model
must keep the fp32 model's validation accuracy (within half a point). A failed export leaves nothing behind and an existing bundle untouched.
Only a bundle or an empty directory is ever replaced, never the run itself, and never a bundle
another export wrote meanwhile. ``sign`` adds an Ed25519 signature (``textclf.bundle``).
"""

from __future__ import annotations

import contextlib
import io
import json
import linecache
import logging
import os
import re
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from textclf import __version__, atomic, runtime
from textclf.bundle import INPUTS, SIGNATURE, model_card, replaceable, seal
from textclf.console import format_bytes
from textclf.contract import ContractError, check_contract, probe_texts
from textclf.errors import OptionError, TextclfError, UsageError
from textclf.kinds import DATA, LIT_MODEL, MODEL
from textclf.models.base import BaseModel
from textclf.registry import Registry
from textclf.run_config import RunConfig, resolve_recorded
from textclf.signing import check_signature, private_key
from textclf.signing import sign as sign_bundle
from textclf.text import pad_rows
from textclf.training.run import RunDir

PARITY_TOLERANCE = 1e-4
PARITY_TEXTS = 64
#: The most an int8 model may lose in validation accuracy (half a point).
INT8_MAX_DROP = 0.005
INT8_EVAL_TEXTS = 2000
OPSET = 18
OUTPUTS = ["logits"]
MODEL_FILE, TOKENIZER_FILE, CARD_FILE = "model.onnx", "tokenizer.json", "README.md"
FILES = (MODEL_FILE, TOKENIZER_FILE, CARD_FILE)

Echo = Callable[[str], None]


class ExportError(TextclfError):
    """An export that failed a check; nothing was written."""


@dataclass
class Texts:
    """Texts to check the export with, and their labels when they came from the run's data."""

    texts: list[str]
    labels: np.ndarray | None
    source: str


def export(run_path: Path, output: Path, *, registry: Registry, quantize: str | None = None,
           optimize: bool = True, overwrite: bool = False, sign: Path | None = None,
           echo: Echo = print) -> dict[str, Any]:
    """Export the run at ``run_path`` to the bundle directory ``output``; returns its manifest.
    ``registry`` finds the run's components (a ``PluginHost``'s); ``sign`` is an Ed25519 private
    key file (PEM or OpenSSH) to sign the bundle with."""
    run = RunDir.open_finished(run_path, "textclf export")
    _check_output(run_path, output, overwrite)
    key = None if sign is None else private_key(sign, f"`sign` {sign}", UsageError)
    config = run.recorded_config()
    resolved = resolve_recorded(registry, config, str(run.config_file))
    with resolved[MODEL].constructing():
        model: BaseModel = resolved[MODEL].cls.load(run.model_dir).eval()
    texts = _check_texts(resolved, model, need_labels=quantize is not None, echo=echo)

    try:
        with atomic.directory(output, replace=overwrite, exist_ok=False, replaceable=replaceable) as tmp:
            fusions = _to_onnx(model, tmp / MODEL_FILE, optimize, echo)
            model.tokenizer.save(str(tmp / TOKENIZER_FILE))
            manifest = _manifest(run, resolved, model, config)
            manifest["producer"]["ort_fusions"] = fusions
            (tmp / CARD_FILE).write_text(model_card(manifest, config), encoding="utf-8")
            seal(tmp, manifest, FILES)
            manifest["checks"] = {"parity": _parity(model, tmp, texts, echo)}
            if quantize == "int8":
                manifest["checks"]["int8"] = _quantize(tmp, texts, echo)
                manifest["quantization"] = "int8"
                (tmp / CARD_FILE).write_text(model_card(manifest, config), encoding="utf-8")
            seal(tmp, manifest, FILES)
            if key is not None:
                echo(f"signed: key {sign_bundle(tmp, manifest, key)} ({SIGNATURE})")
            runtime.verify(tmp)
            if key is not None:
                check_signature(tmp, manifest, [key.public_key()])
    except atomic.TargetExists as exc:
        kept = f", and is now {exc.kept}" if exc.kept else ""
        raise ExportError(f"`output` {output}: " + (
            f"changed while the bundle was written (another export to it, or no longer a bundle) and "
            f"was kept{kept}; nothing was written; export again" if overwrite else
            f"written by another export meanwhile, and kept; nothing was written; replace it with "
            f"`overwrite`, or choose another directory")) from None
    echo(f"bundle: {output} ({format_bytes(sum(f['bytes'] for f in manifest['files'].values()))})")
    return manifest


def _check_output(run_path: Path, output: Path, overwrite: bool) -> None:
    """Refuse an ``output`` that would replace the run, hold it, or replace what is no bundle."""
    out, run = output.resolve(), run_path.resolve()
    if out == run or run in out.parents:
        raise UsageError(f"`output` {output}: inside the run {run_path}, which the bundle must not "
                         f"change; choose a directory outside it")
    if out in run.parents:
        raise UsageError(f"`output` {output}: holds the run {run_path}; choose a directory that "
                         f"does not")
    if not (output.exists() or output.is_symlink()):
        return
    if not replaceable(output):
        raise UsageError(f"`output` {output}: exists and is neither a textclf bundle nor an empty "
                         f"directory, which are all `overwrite` replaces; choose another directory")
    if not overwrite:
        raise UsageError(f"`output` {output}: already exists; choose another directory or "
                         f"replace it with `overwrite`")


# -- texts to check with ---------------------------------------------------------------------------
def _check_texts(resolved: RunConfig, model: BaseModel, need_labels: bool, echo: Echo) -> Texts:
    """The run's validation texts (test if it has none), else generated texts of varied lengths."""
    try:
        data = resolved[DATA].build()
        with resolved[DATA].naming_options():
            data.prepare_data()
            for split in ("val", "test"):
                found = data.raw_examples(split)
                if found is not None:
                    return Texts(found[0], found[1], f"{split} split")
        problem = "the run's data has no validation or test split"
    except TextclfError as exc:
        problem = f"the run's data is not available ({exc})"
    if need_labels:
        raise OptionError(f"`quantize` int8 checks accuracy on the run's validation texts, but "
                          f"{problem}; make the data available again, or export without `quantize`")
    echo(f"note: {problem}; checking the export on generated texts instead")
    return Texts(_generated_texts(model), None, "generated")


def _generated_texts(model: BaseModel) -> list[str]:
    vocab = [t for t in model.tokenizer.get_vocab() if t.isalpha()] or ["text"]
    rng = np.random.default_rng(0)
    lengths = np.unique(np.geomspace(1, 4 * model.max_length, PARITY_TEXTS).astype(int))
    return [" ".join(rng.choice(vocab, size=n)) for n in lengths]


def _spread(texts: Texts, count: int) -> list[str]:
    """``count`` texts from shortest to longest (the longest ones are cut by truncation)."""
    order = np.argsort([len(t) for t in texts.texts], kind="stable")
    picks = np.unique(np.linspace(0, len(order) - 1, min(count, len(order))).round().astype(int))
    return [texts.texts[order[i]] for i in picks]


# -- ONNX -----------------------------------------------------------------------------------------
@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporters' progress prints and notes about optional operators stay off the terminal."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "onnxscript", "")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        # The exporter also prints graph dumps to stderr when it fails; the error says what matters.
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _to_onnx(model: BaseModel, path: Path, optimize: bool, echo: Echo) -> dict[str, int] | None:
    """Export to one ONNX file with dynamic batch and sequence axes; with ``optimize``, fuse
    attention, layer norms and GELUs into onnxruntime's kernels (returns what was fused)."""
    rows = model.encoder.encode_batch(["an example text to trace the model with", "another"])
    padded_ids, padded_mask = pad_rows(rows, model.encoder.pad_id)
    # Two more padding columns, so that no row fills the batch: the trace sees padding in every row.
    ids = torch.from_numpy(np.pad(padded_ids, ((0, 0), (0, 2)), constant_values=model.encoder.pad_id))
    mask = torch.from_numpy(np.pad(padded_mask, ((0, 0), (0, 2))))
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    shapes = {"input_ids": {0: batch, 1: sequence}, "attention_mask": {0: batch, 1: sequence}}
    try:
        with _quiet(), torch.no_grad():
            program = torch.onnx.export(model, (ids, mask), None, input_names=INPUTS,
                                        output_names=OUTPUTS, dynamic_shapes=shapes,
                                        opset_version=OPSET, dynamo=True)
    except Exception as exc:  # the exporter raises many kinds; each means this model cannot export
        raise ExportError(export_failure(model, exc)) from exc
    assert program is not None, "the dynamo exporter returns its program when given no file"
    fusions = None
    if optimize:
        try:
            from onnxscript.rewriter.ort_fusions import optimize_for_ort

            with _quiet():
                _, counts = optimize_for_ort(program.model)
            fusions = {name: count for name, count in counts.items() if count}
        except Exception as exc:  # a graph the fusions do not understand still exports plainly
            echo(f"note: onnxruntime fusions skipped ({type(exc).__name__}: {exc}); exporting the plain graph")
    program.save(str(path), external_data=False)
    return fusions


#: Terminal colour codes, which the exporter puts in its messages.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: A source location as the exporter quotes it: ``path/to/model.py:74 in forward``.
_LOCATION = re.compile(r"([^\s()\"']+\.py):(\d+) in (\w+)")


def export_failure(model: BaseModel, exc: BaseException) -> str:
    """One line on why ``model`` did not export: the innermost cause, the line of the model's
    code it points at, and how to see everything."""
    chain = [exc]
    while (nested := chain[-1].__cause__ or chain[-1].__context__) is not None and len(chain) < 20:
        chain.append(nested)
    innermost = chain[-1]
    reason = " ".join(_ANSI.sub("", str(innermost)).split("\n\n")[0].split())
    where = _model_line(model, chain)
    debug = "" if os.environ.get("TEXTCLF_DEBUG") else "; TEXTCLF_DEBUG=1 shows the exporter's whole trace"
    return (f"torch.onnx.export failed for {type(model).__name__}: {type(innermost).__name__}: "
            f"{reason}{where}; forward must avoid .item(), .tolist() and Python branches on tensor "
            f"values (see 'What forward must avoid' in docs/plugins.md){debug}")


def _model_line(model: BaseModel, chain: list[BaseException]) -> str:
    """`` (at model.py:74 in forward: `if x.item() > 0:`)`` for the model's own code that the
    failure names, in its messages or its tracebacks; empty when it names none."""
    import inspect
    import traceback

    try:
        source = Path(inspect.getfile(type(model))).resolve()
    except (TypeError, OSError):
        return ""
    found: list[tuple[str, int, str]] = []
    for error in chain:
        found += [(m[0], int(m[1]), m[2]) for m in _LOCATION.findall(_ANSI.sub("", str(error)))]
        found += [(f.filename, f.lineno or 0, f.name) for f in traceback.extract_tb(error.__traceback__)]
    for filename, line, function in found:
        path = Path(filename)
        if (path if path.is_absolute() else Path.cwd() / path).resolve() == source:
            code = linecache.getline(str(source), line).strip()
            return f" (at {filename}:{line} in {function}: `{code}`)" if code else f" (at {filename}:{line})"
    return ""


def _parity(model: BaseModel, bundle_dir: Path, texts: Texts, echo: Echo) -> dict[str, Any]:
    """Compare the PyTorch and ONNX logits on texts of varied lengths and at the edges (empty,
    1 and 2 tokens, max length); fail beyond tolerance, or when the ONNX model breaks the
    contract on them."""
    edges = list(probe_texts(model.encoder).values())
    sample = _spread(texts, PARITY_TEXTS) + edges
    # Just sealed: no need to hash every file again before loading it.
    bundle = runtime.load(bundle_dir, provider="cpu", max_batch_tokens=1 << 30, verify_files=False)
    rows = model.encoder.encode_batch(sample)

    def torch_logits(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(ids), torch.from_numpy(mask)).float().numpy()

    name, some = type(model).__name__, sample[:: max(1, len(sample) // 8)]
    try:
        check_contract(torch_logits, model.encoder, model.num_labels, name, some)
        expected = runtime.batched(rows, 16, model.encoder.pad_id, model.num_labels, torch_logits)
        check_contract(session_run(bundle), bundle.encoder, model.num_labels,
                       f"the ONNX export of {name}", some)
    except ContractError as exc:
        raise ExportError(f"{exc}; nothing was written") from None
    except Exception as exc:  # the model's own forward failing on texts of the run's data
        raise ExportError(f"{name} fails while export checks it on the run's texts "
                          f"({type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}); nothing "
                          f"was written") from exc
    actual = bundle.logits(sample, batch_size=16)
    difference = float(np.abs(expected - actual).max())
    agree = int((expected.argmax(1) == actual.argmax(1)).sum())
    lengths = [len(r) for r in rows]
    report = {"texts": len(sample), "source": texts.source, "edge_texts": len(edges), "min_tokens": min(lengths),
              "max_tokens": max(lengths), "max_logit_difference": difference,
              "tolerance": PARITY_TOLERANCE, "agreement": agree / len(sample)}
    echo(f"parity: {len(sample)} texts ({texts.source} and {len(edges)} edge cases, "
         f"{min(lengths)}-{max(lengths)} tokens): largest "
         f"logit difference {difference:.2e} (limit {PARITY_TOLERANCE:.0e}), predictions agree "
         f"{agree}/{len(sample)}")
    if not difference <= PARITY_TOLERANCE:
        raise ExportError(f"parity check failed: the ONNX model's logits differ from PyTorch's by "
                          f"up to {difference:.2e} (limit {PARITY_TOLERANCE:.0e}); nothing was written")
    return report


def session_run(bundle: runtime.Bundle) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The bundle's ONNX model as ``run(input_ids, attention_mask) -> logits``."""
    def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.asarray(bundle.session.run(None, dict(zip(bundle.input_names, (ids, mask))))[0])

    return run


def _quantize(bundle_dir: Path, texts: Texts, echo: Echo) -> dict[str, Any]:
    """Replace the model with its dynamically quantized int8 version, if it keeps the accuracy."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    assert texts.labels is not None
    fp32_path, int8_path = bundle_dir / MODEL_FILE, bundle_dir / "model.int8.onnx"
    with _quiet():
        quantize_dynamic(str(fp32_path), str(int8_path), weight_type=QuantType.QInt8)
    sample = texts.texts[:INT8_EVAL_TEXTS]
    labels = texts.labels[:INT8_EVAL_TEXTS]
    fp32 = _score(runtime.load(bundle_dir, provider="cpu", verify_files=False), sample)
    int8_path.replace(fp32_path)
    int8 = _score(runtime.load(bundle_dir, provider="cpu", verify_files=False), sample)
    accuracy = {name: float((result["predictions"] == labels).mean()) for name, result in
                (("fp32", fp32), ("int8", int8))}
    agreement = float((fp32["predictions"] == int8["predictions"]).mean())
    sizes = {"fp32": fp32["bytes"], "int8": int8["bytes"]}
    echo(f"int8: {len(sample)} texts ({texts.source}): accuracy {accuracy['fp32']:.4f} -> "
         f"{accuracy['int8']:.4f}, agreement with fp32 {agreement:.2%}")
    echo(f"  size {format_bytes(sizes['fp32'])} -> {format_bytes(sizes['int8'])}, speed "
         f"{fp32['per_second']:,.0f} -> {int8['per_second']:,.0f} texts/s (batch 32, CPU)")
    if accuracy["int8"] < accuracy["fp32"] - INT8_MAX_DROP:
        raise ExportError(f"int8 quantization lost {100 * (accuracy['fp32'] - accuracy['int8']):.2f} "
                          f"points of accuracy (limit {100 * INT8_MAX_DROP:.1f}); nothing was "
                          f"written; export without --quantize")
    return {"texts": len(sample), "source": texts.source, "accuracy": accuracy,
            "agreement": agreement, "bytes": sizes,
            "texts_per_second": {"fp32": fp32["per_second"], "int8": int8["per_second"]},
            "max_accuracy_drop": INT8_MAX_DROP}


def _score(bundle: runtime.Bundle, texts: list[str]) -> dict[str, Any]:
    start = time.perf_counter()
    predictions = bundle.logits(texts, batch_size=32).argmax(axis=1)
    seconds = time.perf_counter() - start
    return {"predictions": predictions, "per_second": len(texts) / max(seconds, 1e-9),
            "bytes": (bundle.directory / bundle.manifest["model"]).stat().st_size}


# -- the manifest and the model card ---------------------------------------------------------------
def _manifest(run: RunDir, resolved: RunConfig, model: BaseModel, config: dict[str, Any]) -> dict[str, Any]:
    metrics = {}
    if run.metrics_file.is_file():
        recorded = json.loads(run.metrics_file.read_text())
        metrics = {split: recorded[split] for split in ("val", "test") if split in recorded}
    return {
        "format": runtime.FORMAT,
        "model": MODEL_FILE, "tokenizer": TOKENIZER_FILE, "card": CARD_FILE,
        "labels": list(model.labels), "max_length": model.max_length,
        "truncation": model.truncation, "pad_id": model.encoder.pad_id,
        "inputs": INPUTS, "outputs": OUTPUTS, "input_dtype": "int64",
        "quantization": None,
        "producer": {"textclf": __version__, "plugins": resolved.plugin_versions(),
                     "torch": torch.__version__.split("+")[0], "onnx_opset": OPSET,
                     "exported": time.strftime("%Y-%m-%dT%H:%M:%S")},
        "run": {"name": run.path.name,
                **{kind.section: config[kind.section]["name"] for kind in (DATA, MODEL, LIT_MODEL)},
                "metrics": metrics},
    }
