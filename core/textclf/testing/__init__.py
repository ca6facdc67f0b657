"""Test helpers for textclf and its plugins.

- ``PluginSite``, ``lines``, ``table_rows`` (torch-free): throwaway plugin distributions and the
  CLI's output taken apart; the pytest fixtures ``textclf_site`` and ``textclf_cli`` build on them.
- ``TinyModel``, ``word_tokenizer``: a model that follows the contract and trains in seconds.
- ``separable_texts``, ``write_separable_dataset``, ``write_rows``: a small task of two or more
  classes; ``multi_label_texts``, ``write_multi_label_dataset``: a multi-label one (label sets).
- ``check_plugin``, ``check_component``, ``check_training``, ``check_model``, ``check_export``:
  the checks any plugin runs in its own tests (it loads, its components keep their contracts, a
  tiny training run works, a model keeps the tensor contract in PyTorch and exported to ONNX).
- ``INTERRUPT_ENV``: set it to ``N`` and a textclf run interrupts itself in its N-th training step,
  to test that a run with your component resumes exactly.

Names are resolved on first use, so importing this package does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "PluginSite": "sites", "Result": "sites", "lines": "sites", "table_rows": "sites",
    "TEXTCLF": "sites", "TINY_MODEL_PLUGIN": "sites",
    "TinyModel": "models", "word_tokenizer": "models", "INTERRUPT_ENV": "models",
    "separable_texts": "datasets", "write_separable_dataset": "datasets", "write_rows": "datasets",
    "multi_label_texts": "datasets", "write_multi_label_dataset": "datasets",
    "check_plugin": "checks", "check_component": "checks", "check_training": "checks",
    "check_model": "checks", "check_export": "checks", "ContractError": "checks",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"textclf.testing.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'textclf.testing' has no attribute {name!r}")
