"""A component's constructor becomes typed options; config files and the command line fill them."""

from __future__ import annotations

import enum
from types import SimpleNamespace
from pathlib import Path
from typing import Literal, Optional

import click
import plugin_sources as src
import pytest
from textclf.testing import lines

from textclf.errors import ComponentError, UsageError
from textclf.options import REQUIRED, component_options
from textclf.run_config import resolve_values


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Base:
    """Base.

    Args:
        batch_size: Examples per batch.
        seed: Random seed.
    """

    def __init__(self, batch_size: int = 32, seed: int = 0):
        pass


class Child(Base):
    def __init__(self, path: Path, weights: Optional[list[float]] = None,
                 mode: Literal["head", "tail", "head+tail"] = "head+tail", colour: Colour = Colour.RED,
                 flag: bool = True, ratio=0.5, callback: click.Command | None = None, **kwargs):
        """Child.

        :param path: Where the files are.
        :param weights: Class weights.
        """
        super().__init__(**kwargs)


def test_options_follow_kwargs_into_the_base_class():
    options = {o.name: o for o in component_options(Child, "data")}
    assert list(options) == ["path", "weights", "mode", "colour", "flag", "ratio", "batch_size", "seed"]
    assert options["path"].required and options["path"].default is REQUIRED
    assert options["path"].help == "Where the files are."
    assert options["batch_size"].help == "Examples per batch."
    assert options["batch_size"].flag == "--data.batch-size"
    assert options["ratio"].type is click.FLOAT  # from the default, as it has no annotation
    assert "callback" not in options  # a command line cannot spell a click.Command


def test_values_convert_from_strings_and_from_yaml():
    options = {o.name: o for o in component_options(Child, "data")}
    assert options["weights"].convert("1, 2.5", "x") == [1.0, 2.5]
    assert options["weights"].convert([1, 2], "x") == [1.0, 2.0]
    assert options["weights"].convert("none", "x") is None
    assert options["mode"].convert("tail", "x") == "tail"
    assert options["colour"].convert("blue", "x") is Colour.BLUE
    assert options["flag"].convert("no", "x") is False
    assert options["path"].convert("~/data", "x") == Path("~/data").expanduser()
    with pytest.raises(UsageError) as bad:
        options["mode"].convert("middle", "--config run.yaml: data: mode")
    assert str(bad.value) == (
        "--config run.yaml: data: mode: 'middle' is not one of 'head', 'tail', 'head+tail'."
    )


def test_excluded_pipeline_arguments_are_not_options():
    class Model:
        def __init__(self, labels: list[str], max_length: int = 512):
            pass

    assert [o.name for o in component_options(Model, "model", exclude=("labels",))] == ["max_length"]


def test_parameter_called_name_is_refused():
    class Named:
        def __init__(self, name: str = "x"):
            pass

    with pytest.raises(ComponentError, match="reserves for the component's name"):
        component_options(Named, "data")


def test_precedence_command_line_then_config_then_suggestion_then_default():
    options = component_options(Base, "data")
    resolve = lambda **kw: resolve_values(options, where="cfg", owner="data 'x'", **kw)  # noqa: E731
    assert resolve(config={}, command_line={}) == {"batch_size": 32, "seed": 0}
    assert resolve(config={}, command_line={}, suggested={"batch_size": 16}) == {"batch_size": 16, "seed": 0}
    assert resolve(config={"batch_size": "8"}, command_line={}, suggested={"batch_size": 16}) == {
        "batch_size": 8, "seed": 0}
    assert resolve(config={"batch_size": 8}, command_line={"batch_size": 4}) == {"batch_size": 4, "seed": 0}


def test_missing_required_option_is_named():
    with pytest.raises(UsageError) as missing:
        resolve_values(component_options(Child, "data"), config={}, command_line={},
                       where="cfg", owner="data 'files'")
    assert str(missing.value) == (
        "data 'files' needs --data.path; set it on the command line or in --config"
    )


# -- through the CLI -----------------------------------------------------------------------------
TRAIN = ("train", "--data", "reviews", "--model", "tiny", "--lit-model", "toy-regime")


