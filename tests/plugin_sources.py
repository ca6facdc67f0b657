"""Source of the throwaway plugins the tests install: good, broken, colliding and incompatible."""

from __future__ import annotations

from textclf.testing import TINY_MODEL_PLUGIN

# A plugin providing one of each kind plus a command, laid out as a plugin should be: a light
# hook module, and its components in another module imported only when chosen. The components
# follow the contracts but are never trained: they exercise registration and options.
GOOD_HOOKS = '''
import click
from textclf import hookimpl

TEXTCLF_PLUGIN_API = 1


@click.command()
@click.argument("who", default="world")
def hello(who):
    """Say hello."""
    click.echo(f"hello {who}")


@hookimpl
def register_data(register):
    register("reviews", "{module}_components:Reviews", help="Toy reviews\\nsecond line is dropped")


@hookimpl
def register_models(register):
    register("tiny", "{module}_components:Tiny", help="A tiny model")


@hookimpl
def register_lit_models(register):
    register("toy-regime", "{module}_components:Regime", help="A toy regime")


@hookimpl
def register_commands(cli):
    cli.add_command(hello)
'''

GOOD_COMPONENTS = '''
from typing import Literal, Optional

from textclf import BaseDataModule, BaseLitModel, BaseModel


class Reviews(BaseDataModule):
    """Toy reviews.

    Args:
        batch_size: Examples per batch.
        val_fraction: Share of train held out for validation.
        keep_html: Keep HTML line breaks.
        limit: Use at most this many training examples.
        split: Which split to read.
    """

    def __init__(self, batch_size: int = 32, val_fraction: float = 0.1, keep_html: bool = False,
                 limit: Optional[int] = None, split: Literal["head", "tail"] = "head"):
        self.batch_size = batch_size


class Tiny(BaseModel):
    """A tiny model.

    Args:
        labels: Label names (supplied by the pipeline).
        max_length: Longest input, in tokens.
    """

    def __init__(self, labels, max_length: int = 128):
        self.labels = labels


class Regime(BaseLitModel):
    def __init__(self, model, lr: float = 1e-3):
        """A training regime.

        :param lr: Peak learning rate.
        """
'''


def add_good(site, dist: str = "textclf-good", module: str = "good_plugin", **kwargs) -> None:
    """Install the toy plugin (hooks in ``module``, components in ``module``_components)."""
    site.add(dist, GOOD_HOOKS.replace("{module}", module), module=module,
             extra={f"{module}_components": GOOD_COMPONENTS}, **kwargs)


BROKEN_IMPORT = "import does_not_exist\n"

HOOK_RAISES = '''
from textclf import hookimpl

@hookimpl
def register_data(register):
    raise RuntimeError("disk on fire")
'''

MISSPELT_HOOK = '''
from textclf import hookimpl

@hookimpl
def register_model(register):
    register("m", "x:Y")
'''

FUTURE_API = '''
from textclf import hookimpl

TEXTCLF_PLUGIN_API = 2

@hookimpl
def register_models(register):
    register("m", "x:Y")
'''

BAD_ARGUMENT = '''
from textclf import hookimpl

@hookimpl
def register_data(registrar):
    pass
'''

BAD_TARGET = '''
from textclf import hookimpl

@hookimpl
def register_data(register):
    register("sloppy", "not a path")
'''


def data_only(name: str, target: str, help: str = "") -> str:
    return f'''
from textclf import hookimpl

@hookimpl
def register_data(register):
    register({name!r}, {target!r}, help={help!r})
'''


REGISTERED_TWICE = '''
from textclf import hookimpl

@hookimpl
def register_data(register):
    register("twice", "x:Y")
    register("twice", "x:Z")
'''

BAD_NAME = '''
from textclf import hookimpl

@hookimpl
def register_models(register):
    register("my:model", "x:Y")
'''

BAD_HELP = '''
from textclf import hookimpl

@hookimpl
def register_lit_models(register):
    register("regime", "x:Y", help=42)
'''

COMMAND_CLASH = '''
import click
from textclf import hookimpl

@click.command()
def train():
    """Not the real train."""

@hookimpl
def register_commands(cli):
    cli.add_command(train)
'''

# The tiny test model from textclf.testing, registered as an outside plugin would register it.
TINY_MODEL = TINY_MODEL_PLUGIN


def hangs_at_import(marker: str = "") -> str:
    """A plugin whose import never finishes (a lost network call); it touches ``marker`` first."""
    return f'''
import pathlib
import time

if {marker!r}:
    pathlib.Path({marker!r}).touch()
time.sleep(600)
'''


HOOK_HANGS = '''
import time
from textclf import hookimpl

@hookimpl
def register_data(register):
    time.sleep(600)
'''

EXITS_AT_IMPORT = '''
import sys

print("textclf-bad needs CUDA")
sys.exit(1)
'''

HOOK_EXITS = '''
import sys
from textclf import hookimpl

@hookimpl
def register_data(register):
    sys.exit()
'''

INTERRUPTED_AT_IMPORT = "raise KeyboardInterrupt\n"

# Prints to stdout at import and to stderr in a hook, then registers the toy data module.
CHATTY = '''
import sys
from textclf import hookimpl

print("chatty: importing")


@hookimpl
def register_data(register):
    print("chatty: registering", file=sys.stderr)
    register("chat", "good_plugin_components:Reviews", help="Toy reviews, noisily")
'''

# A quiet hook module whose component module prints when it is imported.
LOUD_COMPONENT = "print('loud: importing')\nfrom good_plugin_components import Reviews as Loud\n"
