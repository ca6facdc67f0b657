"""What a textclf bundle is, and checking one: shared by ``textclf export`` and ``textclf.runtime``.

Torch-free, as the runtime that imports it: the standard library and textclf's light modules;
signatures are ``textclf.signing``'s (with the ``cryptography`` package), and pyyaml only to write the model card (at export).

A bundle is one flat directory: ``textclf.json`` (the manifest), the files it lists, and, when
signed, ``textclf.sig``. The manifest lists every other file with its size and SHA-256 and
carries a SHA-256 of its own content. Those checksums catch accidents (a truncated download, bit
rot, a partial or mixed-up copy) but prove nothing about who made the bundle: they have no
secret, so whoever edits a bundle can recompute them. An Ed25519 signature over the manifest's
checksum, checked against public keys the user trusts, is what proves a bundle came from its
publisher unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from textclf import atomic
from textclf.errors import TextclfError
from textclf.records import file_sha256
from textclf.text import TRUNCATIONS


#: The bundle format this textclf writes and the newest it reads.
FORMAT = 1
MANIFEST = "textclf.json"
SIGNATURE = "textclf.sig"
#: The model's inputs, in the order the runtime passes them.
INPUTS = ["input_ids", "attention_mask"]
#: What a bundle's scores mean: one label per text (softmax; the default, and every bundle
#: written before tasks were recorded), or any set of labels per text (a sigmoid per label,
#: each compared with its own threshold from ``thresholds``).
SINGLE_LABEL, MULTI_LABEL = "single_label", "multi_label"
TASKS = (SINGLE_LABEL, MULTI_LABEL)
_SHA256 = re.compile(r"[0-9a-f]{64}")


class BundleError(TextclfError):
    """A bundle that cannot be used: missing, damaged, tampered with, or from a newer textclf."""


def manifest_digest(manifest: dict[str, Any]) -> str:
    """SHA-256 over the manifest's content, without the digest field itself."""
    content = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def verify(directory: Path, *, files: bool = True,
           trusted_keys: Sequence[str | Path] | None = None) -> dict[str, Any]:
    """The manifest of the bundle in ``directory``, after checking its checksum, its signature
    (with ``trusted_keys``), every field, and (with ``files``) that it lists exactly the files
    there with their sizes and SHA-256; without ``files``, only that its model and tokenizer are
    regular files inside the bundle."""
    from textclf import signing  # which imports this module

    keys = None if trusted_keys is None else signing.public_keys(trusted_keys)
    manifest = read_manifest(directory)
    if keys is not None:
        signing.check_signature(directory, manifest, keys)
    check_fields(directory / MANIFEST, manifest)
    if files:
        check_files(directory, manifest)
    else:
        for name in (manifest["model"], manifest["tokenizer"]):
            member(directory, name)
    return manifest


def read_manifest(directory: Path) -> dict[str, Any]:
    """``textclf.json``, if it is one this textclf reads and its checksum holds."""
    path = directory / MANIFEST
    if not directory.is_dir():
        raise BundleError(f"{directory}: no such bundle directory")
    if not os.path.lexists(path):
        raise BundleError(f"{directory}: not a textclf bundle (no {MANIFEST}); export one with "
                          f"textclf export RUN --output DIR")
    member(directory, MANIFEST)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path}: damaged ({one_line(exc)}); export the bundle again") from None
    version = manifest.get("format") if isinstance(manifest, dict) else None
    if not isinstance(version, int) or isinstance(version, bool):
        raise BundleError(f"{path}: not a textclf bundle manifest (no format version); export the "
                          f"bundle again")
    if version > FORMAT:
        from textclf import __version__

        raise BundleError(f"{directory}: bundle format {version} is newer than this textclf "
                          f"{__version__} reads (format {FORMAT}); upgrade textclf")
    if manifest.get("manifest_sha256") != manifest_digest(manifest):
        raise BundleError(f"{path}: changed after export (its checksum does not match); export "
                          f"the bundle again")
    return manifest


