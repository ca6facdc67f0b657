"""``textclf export --quantize int8``: the settings, the accuracy gate and ``--max-accuracy-drop``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import plugin_sources as src
import pytest
from onnx import TensorProto, helper, numpy_helper

import textclf.export
from textclf.export import ExportError, Int8Settings, cpu_has_vnni, paired_drop, quantize_int8
from textclf.testing import lines
from tiny_runs import trained_bundle


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """A finished run of the tiny model (40 validation texts) and its fp32 bundle."""
    return trained_bundle(tmp_path_factory.mktemp("quantize"))


@pytest.fixture(autouse=True)
def tiny_plugin(textclf_site):
    textclf_site.add("textclf-tiny", src.TINY_MODEL)


def export_int8(textclf_cli, trained, output: Path, *extra: str):
    return textclf_cli("export", str(trained["run"]), "--output", str(output), "--quantize", "int8", *extra,
                       env=trained["env"])


def nothing_written(tmp_path: Path) -> bool:
    """No bundle, and no temporary directory left beside it (the test's plugin site aside)."""
    return sorted(p.name for p in tmp_path.iterdir()) in ([], ["site"])


# -- the option -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "message"), [
    ("-0.5", "error: --max-accuracy-drop -0.5: must be a finite number of accuracy points, 0 or more (default 0.5)"),
    ("nan", "error: --max-accuracy-drop nan: must be a finite number of accuracy points, 0 or more (default 0.5)"),
    ("inf", "error: --max-accuracy-drop inf: must be a finite number of accuracy points, 0 or more (default 0.5)"),
    ("half", "error: Invalid value for '--max-accuracy-drop': 'half' is not a valid float. "
             "(see 'textclf export --help')"),
])
def test_a_bad_tolerance_is_one_line_and_writes_nothing(trained, textclf_cli, tmp_path, value, message):
    result = export_int8(textclf_cli, trained, tmp_path / "b", "--max-accuracy-drop", value)
    assert (result.returncode, result.stdout, lines(result.stderr)) == (2, "", [message])
    assert nothing_written(tmp_path)


def test_a_tolerance_without_quantize_is_refused(trained, textclf_cli, tmp_path):
    result = textclf_cli("export", str(trained["run"]), "--output", str(tmp_path / "b"),
                         "--max-accuracy-drop", "1", env=trained["env"])
    assert (result.returncode, lines(result.stderr)) == (2, [
        "error: --max-accuracy-drop is the tolerance of --quantize int8's accuracy check; add "
        "--quantize int8, or leave it out"])
    assert nothing_written(tmp_path)


# -- the gate -------------------------------------------------------------------------------------
@pytest.fixture
def int8_flips(monkeypatch):
    """Make the int8 model answer wrongly on the first ``count`` validation texts that fp32 gets
    right (``count`` set by the test), whatever the real int8 model says."""
    seen: dict = {"count": 0}
    real_texts, real_score = textclf.export._check_texts, textclf.export._score

    def check_texts(*args, **kwargs):
        seen["texts"] = real_texts(*args, **kwargs)
        return seen["texts"]

    def score(bundle, texts):
        result = real_score(bundle, texts)
        if "fp32" not in seen:
            seen["fp32"] = result["predictions"].copy()
            return result
        labels = np.asarray(seen["texts"].labels)
        assert len(texts) == len(labels)  # the whole split: 40 texts
        right = np.flatnonzero(seen["fp32"] == labels)[: seen["count"]]
        predictions = seen["fp32"].copy()
        predictions[right] = 1 - labels[right]
        return {**result, "predictions": predictions}

    monkeypatch.setattr(textclf.export, "_check_texts", check_texts)
    monkeypatch.setattr(textclf.export, "_score", score)
    return seen


