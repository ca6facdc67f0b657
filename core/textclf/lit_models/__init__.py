"""The lit-model contract and the built-in ``classifier`` regime (a base class to build on)."""

from textclf.lit_models.base import BaseLitModel
from textclf.lit_models.classifier import Classifier

__all__ = ["BaseLitModel", "Classifier"]