# -- fields ---------------------------------------------------------------------------------------
def check_fields(path: Path, manifest: dict[str, Any]) -> None:
    """Each field the runtime relies on has the type and range it must; one line for the first
    that does not."""
    def wrong(field: str, wanted: str) -> BundleError:
        return BundleError(f'{path}: "{field}" is {_shown(manifest.get(field))}, where a bundle has '
                           f'{wanted}; export the bundle again')

    if manifest["format"] < 1:
        raise wrong("format", "a format version of 1 or more")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise wrong("files", "an object from each file's name to its size and SHA-256")
    for name, entry in files.items():
        if not _plain_name(name):
            # Not echoed: the name may point outside the bundle, which a message must not name.
            raise BundleError(f'{path}: "files" lists a path, not a file name in the bundle '
                              f'directory (absolute, with a directory part, or reserved); export '
                              f'the bundle again')
        if not (isinstance(entry, dict) and _count(entry.get("bytes"), 0)
                and isinstance(entry.get("sha256"), str) and _SHA256.fullmatch(entry["sha256"])):
            raise BundleError(f'{path}: "files" entry {name} is {_shown(entry)}, where a bundle '
                              f'has {{"bytes": size, "sha256": hex digest}}; export the bundle again')
    for field in ("model", "tokenizer", "card"):
        if (field != "card" or field in manifest) and manifest.get(field) not in files:
            raise wrong(field, 'the name of a file it lists in "files"')
    labels: Any = manifest.get("labels")
    if not (_names(labels) and len(set(labels)) == len(labels)):
        raise wrong("labels", "a non-empty list of distinct, non-empty strings")
    if not _count(manifest.get("max_length"), 3):
        raise wrong("max_length", "a whole number of 3 or more")
    if manifest.get("truncation") not in TRUNCATIONS:
        raise wrong("truncation", f"one of {', '.join(TRUNCATIONS)}")
    if manifest.get("inputs") != INPUTS:
        raise wrong("inputs", json.dumps(INPUTS))
    task = manifest.get("task", SINGLE_LABEL)
    if task not in TASKS:
        raise wrong("task", f"one of {', '.join(TASKS)}")
    if task == MULTI_LABEL and not _thresholds(manifest.get("thresholds"), len(labels)):
        raise wrong("thresholds", f"a list of {len(labels)} decision thresholds (one per label), each "
                                  f"above 0 and below 1")
    for field, (valid, wanted) in _INFORMATIONAL.items():
        if field in manifest and not valid(manifest[field]):
            raise wrong(field, wanted)


def check_model(path: Path, manifest: dict[str, Any], session: Any,
                first_logits: Callable[[], Any]) -> None:
    """The onnxruntime ``session`` takes the inputs the manifest names and gives one score per
    label: by its declared output shape when static, else by ``first_logits()``, a prediction."""
    inputs = {(i.name, i.type) for i in session.get_inputs()}
    if inputs != {(name, "tensor(int64)") for name in INPUTS}:
        shown = ", ".join(f"{name} ({kind})" for name, kind in sorted(inputs)) or "none"
        raise BundleError(f"{path}: the model's inputs are {shown}, where a bundle's are "
                          f"{' and '.join(INPUTS)} (int64); export the bundle again")
    outputs = session.get_outputs()
    shape = list(outputs[0].shape) if outputs and outputs[0].shape is not None else []
    if len(shape) != 2:
        raise BundleError(f"{path}: the model's first output is not a [batch, labels] matrix; "
                          f"export the bundle again")
    width = shape[1] if isinstance(shape[1], int) else None
    if width is None:
        try:
            logits = first_logits()
        except Exception as exc:  # onnxruntime raises its own types; any means the model is unusable
            raise BundleError(f"{path}: the model fails on a first text ({one_line(exc)}); export "
                              f"the bundle again") from None
        width = logits.shape[1] if getattr(logits, "ndim", 0) == 2 else -1
    labels = manifest["labels"]
    if width != len(labels):
        raise BundleError(f"{path}: the model gives {width} scores per text, but the bundle has "
                          f"{len(labels)} labels ({_shown(labels)}); export the bundle again")


def _count(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _names(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(x, str) and x for x in value)


def _thresholds(value: Any, count: int) -> bool:
    return (isinstance(value, list) and len(value) == count
            and all(isinstance(t, (int, float)) and not isinstance(t, bool) and 0 < t < 1 for t in value))


def _plain_name(name: Any) -> bool:
    """A file name directly in the bundle directory, printable, the same on every system."""
    return (isinstance(name, str) and name.isprintable() and name not in ("", ".", "..", MANIFEST, SIGNATURE)
            and not any(c in name for c in "/\\:"))


#: Fields the runtime does not use, checked when present: (valid, what a bundle has).
_INFORMATIONAL: dict[str, tuple[Callable[[Any], bool], str]] = {
    "outputs": (_names, "a non-empty list of output names"),
    "pad_id": (lambda value: _count(value, 0), "a whole number of 0 or more"),
    "input_dtype": (lambda value: value == "int64", '"int64"'),
    "quantization": (lambda value: value in (None, "int8"), 'null or "int8"'),
    **{field: (lambda value: isinstance(value, dict), "an object") for field in ("producer", "run", "checks")},
}


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=True, default=str) if value is not None else "missing"
    return text if len(text) <= 60 else text[:57] + "..."


