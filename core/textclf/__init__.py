"""textclf: plugin-based text classification.

Importing ``textclf`` is cheap: it never imports torch, Lightning or transformers. The contracts
(``textclf.BaseDataModule``, ``textclf.BaseModel``, ``textclf.BaseLitModel``) and ``Examples``
are resolved on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from textclf.hookspecs import PLUGIN_API_VERSION, hookimpl

__version__ = "0.1.0"

_LAZY = {
    "BaseDataModule": "textclf.data",
    "Examples": "textclf.data",
    "BaseModel": "textclf.models",
    "BaseLitModel": "textclf.lit_models",
}

__all__ = ["PLUGIN_API_VERSION", "__version__", "hookimpl", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'textclf' has no attribute {name!r}")
