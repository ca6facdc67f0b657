"""Every fenced block of README.md, docs/plugins.md and docs/architecture.md runs here, so that a
broken snippet fails a test instead of a reader.

What a block is comes from its info string. GitHub renders only the first word (the language);
the words after it are for this harness:

- ``python file=PATH`` / ``toml file=PATH``: a file of the document's example plugin, at PATH in
  its project directory (named by the pyproject's ``[project] name``). Every such file is written
  before any block runs, and the plugin installed as an editable install would be: the project
  directory on ``sys.path`` (and ``PYTHONPATH``), and a ``.dist-info`` written from the pyproject's
  ``[project.entry-points.textclf]`` table, as pip would write it. Python files must compile and
  import; the pyproject's plugin must load (``check_plugin``), and a whole pyproject (one with a
  ``[build-system]``) must build, offline, into a wheel with those files and entry points.
- ``python``: run in document order, in one namespace per document (like a notebook), in the
  document's work directory. A block that defines ``test_`` functions is a test file instead: a
  document's test files run in one pytest process (textclf's fixtures come with textclf), started
  in the background when the module starts, and each block's test reports its own tests.
- ``yaml``: a config file; ``textclf train --config FILE --print-config`` must take it and print
  every value it sets.
- ``toml`` without ``file=``: parsed.
- ``sh``: every command runs in the work directory; ``textclf`` commands inside this process (the
  ``textclf_cli`` fixture), others in bash. ``make TARGET`` is checked with ``make -n``. Commands
  that need the internet or hardware this machine lacks are dry runs (see ``dry_run``).
- ``console``: ``$ COMMAND`` lines, each followed by the output it must print (stdout, then
  stderr), compared with runs of whitespace as one space; ``...`` stands for anything. Output
  starting with ``error:`` means the command must fail, any other that it must succeed.
- ``text``: output and listings, not run. ``text tree`` is a directory listing (its first line
  the directory, in the work directory; ``tree=repo``: paths in this repository) whose every name
  must exist; ``text synopsis`` lists ``textclf`` commands whose every option must be in the
  command's ``--help``.

Any other info string, or none, fails its test: a new block is either run or explicitly text.

Each document has a work directory of its own, prepared with what its commands name: for the
README, a finished run of the tiny model at the run directory it names (``RUN``; a DistilBERT run
would need a download and a GPU), ``reviews.csv``, ``train.csv`` and ``test.csv``. Blocks build on
earlier blocks of their document, as in a reader's session, so run a document's blocks together.
"""

from __future__ import annotations

import configparser
import importlib
import os
import re
import shlex
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ElementTree
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import plugin_sources as src
import pytest
import yaml
from textclf.testing import PluginSite, separable_texts, write_rows, write_separable_dataset
from textclf.testing.sites import forget_modules_under
from tiny_runs import train

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "docs/plugins.md", "docs/architecture.md")
#: The run directory the README's commands name; here it holds a run of the tiny model.
RUN = "runs/imdb-distilbert-20261123-101500"
#: Info strings: the language, and the attributes each may have.
KNOWN = {"python": {"file"}, "toml": {"file"}, "yaml": set(), "sh": set(), "console": set(),
         "text": {"tree", "synopsis"}}
#: Options of ``textclf train`` whose values need what a test machine lacks, and why.
NEEDS = {("--data", "imdb"): "--data imdb downloads the 84 MB IMDB archive",
         ("--model", "distilbert"): "--model distilbert downloads its checkpoint from the Hugging Face hub"}


# -- the blocks ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Block:
    doc: str
    line: int  # of the opening fence
    lang: str
    attrs: tuple[tuple[str, str], ...]
    source: str

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}:{self.lang or 'unlabelled'}"

    def attr(self, name: str) -> str | None:
        return dict(self.attrs).get(name)

    @property
    def is_tests(self) -> bool:
        return self.lang == "python" and self.attr("file") is None and bool(
            re.search(r"^def test_", self.source, re.MULTILINE))


FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")


