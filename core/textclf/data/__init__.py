"""The data contract and its machinery: token cache, batching, splits, the built-in ``files``."""

from textclf.data.base import BaseDataModule
from textclf.data.examples import SPLITS, Examples

__all__ = ["SPLITS", "BaseDataModule", "Examples"]
