"""Multi-label classification end to end: label sets from ``files`` (JSONL lists, delimited CSV
cells), a sigmoid per label, tuned thresholds, per-label results, and a bundle that predicts the
same label sets as PyTorch."""

from __future__ import annotations

import json
from pathlib import Path
import numpy as np
import plugin_sources as src
import pytest
import torch

from textclf import runtime
from textclf.data.examples import stratification_keys, stratified_split
from textclf.lit_models.classifier import tune_thresholds
from textclf.testing import PluginSite, multi_label_texts, write_multi_label_dataset, write_rows


def train_tiny(root: Path, fmt: str, *args: str) -> dict:
    """A run (``root/run``) of the tiny model on a generated 5-topic multi-label dataset in ``fmt``."""
    site = PluginSite(root / "site")
    site.add("textclf-tiny", src.TINY_MODEL)
    data = write_multi_label_dataset(root / "data", fmt=fmt)
    env = {"TEXTCLF_CACHE": str(root / "cache")}
    result = site.run("train", "--data", "files", "--data.train", str(data["train"]),
                      "--data.test", str(data["test"]), *args, "--model", "tiny", "--max-epochs", "12",
                      "--lit-model.lr", "0.05", "--run-dir", "run", env=env, cwd=root)
    assert result.returncode == 0, result.stderr
    return {"root": root, "site": site, "env": env, "data": data, "train": result,
            "metrics": json.loads((root / "run" / "metrics.json").read_text())}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """A multi-label run of the tiny model on 5 topics from JSONL, and its bundle."""
    run = train_tiny(tmp_path_factory.mktemp("multilabel"), "jsonl")
    exported = run["site"].run("export", "run", "--output", "bundle", env=run["env"], cwd=run["root"])
    assert exported.returncode == 0, exported.stderr
    return run


def test_trains_to_a_high_micro_f1_with_tuned_thresholds(trained):
    metrics = trained["metrics"]
    assert metrics["task"] == "multi_label"
    assert metrics["test"]["f1"] >= 0.9, metrics["test"]
    assert set(metrics["test"]) >= {"acc", "f1", "macro_f1", "loss"}
    labels = metrics["thresholds"]["labels"]
    assert len(labels) == 5
    assert all(0 < t < 1 for t in metrics["thresholds"]["values"])
    per_label = metrics["per_label"]
    assert per_label["split"] == "test" and per_label["labels"] == labels
    assert sum(per_label["support"]) == sum(len(y) for _, y in multi_label_texts(150, 1))
    assert "confusion_matrix" not in metrics


def test_the_summary_is_a_per_label_table(trained):
    out = trained["train"].stdout + trained["train"].stderr
    assert "multi-label" in out and "micro-F1" in out and "subset accuracy" in out
    assert "per label, test" in out and "threshold" in out and "confusion matrix" not in out


def test_the_bundle_predicts_the_label_sets_pytorch_does(trained):
    from textclf.testing.models import TinyModel

    bundle = runtime.load(trained["root"] / "bundle")
    assert bundle.multi_label and bundle.thresholds.tolist() == pytest.approx(trained["metrics"]["thresholds"]["values"])
    texts = [t for t, _ in multi_label_texts(60, seed=7)]
    model = TinyModel.load(trained["root"] / "run" / "model").eval()
    assert model.multi_label
    rows = model.encoder.encode_batch(texts)
    with torch.no_grad():
        from textclf.text import pad_rows

        ids, mask = pad_rows(rows, model.encoder.pad_id)
        probabilities = torch.sigmoid(model(torch.from_numpy(ids), torch.from_numpy(mask))).numpy()
    expected = [sorted(label for label, p, t in zip(model.labels, row, bundle.thresholds) if p >= t)
                for row in probabilities]
    assert [sorted(labels) for labels in bundle.predict(texts)] == expected
    truth = [sorted(y) for _, y in multi_label_texts(60, seed=7)]
    assert np.mean([a == b for a, b in zip(expected, truth)]) > 0.8
    card = (trained["root"] / "bundle" / "README.md").read_text()
    assert "Multi-label" in card and "micro-F1" in card


def test_textclf_test_uses_the_tuned_thresholds(trained):
    result = trained["site"].run("test", "run", "--json", env=trained["env"], cwd=trained["root"])
    assert result.returncode == 0, result.stderr
    tested = json.loads(result.stdout)
    assert tested["test"]["f1"] == pytest.approx(trained["metrics"]["test"]["f1"], abs=1e-4)
    assert tested["thresholds"] == trained["metrics"]["thresholds"]


def test_delimited_csv_cells_and_empty_sets(tmp_path):
    run = train_tiny(tmp_path, "csv", "--data.label-delimiter", ";")
    result, metrics = run["train"], run["metrics"]
    assert metrics["task"] == "multi_label" and len(metrics["thresholds"]["values"]) == 5
    assert metrics["test"]["f1"] >= 0.9, metrics["test"]
    # The texts without a label are kept and counted (the split holds out about a tenth of train).
    empty = sum(1 for _, y in multi_label_texts(600, 0) if not y)
    said = " ".join((result.stdout + result.stderr).split())
    counted = int(said.split("multi-label; ")[1].split(" ")[0].replace(",", ""))
    assert empty > 0 and 0.8 * empty <= counted <= empty