def blocks_of(doc: str) -> list[Block]:
    """The fenced blocks of ``doc``, their content without the fence's indentation."""
    lines = (ROOT / doc).read_text(encoding="utf-8").splitlines()
    found, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        i += 1
        if not opening:
            continue
        indent, fence, words = len(opening["indent"]), opening["fence"], opening["info"].split()
        body: list[str] = []
        while i < len(lines) and not (lines[i].strip().startswith(fence[0] * len(fence))
                                      and not lines[i].strip().strip(fence[0])):
            body.append(lines[i][indent:] if not lines[i][:indent].strip() else lines[i])
            i += 1
        closed = i < len(lines)
        i += 1
        attrs = tuple((word.partition("=")[0], word.partition("=")[2]) for word in words[1:])
        lang = (words[0] if words else "") if closed else "<unclosed fence>"
        found.append(Block(doc, i - len(body) - 1, lang, attrs, "\n".join(body) + "\n"))
    return found


BLOCKS = [block for doc in DOCS for block in blocks_of(doc)]


# -- the work directories -----------------------------------------------------------------------

@dataclass
class Workspace:
    """One document's work directory, its example plugin, its namespace and its test files."""

    doc: str
    root: Path
    namespace: dict[str, Any] = field(default_factory=dict)
    project: Path | None = None  # the example plugin's project directory
    site: Path | None = None  # its .dist-info
    tests: subprocess.Popen[bytes] | None = None

    @property
    def blocks(self) -> list[Block]:
        return [block for block in BLOCKS if block.doc == self.doc]

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def paths(self) -> list[Path]:
        """What goes on sys.path (and PYTHONPATH) for the example plugin to be installed."""
        return [p for p in (self.project, self.site) if p is not None]

    def env(self) -> dict[str, str]:
        """A subprocess's environment: the example plugin installed, no TEXTCLF_* settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTCLF_")}
        paths = [*map(str, self.paths), env.get("PYTHONPATH", "")]
        env["PYTHONPATH"] = os.pathsep.join(path for path in paths if path)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env["TEXTCLF_CACHE"] = str(self.cache)
        return env

    def install_plugin(self) -> None:
        """Write the ``file=`` blocks into the project directory and install it as editable."""
        files = [block for block in self.blocks if block.attr("file")]
        pyprojects = [tomllib.loads(b.source) for b in files if b.attr("file") == "pyproject.toml"]
        if not files:
            return
        assert len(pyprojects) == 1, f"{self.doc}: its plugin's files need one pyproject.toml"
        project = pyprojects[0]["project"]
        self.project = self.root / project["name"]
        for block in files:
            path = self.project / str(block.attr("file"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.source, encoding="utf-8")
        for package in {path.parent for path in self.project.rglob("*.py")} - {self.project}:
            (package / "__init__.py").touch()  # the layout lists it: an empty file
        self.site = self.root / "site"
        info = self.site / f"{project['name'].replace('-', '_')}-{project.get('version', '0')}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project.get('version', '0')}\n")
        entries = project.get("entry-points", {}).get("textclf", {})
        (info / "entry_points.txt").write_text(
            "[textclf]\n" + "".join(f"{name} = {target}\n" for name, target in entries.items()))
        importlib.invalidate_caches()

    def start_tests(self) -> None:
        """Write the document's test blocks as test files and run them with pytest, in the background."""
        directory = self.root / "doc_tests"
        directory.mkdir()
        for block in self.blocks:
            if block.is_tests:
                (directory / f"{module_of_tests(block)}.py").write_text(block.source, encoding="utf-8")
        log = (self.root / "doc_tests.log").open("wb")
        self.tests = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib",
             f"--junitxml={self.root / 'doc_tests.xml'}", "-o", "addopts=", str(directory)],
            cwd=directory, env=self.env(), stdout=log, stderr=subprocess.STDOUT)

    def test_results(self) -> dict[str, list[tuple[str, str | None]]]:
        """Each test module's tests: (name, None when it passed, else why not)."""
        assert self.tests is not None, "the document's tests were not started"
        code = self.tests.wait(timeout=600)
        report = self.root / "doc_tests.xml"
        log = (self.root / "doc_tests.log").read_text(errors="replace")
        assert report.is_file(), f"pytest exited {code} without a report:\n{log[-3000:]}"
        results: dict[str, list[tuple[str, str | None]]] = {}
        for case in ElementTree.parse(report).getroot().iter("testcase"):
            problem = next((c for c in case if c.tag in ("failure", "error")), None)
            why = None if problem is None else (
                problem.get("message", "") + "\n...\n" + (problem.text or "")[-2000:])
            results.setdefault(case.get("classname", "").rpartition(".")[2], []).append(
                (case.get("name", ""), why))
        return results


