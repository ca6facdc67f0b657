"""Multi-label bundles in the runtime, ``textclf predict`` and ``textclf serve``: a sigmoid per
label, each label given when its probability reaches its own threshold, any number of labels
(none included) per text; a bundle without a task is single-label, as every earlier one.

The bundle here is made by hand (a bag-of-words ONNX model whose words signal labels), so these
tests pin the bundle format the multi-label export writes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer, models, pre_tokenizers, processors

from textclf import runtime
from textclf.bundle import MANIFEST, seal

LABELS = ["comedy", "drama", "horror"]
WORDS = ["funny", "tears", "scary", "film", "plot"]
#: Each signal word adds 8 to its label's logit; every other token -1 to every label's.
SIGNALS = {"funny": "comedy", "tears": "drama", "scary": "horror"}
THRESHOLDS = [0.5, 0.3, 0.7]


def write_bundle(directory: Path, *, task: str | None = "multi_label",
                 thresholds: object = THRESHOLDS) -> Path:
    """A bag-of-words bundle: logits = the sum over a text's words of a per-word row."""
    directory.mkdir(parents=True)
    vocab = {"[UNK]": 0, "[PAD]": 1, "[CLS]": 2, "[SEP]": 3, **{w: 4 + i for i, w in enumerate(WORDS)}}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tokenizer.save(str(directory / "tokenizer.json"))
    table = np.full((len(vocab), len(LABELS)), 0.0, np.float32)
    table[[vocab[w] for w in ("[UNK]", "[CLS]", "[SEP]", "film", "plot")]] = -1.0
    for word, label in SIGNALS.items():
        table[vocab[word], LABELS.index(label)] = 8.0
    nodes = [helper.make_node("Gather", ["table", "input_ids"], ["rows"]),
             helper.make_node("Cast", ["attention_mask"], ["mask"], to=TensorProto.FLOAT),
             helper.make_node("Unsqueeze", ["mask", "axis2"], ["mask3"]),
             helper.make_node("Mul", ["rows", "mask3"], ["kept"]),
             helper.make_node("ReduceSum", ["kept", "axis1"], ["logits"], keepdims=0)]
    graph = helper.make_graph(
        nodes, "bag_of_words",
        [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"]) for n in ("input_ids", "attention_mask")],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", len(LABELS)])],
        [numpy_helper.from_array(table, "table"), numpy_helper.from_array(np.array([2]), "axis2"),
         numpy_helper.from_array(np.array([1]), "axis1")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(directory / "model.onnx"))
    manifest: dict = {"format": 1, "model": "model.onnx", "tokenizer": "tokenizer.json",
                      "labels": LABELS, "max_length": 16, "truncation": "head", "pad_id": 1,
                      "inputs": ["input_ids", "attention_mask"], "outputs": ["logits"], "quantization": None}
    if task is not None:
        manifest["task"] = task
        manifest["thresholds"] = thresholds
    seal(directory, manifest, ["model.onnx", "tokenizer.json"])
    return directory


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory) -> Path:
    return write_bundle(tmp_path_factory.mktemp("multilabel") / "bundle")


def expected_sets(texts: list[str]) -> list[list[str]]:
    """The labels each text's signal words give it, most probable first (ties by label order)."""
    return [[label for label in LABELS if any(SIGNALS[w] == label for w in text.split() if w in SIGNALS)]
            for text in texts]


TEXTS = ["funny film", "funny scary film", "a plot", "tears and funny tears", "scary"]


def test_label_sets_with_their_own_thresholds(bundle_dir):
    bundle = runtime.load(bundle_dir)
    assert bundle.multi_label and bundle.task == "multi_label"
    assert bundle.thresholds.tolist() == THRESHOLDS
    probabilities = bundle.predict_proba(TEXTS)
    assert probabilities == pytest.approx(runtime.sigmoid(bundle.logits(TEXTS)))
    assert not np.allclose(probabilities.sum(axis=1), 1)  # a sigmoid per label, not a softmax
    predicted = bundle.predict(TEXTS)
    assert [sorted(p) for p in predicted] == [sorted(e) for e in expected_sets(TEXTS)]
    assert predicted[2] == []  # no label applies
    for text, p in zip(TEXTS, bundle.classify(TEXTS)):
        row = bundle.predict_proba([text])[0]
        assert list(p.labels) == [LABELS[i] for i in np.argsort(-row, kind="stable") if row[i] >= THRESHOLDS[i]]
        assert p.label == LABELS[int(row.argmax())] and p.probabilities == pytest.approx(dict(zip(LABELS, row)))


