"""The model contract."""

from textclf.models.base import BaseModel

__all__ = ["BaseModel"]