def module_of_tests(block: Block) -> str:
    return f"test_{Path(block.doc).stem.lower()}_{block.line}"


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory, request) -> Iterator[dict[str, Workspace]]:
    """Every document's work directory, prepared for the blocks selected to run."""
    selected = {item.callspec.params["block"] for item in request.session.items
                if hasattr(item, "callspec") and "block" in item.callspec.params}
    spaces = {doc: Workspace(doc, tmp_path_factory.mktemp(Path(doc).stem)) for doc in DOCS}
    for space in spaces.values():
        space.install_plugin()
        if any(block.is_tests and block in selected for block in space.blocks):
            space.start_tests()  # while the rest runs here
    readme = spaces["README.md"]
    if any(block in selected for block in readme.blocks):
        prepare_readme(readme)
    yield spaces
    for space in spaces.values():
        for path in space.paths:
            forget_modules_under(path)
        if space.tests is not None and space.tests.poll() is None:
            space.tests.kill()
            space.tests.wait()


def prepare_readme(space: Workspace) -> None:
    """The files the README's commands name: its run (of the tiny model, trained here once),
    ``train.csv`` and ``test.csv``, and ``reviews.csv`` with a ``review`` column."""
    site = PluginSite(space.root / "tiny-site")
    site.add("textclf-tiny", src.TINY_MODEL)
    site.data, site.cache, site.cwd = write_separable_dataset(space.root), space.cache, space.root
    trained = train(site, "--run-dir", RUN, "--max-epochs", "2")
    assert trained.returncode == 0, trained.stderr
    write_rows(space.root / "reviews.csv", separable_texts(20, seed=3), text_column="review")


@pytest.fixture
def space(block, workspaces, textclf_site, monkeypatch) -> Workspace:
    """The block's workspace, made current: its plugin importable (and no other document's), its
    work directory the current one, and the tiny model installed for the README's run."""
    current = workspaces[block.doc]
    for other in workspaces.values():
        if other is not current:
            for path in other.paths:
                forget_modules_under(path)
    for path in reversed(current.paths):
        monkeypatch.syspath_prepend(str(path))
    importlib.invalidate_caches()
    monkeypatch.chdir(current.root)
    textclf_site.add("textclf-tiny", src.TINY_MODEL)
    return current


# -- the test -----------------------------------------------------------------------------------

@pytest.mark.parametrize("block", BLOCKS, ids=[block.id for block in BLOCKS])
def test_block(block: Block, space: Workspace, textclf_cli, monkeypatch) -> None:
    unknown = {name for name, _ in block.attrs} - KNOWN.get(block.lang, set())
    assert block.lang in KNOWN and not unknown, (
        f"{block.id}: unknown info string {block.lang!r} {sorted(unknown) or ''}; label every block "
        f"with one of {', '.join(KNOWN)} (text for output and listings) so that it is run or "
        f"explicitly not")
    run = Runner(space, textclf_cli, monkeypatch)
    if block.attr("file"):
        check_file(block, space)
    elif block.is_tests:
        check_tests(block, space)
    else:
        {"python": run.python, "yaml": run.config, "toml": lambda b: tomllib.loads(b.source),
         "sh": run.sh, "console": run.console, "text": run.text}[block.lang](block)


def check_file(block: Block, space: Workspace) -> None:
    path = Path(str(block.attr("file")))
    if path.suffix == ".py":
        compile(block.source, f"{block.id} ({path})", "exec")
        importlib.import_module(".".join(path.with_suffix("").parts))
    elif path.name == "pyproject.toml":
        from textclf.testing import check_plugin

        pyproject = tomllib.loads(block.source)
        entries = pyproject["project"].get("entry-points", {}).get("textclf")
        assert entries, "no [project.entry-points.textclf] table"
        check_plugin(pyproject["project"]["name"])
        if "build-system" in pyproject:  # a whole pyproject, not a fragment: it builds
            assert space.project is not None
            check_wheel(space.project, entries)


