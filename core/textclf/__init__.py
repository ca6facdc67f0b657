"""textclf: plugin-based text classification.

Importing ``textclf`` is cheap: it never imports torch, Lightning or transformers. The training
classes (``BaseDataModule`` and friends) are attributes resolved on first use.
"""

from __future__ import annotations

from textclf.hookspecs import PLUGIN_API_VERSION, hookimpl

__version__ = "0.1.0"

__all__ = ["PLUGIN_API_VERSION", "__version__", "hookimpl"]
