"""``BaseDataModule``: a plugin supplies raw examples and label names; the core does the rest."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from textclf.data import cache
from textclf.data.batching import Collator, LengthGroupedBatchSampler, SortedBatchSampler, TokenDataset
from textclf.data.examples import SPLITS, Examples, label_indices, label_matrix, stratified_split
from textclf.errors import OptionError, TextclfError
from textclf.options import RecordsOptions
from textclf.text import TextEncoder

#: Options that change how batches are served, not which tokens are cached.
LOADER_OPTIONS = frozenset({"batch_size", "num_workers", "cache_dir"})
#: The most characters of one text a tokenizer is trained on: far beyond any review or article,
#: and short enough that a subword trainer on a single 50 MB "word" does not run for hours.
TOKENIZER_TEXT_CHARS = 100_000


class BaseDataModule(RecordsOptions, pl.LightningDataModule):
    """The data contract: implement ``label_names`` and ``load_split``; the rest is done here.

    The core tokenizes every split once with the model's tokenizer, caches the token ids on disk,
    carves a validation split out of train when the source has none, pads each batch only to its
    longest row and groups training rows of similar length into batches.

    Args:
        batch_size: Examples per batch (per device).
        num_workers: Background processes that assemble batches (0: the main process).
        val_fraction: Share of train held out for validation when the data has no val split.
        seed: Seed of the validation split (independent of the training seed).
        cache_dir: Where downloads and token caches go (default: $TEXTCLF_CACHE or the user cache).
    """

    #: Bump when the examples a subclass produces change, so that old token caches are not used.
    version: ClassVar[str] = "1"

    def __init__(self, batch_size: int = 32, num_workers: int = 0, val_fraction: float = 0.1,
                 seed: int = 42, cache_dir: Path | None = None) -> None:
        super().__init__()
        if batch_size < 1:
            raise OptionError(f"`batch_size` {batch_size}: must be at least 1")
        if not 0 <= val_fraction < 1:
            raise OptionError(f"`val_fraction` {val_fraction}: must be at least 0 and below 1")
        if num_workers < 0:
            raise OptionError(f"`num_workers` {num_workers}: must be at least 0 (0: the main process)")
        if not 0 <= seed < 2**32:
            raise OptionError(f"`seed` {seed}: must be 0 to {2**32 - 1}")
        self.batch_size, self.num_workers = batch_size, num_workers
        self.val_fraction, self.seed = val_fraction, seed
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else cache.default_cache_dir()
        self.encoder: TextEncoder | None = None
        self.splits: dict[str, cache.TokenizedSplit] = {}
        self.cache_hit = False
        self._raw: dict[str, Examples | None] = {}
        self._resume_at: tuple[int, int] | None = None

    # -- what a subclass implements ------------------------------------------------------------
    def label_names(self) -> list[str]:
        """The class names, in the order of the model's outputs. Called after ``prepare_data``."""
        raise NotImplementedError

    def load_split(self, split: str) -> Examples | None:
        """The raw examples of ``split`` ("train", "val" or "test"), or ``None`` if it has none."""
        raise NotImplementedError

    def multi_label(self) -> bool:
        """Whether a text may carry any number of the labels (none included): then
        ``load_split`` gives each text a list of labels, and training fits a sigmoid per label.
        Called after ``prepare_data``; single-label (False) unless a subclass says otherwise."""
        return False

    def fingerprint(self) -> Any:
        """What identifies the raw data beyond the options (e.g. file hashes); JSON-serialisable."""
        return None

    # -- what the core does ---------------------------------------------------------------------
    def train_texts(self) -> list[str]:
        """The training texts (after the validation split), for models that build a tokenizer;
        each cut to ``TOKENIZER_TEXT_CHARS``, as a tokenizer trainer can choke on one huge text."""
        found = self.raw_examples("train")
        return [text[:TOKENIZER_TEXT_CHARS] for text in found[0]] if found else []

    def attach(self, encoder: TextEncoder) -> None:
        """Tokenize every split with the model's encoder, or load the tokens from the cache."""
        self.encoder = encoder
        identity = {
            "data": f"{type(self).__module__}.{type(self).__qualname__}",
            "version": self.version,
            "options": {k: v for k, v in self.init_options.items() if k not in LOADER_OPTIONS},
            "fingerprint": self.fingerprint(),
            "tokenizer": cache.cache_key({"json": encoder.tokenizer.to_str()}),
            "max_length": encoder.max_length,
            "truncation": encoder.truncation,
        }
        directory = self.cache_dir / "tokens" / cache.cache_key(identity)
        start = time.perf_counter()
        loaded = cache.load(directory)
        self.cache_hit = loaded is not None
        if loaded is None:
            cache.save(directory, self._tokenize_all(encoder), identity)
            loaded = cache.load(directory)
        assert loaded is not None
        self._raw.clear()  # the tokens are all that training needs from here on
        self.splits = loaded
        self.token_cache = directory
        self.tokenize_seconds = time.perf_counter() - start

    def _split(self, split: str) -> Examples | None:
        """``load_split``, called once per split."""
        if split not in self._raw:
            examples = self.load_split(split)
            if examples is not None:
                self._check(examples, split)
            self._raw[split] = examples
        return self._raw[split]

    def _train_examples(self) -> tuple[list[str], np.ndarray]:
        train = self._split("train")
        if train is None:
            raise TextclfError(f"{self._name}: the data has no train split")
        return list(train.texts), self._indices(train, "train")

    def _indices(self, examples: Examples, split: str) -> np.ndarray:
        """Label indices, or for multi-label data a 0/1 matrix (texts x labels)."""
        where = f"{self._name} {split} split"
        try:
            if self.multi_label():
                return label_matrix(examples.labels, self.label_names(), where)  # type: ignore[arg-type]
            return label_indices(examples.labels, self.label_names(), where)  # type: ignore[arg-type]
        except ValueError as exc:
            raise TextclfError(str(exc)) from None

    def _train_val_indices(self, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._split("val") is not None:
            return np.arange(len(labels)), np.array([], dtype=np.int64)
        return stratified_split(labels, self.val_fraction, self.seed)

    def raw_examples(self, split: str) -> tuple[list[str], np.ndarray] | None:
        """The texts and label indices of ``split`` as training sees it (validation carved out
        of train when the source has none), or ``None`` when the split is empty or absent."""
        if split == "train" or (split == "val" and self._split("val") is None):
            texts, labels = self._train_examples()
            kept, held = self._train_val_indices(labels)
            chosen = kept if split == "train" else held
            return ([texts[i] for i in chosen], labels[chosen]) if len(chosen) else None
        examples = self._split(split)
        return None if examples is None else (list(examples.texts), self._indices(examples, split))

    def _tokenize_all(self, encoder: TextEncoder) -> dict[str, cache.TokenizedSplit]:
        out = {}
        for split in SPLITS:
            found = self.raw_examples(split)
            if found is not None:
                out[split] = cache.tokenize(encoder.encode_batch, *found)
        return out

    def _check(self, examples: Examples, split: str) -> None:
        if len(examples.texts) == 0:
            raise TextclfError(f"{self._name}: the {split} split has no examples")
        if len(examples.texts) != len(examples.labels):
            raise TextclfError(
                f"{self._name}: the {split} split has {len(examples.texts)} texts but "
                f"{len(examples.labels)} labels; report this to the plugin's authors"
            )

    @property
    def _name(self) -> str:
        return type(self).__name__

    def has_split(self, split: str) -> bool:
        return split in self.splits

    # -- Lightning hooks ------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if self.encoder is None:
            raise RuntimeError("attach(encoder) must run before the data module is set up")

    def train_dataloader(self) -> DataLoader:
        split = self.splits["train"]
        replicas, rank = self._replicas()
        sampler = LengthGroupedBatchSampler(split.lengths, self.batch_size, self.seed,
                                            num_replicas=replicas, rank=rank,
                                            epoch_source=self._epoch if self.trainer else None)
        sampler.resume_at, self._resume_at = self._resume_at, None
        return DataLoader(TokenDataset(split), batch_sampler=sampler, **self._loader_args())

    def val_dataloader(self) -> DataLoader | list:
        return self._eval_loader("val")

    def test_dataloader(self) -> DataLoader | list:
        return self._eval_loader("test")

    def _eval_loader(self, split_name: str) -> DataLoader | list:
        if split_name not in self.splits:
            return []  # Lightning skips a stage whose loaders are empty
        split = self.splits[split_name]
        replicas, rank = self._replicas()
        sampler = SortedBatchSampler(split.lengths, self.batch_size, replicas, rank)
        return DataLoader(TokenDataset(split), batch_sampler=sampler, **self._loader_args())

    def _loader_args(self) -> dict[str, Any]:
        assert self.encoder is not None
        # A loader of its own seeds its workers: starting an iteration then draws nothing from the
        # global generator, which training's dropout draws from (so a resumed run repeats it).
        args: dict[str, Any] = {"collate_fn": Collator(self.encoder.pad_id),
                                "num_workers": self.num_workers,
                                "generator": torch.Generator().manual_seed(self.seed)}
        if self.num_workers > 0:
            args["persistent_workers"] = True
        if self.trainer is not None and self.trainer.strategy.root_device.type == "cuda":
            args["pin_memory"] = True
        return args

    def _replicas(self) -> tuple[int, int]:
        if self.trainer is None:
            return 1, 0
        return self.trainer.world_size, self.trainer.global_rank

    def _epoch(self) -> int:
        assert self.trainer is not None
        # The epochs started, which Lightning counts in a tracker its annotations call the base type.
        return int(self.trainer.fit_loop.epoch_progress.current.processed)  # type: ignore[attr-defined]

    # A checkpoint records how far into its epoch training got, so that a resumed run skips
    # exactly the batches already trained on instead of replaying the epoch from its start.
    # "Processed" counts the batch whose end a checkpoint may be taken at, as Lightning does.
    def state_dict(self) -> dict[str, Any]:
        if self.trainer is None or not self.trainer.training:
            return {}
        progress = self.trainer.fit_loop.epoch_loop.batch_progress
        batches = progress.current.processed  # type: ignore[attr-defined]
        if progress.is_last_batch and batches == progress.current.ready:
            return {}  # the epoch's batches are all trained on: the next epoch starts at its first
        return {"train_position": [self._epoch(), int(batches)]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "train_position" in state:
            epoch, batches = state["train_position"]
            self._resume_at = (int(epoch), int(batches))