@pytest.fixture
def good(site, cli):
    """The toy plugin installed; ``good.run`` runs textclf in process (no torch import per run)."""
    src.add_good(site)
    return SimpleNamespace(run=cli)


def test_help_groups_options_by_component_with_defaults(good):
    result = good.run(*TRAIN, "--help")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    data = text.index("Data options (reviews from textclf-good):")
    model = text.index("Model options (tiny from textclf-good):")
    lit = text.index("Lit-model options (toy-regime from textclf-good):")
    assert data < model < lit
    section = text[data:model]
    assert "--data.batch-size INTEGER" in section and "Examples per batch.  [default: 32]" in section
    assert "--data.keep-html BOOLEAN" in section and "[default: false]" in section
    assert "--data.split [head|tail]" in section
    assert "--model.max-length INTEGER  Longest input, in tokens.  [default: 128]" in text[model:lit]
    assert "--lit-model.lr FLOAT  Peak learning rate.  [default: 0.001]" in text[lit:]
    assert "--model.labels" not in text and "--lit-model.model" not in text


def test_plain_help_explains_how_to_see_component_options(good):
    result = good.run("train", "--help")
    assert result.returncode == 0
    assert "Add --data NAME --model NAME before --help to see their options." in result.stdout


def test_print_config_shows_every_resolved_value(good):
    result = good.run(*TRAIN, "--data.keep-html", "--data.limit", "100", "--lit-model.lr", "0.01",
                      "--print-config")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "data:\n  name: textclf-good:reviews\n  batch_size: 32\n  val_fraction: 0.1\n"
        "  keep_html: true\n  limit: 100\n  split: head\n"
        "model:\n  name: textclf-good:tiny\n  max_length: 128\n"
        "lit_model:\n  name: textclf-good:toy-regime\n  lr: 0.01\n"
        "trainer:\n  max_epochs: 3\n  max_steps: -1\n  accelerator: auto\n  devices: auto\n  num_nodes: 1\n"
        "  precision: auto\n  strategy: auto\n  accumulate_grad_batches: 1\n  gradient_clip: 1.0\n"
        "  seed: 42\n  val_check_interval: 1.0\n  early_stopping: null\n"
    )


def test_config_file_supplies_values_and_the_command_line_wins(good, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("data: {name: reviews, batch-size: 8, keep_html: yes}\nmodel: tiny\n"
                      "lit-model: {name: toy-regime, lr: 0.5}\n")
    result = good.run("train", "--config", str(config), "--data.batch-size", "4", "--print-config")
    assert result.returncode == 0, result.stderr
    assert "batch_size: 4\n" in result.stdout and "keep_html: true\n" in result.stdout
    assert "lr: 0.5\n" in result.stdout
    # The printed config is itself a valid config file that reproduces the run.
    config.write_text(result.stdout)
    again = good.run("train", "--config", str(config), "--print-config")
    assert again.stdout == result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--data.batch-size", "abc"),
         "error: Invalid value for '--data.batch-size': 'abc' is not a valid integer. "
         "(see 'textclf train --help')"),
        (("--data.batch-sise", "3"),
         "error: No such option '--data.batch-sise'. (Did you mean one of: '--data.batch-size', "
         "'--data.split'?) (see 'textclf train --help')"),
        (("--data.split", "middle"),
         "error: Invalid value for '--data.split': 'middle' is not one of 'head', 'tail'. "
         "(see 'textclf train --help')"),
        (("--model.max-length",),
         "error: Option '--model.max-length' requires an argument."),
    ],
)
def test_bad_option_is_one_error_naming_it(good, args, message):
    result = good.run(*TRAIN, "--print-config", *args)
    assert (result.returncode, result.stdout, lines(result.stderr)) == (2, "", [message])


