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
#: The most an int8 model may lose in validation accuracy by default (half a point; export's
#: ``max_accuracy_drop`` sets it in points).
INT8_MAX_DROP = 0.005
#: The int8 check scores the whole validation split, up to this many texts (a seeded sample beyond).
INT8_EVAL_TEXTS = 4000
#: Below this many texts the int8 check is a weak gate (one text moves accuracy 0.2 points or more).
INT8_FEW_TEXTS = 500
#: The two-sided 95% quantile of the normal distribution, for the interval of the accuracy drop.
INT8_Z95 = 1.959963984540054
#: /proc/cpuinfo flags of int8 dot-product instructions (VNNI), with which 8-bit weights need no
#: reduced range: AVX512-VNNI, AVX-VNNI, and AMX (whose CPUs have AVX512-VNNI too).
INT8_VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})
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
           max_accuracy_drop: float | None = None, echo: Echo = print) -> dict[str, Any]:
    """Export the run at ``run_path`` to the bundle directory ``output``; returns its manifest.
    ``registry`` finds the run's components (a ``PluginHost``'s); ``sign`` is an Ed25519 private
    key file (PEM or OpenSSH) to sign the bundle with; ``max_accuracy_drop`` is the most accuracy
    (in points) ``quantize`` int8 may lose on the validation texts (default half a point)."""
    if max_accuracy_drop is not None:
        if quantize is None:
            raise UsageError("`max_accuracy_drop` is the tolerance of `quantize` int8's accuracy "
                             "check; add `quantize` int8, or leave it out")
        max_accuracy_drop = check_max_accuracy_drop(max_accuracy_drop)
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
                manifest["checks"]["int8"] = _quantize(tmp, texts, echo, max_accuracy_drop)
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


# -- int8 -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Int8Settings:
    """How ``quantize_int8`` quantizes: onnxruntime's dynamic quantization (int8 weights stored,
    activations quantized batch by batch as the model runs), with these choices."""

    #: One scale per output column of each weight matrix, instead of one per matrix.
    per_channel: bool = True
    #: The operator types quantized: matrix products with constant weights, and embedding tables.
    op_types: tuple[str, ...] = ("MatMul", "Gather")
    #: Run a fused Attention's query/key/value projection as a MatMul (so it is quantized too)
    #: feeding onnxruntime's MultiHeadAttention. onnxruntime leaves an Attention with
    #: ``qkv_hidden_sizes`` in fp32, and its QAttention would drop an attention bias (the mask).
    split_attention: bool = True
    #: Gemm layers stay fp32: a transformer's pooler and classification head, which run once per
    #: text rather than per token.
    keep_gemm: bool = True
    #: 7-bit weights, which avoid saturating 16-bit sums on x86 CPUs without VNNI; None: on
    #: unless this CPU has VNNI (and when that is unknown).
    reduce_range: bool | None = None
    #: Names of more nodes to keep fp32.
    exclude: tuple[str, ...] = ()
    #: Run onnxruntime's fused SkipLayerNormalization and BiasGelu as their parts (Add +
    #: LayerNormalization, Add + Gelu): the same arithmetic, and on the CPU, where int8 models
    #: run, the parts' kernels are faster (onnxruntime 1.32: about 1 ms a 128-token text of a
    #: MiniLM, a tenth of the int8 model's time).
    unfuse_slow_kernels: bool = True


#: The settings textclf exports with (chosen on a fine-tuned MiniLM: see BENCHMARKS.md).
INT8_SETTINGS = Int8Settings()


