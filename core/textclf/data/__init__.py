"""The data contract and its machinery: token cache, batching, splits, the built-in ``files``.

``BaseDataModule`` is imported on first use (it needs torch and Lightning); ``Examples`` and
``SPLITS`` need nothing.
"""

from __future__ import annotations

from typing import Any

from textclf.data.examples import SPLITS, Examples

__all__ = ["SPLITS", "BaseDataModule", "Examples"]


def __getattr__(name: str) -> Any:
    if name == "BaseDataModule":
        from textclf.data.base import BaseDataModule

        return BaseDataModule
    raise AttributeError(f"module 'textclf.data' has no attribute {name!r}")
