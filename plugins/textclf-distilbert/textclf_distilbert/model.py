"""The ``distilbert`` model: a transformer encoder with a classification head, fine-tuned end to end.

Any encoder checkpoint of the BERT family loads through transformers' auto classes (DistilBERT,
BERT, MiniLM, RoBERTa, ...), from the hub or a local directory. Without pretrained weights, a
DistilBERT of a chosen size is built from scratch with a given tokenizer or one trained on the
training texts. The model saves as a standard Hugging Face directory that plain
``AutoModelForSequenceClassification.from_pretrained`` loads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from textclf import BaseModel, OptionError, Truncation
from textclf_distilbert.tokenizer import as_transformers, read_tokenizer, train_wordpiece

CHECKPOINT = "distilbert-base-uncased"
#: Config attributes that hold a dropout probability, by model family.
DROPOUT_FIELDS = ("dropout", "attention_dropout", "seq_classif_dropout", "hidden_dropout_prob",
                  "attention_probs_dropout_prob", "classifier_dropout")


class DistilBERT(BaseModel):
    """A pretrained transformer encoder (DistilBERT by default) with a classification head.

    Args:
        checkpoint: A Hugging Face hub id or a local checkpoint directory (any BERT-family encoder).
        pretrained: Start from the checkpoint's weights; false builds a DistilBERT from scratch (dim, layers, heads).
        max_length: Longest input in tokens, capped at the checkpoint's position limit.
        truncation: Which tokens a long text keeps: head, tail, or head+tail (its start and its end).
        dropout: Dropout probability throughout the encoder and head (default: the checkpoint's).
        freeze_encoder: Train the classification head only.
        gradient_checkpointing: Recompute activations in the backward pass: less memory, more time.
        compile: Compile the model with torch.compile.
        tokenizer: A tokenizer.json (or checkpoint directory) for a model built from scratch.
        dim: Hidden size of a model built from scratch.
        layers: Transformer layers of a model built from scratch.
        heads: Attention heads of a model built from scratch.
        vocab_size: Vocabulary of the WordPiece tokenizer trained when none is given.
    """

    def __init__(self, labels: Sequence[str], train_texts: Sequence[str] | None = None,
                 checkpoint: str = CHECKPOINT, pretrained: bool = True, max_length: int = 512,
                 truncation: Truncation = "head+tail", dropout: float | None = None,
                 freeze_encoder: bool = False, gradient_checkpointing: bool = False,
                 compile: bool = False, tokenizer: Path | None = None, dim: int = 768,
                 layers: int = 6, heads: int = 12, vocab_size: int = 30522) -> None:
        labels = [str(label) for label in labels]
        with _quiet_transformers():
            if pretrained:
                hf, backend, limit = _from_checkpoint(checkpoint, labels, dropout)
            else:
                backend = _scratch_tokenizer(tokenizer, train_texts, vocab_size)
                hf, limit = _from_scratch(backend, labels, dim, layers, heads, max_length, dropout)
        super().__init__(labels, backend, min(max_length, limit), truncation)
        self.hf = hf.train()  # from_pretrained returns eval mode, which would train without dropout
        self.hf_tokenizer = as_transformers(backend)
        if freeze_encoder:
            for param in self.hf.base_model.parameters():
                param.requires_grad = False
        if gradient_checkpointing:  # renamed activation checkpointing in transformers 5
            enable = getattr(self.hf, "activation_checkpointing_enable", None)
            (enable or self.hf.gradient_checkpointing_enable)()
        # The bound method, not the module: a compiled module would register a second copy of
        # every weight. Evaluation and export use the plain module.
        self._compiled_forward = torch.compile(self.hf.forward) if compile else None

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        run = self._compiled_forward if self._compiled_forward and self.training else self.hf
        return run(input_ids=input_ids, attention_mask=attention_mask).logits

    @classmethod
    def suggested_options(cls, options: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """The published fine-tuning recipe (about 93% on IMDB): 2 epochs, lr 2e-5 with 10% warmup,
        batch 32, 512 tokens head+tail. A model trained from scratch needs a higher rate and more epochs."""
        if options.get("pretrained", True):
            return {"lit_model": {"lr": 2e-5, "warmup_ratio": 0.1, "weight_decay": 0.01},
                    "trainer": {"max_epochs": 2}, "data": {"batch_size": 32}}
        return {"lit_model": {"lr": 1e-3, "warmup_ratio": 0.1}, "trainer": {"max_epochs": 5}}

    # -- the Hugging Face directory ---------------------------------------------------------------
    def save_files(self, directory: Path) -> None:
        # Plain transformers then loads the directory for the same task (its pipeline applies a
        # sigmoid per label to a multi-label model).
        self.hf.config.problem_type = ("multi_label_classification" if self.multi_label
                                       else "single_label_classification")
        with _quiet_transformers():
            self.hf.save_pretrained(directory, safe_serialization=True)
            self.hf_tokenizer.model_max_length = self.max_length
            self.hf_tokenizer.save_pretrained(directory)

    @classmethod
    def load(cls, directory: str | Path) -> DistilBERT:
        """Rebuild a saved model: the directory is itself a checkpoint with the trained head."""
        directory = Path(directory)
        meta = cls.read_description(directory)
        options = {k: v for k, v in meta["options"].items()
                   if k not in ("checkpoint", "pretrained", "compile", "tokenizer")}
        model = cls(labels=meta["labels"], checkpoint=str(directory), pretrained=True, **options)
        model.init_options = meta["options"]
        model.max_length, model.truncation = meta["max_length"], meta["truncation"]
        model.multi_label = meta.get("task") == "multi_label"
        return model


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No progress bars or "newly initialized weights" notes: a new head is the point here."""
    from huggingface_hub.utils import logging as hub_logging
    from transformers.utils import logging as hf_logging

    levels = hf_logging.get_verbosity(), hub_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hub_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(levels[0])
        hub_logging.set_verbosity(levels[1])


def _hub_unreachable() -> bool:
    """Offline mode, or the hub's host name does not resolve: use the local cache only, at once,
    instead of letting every request retry for half a minute."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return True
    try:
        socket.getaddrinfo(urlparse(constants.ENDPOINT).hostname, 443)
    except OSError:
        return True
    return False


def _label_maps(labels: list[str]) -> dict[str, Any]:
    return {"num_labels": len(labels), "id2label": dict(enumerate(labels)),
            "label2id": {label: i for i, label in enumerate(labels)}}


def _from_checkpoint(checkpoint: str, labels: list[str], dropout: float | None):
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    local = Path(checkpoint).expanduser()
    source = str(local) if local.exists() else checkpoint
    cached_only = {"local_files_only": True} if not local.exists() and _hub_unreachable() else {}
    try:
        config = AutoConfig.from_pretrained(source, **cached_only, **_label_maps(labels))
        for field in DROPOUT_FIELDS:
            if dropout is not None and hasattr(config, field):
                setattr(config, field, dropout)
        hf = AutoModelForSequenceClassification.from_pretrained(
            source, config=config, attn_implementation="sdpa", **cached_only,
            ignore_mismatched_sizes=True)  # a classification checkpoint with other labels
        hf_tokenizer = AutoTokenizer.from_pretrained(source, **cached_only)
    except OSError as exc:
        raise OptionError(_unreachable(checkpoint, local, exc)) from None
    except ValueError as exc:
        raise OptionError(f"`checkpoint` {checkpoint}: not a sequence-classification "
                           f"encoder transformers can load ({exc})") from None
    backend = getattr(hf_tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise OptionError(f"`checkpoint` {checkpoint}: has no fast (tokenizers) tokenizer, "
                           f"which textclf needs to encode text identically at runtime")
    limits = [n for n in (getattr(hf_tokenizer, "model_max_length", None),
                          _position_limit(config)) if n and n < 1_000_000]
    return hf, backend, min(limits) if limits else 512


def _position_limit(config: Any) -> int | None:
    positions = getattr(config, "max_position_embeddings", None)
    if positions and getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
        return positions - 2  # position ids start after the padding index
    return positions


def _unreachable(checkpoint: str, local: Path, exc: OSError) -> str:
    if local.is_absolute() or checkpoint.startswith((".", "~")) or local.exists():
        return f"`checkpoint` {checkpoint}: not a usable checkpoint directory ({exc})"
    return (f"`checkpoint` {checkpoint}: cannot load it from the Hugging Face hub, which "
            f"cannot be reached, and it is not in the local cache; download it where there is "
            f"network and pass the directory with `checkpoint` DIR, or train from scratch "
            f"with `pretrained` false")


def _scratch_tokenizer(tokenizer: Path | None, texts: Sequence[str] | None, vocab_size: int):
    if tokenizer is not None:
        return read_tokenizer(Path(tokenizer))
    if texts is None:
        raise OptionError("`pretrained` false needs `tokenizer`, or training texts "
                           "to build a WordPiece tokenizer from")
    return train_wordpiece(texts, vocab_size)


def _from_scratch(backend, labels: list[str], dim: int, layers: int, heads: int,
                  max_length: int, dropout: float | None):
    from transformers import AutoModelForSequenceClassification, DistilBertConfig

    if dim % heads:
        raise OptionError(f"`dim` {dim} must be a multiple of `heads` {heads}")
    extra = {"dropout": dropout, "attention_dropout": dropout} if dropout is not None else {}
    config = DistilBertConfig(vocab_size=backend.get_vocab_size(), dim=dim, n_layers=layers,
                              n_heads=heads, hidden_dim=4 * dim,
                              max_position_embeddings=max(512, max_length),
                              pad_token_id=backend.token_to_id("[PAD]") or 0,
                              **_label_maps(labels), **extra)
    hf = AutoModelForSequenceClassification.from_config(config, attn_implementation="sdpa")
    return hf, config.max_position_embeddings
