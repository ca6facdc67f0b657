"""The component kinds, each described once: data, model and lit-model.

A kind's record is the one place that says how it is spelled everywhere else: its flag
(``--lit-model``), its options' prefix (``--lit-model.lr``), its config section (``lit_model:``),
its hook (``register_lit_models``), its key in ``textclf plugins --json`` (``lit_models``), the
base class its components derive from, and the constructor arguments the pipeline supplies itself.
Adding a kind means a record here, its hookspec and its base class.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

#: The config section of the trainer's options, whose flags have no prefix (``--max-epochs``).
TRAINER = "trainer"


@dataclass(frozen=True)
class Kind:
    """One kind of component."""

    #: As users type it: the flag ``--lit-model``, the option prefix ``--lit-model.``, messages.
    name: str
    #: For messages: "no lit-models are installed".
    plural: str
    #: What a plugin registers: the hook ``register_<collection>``, the key in ``plugins --json``.
    collection: str
    #: The base class every component of this kind derives from, as ``"module:Class"``.
    base: str
    #: What the component is to a run, for ``--help``: "Data module to train on".
    role: str
    #: Constructor arguments the pipeline passes itself, so they are never options.
    supplied: tuple[str, ...] = ()
    #: The component ``textclf train`` uses when none is named; ``None``: it must be named.
    default: str | None = None

    @property
    def flag(self) -> str:
        return f"--{self.name}"

    @property
    def section(self) -> str:
        """The key of this kind's section in a config file."""
        return self.name.replace("-", "_")

    @property
    def hook(self) -> str:
        return f"register_{self.collection}"

    def base_class(self) -> type:
        """The base class, imported now (it may import torch)."""
        module, _, name = self.base.partition(":")
        found: type = getattr(importlib.import_module(module), name)
        return found


DATA = Kind("data", "data modules", "data", "textclf.data:BaseDataModule", "Data module to train on")
MODEL = Kind("model", "models", "models", "textclf.models:BaseModel", "Model to train",
             supplied=("labels", "train_texts"))
LIT_MODEL = Kind("lit-model", "lit-models", "lit_models", "textclf.lit_models:BaseLitModel",
                 "Training regime", supplied=("model",), default="classifier")

#: Every kind, in the order a run builds them and listings show them.
KINDS = (DATA, MODEL, LIT_MODEL)
#: Every section of a config file.
SECTIONS = (*(kind.section for kind in KINDS), TRAINER)


def kind_named(name: str) -> Kind:
    """The kind called ``name`` (``lit-model``) or whose section is ``name`` (``lit_model``)."""
    for kind in KINDS:
        if name in (kind.name, kind.section):
            return kind
    raise KeyError(name)


def flag(section: str | None, parameter: str) -> str:
    """The command-line flag of an option: ``--data.batch-size`` for a component's, ``--max-epochs``
    for the trainer's (or any option of no component)."""
    option = parameter.replace("_", "-")
    kind = next((k for k in KINDS if k.section == section), None)
    return f"{kind.flag}.{option}" if kind else f"--{option}"
