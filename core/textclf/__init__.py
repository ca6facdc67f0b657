"""textclf: plugin-based text classification.

The public API is what this module exports (``textclf.__all__``), plus three modules:
``textclf.runtime`` (running exported bundles), ``textclf.testing`` (the plugin author's kit) and
``textclf.hookspecs`` (the hooks). Every other module is internal and may change in any release.

Importing ``textclf`` is cheap: it never imports torch, Lightning or transformers. Names that need
them (the contracts' base classes, say) are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from textclf.errors import OptionError, TextclfError, UsageError
from textclf.hookspecs import PLUGIN_API_VERSION, hookimpl

__version__ = "0.1.0"

#: Public names imported on first use: name -> (module, attribute).
_LAZY = {
    "BaseDataModule": ("textclf.data.base", "BaseDataModule"),
    "Examples": ("textclf.data.examples", "Examples"),
    "SPLITS": ("textclf.data.examples", "SPLITS"),
    "stratified_split": ("textclf.data.examples", "stratified_split"),
    "stratified_subset": ("textclf.data.examples", "stratified_subset"),
    "BaseModel": ("textclf.models.base", "BaseModel"),
    "BaseLitModel": ("textclf.lit_models.base", "BaseLitModel"),
    "Classifier": ("textclf.lit_models.classifier", "Classifier"),
    "TextEncoder": ("textclf.text", "TextEncoder"),
    "Truncation": ("textclf.text", "Truncation"),
    "TRUNCATIONS": ("textclf.text", "TRUNCATIONS"),
    "download": ("textclf.downloads", "download"),
    "DownloadError": ("textclf.downloads", "DownloadError"),
    "atomic_directory": ("textclf.atomic", "directory"),
    "atomic_write_text": ("textclf.atomic", "write_text"),
}

__all__ = ["PLUGIN_API_VERSION", "OptionError", "TextclfError", "UsageError", "__version__",
           "hookimpl", *_LAZY]

if TYPE_CHECKING:
    from textclf.atomic import directory as atomic_directory
    from textclf.atomic import write_text as atomic_write_text
    from textclf.data.base import BaseDataModule
    from textclf.data.examples import SPLITS, Examples, stratified_split, stratified_subset
    from textclf.downloads import DownloadError, download
    from textclf.lit_models.base import BaseLitModel
    from textclf.lit_models.classifier import Classifier
    from textclf.models.base import BaseModel
    from textclf.text import TRUNCATIONS, TextEncoder, Truncation


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'textclf' has no attribute {name!r}")
