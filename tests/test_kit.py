"""The plugin kit catches the broken models that once passed it (tests/broken_models.py), each
with one sentence naming the problem, in PyTorch, in export and on the command line."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
import pytest
from textclf import TextclfError
from textclf.testing import (ContractError, TinyModel, check_export, check_model, check_training,
                             lines, write_separable_dataset)

import broken_models

SOURCE = Path(broken_models.__file__).read_text()
PLUGIN = '''
from textclf import hookimpl

@hookimpl
def register_models(register):
    for name in ("FixedWidthHead", "UnmaskedPooling", "WideKernel", "ItemInForward", "TinyModel"):
        register(name.lower(), f"broken_models:{name}", help=name)
    register("raises", "raising:Raises", help="raises a ValueError when built")
'''
RAISING = '''
from textclf.testing.models import TinyModel

class Raises(TinyModel):
    """Raises from its constructor as a plugin might.

    Args:
        ngrams: Word n-grams.
    """

    def __init__(self, labels, train_texts=None, tokenizer=None, ngrams: int = 2):
        if ngrams > 4:
            raise ValueError(f"ngrams must be 1 to 4, got {ngrams}")
        super().__init__(labels, train_texts, tokenizer)
'''


@pytest.mark.parametrize("model, problem", [
    (broken_models.FixedWidthHead, "FixedWidthHead (built for 4 labels) gives logits of shape (3, 2) "
     "for 3 texts and 4 labels; it must give (3, 4), one column per label: size the output layer "
     "by len(labels), not a fixed number"),
    (broken_models.UnmaskedPooling, "UnmaskedPooling reads padding: the logits of a 1-token text "
     "alone and in a batch with a longer text differ by"),
    (broken_models.WideKernel, "WideKernel fails on an empty text (RuntimeError: Calculated padded "
     "input size per channel: (1). Kernel size: (5). Kernel size can't be greater than actual input "
     "size); a model must accept every text from 0 tokens (an empty text) up to max_length: a "
     "convolution needs the sequence padded to its widest kernel (F.pad) inside forward"),
    (broken_models.ShuffledVocabulary, "ShuffledVocabulary built twice from the same training texts "
     "has different tokenizers ("),
])
def test_check_model_fails_each_broken_model_with_one_sentence(model, problem):
    with pytest.raises(ContractError) as caught:
        check_model(model)
    message = str(caught.value)
    assert message.startswith(problem) and "\n" not in message


def test_a_model_keeping_the_contract_passes_check_model():
    check_model(TinyModel)
    check_model(TinyModel, model_options={"dim": 8, "max_length": 5})


def test_check_export_passes_a_good_model_and_returns_its_bundle(tmp_path):
    from textclf import runtime

    bundle = check_export(tmp_path, model=TinyModel)
    assert bundle == tmp_path / "bundle"
    loaded = runtime.load(bundle)
    assert loaded.labels == ["music", "science", "sport"]  # check_training's data has three classes
    assert loaded.predict(["", "goal", "match referee goal"])[2] == "sport"


def test_check_export_fails_a_forward_that_cannot_be_traced(tmp_path):
    with pytest.raises(ContractError) as caught:
        check_export(tmp_path, model=broken_models.ItemInForward)
    message = str(caught.value)
    assert message.startswith("textclf export failed: torch.onnx.export failed for ItemInForward: "
                              "GuardOnDataDependentSymNode: Could not guard on data-dependent "
                              "expression")
    assert "in forward: `if pooled.abs().sum().item() > 1e9:`)" in message
    assert message.endswith("; forward must avoid .item(), .tolist() and Python branches on tensor "
                            "values (see 'What forward must avoid' in docs/plugins.md); "
                            "TEXTCLF_DEBUG=1 shows the exporter's whole trace")
    assert not (tmp_path / "bundle").exists()


def test_check_training_trains_on_three_classes_and_a_fixed_width_head_is_one_line(tmp_path):
    metrics = check_training(tmp_path / "good", model=TinyModel)
    assert metrics["steps"] == 4
    with pytest.raises(TextclfError) as caught:
        check_training(tmp_path / "bad", model=broken_models.FixedWidthHead)
    assert re.match(r"the model FixedWidthHead gives logits of shape \((\d+), 2\) for \1 texts and "
                    r"3 labels; it must give \(\1, 3\), one column per label", str(caught.value))


@pytest.fixture
def broken(site, tmp_path):
    """A site whose plugin registers the broken models, and a three-class dataset."""
    site.add("textclf-broken", PLUGIN, extra={"broken_models": SOURCE, "raising": RAISING})
    site.data = write_separable_dataset(tmp_path / "data", train=60, test=30, classes=3)
    return site


def cli_train(cli, site, model, *args, env=None):
    return cli("train", "--data", "files", "--data.train", str(site.data["train"]),
               "--data.test", str(site.data["test"]), "--model", model, "--max-steps", "3",
               "--run-dir", str(site.root.parent / model), *args,
               env={"TEXTCLF_CACHE": str(site.root.parent / "cache"), **(env or {})})


def test_a_constructor_error_of_any_type_is_one_line_naming_component_and_option(broken, cli):
    failed = cli_train(cli, broken, "raises", "--model.ngrams", "9")
    assert (failed.returncode, lines(failed.stderr)) == (1, [
        "error: model 'raises': ValueError: --model.ngrams must be 1 to 4, got 9 (TEXTCLF_DEBUG=1 "
        "shows the traceback)"])
    with pytest.raises(ValueError, match="ngrams must be 1 to 4"):
        try:
            cli_train(cli, broken, "raises", "--model.ngrams", "9", env={"TEXTCLF_DEBUG": "1"})
        except Exception as exc:  # the one-line error, raised from the plugin's own
            raise exc.__cause__ from None


def test_export_of_an_untraceable_forward_is_one_line_without_colour_or_graph_dump(broken, cli, tmp_path):
    assert cli_train(cli, broken, "iteminforward").returncode == 0
    failed = cli("export", str(tmp_path / "iteminforward"), "--output", str(tmp_path / "bundle"))
    assert failed.returncode == 1 and len(lines(failed.stderr)) == 1, failed.stderr
    line = lines(failed.stderr)[0]
    assert re.match(r"error: torch\.onnx\.export failed for ItemInForward: GuardOnDataDependentSymNode: "
                    r"Could not guard on data-dependent expression .* \(at \S*broken_models\.py:\d+ in "
                    r"forward: `if pooled\.abs\(\)\.sum\(\)\.item\(\) > 1e9:`\); forward must avoid", line)
    assert "\x1b" not in failed.stderr and "Next steps" not in failed.stderr
    assert not (tmp_path / "bundle").exists()


def test_export_refuses_a_model_that_reads_padding_and_keeps_nothing(broken, cli, tmp_path):
    assert cli_train(cli, broken, "unmaskedpooling").returncode == 0
    failed = cli("export", str(tmp_path / "unmaskedpooling"), "--output", str(tmp_path / "bundle"))
    assert failed.returncode == 1
    assert lines(failed.stderr)[-1].startswith(
        "error: UnmaskedPooling reads padding: the logits of a 1-token text alone and in a batch "
        "with a longer text differ by")
    assert lines(failed.stderr)[-1].endswith("; nothing was written")
    assert not (tmp_path / "bundle").exists()


def test_export_parity_covers_empty_short_and_max_length_texts(broken, cli, tmp_path):
    assert cli_train(cli, broken, "tinymodel").returncode == 0
    exported = cli("export", str(tmp_path / "tinymodel"), "--output", str(tmp_path / "bundle"))
    assert exported.returncode == 0, exported.stderr
    parity = __import__("json").loads((tmp_path / "bundle" / "textclf.json").read_text())["checks"]["parity"]
    assert parity["min_tokens"] == 0 and parity["max_tokens"] == 64  # TinyModel's max_length
    predicted = cli("predict", str(tmp_path / "bundle"), "", "goal", "--format", "json")
    assert predicted.returncode == 0, predicted.stderr


def test_a_bad_interrupt_setting_is_one_line(broken, cli):
    failed = cli_train(cli, broken, "tinymodel", env={"TEXTCLF_TEST_INTERRUPT_AFTER": "soon"})
    assert lines(failed.stderr)[-1] == (
        "error: TEXTCLF_TEST_INTERRUPT_AFTER=soon: expected N (a training batch, from 1), "
        "N:SIGTERM, N:SIGUSR1 or N:raise; unset it for a normal run")


def test_the_probe_texts_span_zero_tokens_to_max_length():
    from textclf.contract import probe_texts

    model = TinyModel(["a", "b"], ["goal match referee", "atom theory"], max_length=6)
    lengths = [len(model.encoder.encode(text)) for text in probe_texts(model.encoder).values()]
    assert lengths == [0, 1, 2, 6]
    empty = torch.zeros((1, 1), dtype=torch.long)
    assert np.isfinite(model(empty, empty).detach().numpy()).all()  # an all-padding row


def test_the_interrupt_setting_stops_a_run_of_any_model_and_it_resumes(broken, tmp_path):
    # Once a hook inside TinyModel, so setting it for another model did nothing. (fastText
    # batches 64 texts: one batch an epoch here.)
    env = {"TEXTCLF_CACHE": str(tmp_path / "cache")}
    args = ["train", "--data", "files", "--data.train", str(broken.data["train"]), "--data.test",
            str(broken.data["test"]), "--model", "fasttext", "--max-steps", "6", "--run-dir", "ft"]
    stopped = broken.run(*args, env={**env, "TEXTCLF_TEST_INTERRUPT_AFTER": "3"}, cwd=tmp_path)
    assert (stopped.returncode, lines(stopped.stderr)[-1]) == (130, (
        "error: training interrupted at epoch 3, step 3; continue it with: textclf train --resume ft"))
    resumed = broken.run("train", "--resume", "ft", env=env, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
