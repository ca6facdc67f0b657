"""Raw examples as a data module supplies them, and the seeded stratified split.

Importing this module imports nothing heavy (numpy is imported by the functions that use it), so
the command line can name the splits without paying for numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import numpy as np

#: The splits a data module may supply, in the order a run uses them.
SPLITS = ("train", "val", "test")


class Examples(NamedTuple):
    """Texts and their labels; a label is a label name or an index into the label names, or in
    multi-label data a text's set of them (a list, perhaps empty)."""

    texts: list[str]
    labels: list[str] | list[int] | list[list[str]] | list[list[int]]


def label_indices(labels: Sequence[str | int], names: Sequence[str], where: str) -> np.ndarray:
    """Labels as indices into ``names``; an unknown label is an error naming ``where``."""
    import numpy as np

    lookup = {name: i for i, name in enumerate(names)}
    out = np.empty(len(labels), dtype=np.int64)
    for i, label in enumerate(labels):
        if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
            if not 0 <= label < len(names):
                raise ValueError(f"{where}: label index {label} is out of range for {len(names)} labels")
            out[i] = label
        elif label in lookup:
            out[i] = lookup[label]
        else:
            raise ValueError(
                f"{where}: label {label!r} (example {i}) is not one of {', '.join(map(str, names))}"
            )
    return out


def label_matrix(label_sets: Sequence[Sequence[str | int]], names: Sequence[str], where: str) -> np.ndarray:
    """Multi-label labels as a 0/1 matrix, one row per example and one column per name; a label
    that is not one of ``names``, or an example whose labels are not a list, is an error."""
    import numpy as np

    out = np.zeros((len(label_sets), len(names)), dtype=np.int64)
    for i, labels in enumerate(label_sets):
        if isinstance(labels, (str, bytes)) or not isinstance(labels, (list, tuple, set, frozenset)):
            raise ValueError(f"{where}: example {i} has the label {labels!r}, where multi-label data "
                             f"gives each text a list of labels")
        for j in label_indices(list(labels), names, where):
            out[i, j] = 1
    return out


def stratification_keys(matrix: np.ndarray) -> np.ndarray:
    """One class per multi-label example to stratify by: the rarest of its labels (by count over
    all examples), or -1 for an empty set. A simple stand-in for iterative stratification: every
    label with two or more examples lands on both sides of a split."""
    import numpy as np

    counts = matrix.sum(axis=0)
    rarity = np.where(matrix > 0, counts[None, :], np.iinfo(np.int64).max)
    return np.where(matrix.any(axis=1), rarity.argmin(axis=1), -1)


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of (kept, held out): ``fraction`` of each class held out, chosen by ``seed``.
    Multi-label ``labels`` (a 0/1 matrix) are stratified by ``stratification_keys``."""
    import numpy as np

    if labels.ndim == 2:
        labels = stratification_keys(labels)
    rng = np.random.default_rng(seed)
    kept, held = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = int(round(len(members) * fraction))
        if fraction > 0 and len(members) > 1:
            count = min(max(count, 1), len(members) - 1)  # every class on both sides
        held.append(members[:count])
        kept.append(members[count:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held))


def stratified_subset(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted indices of a class-balanced-as-the-source subset of ``size`` examples."""
    import numpy as np

    if size >= len(labels):
        return np.arange(len(labels))
    _, held = stratified_split(labels, size / len(labels), seed)
    return held
