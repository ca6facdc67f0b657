"""The pieces of the pipeline, in process: token cache, model save/load, contracts, estimates."""

from __future__ import annotations

from dataclasses import replace

import plugin_sources as src
import pytest
import torch
from textclf.testing import TinyModel, lines, separable_texts, write_rows

from textclf.data.files import Files
from textclf.models.base import BaseModel
from textclf.training import estimate
from textclf.training.pipeline import planned_steps
from textclf.training.trainer_options import TrainerOptions


@pytest.fixture
def files(tmp_path):
    write_rows(tmp_path / "train.csv", separable_texts(200))
    write_rows(tmp_path / "test.csv", separable_texts(50, seed=9))

    def make(**options):
        data = Files(train=tmp_path / "train.csv", test=tmp_path / "test.csv",
                     cache_dir=tmp_path / "cache", **options)
        data.prepare_data()
        return data

    return make


def test_token_cache_is_keyed_by_everything_that_changes_the_tokens(files, tmp_path):
    data = files()
    model = TinyModel(data.label_names(), train_texts=data.train_texts())
    data.attach(model.encoder)
    assert not data.cache_hit
    assert {s: len(d) for s, d in data.splits.items()} == {"train": 180, "val": 20, "test": 50}
    again = files()
    again.attach(model.encoder)
    assert again.cache_hit and again.token_cache == data.token_cache
    assert again.splits["train"].row(3).tolist() == data.splits["train"].row(3).tolist()

    keys = {data.token_cache.name}
    for encoder in (TinyModel(data.label_names(), train_texts=data.train_texts(), max_length=16).encoder,
                    TinyModel(data.label_names(), train_texts=data.train_texts(), truncation="tail").encoder,
                    TinyModel(data.label_names(), train_texts=data.train_texts()[:50]).encoder):
        other = files()
        other.attach(encoder)
        assert not other.cache_hit
        keys.add(other.token_cache.name)
    for options in ({"val_fraction": 0.2}, {"seed": 1}):
        other = files(**options)
        other.attach(model.encoder)
        keys.add(other.token_cache.name)
    batch_only = files(batch_size=7)
    batch_only.attach(model.encoder)
    assert batch_only.cache_hit  # serving options do not change the tokens
    assert len(keys) == 6
    assert not list((tmp_path / "cache" / "tokens").glob(".tmp-*"))


def test_cached_rows_are_the_encoder_output(files):
    data = files()
    model = TinyModel(data.label_names(), train_texts=data.train_texts(), max_length=8)
    data.attach(model.encoder)
    texts = [t for t, _ in separable_texts(50, seed=9)]
    assert [data.splits["test"].row(i).tolist() for i in range(50)] == model.encoder.encode_batch(texts)
    assert data.splits["test"].lengths.max() <= 8


def test_model_saves_and_loads_with_the_same_outputs(tmp_path):
    texts = [t for t, _ in separable_texts(100)]
    model = TinyModel(["neg", "pos"], train_texts=texts, dim=8, max_length=32, truncation="head+tail")
    model.save(tmp_path / "model")
    loaded = BaseModel.load.__func__(TinyModel, tmp_path / "model")
    assert (loaded.labels, loaded.max_length, loaded.truncation) == (["neg", "pos"], 32, "head+tail")
    assert loaded.init_options == {"dim": 8, "max_length": 32, "truncation": "head+tail", "vocab_size": 2000,
                                   "dropout": 0.0}
    ids = torch.tensor([model.encoder.encode(texts[0])])
    mask = torch.ones_like(ids)
    model.eval(), loaded.eval()
    assert torch.equal(model(ids, mask), loaded(ids, mask))
    assert loaded.encoder.encode_batch(texts[:5]) == model.encoder.encode_batch(texts[:5])
    model.save(tmp_path / "model")  # saving again replaces the directory in one step
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_component_that_breaks_its_contract(site, cli, tmp_path):
    site.add("textclf-tiny", src.TINY_MODEL)
    site.add("textclf-odd", src.data_only("odd", "textclf.testing:TinyModel", "Not data at all"))
    write_rows(tmp_path / "train.csv", separable_texts(20))
    result = cli("train", "--data", "odd", "--model", "tiny", "--run-dir", str(tmp_path / "r"))
    assert (result.returncode, lines(result.stderr)) == (2, [
        "error: data 'odd' (textclf.testing:TinyModel) from textclf-odd 1.0 is not a "
        "textclf.BaseDataModule; report this to the plugin's authors"])


def test_planned_steps_count_optimizer_steps():
    options = TrainerOptions(max_epochs=3, max_steps=-1, accumulate_grad_batches=1)
    assert planned_steps(options, batches=10, world_size=1) == 30
    assert planned_steps(options, batches=10, world_size=2) == 15
    assert planned_steps(replace(options, accumulate_grad_batches=4), batches=10, world_size=1) == 9
    assert planned_steps(replace(options, max_steps=7), batches=10, world_size=1) == 7
    assert planned_steps(replace(options, max_epochs=-1, max_steps=50), batches=10, world_size=1) == 50


