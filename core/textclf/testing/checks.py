"""Checks any plugin can run in its own tests: it loads, its components keep their contracts,
their options are derived and documented, a tiny training run goes through the pipeline, and a
model keeps the tensor contract in PyTorch and once exported to ONNX.

    from textclf.testing import check_component, check_export, check_model, check_plugin, check_training

    def test_plugin():
        check_plugin("textclf-cnn")
        check_component("model", "textcnn")
        check_model("textcnn")

    def test_trains_and_exports(tmp_path):
        check_export(tmp_path, model="textcnn")

Each check fails with an ``AssertionError`` of one sentence saying what to fix.
"""

from __future__ import annotations

import inspect
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from textclf.contract import ContractError, check_contract, check_width
from textclf.kinds import DATA, KINDS, LIT_MODEL, MODEL, TRAINER, Kind, kind_named
from textclf.plugins import Plugin, PluginHost
from textclf.registry import Component, Registry, normalize_dist
from textclf.text import pad_rows

#: Label counts ``check_model`` builds a model for: a head fixed to two outputs fails on four.
LABEL_COUNTS = (2, 4)


def _host() -> PluginHost:
    host = PluginHost(strict=False, on_problem=lambda message: None)
    host.load_builtins()
    host.load_entry_points()
    return host


def check_plugin(dist: str) -> Plugin:
    """The distribution ``dist`` is installed and loads through its entry point without a problem."""
    host = _host()
    found = [p for p in host.plugins if p.name == normalize_dist(dist)]
    installed = ", ".join(p.name for p in host.plugins)
    assert found, (f"{dist} is not an installed textclf plugin (installed: {installed}); install it "
                   f"(pip install -e .) and check its [project.entry-points.textclf] table")
    assert found[0].error is None, f"{dist} does not load: {found[0].error}"
    return found[0]


def check_component(kind: str, name: str) -> Any:
    """Component ``name`` of ``kind`` is registered, imports, follows its kind's contract, and every
    option is derived from its constructor with a docstring line. Returns the chosen component."""
    from textclf.run_config import Chosen

    chosen = Chosen.by_name(_host().registry, kind_named(kind), name)
    undocumented = [option.flag for option in chosen.options if not option.help]
    assert not undocumented, (f"{kind} '{name}': options without a docstring line: "
                              f"{', '.join(undocumented)}; describe each parameter under Args: in "
                              f"the class docstring")
    return chosen


def check_training(tmp_path: Path, *, data: str | type | None = None, model: str | type | None = None,
                   lit_model: str | type | None = None, data_options: dict[str, Any] | None = None,
                   model_options: dict[str, Any] | None = None,
                   lit_model_options: dict[str, Any] | None = None, max_steps: int = 4) -> dict[str, Any]:
    """A few training steps of data + model + lit-model through textclf's real pipeline, on CPU.

    Each component is a registered name or a class; what is left out is filled with something
    small and dependable (a generated three-class dataset, ``TinyModel``, the built-in
    ``classifier``), so a plugin tests its own component against known-good partners. Also checks
    that the trained model saves, loads back and gives the same logits. Returns the run's metrics;
    the run is ``tmp_path / "run"``.
    """
    return _train(tmp_path, _host().registry, data=data, model=model, lit_model=lit_model,
                  data_options=data_options, model_options=model_options,
                  lit_model_options=lit_model_options, max_steps=max_steps).metrics


@dataclass
class _Trained:
    metrics: dict[str, Any]
    classes: dict[str, Any]
    run_dir: Path