def test_the_manifest_records_the_gate(trained, textclf_cli, tmp_path, int8_flips):
    int8_flips["count"] = 2  # 2 of 40 texts: 5 points, which a tolerance of 5 still allows
    result = export_int8(textclf_cli, trained, tmp_path / "b", "--max-accuracy-drop", "5")
    assert result.returncode == 0, result.stderr
    check = json.loads((tmp_path / "b" / "textclf.json").read_text())["checks"]["int8"]
    assert (check["texts"], check["of"], check["source"], check["max_accuracy_drop"]) == (40, 40, "val split", 5.0)
    assert check["accuracy"]["fp32"] - check["accuracy"]["int8"] == pytest.approx(0.05)
    assert check["agreement"] == pytest.approx(38 / 40)
    drop = check["accuracy_drop"]
    assert drop["points"] == pytest.approx(5.0) and (drop["only_fp32_correct"], drop["only_int8_correct"]) == (2, 0)
    assert drop["ci95"] == pytest.approx([5 - 1.959964 * np.sqrt(2 - 4 / 40) / 40 * 100,
                                          5 + 1.959964 * np.sqrt(2 - 4 / 40) / 40 * 100])
    assert check["weak_gate"] is True and "accuracy_drop.points > max_accuracy_drop" in check["rule"]
    settings = check["settings"]
    assert settings["method"] == "dynamic" and settings["per_channel"] is True
    assert settings["reduce_range"] is (cpu_has_vnni() is not True)
    out = lines(result.stderr)
    int8_line = next(line for line in out if line.startswith("int8: "))
    assert int8_line.startswith("int8: 40 texts (val split): accuracy ")
    assert "drop 5.00 points (95% CI -1.75 to 11.75; limit 5.00), agreement with fp32 95.00%" in int8_line
    assert ("note: the int8 check scored only 40 texts, where one text is 2.50 points of accuracy: a weak "
            "gate; a larger validation split makes it a stronger one") in out


@pytest.mark.parametrize("tolerance", [("--max-accuracy-drop", "4.99"), ()])
def test_a_drop_above_the_tolerance_refuses(trained, textclf_cli, tmp_path, int8_flips, tolerance):
    int8_flips["count"] = 2
    result = export_int8(textclf_cli, trained, tmp_path / "b", *tolerance)
    limit = tolerance[1] if tolerance else "0.50"
    assert result.returncode == 1
    assert lines(result.stderr)[-1] == (
        f"error: int8 quantization lost 5.00 points of accuracy on 40 texts of the val split (95% CI -1.75 to "
        f"11.75; limit {limit}, --max-accuracy-drop); nothing was written; export without --quantize, or allow "
        f"a larger drop with --max-accuracy-drop")
    assert nothing_written(tmp_path)


def test_a_drop_equal_to_the_tolerance_passes(trained, textclf_cli, tmp_path, int8_flips):
    result = export_int8(textclf_cli, trained, tmp_path / "b", "--max-accuracy-drop", "0")
    assert result.returncode == 0, result.stderr
    check = json.loads((tmp_path / "b" / "textclf.json").read_text())["checks"]["int8"]
    assert check["accuracy_drop"]["points"] == 0 and check["accuracy_drop"]["ci95"] == [0, 0]


def test_a_large_split_is_sampled(trained, textclf_cli, tmp_path, monkeypatch):
    monkeypatch.setattr(textclf.export, "INT8_EVAL_TEXTS", 30)
    result = export_int8(textclf_cli, trained, tmp_path / "b")
    assert result.returncode == 0, result.stderr
    check = json.loads((tmp_path / "b" / "textclf.json").read_text())["checks"]["int8"]
    assert (check["texts"], check["of"], check["max_accuracy_drop"]) == (30, 40, 0.5)
    assert any(line.startswith("int8: 30 of 40 texts (val split): accuracy ") for line in lines(result.stderr))