def cpu_has_vnni(cpuinfo: str | None = None) -> bool | None:
    """Whether the CPU has VNNI int8 dot products, from the ``flags`` of ``/proc/cpuinfo`` (or
    the text ``cpuinfo``); None when unknown (not Linux, or no x86 flags line)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return not INT8_VNNI_FLAGS.isdisjoint(value.split())
    return None


def quantize_int8(source: Path, target: Path, settings: Int8Settings = INT8_SETTINGS) -> dict[str, Any]:
    """Write the int8 version of the ONNX model ``source`` to ``target``; returns what was done
    (the settings, with ``reduce_range`` resolved). An ExportError when nothing in the model is
    of a quantized kind."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(source))
    split = _split_attention(model) if settings.split_attention else 0
    unfused = _unfuse_slow_kernels(model) if settings.unfuse_slow_kernels else {}
    for i, node in enumerate(model.graph.node):
        if not node.name:  # exclusions go by name
            node.name = f"{node.op_type}_{i}"
    exclude = list(settings.exclude)
    if settings.keep_gemm:  # the quantizer turns a Gemm into a MatMul named after it
        exclude += [name for node in model.graph.node if node.op_type == "Gemm"
                    for name in (node.name, f"{node.name}_MatMul")]
    vnni = cpu_has_vnni()
    reduce_range = settings.reduce_range if settings.reduce_range is not None else vnni is not True
    with _quiet():
        quantize_dynamic(model, str(target), op_types_to_quantize=list(settings.op_types),
                         per_channel=settings.per_channel, reduce_range=reduce_range,
                         weight_type=QuantType.QInt8, nodes_to_exclude=exclude)
    quantized = onnx.load(str(target), load_external_data=False)
    if not any(t.data_type in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8)
               for t in quantized.graph.initializer):
        raise ExportError(f"`quantize` int8: nothing in this model is of a kind it quantizes "
                          f"({', '.join(settings.op_types)} with constant weights); nothing was "
                          f"written; export without `quantize`")
    return {"method": "dynamic", "weights": "int8", "per_channel": settings.per_channel,
            "op_types": list(settings.op_types), "attention_projections_split": split,
            "fp32_gemm": settings.keep_gemm, "excluded": list(settings.exclude),
            "reduce_range": reduce_range, "cpu_vnni": vnni, "unfused": unfused}


def _opset(model: Any) -> int:
    """The default-domain opset ``model`` imports."""
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), OPSET)


def _used_names(graph: Any) -> set[str]:
    """Names of the tensors ``graph``'s nodes read or it outputs."""
    return {name for node in graph.node for name in node.input} | {o.name for o in graph.output}


def _unfuse_slow_kernels(model: Any) -> dict[str, int]:
    """Rewrite each com.microsoft SkipLayerNormalization of ``model`` as Add (+ Add of its bias)
    + LayerNormalization, and each BiasGelu as Add + Gelu, in place; returns how many of each.
    A SkipLayerNormalization whose mean or inverse-deviation outputs are used is left alone."""
    from onnx import helper

    graph = model.graph
    opset, used = _opset(model), _used_names(graph)
    nodes: list[Any] = []
    counts = {"SkipLayerNormalization": 0, "BiasGelu": 0}
    for node in graph.node:
        name = node.name or f"{node.op_type}_{len(nodes)}"
        if node.domain != "com.microsoft" or node.op_type not in counts:
            nodes.append(node)
            continue
        if node.op_type == "BiasGelu":
            total = f"{name}/sum"
            nodes += [helper.make_node("Add", list(node.input), [total], f"{name}/Add"),
                      helper.make_node("Gelu", [total], list(node.output), f"{name}/Gelu",
                                       domain="com.microsoft")]
            counts["BiasGelu"] += 1
            continue
        inputs = list(node.input) + [""] * (5 - len(node.input))
        outputs = list(node.output) + [""] * (4 - len(node.output))
        if opset < 17 or {outputs[1], outputs[2]} & used - {""}:  # LayerNormalization: opset 17
            nodes.append(node)
            continue
        epsilon = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "epsilon"), 1e-12)
        total = outputs[3] or f"{name}/sum"
        if inputs[4]:  # the bias, added after the skip
            nodes += [helper.make_node("Add", inputs[:2], [f"{name}/skip_sum"], f"{name}/Add"),
                      helper.make_node("Add", [f"{name}/skip_sum", inputs[4]], [total], f"{name}/AddBias")]
        else:
            nodes.append(helper.make_node("Add", inputs[:2], [total], f"{name}/Add"))
        nodes.append(helper.make_node("LayerNormalization", [total, *[i for i in inputs[2:4] if i]],
                                      [outputs[0]], f"{name}/LayerNormalization", axis=-1,
                                      epsilon=epsilon))
        counts["SkipLayerNormalization"] += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return {op: count for op, count in counts.items() if count}