def one_line(exc: BaseException) -> str:
    """The first line of a library's message, whitespace collapsed, at most 200 characters."""
    lines = [line for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
    text = " ".join(lines[0].split())
    return text if len(text) <= 200 else text[:197] + "..."


# -- files ----------------------------------------------------------------------------------------
def member(directory: Path, name: str) -> Path:
    """``directory / name``, a regular file inside the bundle (a symbolic link may point to one
    that is); a clear error otherwise, that names nothing outside the bundle."""
    path = directory / name
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        raise BundleError(f"{path}: missing from the bundle; export it again") from None
    if stat.S_ISLNK(mode):
        # Resolved before it is ever opened, so nothing outside the bundle is read or stat-ed.
        if not Path(os.path.realpath(path)).is_relative_to(os.path.realpath(directory)):
            raise BundleError(f"{path}: a symbolic link to a file outside the bundle; copy the "
                              f"file itself into the bundle, or export the bundle again")
        try:
            mode = os.stat(path).st_mode
        except OSError:
            raise BundleError(f"{path}: missing from the bundle (a broken link); export it "
                              f"again") from None
    if not stat.S_ISREG(mode):
        raise BundleError(f"{path}: not a regular file; a bundle holds only files, so export "
                          f"the bundle again")
    return path


def check_files(directory: Path, manifest: dict[str, Any]) -> None:
    """The bundle holds exactly the files its manifest lists, each of the size and SHA-256 listed."""
    listed: dict[str, dict[str, Any]] = manifest["files"]
    paths = {name: member(directory, name) for name in listed}
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        if entry.name not in listed and entry.name not in (MANIFEST, SIGNATURE):
            shown = entry.name if entry.name.isprintable() else json.dumps(entry.name)
            raise BundleError(f"{directory / shown}: in the bundle but not listed in {MANIFEST} "
                              f"(added after export); remove it, or export the bundle again")
    for name, path in paths.items():
        size = path.stat().st_size
        if size != listed[name]["bytes"]:
            raise BundleError(f"{path}: {size:,} bytes where the bundle says {listed[name]['bytes']:,} "
                              f"(truncated or replaced); export the bundle again")
    for name, path in paths.items():
        if file_sha256(path) != listed[name]["sha256"]:
            raise BundleError(f"{path}: its SHA-256 does not match the bundle's (changed, swapped "
                              f"or corrupted); export the bundle again")


def seal(directory: Path, manifest: dict[str, Any], names: Sequence[str]) -> None:
    """List the files ``names`` with their sizes and SHA-256, checksum the manifest, write it."""
    manifest["files"] = {name: {"bytes": (directory / name).stat().st_size,
                                "sha256": file_sha256(directory / name)} for name in names}
    manifest["manifest_sha256"] = manifest_digest(manifest)
    atomic.write_text(directory / MANIFEST, json.dumps(manifest, indent=2) + "\n")


def replaceable(path: Path) -> bool:
    """Whether writing a bundle may replace ``path``: an empty directory, or a bundle."""
    try:
        return (not path.is_symlink() and path.is_dir()
                and (os.path.lexists(path / MANIFEST) or not any(path.iterdir())))
    except OSError:  # a directory we may not list is nothing we may replace
        return False


def model_card(manifest: dict[str, Any], config: dict[str, Any]) -> str:
    """The bundle's README.md (``templates/model_card.md.tmpl``): what the model is, how it was
    trained and scores, how to run it."""
    import yaml

    run, producer = manifest["run"], manifest["producer"]
    rows = [f"| {split} | {values.get('acc', float('nan')):.4f} | {values.get('f1', float('nan')):.4f} "
            f"| {values.get('loss', float('nan')):.4f} |" for split, values in run["metrics"].items()]
    int8 = manifest.get("checks", {}).get("int8")
    multi = manifest.get("task") == MULTI_LABEL
    metric = "micro-F1" if int8 is not None and int8.get("metric") == "micro_f1" else "accuracy"
    note = "" if int8 is None else (
        f"\n\nThis bundle holds the int8 (dynamically quantized) model: validation {metric} "
        f"{int8['accuracy']['int8']:.4f} against {int8['accuracy']['fp32']:.4f} for fp32, the same "
        f"prediction on {int8['agreement']:.2%} of {int8['texts']} texts.")
    template = (resources.files("textclf") / "templates" / "model_card.md.tmpl").read_text(encoding="utf-8")
    return Template(template).substitute(
        name=run["name"], labels=", ".join(manifest["labels"]), textclf=producer["textclf"],
        data=run["data"], model=run["model"], lit_model=run["lit_model"],
        plugins=", ".join(f"{k} {v}" for k, v in producer["plugins"].items()),
        metric_rows="\n".join(rows), int8_note=note, num_labels=len(manifest["labels"]),
        metric_header="subset accuracy | micro-F1" if multi else "accuracy | macro-F1",
        task_note="" if not multi else (
            "\n\nMulti-label: a text gets every label whose own sigmoid probability reaches its threshold "
            "(tuned on the validation split): " + ", ".join(
                f"{label} {t:.3f}" for label, t in zip(manifest["labels"], manifest["thresholds"])) + "."),
        max_length=manifest["max_length"], truncation=manifest["truncation"],
        config=yaml.safe_dump(config, sort_keys=False).rstrip())