def test_the_paired_interval_on_a_known_example():
    # 1,000 texts: 20 only fp32 gets right, 5 only int8, 900 both, 75 neither.
    fp32 = np.array([True] * 20 + [False] * 5 + [True] * 900 + [False] * 75)
    int8 = np.array([False] * 20 + [True] * 5 + [True] * 900 + [False] * 75)
    drop = paired_drop(fp32, int8)
    assert (drop["only_fp32_correct"], drop["only_int8_correct"]) == (20, 5)
    # drop (20 - 5) / 1000; standard error sqrt(20 + 5 - 15**2 / 1000) / 1000 = 0.0049775
    assert drop["points"] == pytest.approx(1.5)
    assert drop["ci95"] == pytest.approx([0.524438, 2.475562], abs=1e-6)
    assert paired_drop(fp32, fp32)["ci95"] == [0, 0]
    assert paired_drop(int8, fp32)["points"] == pytest.approx(-1.5)


# -- the settings ---------------------------------------------------------------------------------
ZEN4 = ("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\nflags\t\t: fpu vme sse2 avx "
        "avx2 avx512f avx512dq avx512bw avx512vl avx512_bf16 avx512vbmi avx512_vnni avx512_bitalg\n"
        "bogomips\t: 5192.25\n\nprocessor\t: 1\nflags\t\t: fpu avx2 avx512f avx512_vnni\n")
SKYLAKE = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl\n"
ALDER_LAKE = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma avx_vnni sha_ni\n"
GRAVITON = "processor\t: 0\nBogoMIPS\t: 243.75\nFeatures\t: fp asimd evtstrm aes sha1 asimddp\n"


@pytest.mark.parametrize(("cpuinfo", "vnni"), [(ZEN4, True), (SKYLAKE, False), (ALDER_LAKE, True),
                                                (GRAVITON, None), ("", None)])
def test_vnni_is_read_from_the_cpu_flags(cpuinfo, vnni):
    assert cpu_has_vnni(cpuinfo) is vnni


def attention_model(path: Path) -> None:
    """A fused com.microsoft Attention (weights a Concat of q, k, v, an attention bias for the
    padding) followed by a Gemm head, as the exporter's onnxruntime fusions write it."""
    rng = np.random.default_rng(0)
    dim = 16
    weights = [numpy_helper.from_array(rng.normal(size=(dim, dim)).astype(np.float32), name)
               for name in ("wq", "wk", "wv")]
    extra = [numpy_helper.from_array(rng.normal(size=3 * dim).astype(np.float32), "bias"),
             numpy_helper.from_array(rng.normal(size=(2, dim)).astype(np.float32), "head")]
    nodes = [helper.make_node("Concat", ["wq", "wk", "wv"], ["qkv_weight"], "concat", axis=1),
             helper.make_node("Attention", ["x", "qkv_weight", "bias", "", "", "attention_bias"], ["attended"],
                              "attention", domain="com.microsoft", num_heads=4, qkv_hidden_sizes=[dim] * 3),
             helper.make_node("ReduceMean", ["attended"], ["pooled"], "pool", axes=[1], keepdims=0),
             helper.make_node("Gemm", ["pooled", "head"], ["logits"], "classifier", transB=1)]
    graph = helper.make_graph(
        nodes, "attention", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "sequence", dim]),
                             helper.make_tensor_value_info("attention_bias", TensorProto.FLOAT,
                                                           ["batch", 1, "sequence", "sequence"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])], weights + extra)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    onnx.save(model, str(path))


def run(path: Path) -> np.ndarray:
    rng = np.random.default_rng(1)
    mask = np.ones((3, 1, 5, 5), np.float32)
    mask[1, ..., 3:] = 0  # the second row has 3 tokens and 2 of padding
    feeds = {"x": rng.normal(size=(3, 5, 16)).astype(np.float32), "attention_bias": (mask - 1) * 1e4}
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]).run(None, feeds)[0]


