"""``BaseModel``: the model contract, and a save/load that works for any subclass."""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer
from torch import nn

from textclf import atomic
from textclf.errors import OptionError, TextclfError
from textclf.kinds import MODEL
from textclf.options import RecordsOptions, recorded_arguments
from textclf.text import TRUNCATIONS, TextEncoder

MODEL_FILE = "textclf_model.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"


class BaseModel(RecordsOptions, nn.Module):
    """The model contract: ``forward(input_ids, attention_mask) -> logits`` over ``labels``.

    A model carries the tokenizer, max length and truncation its inputs are encoded with, and
    saves itself to a directory that ``load`` reads back. A subclass's constructor takes
    ``labels`` (supplied by the pipeline) plus its own options; one that builds its tokenizer from
    data also takes ``train_texts`` and a ``tokenizer`` path, which ``load`` uses instead.

    The default ``save`` writes ``textclf_model.json`` (class, labels, options), ``tokenizer.json``
    and ``model.safetensors``; ``load`` calls the constructor with the saved options and loads
    the weights. Models with a native format of their own (Hugging Face, say) override both.
    """

    #: ``init_options`` is what ``save`` writes and ``load`` rebuilds the architecture from; what
    #: the pipeline supplies, and the tokenizer (saved as a file of its own), are not in it.
    unrecorded = (*MODEL.supplied, "tokenizer")
    #: Whether each logit is a label's own score (multi-label: a sigmoid per label) rather than
    #: one of a softmax. Set by the pipeline from the data before training; a model's
    #: architecture is the same either way (one logit per label), so few models need to read it.
    multi_label: bool = False

    def __init__(self, labels: Sequence[str], tokenizer: Tokenizer, max_length: int,
                 truncation: str = "head") -> None:
        super().__init__()
        if max_length < 3:
            raise OptionError(f"`max_length` {max_length}: must be at least 3 (the text's tokens "
                              f"and a tokenizer's special tokens around them)")
        labels = [str(label) for label in labels]
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise TextclfError(f"a classifier needs at least two distinct labels, got {labels}")
        if truncation not in TRUNCATIONS:
            raise OptionError(f"`truncation` {truncation}: choose one of {', '.join(TRUNCATIONS)}")
        self.labels = labels
        self.tokenizer = tokenizer
        self.max_length = int(max_length)
        self.truncation = truncation
        try:
            self.encoder
        except ValueError as exc:  # more special tokens than max_length leaves room for
            raise OptionError(f"`max_length` {max_length}: {exc}") from None

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    @property
    def encoder(self) -> TextEncoder:
        """How texts become this model's input ids, shared by training and the ONNX runtime."""
        return TextEncoder(self.tokenizer, self.max_length, self.truncation)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @classmethod
    def suggested_options(cls, options: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Defaults this model suggests for the other sections, given its own resolved
        ``options``: ``{"lit_model": {"lr": 2e-5}, "trainer": {"max_epochs": 2}}``. Whatever the
        user sets (command line or config file) wins. None by default."""
        return {}

    # -- save / load ----------------------------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        """Write the model to ``directory`` atomically (a temporary directory renamed at the end)."""
        with atomic.directory(Path(directory), replace=True) as tmp:
            self.save_files(tmp)
            (tmp / MODEL_FILE).write_text(json.dumps(self.describe(), indent=2) + "\n")

    def save_files(self, directory: Path) -> None:
        """Write weights and tokenizer; override for a native format."""
        from safetensors.torch import save_model

        save_model(self, str(directory / WEIGHTS_FILE))
        self.tokenizer.save(str(directory / TOKENIZER_FILE))

    def describe(self) -> dict[str, Any]:
        """What ``textclf_model.json`` holds: enough to rebuild the model and encode its inputs."""
        cls = type(self)
        return {
            "format": 1,
            "class": f"{cls.__module__}:{cls.__qualname__}",
            "labels": self.labels,
            "max_length": self.max_length,
            "truncation": self.truncation,
            "options": self.init_options,
            **({"task": "multi_label"} if self.multi_label else {}),
        }

    @classmethod
    def load(cls, directory: str | Path) -> BaseModel:
        """Rebuild a model saved with ``save``."""
        directory = Path(directory)
        meta = cls.read_description(directory)
        kwargs = recorded_arguments(cls, meta["options"])
        params = inspect.signature(cls.__init__).parameters
        if "tokenizer" in params:
            kwargs["tokenizer"] = directory / TOKENIZER_FILE
        model = cls(labels=meta["labels"], **kwargs)
        cls.load_files(model, directory)
        model.multi_label = meta.get("task") == "multi_label"
        return model

    @classmethod
    def load_files(cls, model: BaseModel, directory: Path) -> None:
        from safetensors.torch import load_model

        load_model(model, str(directory / WEIGHTS_FILE))
        model.tokenizer = Tokenizer.from_file(str(directory / TOKENIZER_FILE))

    @staticmethod
    def read_description(directory: Path) -> dict[str, Any]:
        """The ``textclf_model.json`` a ``save`` wrote into ``directory`` (see ``describe``)."""
        path = directory / MODEL_FILE
        try:
            description: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            raise TextclfError(f"{directory}: no {MODEL_FILE}; is it a model saved by textclf?") from None
        except (OSError, ValueError) as exc:
            raise TextclfError(f"{path}: unreadable ({exc}); the model directory is damaged") from None
        return description
