"""``textclf export`` and ``textclf predict``: a tiny trained model as a bundle, run without torch."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import plugin_sources as src
import pytest
import torch

from textclf import runtime
from textclf.testing import TinyModel, lines
from tiny_runs import trained_bundle

TEXTS = ["a good great film", "bad awful poor", "word1 " * 200 + "superb", "fine", "dreadful boring"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """A finished run of the tiny model and its fp32 bundle, made once for the module."""
    return trained_bundle(tmp_path_factory.mktemp("export"))


@pytest.fixture(autouse=True)
def tiny_plugin(textclf_site):
    """The in-process CLI sees the tiny model plugin too (exporting a run loads its model class)."""
    textclf_site.add("textclf-tiny", src.TINY_MODEL)


def copy_bundle(trained, tmp_path) -> Path:
    return Path(shutil.copytree(trained["bundle"], tmp_path / "bundle"))


def digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_bundle_holds_one_onnx_file_tokenizer_manifest_and_card(trained):
    bundle = trained["bundle"]
    assert sorted(p.name for p in bundle.iterdir()) == ["README.md", "model.onnx", "textclf.json", "tokenizer.json"]
    manifest = json.loads((bundle / "textclf.json").read_text())
    assert manifest["format"] == 1 and manifest["labels"] == ["neg", "pos"]
    assert (manifest["max_length"], manifest["truncation"]) == (64, "head")
    assert (manifest["inputs"], manifest["outputs"]) == (["input_ids", "attention_mask"], ["logits"])
    assert manifest["producer"]["plugins"] == {"textclf": "0.1.0", "textclf-tiny": "1.0"}
    assert manifest["run"]["metrics"]["test"]["acc"] > 0.9
    for name, entry in manifest["files"].items():
        assert hashlib.sha256((bundle / name).read_bytes()).hexdigest() == entry["sha256"]
    parity = manifest["checks"]["parity"]
    assert parity["source"] == "val split" and parity["max_logit_difference"] <= 1e-4
    assert "parity: 44 texts (val split and 4 edge cases, " in trained["export_stderr"]

    graph = onnx.load(str(bundle / "model.onnx"), load_external_data=False).graph
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in graph.initializer)
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.input}
    assert dims == {"input_ids": ["batch", "sequence"], "attention_mask": ["batch", "sequence"]}
    assert [o.name for o in graph.output] == ["logits"]

    card = (bundle / "README.md").read_text()
    assert "Labels: neg, pos." in card and "| test | " in card and "textclf predict BUNDLE" in card


def test_runtime_gives_the_pytorch_models_predictions(trained):
    bundle = runtime.load(trained["bundle"])
    model = TinyModel.load(trained["run"] / "model").eval()
    rows = model.encoder.encode_batch(TEXTS)
    with torch.no_grad():
        expected = [torch.softmax(model(torch.tensor([r]), torch.ones(1, len(r), dtype=torch.long)), -1)[0].numpy()
                    for r in rows]
    probabilities = bundle.predict_proba(TEXTS, batch_size=2)
    assert np.abs(probabilities - np.array(expected)).max() < 1e-5
    assert bundle.predict(TEXTS) == [model.labels[int(p.argmax())] for p in expected]
    assert [p.truncated for p in bundle.classify(TEXTS)] == [False, False, True, False, False]


def test_predict_formats(trained, textclf_cli, tmp_path):
    bundle = str(trained["bundle"])
    table = textclf_cli("predict", bundle, "a good great film", "bad awful poor")
    assert table.returncode == 0, table.stderr
    assert "│ pos   │" in table.stdout and "│ a good great film │" in table.stdout
    as_json = json.loads(textclf_cli("predict", bundle, "bad awful poor", "-f", "json").stdout)
    assert as_json[0]["label"] == "neg" and set(as_json[0]["probabilities"]) == {"neg", "pos"}
    assert abs(sum(as_json[0]["probabilities"].values()) - 1) < 1e-9
    jsonl = textclf_cli("predict", bundle, "fine", "awful", "-f", "jsonl").stdout.splitlines()
    assert [json.loads(line)["text"] for line in jsonl] == ["fine", "awful"]
    csv_out = textclf_cli("predict", bundle, "fine, really", "-f", "csv").stdout.splitlines()
    assert csv_out[0] == "text,label,probability,p_neg,p_pos,truncated"
    assert csv_out[1].startswith('"fine, really",')
    written = textclf_cli("predict", bundle, "fine", "-f", "json", "-o", str(tmp_path / "out.json"))
    assert written.stdout == "" and lines(written.stderr) == [f"wrote 1 predictions to {tmp_path / 'out.json'}"]
    assert json.loads((tmp_path / "out.json").read_text())[0]["text"] == "fine"


def test_predict_inputs(trained, textclf_cli, tmp_path):
    bundle = str(trained["bundle"])
    (tmp_path / "texts.txt").write_bytes(b"a good film\n\n   \ncaf\xe9 awful\n" + b"word2 " * 300 + b"\n")
    result = textclf_cli("predict", bundle, "--input", str(tmp_path / "texts.txt"), "-f", "jsonl")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["text"][:11] for r in records] == ["a good film", "caf\ufffd awful", "word2 word2"]
    assert [r["truncated"] for r in records] == [False, False, True]
    assert lines(result.stderr) == [
        f"warning: {tmp_path / 'texts.txt'} is not valid UTF-8 (first bad byte on line 4); "
        f"undecodable bytes were replaced with U+FFFD",
        f"warning: {tmp_path / 'texts.txt'}: skipped 2 empty entries",
        "note: 1 of 3 texts were longer than 64 tokens and were cut, keeping the head",
    ]
    (tmp_path / "rows.jsonl").write_text('{"review": "superb"}\n\n{"review": "dreadful"}\n')
    jsonl = textclf_cli("predict", bundle, "-i", str(tmp_path / "rows.jsonl"), "--text-column", "review", "-f", "jsonl")
    assert [json.loads(x)["text"] for x in jsonl.stdout.splitlines()] == ["superb", "dreadful"]
    (tmp_path / "rows.csv").write_text('id,review\n1,"fine, great"\n2,awful\n')
    csv_in = textclf_cli("predict", bundle, "-i", str(tmp_path / "rows.csv"), "--text-column", "review", "-f", "jsonl")
    assert [json.loads(x)["label"] for x in csv_in.stdout.splitlines()] == ["pos", "neg"]
    stdin = subprocess.run([sys.executable, "-m", "textclf", "predict", bundle, "-i", "-", "-f", "jsonl"],
                           input="great film\nawful film\n", capture_output=True, text=True)
    assert [json.loads(x)["label"] for x in stdin.stdout.splitlines()] == ["pos", "neg"]


@pytest.mark.parametrize(("args", "message"), [
    ((), "error: nothing to classify: give texts as arguments, or --input FILE (- for stdin)"),
    (("-i", "nope.txt"), "error: --input nope.txt: no such file"),
    (("-i", "{bad}"), "error: {bad} line 1: invalid JSON (Expecting value at column 1)"),
    (("-i", "{csv}"), "error: {csv}: no column 'text' (columns: id, body); name it with --text-column"),
    (("-i", "{nofield}"), "error: {nofield} line 1: no string field 'text'; name the field with --text-column"),
])
def test_predict_input_mistakes(trained, textclf_cli, tmp_path, args, message):
    (tmp_path / "bad.jsonl").write_text("not json\n")
    (tmp_path / "x.csv").write_text("id,body\n1,hi\n")
    (tmp_path / "nofield.jsonl").write_text('{"review": "hi"}\n')
    paths = {"{bad}": str(tmp_path / "bad.jsonl"), "{csv}": str(tmp_path / "x.csv"),
             "{nofield}": str(tmp_path / "nofield.jsonl")}
    args = tuple(paths.get(a, a) for a in args)
    for key, value in paths.items():
        message = message.replace(key, value)
    result = textclf_cli("predict", str(trained["bundle"]), *args)
    assert (result.returncode, lines(result.stderr)) == (2, [message])


def test_predict_on_cuda_without_cuda(trained, textclf_cli):
    result = textclf_cli("predict", str(trained["bundle"]), "fine", "--provider", "cuda")
    assert (result.returncode, result.stdout, lines(result.stderr)) == (1, "", [
        "error: --provider cuda: onnxruntime here has no CUDA execution provider; install "
        "onnxruntime-gpu, or use --provider cpu"])


def test_predict_output_that_cannot_be_written(trained, textclf_cli, tmp_path):
    (tmp_path / "blocker").write_text("a file")
    result = textclf_cli("predict", str(trained["bundle"]), "fine", "-o", str(tmp_path / "blocker" / "out.json"))
    assert (result.returncode, result.stdout, lines(result.stderr)) == (1, "", [
        f"error: --output {tmp_path / 'blocker' / 'out.json'}: cannot write it: File exists"])
    assert (tmp_path / "blocker").read_text() == "a file"


def test_predict_runs_where_torch_cannot_be_imported(trained, tmp_path):
    blocked = tmp_path / "blocked"
    for name in ("torch", "transformers", "pytorch_lightning", "lightning"):
        (blocked / name).mkdir(parents=True)
        (blocked / name / "__init__.py").write_text(f"raise ImportError('{name} is blocked in this test')\n")
    env = trained["site"].env()
    env["PYTHONPATH"] = os.pathsep.join([str(blocked), env["PYTHONPATH"]])
    result = subprocess.run([str(Path(sys.executable).with_name("textclf")), "predict",
                             str(trained["bundle"]), "a good great film", "-f", "jsonl"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["label"] == "pos"
    api = subprocess.run([sys.executable, "-c", (
        "import sys, textclf.runtime as r; b = r.load(sys.argv[1]); print(b.predict(['awful film'])[0]); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'transformers', 'pytorch_lightning'}))"),
        str(trained["bundle"])], capture_output=True, text=True, env=env)
    assert api.stdout.splitlines() == ["neg", "[]"], api.stderr


def test_int8_bundle(trained, textclf_cli, tmp_path):
    result = textclf_cli("export", str(trained["run"]), "--output", str(tmp_path / "b8"), "--quantize", "int8",
                         env=trained["env"])
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "b8" / "textclf.json").read_text())
    assert manifest["quantization"] == "int8"
    check = manifest["checks"]["int8"]
    assert check["accuracy"]["int8"] >= check["accuracy"]["fp32"] - 0.005
    assert check["bytes"]["int8"] < check["bytes"]["fp32"]
    assert any(line.startswith("int8: 40 texts (val split): accuracy ") for line in lines(result.stderr))
    fp32, int8 = runtime.load(trained["bundle"]), runtime.load(tmp_path / "b8")
    assert np.mean(np.array(fp32.predict(TEXTS)) == np.array(int8.predict(TEXTS))) >= 0.8


@pytest.mark.parametrize(("setting", "message"), [
    ("PARITY_TOLERANCE", "error: parity check failed: the ONNX model's logits differ from PyTorch's by up to "),
    ("INT8_MAX_DROP", "error: int8 quantization lost "),
])
def test_a_failed_check_writes_nothing_and_keeps_the_old_bundle(trained, textclf_cli, tmp_path, monkeypatch,
                                                                 setting, message):
    import textclf.export

    monkeypatch.setattr(textclf.export, setting, -1.0)
    old = copy_bundle(trained, tmp_path)
    before = digest(old)
    result = textclf_cli("export", str(trained["run"]), "--output", str(old), "--overwrite", "--quantize", "int8",
                         env=trained["env"])
    assert result.returncode == 1 and lines(result.stderr)[-1].startswith(message)
    assert digest(old) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary directory left


def tamper(bundle: Path, case: str) -> str:
    manifest_path = bundle / "textclf.json"
    manifest = json.loads(manifest_path.read_text())
    if case == "missing file":
        (bundle / "tokenizer.json").unlink()
        return f"{bundle / 'tokenizer.json'}: missing from the bundle; export it again"
    if case == "truncated file":
        data = (bundle / "model.onnx").read_bytes()
        (bundle / "model.onnx").write_bytes(data[: len(data) // 2])
        return (f"{bundle / 'model.onnx'}: {len(data) // 2:,} bytes where the bundle says {len(data):,} "
                f"(truncated or replaced); export the bundle again")
    if case == "tampered file":
        text = (bundle / "tokenizer.json").read_text()
        (bundle / "tokenizer.json").write_text(text.replace('"[UNK]"', '"[UNX]"', 1))
        return (f"{bundle / 'tokenizer.json'}: its SHA-256 does not match the bundle's (changed, swapped "
                f"or corrupted); export the bundle again")
    if case == "edited manifest":
        manifest["labels"] = ["pos", "neg"]
        manifest_path.write_text(json.dumps(manifest))
        return f"{manifest_path}: changed after export (its checksum does not match); export the bundle again"
    if case == "newer format":
        manifest["format"] = 2
        manifest["manifest_sha256"] = runtime.manifest_digest(manifest)
        manifest_path.write_text(json.dumps(manifest))
        return f"{bundle}: bundle format 2 is newer than this textclf 0.1.0 reads (format 1); upgrade textclf"
    if case == "no format version":
        manifest_path.write_text(json.dumps({"labels": ["neg", "pos"]}))
        return f"{manifest_path}: not a textclf bundle manifest (no format version); export the bundle again"
    if case == "not a bundle":
        manifest_path.unlink()
        return f"{bundle}: not a textclf bundle (no textclf.json); export one with textclf export RUN --output DIR"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["missing file", "truncated file", "tampered file", "edited manifest",
                                  "newer format", "no format version", "not a bundle"])
def test_a_damaged_bundle_is_one_clear_error(trained, textclf_cli, tmp_path, case):
    bundle = copy_bundle(trained, tmp_path)
    message = tamper(bundle, case)
    result = textclf_cli("predict", str(bundle), "a text")
    assert (result.returncode, result.stdout, lines(result.stderr)) == (1, "", [f"error: {message}"])
    with pytest.raises(runtime.BundleError, match="export|upgrade"):
        runtime.load(bundle)


def test_a_swapped_model_is_caught(trained, textclf_cli, tmp_path):
    bundle = copy_bundle(trained, tmp_path)
    other = tmp_path / "other"
    textclf_cli("export", str(trained["run"]), "--output", str(other), "--quantize", "int8", env=trained["env"])
    shutil.copy(other / "model.onnx", bundle / "model.onnx")
    result = textclf_cli("predict", str(bundle), "a text")
    assert result.returncode == 1
    assert lines(result.stderr)[-1].startswith(f"error: {bundle / 'model.onnx'}: ")


def test_export_refusals(trained, textclf_cli, tmp_path):
    taken = copy_bundle(trained, tmp_path)
    exists = textclf_cli("export", str(trained["run"]), "--output", str(taken), env=trained["env"])
    assert (exists.returncode, lines(exists.stderr)) == (2, [
        f"error: --output {taken}: already exists; choose another directory or replace it with --overwrite"])
    unfinished = shutil.copytree(trained["run"], tmp_path / "unfinished")
    state = json.loads((unfinished / "run.json").read_text())
    (unfinished / "run.json").write_text(json.dumps({**state, "status": "interrupted"}))
    refused = textclf_cli("export", str(unfinished), "--output", str(tmp_path / "x"))
    assert lines(refused.stderr) == [
        f"error: {unfinished}: the run has not finished (status: interrupted); continue it with "
        f"textclf train --resume {unfinished}"]
    nothing = textclf_cli("export", str(tmp_path / "nowhere"), "--output", str(tmp_path / "x"))
    assert lines(nothing.stderr) == [f"error: textclf export {tmp_path / 'nowhere'}: not a textclf run (no such directory)"]


def test_export_without_the_runs_data(trained, textclf_cli, tmp_path):
    run = Path(shutil.copytree(trained["run"], tmp_path / "run"))
    config = (run / "config.yaml").read_text().replace(str(trained["data"]["train"]), str(tmp_path / "gone.csv"))
    (run / "config.yaml").write_text(config)
    result = textclf_cli("export", str(run), "--output", str(tmp_path / "b"), env=trained["env"])
    assert result.returncode == 0, result.stderr
    assert lines(result.stderr)[0] == (
        f"note: the run's data is not available (--data.train {tmp_path / 'gone.csv'}: no such file); "
        f"checking the export on generated texts instead")
    assert json.loads((tmp_path / "b" / "textclf.json").read_text())["checks"]["parity"]["source"] == "generated"
    int8 = textclf_cli("export", str(run), "--output", str(tmp_path / "c"), "--quantize", "int8", env=trained["env"])
    assert lines(int8.stderr)[-1] == (
        f"error: --quantize int8 checks accuracy on the run's validation texts, but the run's data is not "
        f"available (--data.train {tmp_path / 'gone.csv'}: no such file); make the data available again, "
        f"or export without --quantize")
    assert not (tmp_path / "c").exists()


def test_the_example_script_runs_a_bundle(trained):
    result = subprocess.run([sys.executable, "examples/predict.py", str(trained["bundle"]), "a good great film"],
                            capture_output=True, text=True, cwd=Path(__file__).parents[1])
    label, probability, text = result.stdout.rstrip("\n").split("\t")
    assert (result.returncode, label, text) == (0, "pos", "a good great film") and float(probability) > 0.5
    broken = subprocess.run([sys.executable, "examples/predict.py", str(trained["root"] / "nowhere"), "x"],
                            capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert (broken.returncode, broken.stderr) == (1, f"error: {trained['root'] / 'nowhere'}: no such bundle directory\n")
