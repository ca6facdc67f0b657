"""Batches that waste little on padding: length-grouped for training, length-sorted to evaluate.

Training batches come from shuffled buckets: each epoch the rows are shuffled, cut into buckets
of ``BUCKET_BATCHES`` batches, each bucket is sorted by length and cut into batches, and the
batches are shuffled. Rows in a batch then have similar lengths, so padding each batch to its own
longest row costs little, while every epoch still sees a different order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from textclf.data.cache import TokenizedSplit
from textclf.text import pad_rows

#: Batches per bucket: larger groups lengths more tightly, smaller shuffles more freely.
BUCKET_BATCHES = 50
#: Pad each batch to a multiple of this, which tensor cores prefer.
PAD_MULTIPLE = 8


class TokenDataset(Dataset):
    """Rows of a tokenized split: ``(token ids, label)``; for multi-label data the label is the
    row of the 0/1 label matrix."""

    def __init__(self, split: TokenizedSplit) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int | np.ndarray]:
        label = self.split.labels[index]
        return self.split.row(index), (label if self.split.labels.ndim == 2 else int(label))


class Collator:
    """Pads a batch to its longest row: ``input_ids``, ``attention_mask`` and ``labels`` tensors."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, rows: list[tuple[np.ndarray, int | np.ndarray]]) -> dict[str, torch.Tensor]:
        input_ids, mask = pad_rows([ids for ids, _ in rows], self.pad_id, PAD_MULTIPLE)
        labels = [label for _, label in rows]
        return {
            "input_ids": torch.from_numpy(input_ids),
            "attention_mask": torch.from_numpy(mask),
            # Class indices, or multi-label 0/1 rows as the floats a BCE loss takes.
            "labels": (torch.from_numpy(np.stack(labels)).float() if labels and isinstance(labels[0], np.ndarray)
                       else torch.tensor(labels, dtype=torch.long)),
        }


class LengthGroupedBatchSampler(Sampler[list[int]]):
    """Shuffled buckets of length-sorted batches; every replica gets its own share of batches.

    The epoch decides the shuffle. It comes from ``epoch_source`` when given (the trainer's
    epoch, read as iteration starts: Lightning calls ``set_epoch`` only on plain samplers, not on
    batch samplers), else from ``set_epoch``.
    """

    def __init__(self, lengths: np.ndarray, batch_size: int, seed: int, num_replicas: int = 1,
                 rank: int = 0, epoch_source: Callable[[], int] | None = None) -> None:
        self.lengths = np.asarray(lengths)
        self.batch_size, self.seed = batch_size, seed
        self.num_replicas, self.rank = num_replicas, rank
        self.epoch_source = epoch_source
        self.epoch = 0
        #: (epoch, batches already trained on in it): where a resumed run picks up.
        self.resume_at: tuple[int, int] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self, epoch: int) -> list[np.ndarray]:
        """The epoch's batches for every replica, in order."""
        rng = np.random.default_rng((self.seed, epoch))
        order = rng.permutation(len(self.lengths))
        bucket = self.batch_size * BUCKET_BATCHES
        batches: list[np.ndarray] = []
        for start in range(0, len(order), bucket):
            chunk = order[start : start + bucket]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches.extend(np.array_split(chunk, math.ceil(len(chunk) / self.batch_size)))
        shuffled = [batches[i] for i in rng.permutation(len(batches))]
        per_replica = math.ceil(len(shuffled) / self.num_replicas)
        shuffled += shuffled[: per_replica * self.num_replicas - len(shuffled)]  # equal shares
        return shuffled

    def __iter__(self) -> Iterator[list[int]]:
        epoch = self.epoch_source() if self.epoch_source else self.epoch
        skip = 0
        if self.resume_at is not None:
            if self.resume_at[0] == epoch:
                skip = self.resume_at[1]
            self.resume_at = None
        for batch in self.batches(epoch)[self.rank :: self.num_replicas][skip:]:
            yield batch.tolist()

    def __len__(self) -> int:
        total = math.ceil(len(self.lengths) / self.batch_size)
        return math.ceil(total / self.num_replicas)


class SortedBatchSampler(Sampler[list[int]]):
    """Evaluation batches of rows sorted by length; replicas take every n-th batch."""

    def __init__(self, lengths: np.ndarray, batch_size: int, num_replicas: int = 1, rank: int = 0):
        order = np.argsort(np.asarray(lengths), kind="stable")
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        self.batches = batches[rank::num_replicas]

    def __iter__(self) -> Iterator[list[int]]:
        return (batch.tolist() for batch in self.batches)

    def __len__(self) -> int:
        return len(self.batches)
