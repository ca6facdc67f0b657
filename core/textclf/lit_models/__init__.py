"""The lit-model contract and the built-in ``classifier`` regime."""

from textclf.lit_models.base import BaseLitModel

__all__ = ["BaseLitModel"]
