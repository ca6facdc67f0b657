"""The tables printed at the end of a run or a test: metrics per split, confusion matrix."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

METRICS = (("loss", "loss"), ("acc", "accuracy"), ("f1", "macro-F1"))
#: The same keys in a multi-label run, where they mean other things.
MULTI_LABEL_METRICS = (("loss", "loss"), ("acc", "subset accuracy"), ("f1", "micro-F1"), ("macro_f1", "macro-F1"))


def print_summary(metrics: dict[str, Any], console: Console | None = None,
                  title: str = "textclf results") -> None:
    console = console or Console(highlight=False)
    splits = [s for s in ("train", "val", "test") if s in metrics]
    console.print(title)
    table = Table()
    table.add_column("metric")
    for split in splits:
        table.add_column(split, justify="right")
    for key, label in MULTI_LABEL_METRICS if metrics.get("task") == "multi_label" else METRICS:
        if any(key in metrics[s] for s in splits):
            table.add_row(label, *(_fmt(metrics[s].get(key)) for s in splits))
    console.print(table)
    per_label = metrics.get("per_label")
    if per_label:
        console.print(f"per label, {per_label['split']} (decision thresholds tuned on val)")
        console.print(per_label_table(per_label, metrics.get("thresholds")))
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


def per_label_table(per_label: dict[str, Any], thresholds: dict[str, Any] | None = None) -> Table:
    table = Table()
    for column in ("label", "precision", "recall", "F1", "support", "threshold"):
        table.add_column(column, justify="left" if column == "label" else "right")
    values = (thresholds or {}).get("values") or [None] * len(per_label["labels"])
    for i, label in enumerate(per_label["labels"]):
        table.add_row(label, *(_fmt(per_label[key][i]) for key in ("precision", "recall", "f1")),
                      f"{int(per_label['support'][i]):,}", _fmt(values[i]))
    return table


def _fmt(value: Any) -> str:
    return "" if value is None else f"{float(value):.4f}"
