"""Batches: every row once per epoch, similar lengths together, replicas disjoint, resumable."""

from __future__ import annotations

import numpy as np

from textclf.data.batching import PAD_MULTIPLE, Collator, LengthGroupedBatchSampler, SortedBatchSampler
from textclf.data.examples import label_indices, stratified_split, stratified_subset

LENGTHS = np.random.default_rng(0).integers(5, 500, size=1000)


def padded_tokens(batches, lengths):
    return sum(len(b) * max(lengths[i] for i in b) for b in batches)


def test_every_row_once_per_epoch_and_a_new_order_each_epoch():
    sampler = LengthGroupedBatchSampler(LENGTHS, 32, seed=1)
    first = list(sampler)
    assert sorted(i for b in first for i in b) == list(range(1000))
    assert len(first) == len(sampler) == 32
    sampler.set_epoch(1)
    second = list(sampler)
    assert first != second
    sampler.set_epoch(0)
    assert list(sampler) == first  # the same epoch, the same batches


def test_epoch_comes_from_the_trainer_when_given():
    epoch = {"now": 0}
    sampler = LengthGroupedBatchSampler(LENGTHS, 32, seed=1, epoch_source=lambda: epoch["now"])
    first = list(sampler)
    epoch["now"] = 1
    assert list(sampler) != first


def test_grouping_by_length_wastes_far_less_padding_than_random_batches():
    grouped = list(LengthGroupedBatchSampler(LENGTHS, 32, seed=1))
    order = np.random.default_rng(1).permutation(1000)
    random_batches = [order[i : i + 32] for i in range(0, 1000, 32)]
    real = int(LENGTHS.sum())
    assert padded_tokens(grouped, LENGTHS) < 1.1 * real
    assert padded_tokens(random_batches, LENGTHS) > 1.6 * real


def test_replicas_get_disjoint_equal_shares():
    shares = [list(LengthGroupedBatchSampler(LENGTHS, 32, seed=1, num_replicas=3, rank=r)) for r in range(3)]
    assert [len(s) for s in shares] == [11, 11, 11]
    seen = [i for share in shares for b in share for i in b]
    assert set(seen) == set(range(1000))  # padded to equal shares by repeating a few batches


def test_resume_skips_the_batches_already_trained_on():
    full = list(LengthGroupedBatchSampler(LENGTHS, 32, seed=1))
    resumed = LengthGroupedBatchSampler(LENGTHS, 32, seed=1)
    resumed.resume_at = (0, 10)
    assert list(resumed) == full[10:]
    assert list(resumed) == full  # only the interrupted epoch is shortened
    other_epoch = LengthGroupedBatchSampler(LENGTHS, 32, seed=1)
    other_epoch.resume_at = (3, 10)
    assert list(other_epoch) == full


def test_evaluation_batches_are_sorted_and_cover_everything():
    batches = list(SortedBatchSampler(LENGTHS, 100))
    assert sorted(i for b in batches for i in b) == list(range(1000))
    maxima = [max(LENGTHS[i] for i in b) for b in batches]
    assert maxima == sorted(maxima)
    halves = [list(SortedBatchSampler(LENGTHS, 100, num_replicas=2, rank=r)) for r in range(2)]
    assert sorted(i for h in halves for b in h for i in b) == list(range(1000))


def test_collator_pads_to_the_longest_row_rounded_up():
    batch = Collator(pad_id=7)([(np.array([1, 2, 3]), 0), (np.array([4]), 1)])
    assert batch["input_ids"].shape == (2, PAD_MULTIPLE)
    assert batch["input_ids"][1].tolist() == [4] + [7] * (PAD_MULTIPLE - 1)
    assert batch["attention_mask"].sum(1).tolist() == [3, 1]
    assert batch["labels"].tolist() == [0, 1]


def test_stratified_split_keeps_class_shares_and_is_seeded():
    labels = np.array([0] * 900 + [1] * 100)
    kept, held = stratified_split(labels, 0.1, seed=3)
    assert len(held) == 100 and (labels[held] == 1).sum() == 10
    assert set(kept) | set(held) == set(range(1000)) and not set(kept) & set(held)
    assert np.array_equal(stratified_split(labels, 0.1, seed=3)[1], held)
    assert not np.array_equal(stratified_split(labels, 0.1, seed=4)[1], held)
    subset = stratified_subset(labels, 50, seed=0)
    assert len(subset) == 50 and (labels[subset] == 1).sum() == 5


def test_label_indices():
    assert label_indices(["b", 0, "a"], ["a", "b"], "x").tolist() == [1, 0, 0]


def test_runtime_batches_respect_rows_and_padded_tokens():
    from textclf.runtime import batches

    lengths = [50, 10, 400, 12, 300, 11, 60]
    found = batches(lengths, batch_size=3, max_tokens=200)
    assert sorted(i for b in found for i in b) == list(range(7))
    assert all(len(b) <= 3 and (len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 200) for b in found)
    assert [[lengths[i] for i in b] for b in found] == [[10, 11, 12], [50, 60], [300], [400]]
    assert [len(b) for b in batches(lengths, batch_size=32)] == [7]  # no token cap: rows only