def test_an_unknown_label_in_test_is_one_line(tmp_path, cli):
    rows = multi_label_texts(40, 0)
    write_rows(tmp_path / "train.jsonl", rows)
    write_rows(tmp_path / "test.jsonl", [("a text about nothing", ["sport", "gardening"])])
    result = cli("train", "--data", "files", "--data.train", str(tmp_path / "train.jsonl"),
                 "--data.test", str(tmp_path / "test.jsonl"), "--model", "tiny", "--max-epochs", "1",
                 env={"TEXTCLF_CACHE": str(tmp_path / "cache")}, cwd=tmp_path)
    assert result.returncode != 0
    assert "label 'gardening' does not occur in the training data" in result.stderr
    assert result.stderr.count("\n") == 1


def test_stratified_split_of_label_sets_keeps_every_label_on_both_sides():
    rng = np.random.default_rng(0)
    matrix = (rng.random((200, 6)) < [0.5, 0.3, 0.1, 0.05, 0.02, 0.2]).astype(np.int64)
    kept, held = stratified_split(matrix, 0.2, seed=3)
    assert len(set(kept) & set(held)) == 0 and len(kept) + len(held) == 200
    for j in range(6):
        if matrix[:, j].sum() >= 4:
            assert matrix[kept, j].sum() > 0 and matrix[held, j].sum() > 0
    keys = stratification_keys(np.array([[1, 1, 0], [0, 0, 0], [1, 0, 0]]))
    assert keys.tolist() == [1, -1, 0]  # the rarer label of a set; -1 for none
    again = stratified_split(matrix, 0.2, seed=3)
    assert kept.tolist() == again[0].tolist()


def test_thresholds_maximise_each_labels_f1():
    scores = np.array([[0.9, 0.2], [0.8, 0.6], [0.3, 0.55], [0.1, 0.1]])
    truth = np.array([[1, 0], [1, 1], [0, 1], [0, 0]])
    low, second = tune_thresholds(scores, truth)
    assert 0.3 < low < 0.8  # takes the two positives of label 0, nothing else
    assert 0.2 < second < 0.55
    assert tune_thresholds(scores, np.zeros_like(truth)) == [0.5, 0.5]  # no positives: 0.5


def test_single_label_options_are_refused_for_label_sets(tmp_path, cli):
    write_rows(tmp_path / "train.jsonl", multi_label_texts(40, 0))
    result = cli("train", "--data", "files", "--data.train", str(tmp_path / "train.jsonl"), "--model", "tiny",
                 "--lit-model.class-weights", "1,1,1,1,1", env={"TEXTCLF_CACHE": str(tmp_path / "cache")},
                 cwd=tmp_path)
    assert result.returncode != 0 and "pos-weight" in result.stderr


@pytest.fixture
def cli(textclf_cli, site):
    site.add("textclf-tiny", src.TINY_MODEL)

    def run(*args, **kwargs):
        return textclf_cli(*args, **kwargs)
    return run


def test_int8_is_gated_on_micro_f1(trained):
    root = trained["root"]
    result = trained["site"].run("export", "run", "--output", "bundle-int8", "--quantize", "int8",
                                 "--max-accuracy-drop", "5", env=trained["env"], cwd=root)
    assert result.returncode == 0, result.stderr
    said = " ".join((result.stdout + result.stderr).split())
    assert "micro-F1" in said and "points of accuracy" not in said
    manifest = json.loads((root / "bundle-int8" / "textclf.json").read_text())
    gate = manifest["checks"]["int8"]
    assert gate["metric"] == "micro_f1" and "bootstrap" in gate["accuracy_drop"]["interval"]
    low, high = gate["accuracy_drop"]["ci95"]
    assert low <= gate["accuracy_drop"]["points"] <= high
    assert manifest["task"] == "multi_label" and manifest["quantization"] == "int8"
    assert runtime.load(root / "bundle-int8").predict(["goal match referee"])  # a list per text


def test_pos_weight_trains_and_is_for_label_sets_only(tmp_path, cli):
    write_rows(tmp_path / "train.jsonl", multi_label_texts(80, 0))
    env = {"TEXTCLF_CACHE": str(tmp_path / "cache")}
    result = cli("train", "--data", "files", "--data.train", str(tmp_path / "train.jsonl"), "--model", "tiny",
                 "--max-epochs", "1", "--lit-model.pos-weight", "true", "--run-dir", "run", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    write_rows(tmp_path / "single.jsonl", [(t, y[0] if y else "none") for t, y in multi_label_texts(80, 0)])
    result = cli("train", "--data", "files", "--data.train", str(tmp_path / "single.jsonl"), "--model", "tiny",
                 "--max-epochs", "1", "--lit-model.pos-weight", "true", env=env, cwd=tmp_path)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode != 0 and len(errors) == 1 and "class-weights" in errors[0]
    assert "Traceback" not in result.stderr