def test_missing_components_are_named_with_what_is_available(good):
    result = good.run("train", env={"TEXTCLF_LOAD_PLUGINS": "textclf-good"})
    assert (result.returncode, lines(result.stderr)) == (2, [
        "error: missing --data NAME and --model NAME (data: files, reviews; model: tiny) "
        "(see 'textclf train --help')"
    ])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("data: {batch_sise: 8}\n",
         "data: unknown key 'batch_sise' for data 'reviews'; did you mean 'batch_size'?"),
        ("data: {batch_size: eight}\n",
         "data: batch_size: 'eight' is not a valid integer."),
        ("dataa: {batch_size: 8}\n",
         "unknown section 'dataa'; did you mean 'data'? (sections: data, model, lit_model, trainer)"),
        ("data: [1, 2]\n", "section 'data' must be a mapping of option: value"),
        ("- just\n- a list\n", "expected a mapping with the sections data, model, lit_model, trainer"),
        ("data: {batch_size: 8\n", "invalid YAML at line 2: expected ',' or '}', but got '<stream end>'"),
        (b"data: {name: caf\xe9}\n", "line 1 is not UTF-8 text; save the file as UTF-8"),
    ],
)
def test_bad_config_file_is_one_error(good, tmp_path, content, message):
    config = tmp_path / "run.yaml"
    config.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = good.run(*TRAIN, "--config", str(config), "--print-config")
    assert (result.returncode, result.stdout, lines(result.stderr)) == (
        2, "", [f"error: --config {config}: {message}"])


def test_missing_config_file(good, tmp_path):
    result = good.run(*TRAIN, "--config", str(tmp_path / "nope.yaml"))
    assert (result.returncode, lines(result.stderr)) == (
        2, [f"error: --config {tmp_path / 'nope.yaml'}: no such file; check the path"])
    (tmp_path / "dir.yaml").mkdir()
    directory = good.run(*TRAIN, "--config", str(tmp_path / "dir.yaml"))
    assert (directory.returncode, lines(directory.stderr)) == (
        2, [f"error: --config {tmp_path / 'dir.yaml'}: is a directory, expected a YAML file"])


# -- precedence, written once (textclf.run_config.resolve_values) --------------------------------
@pytest.mark.parametrize(("command_line", "config", "suggested", "expected"), [
    ({}, {}, {}, 32),                                                  # the constructor's default
    ({}, {}, {"batch_size": 16}, 16),                                  # a suggestion beats it
    ({}, {"batch_size": "8"}, {"batch_size": 16}, 8),                  # the config file beats that
    ({"batch_size": 4}, {"batch_size": 8}, {"batch_size": 16}, 4),     # the command line beats all
    ({"batch_size": 4}, {}, {}, 4),
    ({}, {"batch_size": 8}, {}, 8),
])
def test_precedence_table(command_line, config, suggested, expected):
    values = resolve_values(component_options(Base, "data"), command_line=command_line, config=config,
                            suggested=suggested, where="cfg", owner="data 'x'")
    assert values == {"batch_size": expected, "seed": 0}


def test_the_precedence_holds_through_the_command_line(site, cli, tmp_path):
    import yaml
    from textclf.testing import separable_texts, write_rows

    site.add("textclf-tiny", src.TINY_MODEL)  # suggests lit_model lr 0.05 and trainer max_epochs 5
    write_rows(tmp_path / "train.csv", separable_texts(20))
    config = tmp_path / "run.yaml"
    config.write_text("lit_model: {lr: 0.2}\ntrainer: {max_epochs: 2, seed: 7}\n")

    def resolved(*args: str) -> tuple:
        result = cli("train", "--data", "files", "--data.train", str(tmp_path / "train.csv"),
                     "--model", "tiny", "--print-config", *args)
        printed = yaml.safe_load(result.stdout)
        return (printed["lit_model"]["lr"], printed["trainer"]["max_epochs"], printed["trainer"]["seed"],
                printed["data"]["batch_size"])

    assert resolved() == (0.05, 5, 42, 32)
    assert resolved("--config", str(config)) == (0.2, 2, 7, 32)
    assert resolved("--config", str(config), "--max-epochs", "9", "--lit-model.lr", "0.3") == (0.3, 9, 7, 32)