def _train(tmp_path: Path, registry: Registry, *, data: str | type | None, model: str | type | None,
           lit_model: str | type | None, data_options: dict[str, Any] | None,
           model_options: dict[str, Any] | None, lit_model_options: dict[str, Any] | None,
           max_steps: int) -> _Trained:
    from textclf.run_config import from_classes
    from textclf.training import pipeline

    options: dict[str, dict[str, Any]] = {DATA.section: dict(data_options or {}),
                                          MODEL.section: dict(model_options or {}),
                                          LIT_MODEL.section: dict(lit_model_options or {})}
    if data is None:
        from textclf.testing.datasets import write_separable_dataset

        files = write_separable_dataset(tmp_path / "data", train=120, test=40, classes=3)
        data = "files"
        options[DATA.section] = {"train": str(files["train"]), "test": str(files["test"]),
                                 **options[DATA.section]}
    options[DATA.section].setdefault("cache_dir", str(tmp_path / "cache"))
    classes = {kind.name: _class(registry, kind, given, fallback) for kind, given, fallback in (
        (DATA, data, None), (MODEL, model, "textclf.testing.models:TinyModel"),
        (LIT_MODEL, lit_model, "textclf.lit_models:Classifier"))}
    resolved = from_classes(classes, {**options, TRAINER: {
        "max_epochs": -1, "max_steps": max_steps, "accelerator": "cpu", "devices": 1}})
    run_dir = tmp_path / "run"
    metrics = pipeline.train(resolved, run_dir=run_dir, overwrite=True, progress=False,
                             echo=lambda line: None)
    assert metrics is not None and metrics["steps"] == max_steps, (
        f"expected {max_steps} training steps, the run took {metrics and metrics['steps']}")
    _check_reload(classes[MODEL.name], run_dir / "model")
    return _Trained(metrics, classes, run_dir)


def check_model(model: str | type, *, model_options: dict[str, Any] | None = None) -> None:
    """The model keeps the tensor contract, in PyTorch: built from generated texts with 2 and 4
    labels, it gives logits of shape ``(batch, len(labels))``; a text's logits are the same alone
    and right-padded in a batch with a longer text (the mask is honoured); an empty text, texts of
    1 and 2 tokens and a max-length text give finite logits; building it twice from the same
    texts gives the same tokenizer; it saves and loads back with the same logits.

    ``model`` is a registered name or a class; ``model_options`` its constructor's options.
    """
    import torch

    from textclf.testing.datasets import separable_texts

    cls = _class(_host().registry, MODEL, model, None)
    name = f"model '{model}'" if isinstance(model, str) else cls.__name__
    for count in LABEL_COUNTS:
        rows = separable_texts(60, seed=count, classes=count)
        texts, labels = [t for t, _ in rows], sorted({label for _, label in rows})
        built = _build(cls, name, labels, texts, model_options)
        check_width(_torch_run(built), built.encoder, count, f"{name} (built for {count} labels)", texts[:3])
    # The last one built, with the most labels, for the rest.
    check_contract(_torch_run(built), built.encoder, len(labels), name, texts[:2])
    again = _build(cls, name, labels, texts, model_options)
    if "train_texts" in inspect.signature(cls.__init__).parameters:
        _check_same_tokenizer(built, again, name)
    with tempfile.TemporaryDirectory() as directory:
        torch.manual_seed(1)
        built.save(directory)
        _check_reload(cls, Path(directory))


def check_export(tmp_path: Path, *, model: str | type | None = None,
                 model_options: dict[str, Any] | None = None, data: str | type | None = None,
                 data_options: dict[str, Any] | None = None, lit_model: str | type | None = None,
                 lit_model_options: dict[str, Any] | None = None, max_steps: int = 4) -> Path:
    """A tiny training run (as ``check_training``), then ``textclf export``: the model exports
    to ONNX, the ONNX logits match PyTorch's (export's parity check), and the exported model keeps
    the contract ``check_model`` checks (width, padding, short and max-length texts). Returns the
    bundle directory, ``tmp_path / "bundle"``."""
    from textclf import runtime
    from textclf.errors import TextclfError
    from textclf.export import export, session_run

    registry = _host().registry
    trained = _train(tmp_path, registry, data=data, model=model, lit_model=lit_model,
                     data_options=data_options, model_options=model_options,
                     lit_model_options=lit_model_options, max_steps=max_steps)
    bundle_dir = tmp_path / "bundle"
    try:
        export(trained.run_dir, bundle_dir, registry=_with_classes(registry, trained.classes),
               overwrite=True, echo=lambda line: None)
    except TextclfError as exc:
        raise ContractError(f"textclf export failed: {exc}") from None
    bundle = runtime.load(bundle_dir, provider="cpu")
    name = f"the ONNX export of {model if isinstance(model, str) else trained.classes[MODEL.name].__name__}"
    check_contract(session_run(bundle), bundle.encoder, len(bundle.labels), name)
    return bundle_dir


