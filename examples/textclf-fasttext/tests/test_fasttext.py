"""The fastText plugin, tested as any third-party plugin would test itself: with textclf's kit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from textclf import runtime
from textclf.testing import (check_component, check_export, check_model, check_plugin, check_training,
                             separable_texts)
from textclf_fasttext.model import FastText
from textclf_fasttext.regime import FastTextSGD

TEXTCLF = str(Path(sys.executable).with_name("textclf"))
#: Hashed n-gram rows for the tests: the default, fastText's 2,000,000, is 400 MB of weights.
SMALL = 1000


def test_plugin_loads_and_its_components_keep_their_contracts():
    plugin = check_plugin("textclf-fasttext")
    assert {(c.kind, c.name) for c in plugin.components} == {("model", "fasttext"), ("lit-model", "fasttext-sgd")}
    model = check_component("model", "fasttext")
    assert [o.name for o in model.options] == ["dim", "ngrams", "buckets", "vocab_size", "min_frequency",
                                               "lowercase", "max_length", "truncation", "tokenizer"]
    regime = check_component("lit-model", "fasttext-sgd")
    assert [o.name for o in regime.options] == ["lr", "label_smoothing", "class_weights", "threads"]


@pytest.mark.parametrize("ngrams", [1, 3])
def test_the_model_keeps_the_tensor_contract(ngrams):
    # Word n-grams of a short text sit next to padding: their hashes must stay masked.
    check_model("fasttext", model_options={"ngrams": ngrams, "buckets": SMALL})


def test_it_exports_and_the_onnx_model_keeps_the_contract(tmp_path):
    bundle = check_export(tmp_path, model="fasttext", lit_model="fasttext-sgd", model_options={"buckets": SMALL})
    assert runtime.load(bundle).predict(["goal"]) and (bundle / "model.onnx").is_file()


@pytest.mark.parametrize("lit_model", ["fasttext-sgd", "classifier"])
def test_a_training_step_runs_with_either_regime(tmp_path, lit_model):
    metrics = check_training(tmp_path, model="fasttext", lit_model=lit_model, model_options={"buckets": SMALL})
    assert metrics["steps"] == 4


def test_ngram_ids_are_hashed_inside_the_model():
    texts = [t for t, _ in separable_texts(50)]
    model = FastText(["neg", "pos"], train_texts=texts, dim=4, ngrams=3, buckets=97).eval()
    words = model.tokenizer.get_vocab_size()
    assert model.embedding.num_embeddings == words + 97
    seen: list[torch.Tensor] = []
    model.embedding.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    ids = torch.tensor([[5, 6, 7, 0]])
    model(ids, torch.tensor([[1, 1, 1, 0]]))
    tokens = seen[0][0].tolist()
    assert tokens[:4] == [5, 6, 7, 0]  # the words themselves
    bigrams, trigrams = tokens[4:7], tokens[7:9]
    assert all(words <= t < words + 97 for t in bigrams + trigrams)
    assert bigrams[0] != words + (6 * 1 + 5 * 116_049_371) % 97  # order matters: (5, 6) is not (6, 5)
    unigram_only = FastText(["neg", "pos"], train_texts=texts, ngrams=1)
    assert unigram_only.embedding.num_embeddings == unigram_only.tokenizer.get_vocab_size()


def test_the_regime_uses_sparse_sgd_without_clipping():
    texts = [t for t, _ in separable_texts(50)]
    regime = FastTextSGD(FastText(["neg", "pos"], train_texts=texts, buckets=SMALL))
    assert regime.model.embedding.sparse
    ids = torch.tensor(regime.model.encoder.encode_batch(["good film"]))
    loss = regime.loss(regime(ids, torch.ones_like(ids)), torch.tensor([1]))
    loss.backward()
    assert regime.model.embedding.weight.grad.is_sparse
    regime.configure_gradient_clipping(None, gradient_clip_val=1.0)  # no error: nothing clipped
    assert (regime.monitor, regime.monitor_mode) == ("val/loss", "min")  # the checkpoint kept


def test_the_regime_runs_torch_on_its_threads_and_gives_the_setting_back():
    texts = [t for t, _ in separable_texts(50)]
    before = torch.get_num_threads()
    regime = FastTextSGD(FastText(["neg", "pos"], train_texts=texts, buckets=SMALL), threads=1)
    regime.setup("fit")
    assert torch.get_num_threads() == 1
    regime.teardown("fit")
    assert torch.get_num_threads() == before
    untouched = FastTextSGD(regime.model, threads=None)
    untouched.setup("test")
    assert torch.get_num_threads() == before


def test_it_starts_as_fasttext_does():
    """Rows uniform in +-1/dim, the output layer at zero and without a bias (fastText has none)."""
    texts = [t for t, _ in separable_texts(50)]
    model = FastText(["neg", "pos"], train_texts=texts, dim=10, buckets=SMALL)
    rows = model.embedding.weight
    assert rows.abs().max() <= 0.1 and rows.abs().max() > 0.09 and abs(rows.mean()) < 0.01
    assert model.head.bias is None and not model.head.weight.any()


def test_words_are_split_on_whitespace_only_and_case_is_kept_unless_asked():
    texts = ["Great film, really!", "great film"]
    model = FastText(["neg", "pos"], train_texts=texts, buckets=SMALL)
    assert model.tokenizer.encode("Great film, really!").tokens == ["Great", "film,", "really!"]
    assert model.tokenizer.get_vocab_size() == 2 + 5  # [PAD], [UNK] and every word seen once
    lowered = FastText(["neg", "pos"], train_texts=texts, buckets=SMALL, lowercase=True)
    assert lowered.tokenizer.encode("GREAT Film,").tokens == ["great", "film,"]


def test_unknown_words_are_left_out_of_the_mean():
    texts = [t for t, _ in separable_texts(50)]
    model = FastText(["neg", "pos"], train_texts=texts, ngrams=1, buckets=SMALL).eval()
    torch.nn.init.normal_(model.head.weight)
    unk = model.tokenizer.token_to_id("[UNK]")
    with torch.no_grad():
        alone = model(torch.tensor([[5, 6]]), torch.tensor([[1, 1]]))
        with_unknown = model(torch.tensor([[5, unk, 6]]), torch.tensor([[1, 1, 1]]))
    assert torch.allclose(alone, with_unknown)


def test_training_and_evaluation_compute_the_same_mean():
    """Training sums rows with embedding_bag, evaluation (and ONNX) with a gather: same logits."""
    texts = [t for t, _ in separable_texts(50)]
    model = FastText(["neg", "pos"], train_texts=texts, ngrams=3, buckets=SMALL)
    torch.nn.init.normal_(model.head.weight)
    ids = torch.tensor([[5, 6, 7, 8, 0, 0], [9, 1, 10, 11, 12, 13]])
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]])
    with torch.no_grad():
        trained = model.train()(ids, mask)
        evaluated = model.eval()(ids, mask)
    assert torch.allclose(trained, evaluated, atol=1e-6)


def test_a_batch_steps_as_far_as_its_texts_would_one_by_one():
    """lr is a rate per text: one step on a batch is the sum of the texts' own steps."""
    import pytorch_lightning as pl
    from torch.nn.utils.rnn import pad_sequence
    from torch.utils.data import DataLoader

    rows = separable_texts(40)
    model = FastText(["neg", "pos"], train_texts=[t for t, _ in rows], buckets=SMALL)
    regime = FastTextSGD(model, lr=0.5)
    regime.total_steps = 1
    texts, labels = [t for t, _ in rows[:4]], torch.tensor([model.labels.index(y) for _, y in rows[:4]])
    encoded = model.encoder.encode_batch(texts)
    expected = torch.zeros_like(model.head.weight)
    for ids, label in zip(encoded, labels):  # each text alone, unpadded
        model.zero_grad()
        one = torch.tensor([ids])
        torch.nn.functional.cross_entropy(model(one, torch.ones_like(one)), label[None]).backward()
        expected -= 0.5 * model.head.weight.grad
    before = model.head.weight.detach().clone()
    input_ids = pad_sequence([torch.tensor(ids) for ids in encoded], batch_first=True,
                             padding_value=model.encoder.pad_id)
    mask = pad_sequence([torch.ones(len(ids), dtype=torch.long) for ids in encoded], batch_first=True)
    batch = {"input_ids": input_ids, "attention_mask": mask, "labels": labels}
    trainer = pl.Trainer(max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(regime, train_dataloaders=DataLoader([batch], batch_size=None))
    assert expected.abs().max() > 1e-3
    assert torch.allclose(model.head.weight.detach() - before, expected, rtol=1e-4, atol=1e-8)


def test_a_bad_ngrams_value_is_one_line(textclf_cli, tmp_path):
    from textclf.testing import lines, write_rows

    write_rows(tmp_path / "train.csv", separable_texts(40))
    result = textclf_cli("train", "--data", "files", "--data.train", str(tmp_path / "train.csv"),
                         "--model", "fasttext", "--model.ngrams", "5", "--run-dir", str(tmp_path / "run"),
                         env={"TEXTCLF_CACHE": str(tmp_path / "c")})
    assert (result.returncode, lines(result.stderr)[-1]) == (1, "error: --model.ngrams 5: choose 1 to 4")
    assert not (tmp_path / "run").exists()


def textclf(*args: str, cwd: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "TEXTCLF_CACHE": str(cache)}
    return subprocess.run([TEXTCLF, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def test_installed_it_lists_trains_exports_and_predicts(tmp_path):
    """End to end through the CLI, the plugin installed as a user installs it (pip install)."""
    from textclf_imdb.synthetic import write_archive

    cache = tmp_path / "cache"
    listed = json.loads(textclf("plugins", "--json", cwd=tmp_path, cache=cache).stdout)
    mine = next(p for p in listed["plugins"] if p["name"] == "textclf-fasttext")
    assert [m["name"] for m in mine["models"]] == ["fasttext"] and mine["error"] is None

    archive = tmp_path / "aclImdb_v1.tar.gz"
    write_archive(archive, 500, seed=4, cues=8)
    trained = textclf("train", "--data", "imdb", "--data.path", str(archive), "--data.batch-size", "16",
                      "--model", "fasttext", "--lit-model", "fasttext-sgd", "--model.buckets", str(SMALL),
                      "--run-dir", "run", cwd=tmp_path, cache=cache)
    assert trained.returncode == 0, trained.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test"]["acc"] > 0.9

    exported = textclf("export", "run", "--output", "bundle", cwd=tmp_path, cache=cache)
    assert exported.returncode == 0, exported.stderr
    predicted = textclf("predict", "bundle", "a wonderful, superb, moving film", "dreadful and boring",
                        "--format", "jsonl", cwd=tmp_path, cache=cache)
    assert [json.loads(line)["label"] for line in predicted.stdout.splitlines()] == ["pos", "neg"]

    model = FastText.load(tmp_path / "run" / "model").eval()
    texts = ["wonderful superb", "w12 w7 dreadful boring tedious", "plot actor film " * 50]
    rows = model.encoder.encode_batch(texts)
    with torch.no_grad():
        expected = np.stack([torch.softmax(model(torch.tensor([r]), torch.ones(1, len(r), dtype=torch.long)), -1)[0].numpy()
                             for r in rows])
    assert np.abs(runtime.load(tmp_path / "bundle").predict_proba(texts) - expected).max() < 1e-5
