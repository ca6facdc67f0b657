"""Checks any plugin can run in its own tests: it loads, its components keep their contracts,
their options are derived and documented, and a tiny training run goes through the pipeline.

    from textclf.testing import check_component, check_plugin, check_training

    def test_plugin():
        check_plugin("textclf-reviews")
        check_component("data", "reviews")

    def test_trains(tmp_path):
        metrics = check_training(tmp_path, data="reviews", data_options={"path": SAMPLE})

Each check fails with an ``AssertionError`` saying what to fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from textclf.kinds import DATA, LIT_MODEL, MODEL, TRAINER, Kind, kind_named
from textclf.plugins import Plugin, PluginHost
from textclf.registry import Registry, normalize_dist
from textclf.text import pad_rows


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
    small and dependable (a generated two-class dataset, ``TinyModel``, the built-in
    ``classifier``), so a plugin tests its own component against known-good partners. Also checks
    that the trained model saves, loads back and gives the same logits. Returns the run's metrics.
    """
    from textclf.run_config import from_classes
    from textclf.training import pipeline

    registry = _host().registry
    options: dict[str, dict[str, Any]] = {DATA.section: dict(data_options or {}),
                                          MODEL.section: dict(model_options or {}),
                                          LIT_MODEL.section: dict(lit_model_options or {})}
    if data is None:
        from textclf.testing.datasets import write_separable_dataset

        files = write_separable_dataset(tmp_path / "data", train=120, test=40)
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
    return metrics


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
    assert first.shape == (2, len(model.labels)), f"forward gave shape {first.shape}, expected (2, labels)"
    assert np.allclose(first, second), "the saved model loads back with different weights"