def test_each_label_is_compared_with_its_own_threshold(tmp_path):
    # "film film" scores sigmoid(4 x -1) ~ 0.018 for every label: given where the threshold is lower.
    low = runtime.load(write_bundle(tmp_path / "low", thresholds=[0.01, 0.9, 0.01]))
    assert low.predict(["film film"]) == [["comedy", "horror"]]


def test_a_bundle_without_a_task_is_single_label(tmp_path):
    bundle = runtime.load(write_bundle(tmp_path / "old", task=None))
    assert not bundle.multi_label and bundle.thresholds is None
    assert bundle.predict_proba(TEXTS).sum(axis=1) == pytest.approx(1)
    assert bundle.predict(["scary film"]) == ["horror"]
    assert bundle.classify(["scary film"])[0].labels == ("horror",)


@pytest.mark.parametrize("task, thresholds, words", [
    ("multi-label", THRESHOLDS, '"task" is "multi-label"'),
    ("multi_label", None, '"thresholds" is missing'),
    ("multi_label", [0.5, 0.5], "a list of 3 decision thresholds"),
    ("multi_label", [0.5, 1.0, 0.5], "above 0 and below 1"),
    ("multi_label", [0.5, True, 0.5], "above 0 and below 1"),
])
def test_a_wrong_task_or_thresholds_is_one_line(tmp_path, task, thresholds, words):
    with pytest.raises(runtime.BundleError, match="export the bundle again") as caught:
        runtime.load(write_bundle(tmp_path / "b", task=task, thresholds=thresholds))
    assert words in str(caught.value) and "\n" not in str(caught.value)


# -- textclf predict ------------------------------------------------------------------------------
def test_predict_prints_label_sets_in_every_format(bundle_dir, cli):
    args = ["predict", str(bundle_dir), *TEXTS]
    expected = expected_sets(TEXTS)
    records = json.loads(cli(*args, "--format", "json").stdout)
    assert [sorted(r["labels"]) for r in records] == [sorted(e) for e in expected]
    assert set(records[0]) == {"text", "labels", "probabilities", "truncated"}
    lines = [json.loads(line) for line in cli(*args, "--format", "jsonl").stdout.splitlines()]
    assert [r["labels"] for r in lines] == [r["labels"] for r in records]
    rows = list(csv.DictReader(io.StringIO(cli(*args, "--format", "csv").stdout)))
    assert list(rows[0]) == ["text", "labels", "p_comedy", "p_drama", "p_horror", "truncated"]
    assert [r["labels"] for r in rows] == [";".join(r["labels"]) for r in records]
    table = cli(*args).stdout
    assert "labels" in table and "(none)" in table and "comedy, horror" in table
    assert (bundle_dir / MANIFEST).is_file()


# -- textclf serve ------------------------------------------------------------------------------
@pytest.fixture
def served(bundle_dir):
    from textclf import serve
    from test_serve import Running, free_port

    server = Running(serve.ServeSettings(bundle=str(bundle_dir), port=free_port()))
    yield server.url
    server.stop()


def test_serve_scores_a_multi_label_bundle_with_sigmoids(served, bundle_dir):
    from test_serve import call

    bundle = runtime.load(bundle_dir)
    status, body, _ = call(served, {"inputs": TEXTS})
    assert status == 200
    for answer, row in zip(body, bundle.predict_proba(TEXTS)):
        assert {a["label"]: a["score"] for a in answer} == pytest.approx(dict(zip(LABELS, row)), abs=1e-6)
    status, info, _ = call(served + "/info")
    assert info["task"] == "multi_label" and info["thresholds"] == THRESHOLDS
    status, body, _ = call(served, {"inputs": "funny", "parameters": {"function_to_apply": "softmax"}})
    assert sum(a["score"] for a in body[0]) == pytest.approx(1)


def test_a_multi_label_bundle_runs_without_torch(bundle_dir):
    import subprocess
    import sys

    probe = ("import sys, textclf.runtime as r\n"
             f"b = r.load({str(bundle_dir)!r})\n"
             "print(b.predict(['funny scary film']), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[['comedy',", "'horror']]", "False"]