def test_the_attention_projection_is_split_out_and_quantized(tmp_path):
    attention_model(tmp_path / "fp32.onnx")
    model = onnx.load(str(tmp_path / "fp32.onnx"))
    assert textclf.export._split_attention(model) == 1
    assert [n.op_type for n in model.graph.node] == ["MatMul", "Split", "MultiHeadAttention", "ReduceMean", "Gemm"]
    assert sorted(t.name for t in model.graph.initializer) == ["attention/qkv_split", "attention/qkv_weight",
                                                               "bias", "head"]
    onnx.save(model, str(tmp_path / "split.onnx"))
    assert np.abs(run(tmp_path / "split.onnx") - run(tmp_path / "fp32.onnx")).max() < 1e-4

    done = quantize_int8(tmp_path / "fp32.onnx", tmp_path / "int8.onnx")
    assert done["attention_projections_split"] == 1 and done["fp32_gemm"] is True
    quantized = onnx.load(str(tmp_path / "int8.onnx"))
    kinds = {n.op_type for n in quantized.graph.node}
    assert {"MatMulInteger", "MultiHeadAttention"} <= kinds and "Attention" not in kinds
    # The quantizer rewrites the Gemm head as a MatMul, which stays fp32.
    assert {n.name: n.op_type for n in quantized.graph.node}["classifier_MatMul"] == "MatMul"
    assert np.abs(run(tmp_path / "int8.onnx") - run(tmp_path / "fp32.onnx")).max() < 0.5


def test_a_model_with_nothing_to_quantize_is_refused(tmp_path):
    attention_model(tmp_path / "fp32.onnx")
    with pytest.raises(ExportError, match=r"`quantize` int8: nothing in this model is of a kind it quantizes "
                                          r"\(Gather with constant weights\); nothing was written"):
        quantize_int8(tmp_path / "fp32.onnx", tmp_path / "int8.onnx", Int8Settings(op_types=("Gather",)))


def test_skip_layer_norm_and_bias_gelu_run_as_their_parts_with_the_same_result(tmp_path):
    """The int8 model runs onnxruntime's fused SkipLayerNormalization and BiasGelu as Add +
    LayerNormalization and Add + Gelu, whose CPU kernels are faster: the outputs do not change,
    the residual sum a SkipLayerNormalization hands on included."""
    rng = np.random.default_rng(0)
    dim = 8
    constants = [numpy_helper.from_array(rng.normal(size=size).astype(np.float32), name)
                 for name, size in (("gamma", dim), ("beta", dim), ("bias", dim), ("gelu_bias", dim))]
    nodes = [helper.make_node("SkipLayerNormalization", ["x", "skip", "gamma", "beta", "bias"],
                              ["normed", "", "", "residual"], "sln", domain="com.microsoft", epsilon=1e-5),
             helper.make_node("BiasGelu", ["normed", "gelu_bias"], ["activated"], "gelu", domain="com.microsoft"),
             helper.make_node("Add", ["activated", "residual"], ["y"], "out")]
    shape = ["batch", "sequence", dim]
    graph = helper.make_graph(nodes, "block", [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
                                               for name in ("x", "skip")],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)], constants)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)])
    onnx.save(model, str(tmp_path / "fused.onnx"))
    assert textclf.export._unfuse_slow_kernels(model) == {"SkipLayerNormalization": 1, "BiasGelu": 1}
    assert [n.op_type for n in model.graph.node] == ["Add", "Add", "LayerNormalization", "Add", "Gelu", "Add"]
    onnx.save(model, str(tmp_path / "parts.onnx"))
    feeds = {name: rng.normal(size=(2, 3, dim)).astype(np.float32) for name in ("x", "skip")}
    options = ort.SessionOptions()
    options.log_severity_level = 3
    fused, parts = (ort.InferenceSession(str(tmp_path / name), options, providers=["CPUExecutionProvider"])
                    .run(None, feeds)[0] for name in ("fused.onnx", "parts.onnx"))
    assert np.abs(fused - parts).max() < 1e-5
