"""``textclf plugins new``: each kind of generated plugin installs and passes its own tests; a
model plugin goes from ``plugins new`` to predictions of its exported bundle, without torch."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest
from textclf.testing import lines, separable_texts, write_rows, write_separable_dataset

from textclf.scaffold import new_plugin

#: The kinds tested with today's form, ``plugins new NAME``; the model kind is the CNN below.
KINDS = {"data": "demo-data", "lit-model": "demo-regime"}
#: What a CNN model plugin classifies in the end-to-end test: a 1-token text, alone and among others.
SHORT = "goal"
MIXED = [SHORT, "a good great film, word3 word4 superb", "bad awful", "word7 " * 60 + "dreadful", "fine"]


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)


def install(*projects: Path) -> None:
    """Install generated plugins into this environment, offline (uninstall them in a finally)."""
    installed = pip("install", "--no-index", "--no-build-isolation", "--no-deps", *map(str, projects))
    assert installed.returncode == 0, installed.stderr


def run_their_tests(*projects: Path, cwd: Path) -> str:
    tested = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "--import-mode=importlib", *(str(p / "tests") for p in projects)],
                            capture_output=True, text=True, cwd=cwd, timeout=600)
    assert tested.returncode == 0, tested.stdout[-3000:]
    return tested.stdout


def import_generated(path: Path) -> ModuleType:
    """A generated component's module, imported from its file (the plugin is not installed)."""
    spec = importlib.util.spec_from_file_location(f"generated_{path.parent.name}_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def torch_blocked_env(site, tmp_path: Path) -> dict[str, str]:
    """The site's environment, in which importing torch (or Lightning, transformers) fails, as
    in test_export's test of predict without torch."""
    blocked = tmp_path / "blocked"
    for name in ("torch", "transformers", "pytorch_lightning", "lightning"):
        (blocked / name).mkdir(parents=True, exist_ok=True)
        (blocked / name / "__init__.py").write_text(f"raise ImportError('{name} is blocked in this test')\n")
    env = site.env()
    env["PYTHONPATH"] = os.pathsep.join([str(blocked), env["PYTHONPATH"]])
    return env


def test_data_and_lit_model_plugins_install_and_pass_their_own_tests(site, tmp_path):
    for kind, name in KINDS.items():
        made = site.run("plugins", "new", name, "--kind", kind, "--output", str(tmp_path))
        assert made.returncode == 0, made.stderr
        assert lines(made.stdout)[-2:] == [
            f"Next: cd {tmp_path / f'textclf-{name}'} && pip install -e '.[test]' && pytest",
            "Then: " + ("textclf train --data demo-data --data.path texts.jsonl --model MODEL" if kind == "data"
                        else "textclf train --data DATA --model MODEL --lit-model demo-regime")]
    projects = [tmp_path / f"textclf-{name}" for name in KINDS.values()]
    try:
        install(*projects)
        listed = site.run("plugins", "--json")
        assert {p.name for p in projects} <= {p["name"] for p in json.loads(listed.stdout)["plugins"]}
        assert "6 passed" in run_their_tests(*projects, cwd=tmp_path)
    finally:
        pip("uninstall", "-y", *(p.name for p in projects))


def test_a_cnn_model_plugin_from_new_to_predictions_without_torch(site, tmp_path, record_property):
    """plugins new -> pip install -> its own tests (the kit's checks) -> train -> export -> predict,
    where torch cannot be imported; the wall time of the whole path is printed and recorded."""
    start = time.perf_counter()
    made = site.run("plugins", "new", "textclf-cnn", "--name", "textcnn", "--kind", "model",
                    "--output", str(tmp_path))
    assert made.returncode == 0, made.stderr
    project = tmp_path / "textclf-cnn"
    assert lines(made.stdout)[-2:] == [f"Next: cd {project} && pip install -e '.[test]' && pytest",
                                       "Then: textclf train --data DATA --model textcnn"]
    assert sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()) == [
        "README.md", "pyproject.toml", "tests/test_plugin.py", "textclf_cnn/__init__.py",
        "textclf_cnn/model.py", "textclf_cnn/plugin.py"]
    tests = (project / "tests" / "test_plugin.py").read_text()
    assert 'check_model("textcnn")' in tests and 'check_export(tmp_path, model="textcnn")' in tests
    data = write_separable_dataset(tmp_path / "data", train=240, test=60)
    env = {"TEXTCLF_CACHE": str(tmp_path / "cache")}
    try:
        install(project)
        assert "5 passed" in run_their_tests(project, cwd=tmp_path)
        trained = site.run("train", "--data", "files", "--data.train", str(data["train"]),
                           "--data.test", str(data["test"]), "--model", "textcnn", "--max-steps", "20",
                           "--run-dir", "run", env=env, cwd=tmp_path)
        assert trained.returncode == 0, trained.stderr[-3000:]
        exported = site.run("export", "run", "--output", "bundle", env=env, cwd=tmp_path)
        assert exported.returncode == 0, exported.stderr[-3000:]
    finally:
        pip("uninstall", "-y", "textclf-cnn")
    # The bundle needs neither the plugin (uninstalled now) nor torch.
    blocked = torch_blocked_env(site, tmp_path)
    textclf = str(Path(sys.executable).with_name("textclf"))
    alone = subprocess.run([textclf, "predict", "bundle", SHORT, "-f", "jsonl"], capture_output=True,
                           text=True, env=blocked, cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr
    (tmp_path / "mixed.txt").write_text("".join(f"{text}\n" for text in MIXED))
    mixed = subprocess.run([textclf, "predict", "bundle", "--input", "mixed.txt", "-f", "jsonl"],
                           capture_output=True, text=True, env=blocked, cwd=tmp_path)
    assert mixed.returncode == 0, mixed.stderr
    seconds = time.perf_counter() - start
    print(f"\nplugins new -> predictions: {seconds:.1f} s")
    record_property("plugins_new_to_predict_seconds", round(seconds, 1))

    short = json.loads(alone.stdout)
    batch = [json.loads(line) for line in mixed.stdout.splitlines()]
    assert [r["text"] for r in batch] == MIXED
    assert {r["label"] for r in [short, *batch]} <= {"neg", "pos"}
    for label, probability in short["probabilities"].items():
        assert batch[0]["probabilities"][label] == pytest.approx(probability, abs=1e-5)


def test_the_cnn_template_ignores_padding_and_reads_texts_of_any_length(tmp_path):
    import torch
    from textclf.text import pad_rows

    new_plugin("cnn", "model", tmp_path)
    cnn = import_generated(tmp_path / "textclf-cnn" / "textclf_cnn" / "model.py").Cnn
    texts = [text for text, _ in separable_texts(100)]
    model = cnn(["neg", "pos", "other"], texts, kernel_sizes=(2, 5), dim=16, channels=8).eval()
    probes = ["", "good", "good film", "bad awful film word1 word2", "word3 " * 40 + "superb"]
    rows = model.encoder.encode_batch(probes)
    assert [len(row) for row in rows[:3]] == [0, 1, 2]
    with torch.no_grad():
        batch = model(*(torch.from_numpy(a) for a in pad_rows(rows, model.encoder.pad_id)))
        assert batch.shape == (len(probes), 3) and torch.isfinite(batch).all()
        for row, in_batch in zip(rows, batch):
            alone = model(*(torch.from_numpy(a) for a in pad_rows([row], model.encoder.pad_id)))[0]
            assert torch.allclose(alone, in_batch, rtol=0, atol=1e-5), (len(row), alone, in_batch)
        no_columns = torch.zeros((2, 0), dtype=torch.long)  # an input with no columns at all
        assert torch.allclose(model(no_columns, no_columns), batch[:1].expand(2, 3), rtol=0, atol=1e-5)


@pytest.mark.parametrize(("options", "message"), [
    ({"kernel_sizes": ()}, "`kernel_sizes` is empty: give one width or more, e.g. 3,4,5"),
    ({"kernel_sizes": (3, 0)}, "`kernel_sizes` 3,0: every width must be at least 1"),
    ({"channels": 0}, "`channels` 0: must be at least 1"),
    ({"dropout": 1.0}, "`dropout` 1.0: must be at least 0 and below 1"),
])
def test_the_cnn_template_refuses_bad_options(tmp_path, options, message):
    from textclf import OptionError

    new_plugin("cnn", "model", tmp_path)
    cnn = import_generated(tmp_path / "textclf-cnn" / "textclf_cnn" / "model.py").Cnn
    with pytest.raises(OptionError) as refused:
        cnn(["neg", "pos"], ["a text"], **options)
    assert str(refused.value) == message


def test_the_data_template_holds_out_every_label_from_a_label_sorted_file(tmp_path):
    new_plugin("sorted", "data", tmp_path)
    data_module = import_generated(tmp_path / "textclf-sorted" / "textclf_sorted" / "data.py").Sorted
    sample = tmp_path / "sorted.jsonl"
    rows = sorted(separable_texts(60) + [(f"word{i} neutral", "meh") for i in range(20)],
                  key=lambda row: row[1])  # all "meh", then all "neg", then all "pos"
    write_rows(sample, rows)

    def split(seed: int = 42) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        data = data_module(path=sample, seed=seed, cache_dir=tmp_path / "cache")
        data.prepare_data()
        return tuple(list(zip(*data.load_split(name))) for name in ("train", "test"))

    train, test = split()
    assert {label for _, label in test} == {label for _, label in train} == {"meh", "neg", "pos"}
    assert sorted(train + test) == sorted(rows) and not set(train) & set(test)
    assert sorted(label for _, label in test) == ["meh"] * 4 + ["neg"] * 6 + ["pos"] * 6
    assert split() == (train, test) and split(seed=7) != (train, test)
    assert data_module(path=sample, cache_dir=tmp_path / "cache").load_split("val") is None


def test_new_refuses_bad_names_and_existing_directories_and_writes_nothing(site, tmp_path):
    out = tmp_path / "out"
    out.mkdir()

    def refused(*args: str) -> list[str]:
        result = site.run("plugins", "new", *args, "--output", str(out))
        assert (result.returncode, result.stdout) == (2, ""), result.stderr
        return lines(result.stderr)

    assert refused("Movie_Reviews") == [
        "error: plugins new Movie_Reviews: use lower-case letters, digits and hyphens, starting "
        "with a letter (e.g. movie-reviews, or textclf-movie-reviews)"]
    assert refused("textclf-") == [
        "error: plugins new textclf-: use lower-case letters, digits and hyphens, starting "
        "with a letter (e.g. movie-reviews, or textclf-movie-reviews)"]
    assert refused("textclf-cnn", "--name", "TextCNN", "--kind", "model") == [
        "error: plugins new --name TextCNN: use lower-case letters, digits and hyphens, starting "
        "with a letter (e.g. textcnn)"]
    assert refused("my-files", "--name", "files") == [
        "error: plugins new --name files: textclf's own data 'files' has that name; a plugin's "
        "would be reachable only as textclf-my-files:files; choose another name"]
    assert list(out.iterdir()) == []
    (out / "textclf-taken").mkdir()
    assert refused("taken") == [
        f"error: {out / 'textclf-taken'}: already exists; choose another name or --output"]
    assert refused("textclf-taken", "--name", "other") == [
        f"error: {out / 'textclf-taken'}: already exists; choose another name or --output"]
    assert list(out.iterdir()) == [out / "textclf-taken"]


def test_names_that_would_hide_an_import_or_be_a_keyword_get_a_class_suffix(tmp_path):
    new_plugin("textclf-tok", "model", tmp_path, name="tokenizer")
    new_plugin("textclf-nothing", "data", tmp_path, name="none")
    new_plugin("textclf-examples", "data", tmp_path)
    assert "class TokenizerModel(BaseModel):" in (tmp_path / "textclf-tok/textclf_tok/model.py").read_text()
    assert "class NoneData(BaseDataModule):" in (tmp_path / "textclf-nothing/textclf_nothing/data.py").read_text()
    assert "class ExamplesData(BaseDataModule):" in (
        tmp_path / "textclf-examples/textclf_examples/data.py").read_text()
    plugin = (tmp_path / "textclf-tok/textclf_tok/plugin.py").read_text()
    assert 'register("tokenizer", "textclf_tok.model:TokenizerModel", help=' in plugin