def check_wheel(project: Path, entries: dict[str, str]) -> None:
    """The project builds (offline, with the build backend installed here) into a wheel holding
    its Python files and the entry points the harness installed it with."""
    wheels = project.parent / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index",
                            "--no-build-isolation", "-q", "-w", str(wheels), str(project)],
                           capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    with zipfile.ZipFile(next(wheels.glob("*.whl"))) as wheel:
        names = set(wheel.namelist())
        points = next(wheel.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    sources = {str(p.relative_to(project)) for p in project.rglob("*.py")}
    assert sources <= names, f"the wheel lacks {sorted(sources - names)}"
    parsed = configparser.ConfigParser()
    parsed.read_string(points)
    assert dict(parsed["textclf"]) == entries


def check_tests(block: Block, space: Workspace) -> None:
    results = space.test_results().get(module_of_tests(block))
    assert results, f"{block.id}: pytest ran none of its tests; see {space.root / 'doc_tests.log'}"
    failed = [f"{name}: {why}" for name, why in results if why is not None]
    assert not failed, f"{block.id}: " + "\n\n".join(failed)


@dataclass
class Runner:
    """Runs blocks of one document in its workspace."""

    space: Workspace
    cli: Callable[..., Any]
    monkeypatch: pytest.MonkeyPatch
    helps: dict[tuple[str, ...], str] = field(default_factory=dict)

    def python(self, block: Block) -> None:
        self.space.namespace.setdefault("__name__", f"doc_{Path(block.doc).stem.lower()}")
        exec(compile(block.source, block.id, "exec"), self.space.namespace)

    def textclf(self, *args: str) -> Any:
        return self.cli(*args, env={"TEXTCLF_CACHE": str(self.space.cache)}, cwd=self.space.root)

    def command(self, words: list[str]) -> tuple[int, str, str]:
        """Run one command line; returns its exit status, stdout and stderr."""
        if words[0] == "textclf":
            if dry_run_reason(words[1:]):
                self.dry_run(words[1:])
                return 0, "", ""
            result = self.textclf(*words[1:])
            return result.returncode, result.stdout, result.stderr
        if words[0] == "make":
            # The targets exist and their recipes parse; make train would install and train.
            words = ["make", "-n", *words[1:]]
            done = subprocess.run(words, cwd=ROOT, capture_output=True, text=True, timeout=60)
        else:
            done = subprocess.run(shlex.join(words), shell=True, executable="/bin/bash",
                                  cwd=self.space.root, env=self.space.env(), capture_output=True,
                                  text=True, timeout=120)
        return done.returncode, done.stdout, done.stderr

    def sh(self, block: Block) -> None:
        for words in command_lines(block.source):
            code, out, err = self.command(words)
            assert code == 0, f"{shlex.join(words)} exited {code}:\n{out[-2000:]}\n{err[-2000:]}"

    def console(self, block: Block) -> None:
        for command, expected in console_sessions(block.source):
            code, out, err = self.command(shlex.split(command))
            printed = out + err
            assert matches(expected, printed), (
                f"$ {command}\nexpected:\n{expected}\nprinted (exit {code}):\n{printed[-3000:]}")
            failing = expected.lstrip().startswith("error:")
            assert (code != 0) == failing, f"$ {command} exited {code}:\n{printed[-2000:]}"

    def config(self, block: Block) -> None:
        """A config file: ``--print-config`` takes it and prints every value it sets. A dry run:
        the README's config names IMDB and DistilBERT, which need downloads to train."""
        path = self.space.root / f"config-{block.line}.yaml"
        path.write_text(block.source)
        given = yaml.safe_load(block.source)
        printed = self.print_config("train", "--config", str(path))
        for section, values in given.items():
            for key, value in values.items():
                shown = printed[section][key]
                if key == "name":  # printed qualified by its distribution: textclf-imdb:imdb
                    shown = shown.rpartition(":")[2]
                assert shown == value, f"{section}.{key}: the config says {value!r}, textclf used {shown!r}"

    def print_config(self, *args: str) -> dict[str, Any]:
        result = self.textclf(*args, "--print-config")
        assert result.returncode == 0, f"textclf {shlex.join(args)} --print-config: {result.stderr}"
        return yaml.safe_load(result.stdout)

    def dry_run(self, args: list[str]) -> None:
        """``textclf train ARGS`` without training, for a command that needs the internet or
        hardware that a test machine lacks (``dry_run_reason`` says which). ``--print-config``
        resolves everything ``textclf train`` resolves before it starts: every component by name
        (imported), every option parsed and checked against its type, the config file, the
        model's suggestions. Then the trainer options go through the hardware check that
        ``textclf train`` makes before it starts any process, on a machine that has what the
        command asks for (``--devices 4`` on GPUs: 4 CUDA devices, pretended). Not tested:
        the downloads, and training itself on that hardware."""
        from textclf.training.trainer import check_hardware
        from textclf.training.trainer_options import TrainerOptions

        options = TrainerOptions(**self.print_config(*args)["trainer"])
        with pretended_hardware(options, self.monkeypatch):
            check_hardware(options)

    def text(self, block: Block) -> None:
        if block.attr("tree") is not None:
            root = ROOT if block.attr("tree") == "repo" else self.space.root
            missing = [name for name in tree_names(block.source) if not (root / name).exists()]
            assert not missing, f"{block.id}: the listing names what {root} does not have: {missing}"
        if block.attr("synopsis") is not None:
            for command, flags, choices in synopsis_lines(block.source):
                shown = self.help(command, choices)
                unknown = [flag for flag in flags
                           if not re.search(rf"(?<![\w.-]){re.escape(flag)}(?![\w-])", shown)]
                assert not unknown, (f"textclf {' '.join(command)}: --help has no {', '.join(unknown)}")

    def help(self, command: tuple[str, ...], choices: tuple[str, ...]) -> str:
        key = command + choices
        if key not in self.helps:
            result = self.textclf(*command, *choices, "--help")
            assert result.returncode == 0, f"textclf {' '.join(key)} --help: {result.stderr}"
            self.helps[key] = result.stdout
        return self.helps[key]


def dry_run_reason(args: list[str]) -> str | None:
    """Why ``textclf ARGS`` cannot really run in a test: the downloads or the devices it needs."""
    if not args or args[0] != "train":
        return None
    reasons = [why for (flag, value), why in NEEDS.items() if option_value(args, flag) == value]
    devices = option_value(args, "--devices")
    if devices not in (None, "1", "auto"):
        reasons.append(f"--devices {devices} needs that many GPUs or CPU processes")
    return "; ".join(reasons) or None


def option_value(args: list[str], flag: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(f"{flag}="):
            return arg.partition("=")[2]
    return None


@contextmanager
def pretended_hardware(options: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This machine, with as many CUDA GPUs (for a GPU run) or CPU cores as ``options`` ask for."""
    import torch

    wanted = options.lightning_devices()
    count = len(wanted) if isinstance(wanted, list) else wanted if isinstance(wanted, int) else 1
    cores = max(count, os.cpu_count() or 1)
    with monkeypatch.context() as patch:
        if options.accelerator in ("auto", "gpu", "cuda"):
            patch.setattr(torch.cuda, "is_available", lambda: True)
            patch.setattr(torch.cuda, "device_count", lambda: max(count, 1))
        else:
            patch.setattr(os, "cpu_count", lambda: cores)
        yield


# -- reading blocks -----------------------------------------------------------------------------

def command_lines(source: str) -> list[list[str]]:
    """The commands of a shell block: ``\\`` continues a line, ``#`` starts a comment."""
    joined = re.sub(r"\\\n", " ", source)
    return [words for line in joined.splitlines() if (words := shlex.split(line, comments=True))]


def console_sessions(source: str) -> list[tuple[str, str]]:
    """(command, expected output) for each ``$ `` line of a console block."""
    sessions: list[tuple[str, list[str]]] = []
    for line in source.splitlines():
        if line.startswith("$ "):
            sessions.append((line[2:], []))
        else:
            assert sessions, f"console output before any '$ ' command: {line!r}"
            sessions[-1][1].append(line)
    return [(command, "\n".join(lines)) for command, lines in sessions]


def matches(expected: str, printed: str) -> bool:
    """``printed`` is ``expected``, runs of whitespace counting as one space. ``...`` on a line of
    its own stands for any lines, ``...`` within a line for any text."""
    parts = [r".*?".join(re.escape(" ".join(piece.split())).replace(r"\ ", r"\s+")
                         for piece in part.split("..."))
             for part in re.split(r"^[ \t]*\.\.\.[ \t]*$", expected, flags=re.MULTILINE)]
    pattern = parts[0]
    for before, part in zip(parts, parts[1:]):
        pattern += (r"(?:\s|\s.*?\s)" if before and part else r".*?") + part
    return re.fullmatch(r"\s*" + pattern + r"\s*", printed, re.DOTALL) is not None


#: A name in a listing: a path with an extension, or a directory (ending in /).
NAME = re.compile(r"^[\w.-]+(/[\w.-]+)*(/|\.[A-Za-z]\w*)$")


def tree_names(source: str) -> list[str]:
    """The paths a directory listing names. Each line starts with its names (separated by spaces
    or commas); two spaces end them and start a description. A line whose words are not all
    names continues the description above. Names indented under a directory are inside it."""
    names: list[str] = []
    parents: list[tuple[int, str]] = []  # (indentation, directory) of the enclosing directories
    for line in source.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        words = re.split(r"[,\s]+", re.split(r"\s{2,}", line.strip())[0].strip(", "))
        if not all(NAME.match(word) for word in words):
            continue
        while parents and parents[-1][0] >= indent:
            parents.pop()
        prefix = parents[-1][1] if parents else ""
        for word in words:
            names.append(prefix + word)
        if len(words) == 1 and words[0].endswith("/"):
            parents.append((indent, prefix + words[0]))
    return names


def synopsis_lines(source: str) -> list[tuple[tuple[str, ...], list[str], tuple[str, ...]]]:
    """For each command of a synopsis: its subcommand words, the options it names, and the
    components it chooses by a concrete name (``--data files``), which bring their options."""
    logical: list[str] = []
    for line in source.splitlines():
        if line.startswith((" ", "\t")) and logical:
            logical[-1] += " " + line.strip()
        elif line.strip():
            logical.append(line.strip())
    found = []
    for line in logical:
        for part in re.split(r"\s+/\s+(?=textclf\b)", line.replace("\\", " ")):
            words = part.split()
            if not words or words[0] != "textclf":
                continue
            command = []
            for word in words[1:]:
                if not re.fullmatch(r"[a-z][a-z-]*", word):
                    break
                command.append(word)
            flags = sorted(set(re.findall(r"--[a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*)?", part)))
            choices = tuple(w for flag in ("--data", "--model", "--lit-model")
                            if (value := option_value(words, flag)) and re.fullmatch(r"[a-z][\w.:-]*", value)
                            for w in (flag, value))
            found.append((tuple(command), flags, choices))
    return found


# -- the documents as a whole -------------------------------------------------------------------

def test_the_readme_starts_with_two_commands():
    """The quick start stays two commands: make train and make test."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Quick start"):]
    first = next(block for block in blocks_of("README.md") if block.source in section)
    assert [words[:2] for words in command_lines(first.source)] == [["make", "train"], ["make", "test"]]


def test_the_harness_reads_blocks_as_the_documents_mean_them():
    """The parsers on small samples: listings, synopses, console output."""
    listing = "runs/x/\n    config.yaml      every option\n    checkpoints/     best.ckpt and last.ckpt\n" \
              "    textclf.json     format version,\n                     the textclf/plugin versions\n" \
              "    data/ models/    the contracts\n    a.py, b.py       small pieces\n"
    assert tree_names(listing) == ["runs/x/", "runs/x/config.yaml", "runs/x/checkpoints/",
                                   "runs/x/textclf.json", "runs/x/data/", "runs/x/models/",
                                   "runs/x/a.py", "runs/x/b.py"]
    synopsis = ("textclf plugins [--json]                 what is installed\n"
                "textclf train --data files [--data.val V] \\\n    [--seed N] [--data.OPTION V]\n"
                "textclf install ARGS... / textclf uninstall ARGS...\n")
    assert synopsis_lines(synopsis) == [(("plugins",), ["--json"], ()),
                                        (("train",), ["--data", "--data.val", "--seed"], ("--data", "files")),
                                        (("install",), [], ()), (("uninstall",), [], ())]
    assert matches("error: a\n...\nlast: 1", "error: a\nmiddle\n  last:   1\n")
    assert not matches("error: a", "error: ab\n")
    assert matches("error: x: ... (see)", "error: x: anything at all (see)\n")
    assert dry_run_reason(["train", "--data", "imdb", "--model", "tiny"])
    assert dry_run_reason(["train", "--data", "files", "--model", "tiny", "--devices", "2"])
    assert dry_run_reason(["train", "--data", "files", "--model", "tiny"]) is None