def _split_attention(model: Any) -> int:
    """Rewrite each fused com.microsoft Attention of ``model`` whose projection weight is constant
    (an initializer, or a Concat of them) as MatMul -> Split -> MultiHeadAttention, which computes
    the same; returns how many were rewritten. Any other Attention is left as it is."""
    from onnx import helper, numpy_helper

    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    producers = {output: node for node in graph.node for output in node.output}
    opset = _opset(model)

    def constant(name: str) -> np.ndarray | None:
        if name in initializers:
            return numpy_helper.to_array(initializers[name])
        node = producers.get(name)
        if node is None or node.op_type != "Concat" or node.domain not in ("", "ai.onnx") \
                or not all(i in initializers for i in node.input):
            return None
        axis = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "axis"), 0)
        return np.concatenate([numpy_helper.to_array(initializers[i]) for i in node.input], axis=axis)

    nodes, count = [], 0
    for node in graph.node:
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        inputs = list(node.input) + [""] * (7 - len(node.input))
        weight = constant(inputs[1]) if node.op_type == "Attention" and node.domain == "com.microsoft" else None
        sizes = attributes.get("qkv_hidden_sizes") or []
        if (weight is None or weight.ndim != 2 or weight.dtype != np.float32 or weight.shape[1] % 3
                or any(inputs[i] for i in (3, 4, 6)) or any(node.output[1:])
                or set(attributes) - {"num_heads", "qkv_hidden_sizes", "scale", "mask_filter_value"}
                or any(size != weight.shape[1] // 3 for size in sizes)):
            nodes.append(node)
            continue
        width, name = weight.shape[1] // 3, node.name or f"Attention_{count}"
        qkv, q, k, v = (f"{name}/{part}" for part in ("qkv", "q", "k", "v"))
        graph.initializer.append(numpy_helper.from_array(weight, f"{name}/qkv_weight"))
        if opset >= 13:
            graph.initializer.append(numpy_helper.from_array(np.array([width] * 3, np.int64), f"{name}/qkv_split"))
            split = helper.make_node("Split", [qkv, f"{name}/qkv_split"], [q, k, v], f"{name}/Split", axis=-1)
        else:
            split = helper.make_node("Split", [qkv], [q, k, v], f"{name}/Split", axis=-1, split=[width] * 3)
        kept = {key: value for key, value in attributes.items() if key != "qkv_hidden_sizes"}
        nodes += [helper.make_node("MatMul", [inputs[0], f"{name}/qkv_weight"], [qkv], f"{name}/MatMul"),
                  split,
                  helper.make_node("MultiHeadAttention", [q, k, v, inputs[2], "", inputs[5]],
                                   [node.output[0]], f"{name}/MultiHeadAttention",
                                   domain="com.microsoft", **kept)]
        count += 1
    del graph.node[:]
    graph.node.extend(nodes)
    # The Concats that built the fused weights, and their pieces, when nothing else uses them.
    used = _used_names(graph)
    unused = [node for node in graph.node if node.op_type == "Concat" and not used & set(node.output)
              and all(i in initializers for i in node.input)]
    for node in unused:
        graph.node.remove(node)
    used = _used_names(graph)
    for tensor in [t for t in graph.initializer if t.name not in used]:
        graph.initializer.remove(tensor)
    return count


def paired_drop(fp32_correct: np.ndarray, int8_correct: np.ndarray) -> dict[str, Any]:
    """The accuracy drop from fp32 to int8 on the same texts, in points, with a 95% interval: the
    normal approximation for a difference of paired proportions, which depends only on the
    discordant pairs (``b`` texts only fp32 gets right, ``c`` only int8): drop (b - c) / n,
    standard error sqrt(b + c - (b - c)^2 / n) / n."""
    fp32_correct, int8_correct = np.asarray(fp32_correct, bool), np.asarray(int8_correct, bool)
    n = len(fp32_correct)
    b = int((fp32_correct & ~int8_correct).sum())
    c = int((~fp32_correct & int8_correct).sum())
    drop = (b - c) / n
    error = float(np.sqrt(max(b + c - (b - c) ** 2 / n, 0.0))) / n
    return {"points": 100 * drop, "ci95": [100 * (drop - INT8_Z95 * error), 100 * (drop + INT8_Z95 * error)],
            "only_fp32_correct": b, "only_int8_correct": c}


def check_max_accuracy_drop(value: Any) -> float:
    """``value`` as a tolerance in accuracy points, or a UsageError naming `max_accuracy_drop`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
        raise UsageError(f"`max_accuracy_drop` {value}: must be a finite number of accuracy points, "
                         f"0 or more (default {100 * INT8_MAX_DROP:g})")
    return float(value)


def _quantize(bundle_dir: Path, texts: Texts, echo: Echo, max_drop: float | None = None) -> dict[str, Any]:
    """Replace the model with its int8 version (``INT8_SETTINGS``) if it keeps the accuracy: the
    drop from fp32 on the validation texts (up to ``INT8_EVAL_TEXTS``) may be at most
    ``max_drop`` points (default ``INT8_MAX_DROP``); a drop equal to it passes, a larger one is
    refused. The 95% interval is reported with it, not used to decide."""
    assert texts.labels is not None
    limit = 100 * INT8_MAX_DROP if max_drop is None else max_drop
    fp32_path, int8_path = bundle_dir / MODEL_FILE, bundle_dir / "model.int8.onnx"
    settings = quantize_int8(fp32_path, int8_path)
    chosen = np.arange(len(texts.texts))
    if len(chosen) > INT8_EVAL_TEXTS:
        chosen = np.sort(np.random.default_rng(0).choice(len(chosen), INT8_EVAL_TEXTS, replace=False))
    sample, labels = [texts.texts[i] for i in chosen], np.asarray(texts.labels)[chosen]
    fp32 = _score(runtime.load(bundle_dir, provider="cpu", verify_files=False), sample)
    int8_path.replace(fp32_path)
    int8 = _score(runtime.load(bundle_dir, provider="cpu", verify_files=False), sample)
    n = len(sample)
    multi = labels.ndim == 2  # multi-label: gated on micro-F1 instead of accuracy
    metric = "micro-F1" if multi else "accuracy"
    if multi:
        accuracy = {name: micro_f1(result["predictions"], labels) for name, result in
                    (("fp32", fp32), ("int8", int8))}
        agreement = float((fp32["predictions"] == int8["predictions"]).all(axis=1).mean())
        drop = paired_f1_drop(fp32["predictions"], int8["predictions"], labels)
    else:
        accuracy = {name: float((result["predictions"] == labels).mean()) for name, result in
                    (("fp32", fp32), ("int8", int8))}
        agreement = float((fp32["predictions"] == int8["predictions"]).mean())
        drop = paired_drop(fp32["predictions"] == labels, int8["predictions"] == labels)
    low, high = drop["ci95"]
    sizes = {"fp32": fp32["bytes"], "int8": int8["bytes"]}
    counted = f"{n:,} texts" if n == len(texts.texts) else f"{n:,} of {len(texts.texts):,} texts"
    echo(f"int8: {counted} ({texts.source}): {metric} {accuracy['fp32']:.4f} -> {accuracy['int8']:.4f}, "
         f"drop {drop['points']:.2f} points (95% CI {low:.2f} to {high:.2f}; limit {limit:.2f}), "
         f"agreement with fp32 {agreement:.2%}")
    echo(f"  size {format_bytes(sizes['fp32'])} -> {format_bytes(sizes['int8'])}, speed "
         f"{fp32['per_second']:,.0f} -> {int8['per_second']:,.0f} texts/s (batch 32, CPU); "
         f"{_describe(settings)}")
    if n < INT8_FEW_TEXTS:
        echo(f"note: the int8 check scored only {n:,} texts, where one text is {100 / n:.2f} points "
             f"of accuracy: a weak gate; a larger validation split makes it a stronger one" if not multi else
             f"note: the int8 check scored only {n:,} texts: a weak gate; a larger validation split "
             f"makes it a stronger one")
    if drop["points"] > limit + 1e-9:
        raise ExportError(f"int8 quantization lost {drop['points']:.2f} points of {metric} on {n:,} texts "
                          f"of the {texts.source} (95% CI {low:.2f} to {high:.2f}; limit {limit:.2f}, "
                          f"`max_accuracy_drop`); nothing was written; export without `quantize`, or "
                          f"allow a larger drop with `max_accuracy_drop`")
    interval = ("95%, paired bootstrap over texts (2,000 resamples)" if multi else
                "95%, normal approximation for paired proportions (from the discordant pairs)")
    return {"texts": n, "of": len(texts.texts), "source": texts.source, "accuracy": accuracy,
            **({"metric": "micro_f1"} if multi else {}),
            "agreement": agreement,
            "accuracy_drop": {**drop, "interval": interval},
            "max_accuracy_drop": limit,
            "rule": "refused when accuracy_drop.points > max_accuracy_drop (both in points)",
            "weak_gate": n < INT8_FEW_TEXTS, "bytes": sizes,
            "texts_per_second": {"fp32": fp32["per_second"], "int8": int8["per_second"]},
            "settings": settings}


def _describe(settings: dict[str, Any]) -> str:
    """``per-channel int8 MatMul, Gather (6 attention projections split out), reduce_range off (VNNI)``."""
    split = settings["attention_projections_split"]
    vnni = {True: "CPU has VNNI", False: "CPU without VNNI", None: "VNNI unknown"}[settings["cpu_vnni"]]
    return (f"{'per-channel' if settings['per_channel'] else 'per-tensor'} int8 "
            f"{', '.join(settings['op_types'])}"
            f"{f' ({split} attention projections split out)' if split else ''}, "
            f"reduce_range {'on' if settings['reduce_range'] else 'off'} ({vnni})")


def micro_f1(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Micro-averaged F1 of 0/1 label matrices (1.0 when neither has a positive)."""
    tp = int((predictions & labels).sum())
    wrong = int((predictions != labels).sum())
    return 1.0 if tp + wrong == 0 else 2 * tp / (2 * tp + wrong)


def paired_f1_drop(fp32: np.ndarray, int8: np.ndarray, labels: np.ndarray,
                   resamples: int = 2000) -> dict[str, Any]:
    """The micro-F1 drop from fp32 to int8 on the same texts, in points, with a 95% paired
    bootstrap interval (texts resampled with replacement; seeded, so repeatable)."""
    def counts(predictions: np.ndarray) -> np.ndarray:  # per text: 2 x true positives, errors
        return np.stack([2 * (predictions & labels).sum(axis=1), (predictions != labels).sum(axis=1)], axis=1)

    a, b = counts(fp32), counts(int8)

    def f1(c: np.ndarray) -> np.ndarray:
        total = c[..., 0] + c[..., 1]
        return np.where(total > 0, c[..., 0] / np.maximum(total, 1), 1.0)

    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(labels), size=(resamples, len(labels)))
    differences = 100 * (f1(a[picks].sum(axis=1)) - f1(b[picks].sum(axis=1)))
    points = 100 * (micro_f1(fp32, labels) - micro_f1(int8, labels))
    low, high = np.percentile(differences, [2.5, 97.5])
    return {"points": float(points), "ci95": [float(low), float(high)]}


def _score(bundle: runtime.Bundle, texts: list[str]) -> dict[str, Any]:
    start = time.perf_counter()
    logits = bundle.logits(texts, batch_size=32)
    if bundle.thresholds is not None:  # multi-label: each text's 0/1 row of labels
        predictions = (bundle.probabilities(logits) >= bundle.thresholds).astype(np.int64)
    else:
        predictions = logits.argmax(axis=1)
    seconds = time.perf_counter() - start
    return {"predictions": predictions, "per_second": len(texts) / max(seconds, 1e-9),
            "bytes": (bundle.directory / bundle.manifest["model"]).stat().st_size}


# -- the manifest and the model card ---------------------------------------------------------------
def _manifest(run: RunDir, resolved: RunConfig, model: BaseModel, config: dict[str, Any]) -> dict[str, Any]:
    recorded = run.read_metrics()
    metrics = {split: recorded[split] for split in ("val", "test") if split in recorded}
    task: dict[str, Any] = {}
    if recorded.get("task") == "multi_label" or model.multi_label:
        thresholds = (recorded.get("thresholds") or {}).get("values") or [0.5] * model.num_labels
        task = {"task": "multi_label", "thresholds": [float(t) for t in thresholds]}
    return {
        "format": runtime.FORMAT,
        "model": MODEL_FILE, "tokenizer": TOKENIZER_FILE, "card": CARD_FILE,
        **task,
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