def _build(cls: Any, name: str, labels: list[str], texts: list[str],
           options: Mapping[str, Any] | None) -> Any:
    import torch

    supplied: dict[str, Any] = {"labels": labels}
    if "train_texts" in inspect.signature(cls.__init__).parameters:
        supplied["train_texts"] = texts
    torch.manual_seed(0)
    try:
        return cls(**supplied, **dict(options or {})).eval()
    except Exception as exc:
        raise ContractError(f"{name} cannot be built from {len(labels)} labels and generated "
                            f"texts: {type(exc).__name__}: {exc}") from exc


def _torch_run(model: Any) -> Any:
    import torch

    def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(ids), torch.from_numpy(mask)).float().numpy()

    return run


def _check_same_tokenizer(first: Any, second: Any, name: str) -> None:
    one, two = first.tokenizer.to_str(), second.tokenizer.to_str()
    if one != two:
        vocab_one, vocab_two = first.tokenizer.get_vocab(), second.tokenizer.get_vocab()
        moved = sum(vocab_two.get(token) != index for token, index in vocab_one.items())
        raise ContractError(
            f"{name} built twice from the same training texts has different tokenizers ({moved} "
            f"of {len(vocab_one)} tokens numbered differently): runs do not repeat and token caches "
            f"never hit; make the tokenizer's training deterministic (sort ties, no unseeded "
            f"randomness, no dependence on hash or thread order)")


@dataclass(frozen=True)
class _Given(Component):
    """A component given as a class, found again by the name a run records for it."""

    cls: Any = None

    def load(self) -> Any:
        return self.cls


def _with_classes(registry: Registry, classes: Mapping[str, Any]) -> Registry:
    """``registry`` plus the components given as classes, under the names their run recorded."""
    from textclf.run_config import Chosen

    extended = Registry(builtin=registry.builtin)
    for component in registry:
        extended.add(component)
    for kind in KINDS:
        recorded = Chosen.by_class(kind, classes[kind.name]).component
        extended.add(_Given(**{f: getattr(recorded, f) for f in
                               ("kind", "name", "target", "help", "plugin", "plugin_version")},
                            cls=classes[kind.name]))
    return extended


def _class(registry: Registry, kind: Kind, given: str | type | None, fallback: str | None) -> Any:
    if given is None:
        module, _, name = (fallback or "").partition(":")
        return getattr(__import__(module, fromlist=[name]), name)
    return registry.get(kind, given).load() if isinstance(given, str) else given


def _check_reload(model_cls: Any, directory: Path) -> None:
    import torch

    model = model_cls.load(directory).eval()
    again = model_cls.load(directory).eval()
    rows = model.encoder.encode_batch(["a short text", "and another, a little longer than the first"])
    ids, mask = (torch.from_numpy(array) for array in pad_rows(rows, model.encoder.pad_id))
    with torch.no_grad():
        first, second = model(ids, mask).numpy(), again(ids, mask).numpy()
    if first.shape != (2, len(model.labels)):
        raise ContractError(f"{model_cls.__name__} gives logits of shape {first.shape} for 2 texts "
                            f"and {len(model.labels)} labels; it must give (2, {len(model.labels)})")
    if not np.allclose(first, second):
        raise ContractError(f"{model_cls.__name__} loads back from its saved directory with "
                            f"different outputs; save and load every weight and option")