def test_cpu_warning_for_a_large_model(files, monkeypatch):
    data = files()
    model = TinyModel(data.label_names(), train_texts=data.train_texts())
    data.attach(model.encoder)
    assert estimate.cpu_warning(model, data, "tiny") is None  # small: no probe, no warning
    monkeypatch.setattr(estimate, "LARGE_MODEL_PARAMETERS", 0)
    monkeypatch.setattr(estimate, "WARN_SECONDS", 0)
    before = [p.detach().clone() for p in model.parameters()]
    warning = estimate.cpu_warning(model, data, "tiny")
    assert warning.startswith("training tiny (0.0M parameters) on CPU: about ")
    assert warning.endswith(" per epoch of 180 examples. Shorten it with --max-steps N or fewer "
                            "--max-epochs, train on fewer examples, or use a GPU (--accelerator gpu)")
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("precision, width, native, expected", [
    ("auto", 2048, True, "bf16-mixed"),    # 4.2M + 4.2M linear weights, a CPU with bf16: bf16
    ("auto", 2048, False, "32-true"),      # the same model where bf16 would be emulated
    ("auto", 256, True, "32-true"),        # a small model: fp32 (bf16's casts cost more than they save)
    ("32-true", 2048, True, "32-true"),    # asked for: kept
    ("bf16-mixed", 256, False, "bf16-mixed"),
])
def test_auto_precision_on_a_cpu(monkeypatch, precision, width, native, expected):
    from textclf.training import trainer

    monkeypatch.setattr(trainer.torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(trainer, "cpu_has_native_bf16", lambda: native)
    model = torch.nn.Sequential(torch.nn.Embedding(50_000, 64), torch.nn.Linear(width, width),
                                torch.nn.Linear(width, width))
    options = TrainerOptions(precision=precision)
    assert trainer.resolve_precision(options, model).precision == expected
    assert trainer.resolve_precision(options).precision == ("32-true" if precision == "auto" else precision)


def test_a_huge_text_reaches_a_tokenizer_trainer_cut(tmp_path):
    """A 50 MB JSONL text once aborted the WordPiece trainer (a Rust allocation failure): texts
    handed to tokenizer trainers are cut to a bound far beyond any real document."""
    from textclf.data.base import TOKENIZER_TEXT_CHARS

    huge = "x" * (3 * TOKENIZER_TEXT_CHARS)
    write_rows(tmp_path / "train.jsonl", [*separable_texts(20), (huge, "pos"), ("short", "neg")])
    data = Files(train=tmp_path / "train.jsonl", val_fraction=0.0, cache_dir=tmp_path / "cache")
    data.prepare_data()
    texts = data.train_texts()
    assert len(texts) == 22 and max(map(len, texts)) == TOKENIZER_TEXT_CHARS
    assert huge[:TOKENIZER_TEXT_CHARS] in texts and "short" in texts


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_gradients_are_clipped_with_the_fused_optimizer_in_every_precision(precision):
    """Lightning's mixed-precision plugin refuses to clip for a fused AdamW (which unscales in its
    own step); the lit-model clips itself, unscaling first where a scaler scaled."""
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader

    from textclf import Classifier

    rows = separable_texts(64)
    model = TinyModel(["neg", "pos"], train_texts=[t for t, _ in rows])
    lit = Classifier(model, lr=1e-3, warmup_ratio=0.0)
    lit.total_steps = 4
    norms = []

    class Norms(pl.Callback):
        def on_before_zero_grad(self, trainer, pl_module, optimizer):  # the last step's gradients
            grads = [p.grad.detach().float().norm() for p in pl_module.parameters() if p.grad is not None]
            if grads:
                norms.append(float(torch.linalg.vector_norm(torch.stack(grads))))

    encoded = model.encoder.encode_batch([t for t, _ in rows[:16]])
    width = max(map(len, encoded))
    ids = torch.tensor([row + [model.encoder.pad_id] * (width - len(row)) for row in encoded])
    batch = {"input_ids": ids, "attention_mask": (ids != model.encoder.pad_id).long(),
             "labels": torch.tensor([model.labels.index(y) for _, y in rows[:16]])}
    trainer = pl.Trainer(max_steps=4, accelerator="cpu", precision=precision, gradient_clip_val=1e-3,
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[Norms()])
    trainer.fit(lit, train_dataloaders=DataLoader([batch] * 4, batch_size=None))
    assert any(isinstance(o, torch.optim.AdamW) and o.defaults.get("fused") for o in trainer.optimizers)
    assert len(norms) == 3 and max(norms) <= 1e-3 * 1.01