# -- errors name options by parameter; each front end spells them --------------------------------
def test_an_option_error_is_spelled_by_whoever_shows_it():
    from textclf import kinds
    from textclf.errors import OptionError, options_of

    message = "`batch_size` 0: must be at least 1; see `val_fraction`, not `torch.compile` or `lr`"
    assert str(OptionError(message)) == message  # built directly: the parameters as they are
    with pytest.raises(OptionError) as raised, options_of("data", ["batch_size", "val_fraction"]):
        raise OptionError(message)
    assert str(raised.value) == (
        "`data.batch_size` 0: must be at least 1; see `data.val_fraction`, not `torch.compile` or `lr`")
    assert raised.value.render(kinds.flag) == (
        "--data.batch-size 0: must be at least 1; see --data.val-fraction, not `torch.compile` or `lr`")


def test_a_component_built_from_python_names_its_parameter(tmp_path):
    from textclf.data.files import Files
    from textclf.errors import OptionError

    with pytest.raises(OptionError) as raised:
        Files(train=tmp_path / "train.csv", batch_size=0)
    assert str(raised.value) == "`batch_size` 0: must be at least 1"


# -- booleans: the accepted spellings, named when a value is refused -----------------------------
BOOL_REFUSED = "is not a valid boolean; use true or false (yes/no, on/off, 1/0, t/f and y/n work too)."


def test_a_boolean_accepts_its_spellings_and_names_them_when_refusing():
    flag = {o.name: o for o in component_options(Child, "data")}["flag"]
    for spelled, value in [("true", True), ("FALSE", False), (" yes ", True), ("no", False), ("on", True),
                           ("off", False), ("1", True), ("0", False), ("t", True), ("n", False),
                           (True, True), (False, False), (1, True), (0, False)]:
        assert flag.convert(spelled, "x") is value, spelled
    for refused in ["xx", "", "2", 2, None]:
        with pytest.raises(UsageError) as bad:
            flag.convert(refused, "--config run.yaml: data: flag")
        assert str(bad.value) == f"--config run.yaml: data: flag: {refused!r} {BOOL_REFUSED}"


def test_a_bad_boolean_on_the_command_line_and_in_a_config_file(good, tmp_path):
    result = good.run(*TRAIN, "--print-config", "--data.keep-html", "xx")
    assert (result.returncode, result.stdout, lines(result.stderr)) == (2, "", [
        f"error: Invalid value for '--data.keep-html': 'xx' {BOOL_REFUSED} (see 'textclf train --help')"])
    assert "keep_html: true\n" in good.run(*TRAIN, "--print-config", "--data.keep-html").stdout
    assert "keep_html: false\n" in good.run(*TRAIN, "--print-config", "--data.keep-html", "Off").stdout
    config = tmp_path / "run.yaml"
    config.write_text("data: {keep_html: maybe}\n")
    in_file = good.run(*TRAIN, "--config", str(config), "--print-config")
    assert (in_file.returncode, lines(in_file.stderr)) == (2, [
        f"error: --config {config}: data: keep_html: 'maybe' {BOOL_REFUSED}"])


# -- values keep their declared types through a model's save and load ----------------------------
def test_a_tuple_option_comes_back_a_tuple_after_save_and_load(tmp_path):
    import json

    from textclf.testing import TinyModel

    class Widths(TinyModel):
        def __init__(self, labels, train_texts=None, tokenizer=None, widths: tuple[int, ...] = (3, 4),
                     where: Path | None = None, colour: Colour = Colour.RED):
            super().__init__(labels, train_texts, tokenizer)
            self.widths, self.where, self.colour = widths, where, colour

    model = Widths(["neg", "pos"], ["a good film", "a bad film"], widths=(2, 5), where=tmp_path,
                   colour=Colour.BLUE)
    model.save(tmp_path / "model")
    saved = json.loads((tmp_path / "model" / "textclf_model.json").read_text())["options"]
    assert (saved["widths"], saved["where"], saved["colour"]) == ([2, 5], str(tmp_path), "blue")
    loaded = Widths.load(tmp_path / "model")
    assert (loaded.widths, loaded.where, loaded.colour) == ((2, 5), tmp_path, Colour.BLUE)
    assert type(loaded.widths) is tuple
