"""The plugin host, driven through real entry points and the real ``textclf`` script."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import plugin_sources as src
import yaml
from textclf.testing import TEXTCLF, lines, table_rows


def skipped(dist: str) -> str:
    return f"; skipped (TEXTCLF_DISABLE_PLUGINS={dist} silences this)"


def test_good_plugin_is_listed_with_what_it_provides(site):
    src.add_good(site, version="1.2.3")
    result = site.run("plugins")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    rows = table_rows(result.stdout)
    good = rows.index(["textclf-good", "1.2.3", "data", "reviews", "Toy reviews"])
    assert rows[good + 1 : good + 4] == [
        ["", "", "model", "tiny", "A tiny model"],
        ["", "", "lit-model", "toy-regime", "A toy regime"],
        ["", "", "command", "hello", "Say hello."],
    ]
    core = rows.index(["textclf (built-in)", "0.1.0", "data", "files",
                       "Your own CSV, TSV or JSONL files with a text and a label column"])
    assert rows[core + 1][2:4] == ["lit-model", "classifier"]
    assert ["", "", "command", "install", "Install plugins into textclf's environment (runs pip)."] in rows
    assert ["textclf-imdb", "0.1.0", "data", "imdb",
            "IMDB movie reviews (Maas et al. 2011): 25k train / 25k test, neg/pos"] in rows


def test_plugin_that_provides_nothing_yet(site):
    site.add("textclf-empty", "TEXTCLF_PLUGIN_API = 1\n")
    assert ["textclf-empty", "1.0", "-", "", "no components yet"] in table_rows(site.run("plugins").stdout)


def test_plugins_json_lists_the_same(site):
    src.add_good(site)
    result = site.run("plugins", "--json")
    assert result.returncode == 0
    document = json.loads(result.stdout)
    assert document["plugin_api"] == 1
    good = next(p for p in document["plugins"] if p["name"] == "textclf-good")
    assert good == {
        "name": "textclf-good",
        "version": "1.0",
        "builtin": False,
        "entry_point": "textclf-good = good_plugin",
        "error": None,
        "data": [{"name": "reviews", "target": "good_plugin_components:Reviews", "help": "Toy reviews"}],
        "models": [{"name": "tiny", "target": "good_plugin_components:Tiny", "help": "A tiny model"}],
        "lit_models": [{"name": "toy-regime", "target": "good_plugin_components:Regime", "help": "A toy regime"}],
        "commands": [{"name": "hello", "help": "Say hello."}],
    }
    names = [p["name"] for p in document["plugins"]]
    assert names[0] == "textclf" and {"textclf-imdb", "textclf-distilbert"} <= set(names)


def test_plugin_command_runs(site):
    src.add_good(site)
    result = site.run("hello", "plugin")
    assert (result.returncode, result.stdout) == (0, "hello plugin\n")


BROKEN_CASES = {
    "import error": (
        src.BROKEN_IMPORT,
        "plugin textclf-bad 0.3 failed to load (textclf_bad): "
        "ModuleNotFoundError: No module named 'does_not_exist'",
    ),
    "hook raises": (
        src.HOOK_RAISES,
        "plugin textclf-bad 0.3 raised RuntimeError in hook register_data: disk on fire",
    ),
    "misspelt hook": (
        src.MISSPELT_HOOK,
        "plugin textclf-bad 0.3 implements unknown hook register_model; did you mean "
        "register_models? (hooks: register_commands, register_data, register_lit_models, "
        "register_models)",
    ),
    "incompatible API": (
        src.FUTURE_API,
        "plugin textclf-bad 0.3 targets textclf plugin API 2, but textclf 0.1.0 supports API 1; "
        "install a release of textclf-bad made for API 1, or upgrade textclf",
    ),
    "hook argument": (
        src.BAD_ARGUMENT,
        "plugin textclf-bad 0.3 implements register_data(registrar), asking for registrar, "
        "but the hook passes only register_data(register)",
    ),
    "name registered twice": (
        src.REGISTERED_TWICE,
        "plugin textclf-bad 0.3 raised ValueError in hook register_data: data 'twice' is registered twice",
    ),
    "invalid name": (
        src.BAD_NAME,
        "plugin textclf-bad 0.3 raised ValueError in hook register_models: invalid model name "
        "'my:model': use letters, digits and - _ . + (no ':' or spaces)",
    ),
    "help not a string": (
        src.BAD_HELP,
        "plugin textclf-bad 0.3 raised ValueError in hook register_lit_models: help for lit-model "
        "'regime' must be a string, got int",
    ),
    "invalid registration": (
        src.BAD_TARGET,
        "plugin textclf-bad 0.3 raised ValueError in hook register_data: invalid import path "
        "'not a path' for data 'sloppy': expected 'package.module:Class'",
    ),
    "sys.exit at import": (
        src.EXITS_AT_IMPORT,
        "plugin textclf-bad 0.3 failed to load (textclf_bad): it called sys.exit(1), "
        "after printing 'textclf-bad needs CUDA'",
    ),
    "sys.exit in hook": (
        src.HOOK_EXITS,
        "plugin textclf-bad 0.3 called sys.exit() in hook register_data",
    ),
}


def test_each_broken_plugin_is_one_warning_and_the_cli_keeps_working(site):
    src.add_good(site)
    for case, (source, message) in BROKEN_CASES.items():
        (site.root / "textclf_bad.py").unlink(missing_ok=True)
        for info in site.root.glob("textclf_bad-*.dist-info"):
            for f in info.iterdir():
                f.unlink()
            info.rmdir()
        site.add("textclf-bad", source, version="0.3")
        warning = f"warning: {message}{skipped('textclf-bad')}"

        result = site.run("hello")
        assert (case, result.returncode, result.stdout) == (case, 0, "hello world\n")
        assert (case, lines(result.stderr)) == (case, [warning])

        listed = site.run("plugins", "--json")
        assert listed.returncode == 0
        bad = next(p for p in json.loads(listed.stdout)["plugins"] if p["name"] == "textclf-bad")
        assert (case, bad["error"], bad["data"], bad["models"]) == (case, message[len("plugin textclf-bad 0.3 "):], [], [])

        strict = site.run("hello", env={"TEXTCLF_STRICT_PLUGINS": "1"})
        assert (case, strict.returncode, strict.stdout) == (case, 1, "")
        assert (case, lines(strict.stderr)) == (case, [f"error: {message} (TEXTCLF_STRICT_PLUGINS is set)"])


def test_broken_plugin_row_in_the_table(site):
    site.add("textclf-bad", src.BROKEN_IMPORT, version="0.3")
    result = site.run("plugins")
    assert result.returncode == 0
    assert ["textclf-bad", "0.3", "error", "", "failed to load (textclf_bad): "
            "ModuleNotFoundError: No module named 'does_not_exist'"] in table_rows(result.stdout)


def test_version_and_help_never_load_plugins(site):
    site.add("textclf-bad", src.BROKEN_IMPORT)
    version = site.run("--version", env={"TEXTCLF_STRICT_PLUGINS": "1"})
    assert (version.returncode, version.stdout, version.stderr) == (0, "textclf 0.1.0\n", "")


def test_load_only_the_named_plugins(site):
    src.add_good(site)
    site.add("textclf-bad", src.BROKEN_IMPORT)

    def names(env):
        result = site.run("plugins", "--json", env=env)
        assert result.returncode == 0, result.stderr
        return [p["name"] for p in json.loads(result.stdout)["plugins"]], lines(result.stderr)

    assert names({"TEXTCLF_LOAD_PLUGINS": "textclf-good"}) == (["textclf", "textclf-good"], [])
    assert names({"TEXTCLF_LOAD_PLUGINS": "Textclf_Good, textclf-imdb"}) == (
        ["textclf", "textclf-good", "textclf-imdb"], [])
    assert names({"TEXTCLF_LOAD_PLUGINS": ""}) == (["textclf"], [])
    loaded, warnings = names({"TEXTCLF_DISABLE_PLUGINS": "textclf-bad,textclf-imdb"})
    assert "textclf-bad" not in loaded and "textclf-imdb" not in loaded
    assert {"textclf", "textclf-good", "textclf-distilbert"} <= set(loaded) and warnings == []


def test_naming_a_plugin_that_is_not_installed_is_reported(site):
    result = site.run("plugins", "--json", env={"TEXTCLF_LOAD_PLUGINS": "textclf-imbd"})
    assert result.returncode == 0
    [warning] = lines(result.stderr)
    assert warning.startswith(
        "warning: TEXTCLF_LOAD_PLUGINS names textclf-imbd, which is not an installed plugin "
        "(installed: ")
    assert "textclf-imdb" in warning


def test_plugin_command_cannot_replace_a_core_command(site):
    site.add("textclf-clash", src.COMMAND_CLASH)
    result = site.run("plugins", "--json")
    assert lines(result.stderr) == [
        "warning: plugin textclf-clash 1.0 adds command 'train', which textclf already "
        "provides; ignored"
    ]
    clash = next(p for p in json.loads(result.stdout)["plugins"] if p["name"] == "textclf-clash")
    assert clash["commands"] == []
    help_text = site.run("train", "--help").stdout
    assert "Train a classifier: data + model + lit-model, chosen by name." in help_text


def test_unknown_command_suggests_the_closest(site):
    result = site.run("trian")
    assert (result.returncode, result.stdout) == (2, "")
    assert lines(result.stderr) == [
        "error: no such command 'trian'; did you mean 'train'? (see 'textclf --help')"
    ]


def test_same_name_from_two_plugins_must_be_qualified(site, cli):
    src.add_good(site)
    site.add("textclf-other", src.data_only("reviews", "good_plugin_components:Reviews", "Other reviews"))
    args = ("train", "--model", "tiny", "--lit-model", "toy-regime", "--print-config")

    result = cli(*args, "--data", "reviews")
    assert (result.returncode, result.stdout) == (2, "")
    assert lines(result.stderr) == [
        "error: --data reviews: data 'reviews' is provided by both textclf-good and "
        "textclf-other; choose one with --data textclf-good:reviews or --data textclf-other:reviews"
    ]
    chosen = cli(*args, "--data", "textclf-other:reviews")
    assert chosen.returncode == 0, chosen.stderr
    assert "name: textclf-other:reviews" in chosen.stdout

    wrong = cli(*args, "--data", "textclf-imdb:reviews")
    assert lines(wrong.stderr) == [
        "error: --data textclf-imdb:reviews: plugin textclf-imdb does not provide data 'reviews' "
        "(it is provided by: textclf-good, textclf-other); see 'textclf plugins'"
    ]
    table = site.run("plugins")
    assert ("note: data 'reviews' is provided by textclf-good and textclf-other; choose one with "
            "--data textclf-good:reviews or --data textclf-other:reviews") in table.stdout


def test_unknown_component_lists_the_available_ones_and_a_guess(site):
    src.add_good(site)
    result = site.run("train", "--data", "reveiws", "--model", "tiny",
                      env={"TEXTCLF_LOAD_PLUGINS": "textclf-good"})
    assert (result.returncode, result.stdout) == (2, "")
    assert lines(result.stderr) == [
        "error: --data reveiws: unknown data 'reveiws' (available data modules: files, reviews); "
        "did you mean 'reviews'?"
    ]


def test_unknown_component_when_none_of_its_kind_is_installed(site):
    result = site.run("train", "--data", "files", "--model", "anything",
                      env={"TEXTCLF_LOAD_PLUGINS": ""})
    assert result.returncode == 2
    assert lines(result.stderr) == [
        "error: --model anything: unknown model 'anything'; no models are installed, "
        "install a plugin that provides one (textclf install PACKAGE)"
    ]


def test_component_that_fails_to_import_is_one_error(site, cli):
    site.add("textclf-ghost", src.data_only("ghost", "ghost_module:Ghost"))
    src.add_good(site)
    result = cli("train", "--data", "ghost", "--model", "tiny", "--lit-model", "toy-regime")
    assert result.returncode == 2
    assert lines(result.stderr) == [
        "error: cannot import data 'ghost' (ghost_module:Ghost) from textclf-ghost 1.0: "
        "ModuleNotFoundError: No module named 'ghost_module'"
    ]


def test_plugin_that_hangs_is_skipped_after_the_time_limit(site):
    # textclf-frozen loads before textclf-good, which must load all the same.
    site.add("textclf-frozen", src.hangs_at_import(), version="0.2")
    src.add_good(site)
    limit = {"TEXTCLF_PLUGIN_TIMEOUT": "1", "TEXTCLF_LOAD_PLUGINS": "textclf-frozen,textclf-good"}
    start = time.monotonic()
    result = site.run("--help", env=limit, timeout=60)
    assert time.monotonic() - start < 6
    assert result.returncode == 0
    assert ["hello", "Say hello."] in [line.split(None, 1) for line in lines(result.stdout)]
    message = ("plugin textclf-frozen 0.2 failed to load (textclf_frozen): still importing after "
               "1 s (the limit, set by TEXTCLF_PLUGIN_TIMEOUT)")
    assert lines(result.stderr) == [f"warning: {message}{skipped('textclf-frozen')}"]

    strict = site.run("hello", env={**limit, "TEXTCLF_STRICT_PLUGINS": "1"}, timeout=60)
    assert (strict.returncode, strict.stdout) == (1, "")
    assert lines(strict.stderr) == [f"error: {message} (TEXTCLF_STRICT_PLUGINS is set)"]


def test_plugin_hook_that_hangs_is_skipped_after_the_time_limit(site):
    site.add("textclf-frozen", src.HOOK_HANGS, version="0.2")
    src.add_good(site)
    result = site.run("plugins", "--json", timeout=60, env={
        "TEXTCLF_PLUGIN_TIMEOUT": "0.5", "TEXTCLF_LOAD_PLUGINS": "textclf-frozen,textclf-good"})
    assert result.returncode == 0
    assert lines(result.stderr) == [
        "warning: plugin textclf-frozen 0.2 did not return from hook register_data within 0.5 s "
        f"(the limit, set by TEXTCLF_PLUGIN_TIMEOUT){skipped('textclf-frozen')}"
    ]
    plugins = {p["name"]: p for p in json.loads(result.stdout)["plugins"]}
    assert plugins["textclf-frozen"]["data"] == []
    assert plugins["textclf-frozen"]["error"].startswith("did not return from hook register_data")
    assert plugins["textclf-good"]["error"] is None and plugins["textclf-good"]["commands"]


def test_plugin_time_limit_that_is_not_a_number(site):
    result = site.run("plugins", "--json", env={"TEXTCLF_PLUGIN_TIMEOUT": "soon"})
    assert result.returncode == 0
    assert lines(result.stderr) == [
        "warning: TEXTCLF_PLUGIN_TIMEOUT=soon is not a number of seconds; using 10 s (0 means no limit)"
    ]


def test_ctrl_c_while_a_plugin_hangs_stops_textclf(site, tmp_path):
    marker = tmp_path / "importing"
    site.add("textclf-frozen", src.hangs_at_import(str(marker)))
    # As from a terminal: Ctrl-C not ignored, even when the tests run as a background job.
    process = subprocess.Popen([TEXTCLF, "plugins"], env=site.env(TEXTCLF_PLUGIN_TIMEOUT="0"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert (process.returncode, stdout, lines(stderr)) == (130, "", ["Aborted."])


def test_keyboard_interrupt_raised_by_a_plugin_stops_textclf(site):
    site.add("textclf-bad", src.INTERRUPTED_AT_IMPORT)
    result = site.run("plugins")
    assert (result.returncode, result.stdout, lines(result.stderr)) == (130, "", ["Aborted."])


def test_plugin_output_is_kept_off_stdout(site, cli):
    src.add_good(site)
    site.add("textclf-chatty", src.CHATTY)
    warning = ("warning: plugin textclf-chatty 1.0 printed 2 lines while loading, hidden to keep "
               "textclf's output clean; the first: 'chatty: importing'")
    result = site.run("plugins", "--json")
    assert result.returncode == 0
    assert lines(result.stderr) == [warning]
    chatty = next(p for p in json.loads(result.stdout)["plugins"] if p["name"] == "textclf-chatty")
    assert (chatty["error"], [d["name"] for d in chatty["data"]]) == (None, ["chat"])

    config = cli("train", "--data", "chat", "--model", "tiny", "--lit-model", "toy-regime", "--print-config")
    assert (config.returncode, lines(config.stderr)) == (0, [warning])
    assert yaml.safe_load(config.stdout)["data"]["name"] == "textclf-chatty:chat"

    strict = site.run("plugins", "--json", env={"TEXTCLF_STRICT_PLUGINS": "1"})
    assert (strict.returncode, strict.stdout) == (1, "")
    assert lines(strict.stderr) == [f"error: {warning[len('warning: '):]} (TEXTCLF_STRICT_PLUGINS is set)"]


def test_component_module_output_goes_to_stderr(site, cli):
    src.add_good(site)
    site.add("textclf-loud", src.data_only("loud", "loud_components:Loud"),
             extra={"loud_components": src.LOUD_COMPONENT})
    result = cli("train", "--data", "loud", "--model", "tiny", "--lit-model", "toy-regime", "--print-config")
    assert (result.returncode, lines(result.stderr)) == (0, ["loud: importing"])
    assert yaml.safe_load(result.stdout)["data"]["name"] == "textclf-loud:loud"


def test_builtin_names_stay_the_builtins(site, cli, tmp_path):
    src.add_good(site)
    site.add("textclf-x", src.data_only("files", "good_plugin_components:Reviews", "Not the built-in"))
    warning = ("warning: plugin textclf-x 1.0 registers data 'files', which textclf already provides; "
               "--data files stays the built-in, --data textclf-x:files chooses the plugin's")
    args = ("train", "--model", "tiny", "--lit-model", "toy-regime", "--print-config")
    train = tmp_path / "train.csv"
    train.write_text("text,label\ngood,pos\n")

    builtin = cli(*args, "--data", "files", "--data.train", str(train))
    assert (builtin.returncode, lines(builtin.stderr)) == (0, [warning])
    data = yaml.safe_load(builtin.stdout)["data"]
    assert (data["name"], data["train"]) == ("textclf:files", str(train))

    chosen = cli(*args, "--data", "textclf-x:files")
    assert (chosen.returncode, lines(chosen.stderr)) == (0, [warning])
    assert yaml.safe_load(chosen.stdout)["data"] == yaml.safe_load(
        cli(*args, "--data", "reviews").stdout)["data"] | {"name": "textclf-x:files"}

    listed = site.run("plugins", "--json")
    assert (listed.returncode, lines(listed.stderr)) == (0, [warning])
    assert json.loads(listed.stdout)["collisions"] == []
    table = site.run("plugins")
    assert "note:" not in table.stdout
    assert ["textclf-x", "1.0", "data", "files", "Not the built-in"] in table_rows(table.stdout)
