"""The core's own plugin: the built-in components, registered through the public hooks.

The core's commands are not here: they belong to the command line (``textclf.cli``), and
``register_commands`` is for other programs' plugins.
"""

from __future__ import annotations

from textclf.hookspecs import Register, hookimpl


@hookimpl
def register_data(register: Register) -> None:
    register("files", "textclf.data.files:Files",
             help="Your own CSV, TSV or JSONL files with a text and a label column")


@hookimpl
def register_lit_models(register: Register) -> None:
    register("classifier", "textclf.lit_models.classifier:Classifier",
             help="Cross-entropy, AdamW, warmup then linear decay; accuracy and macro-F1")
