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
    """Texts and their labels; a label is a label name or an index into the label names."""

    texts: list[str]
    labels: list[str] | list[int]


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


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of (kept, held out): ``fraction`` of each class held out, chosen by ``seed``."""
    import numpy as np

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
