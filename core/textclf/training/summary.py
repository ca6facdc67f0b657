"""The tables printed at the end of a run or a test: metrics per split, confusion matrix."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

METRICS = (("loss", "loss"), ("acc", "accuracy"), ("f1", "macro-F1"))


def print_summary(metrics: dict[str, Any], console: Console | None = None,
                  title: str = "textclf results") -> None:
    console = console or Console(highlight=False)
    splits = [s for s in ("train", "val", "test") if s in metrics]
    console.print(title)
    table = Table()
    table.add_column("metric")
    for split in splits:
        table.add_column(split, justify="right")
    for key, label in METRICS:
        if any(key in metrics[s] for s in splits):
            table.add_row(label, *(_fmt(metrics[s].get(key)) for s in splits))
    console.print(table)
    confusion = metrics.get("confusion_matrix")
    if confusion:
        console.print(f"confusion matrix, {confusion['split']} (rows: true label, columns: predicted)")
        console.print(confusion_table(confusion))
    for key, label in (("train_samples_per_second", "training samples/s"),
                       ("train_tokens_per_second", "training tokens/s"),
                       ("train_seconds", "training time (s)")):
        if key in metrics:
            console.print(f"{label}: {metrics[key]:,.1f}")


def confusion_table(confusion: dict[str, Any]) -> Table:
    labels, matrix = confusion["labels"], confusion["matrix"]
    table = Table()
    table.add_column("")
    for label in labels:
        table.add_column(label, justify="right")
    for label, row in zip(labels, matrix):
        table.add_row(label, *(f"{int(v):,}" for v in row))
    return table


def _fmt(value: Any) -> str:
    return "" if value is None else f"{float(value):.4f}"
