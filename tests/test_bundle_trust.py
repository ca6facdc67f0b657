"""What loading a bundle trusts: only files inside it, all listed, every manifest field checked, a
model that fits its labels; and, with trusted keys, only a bundle one of them signed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import onnx
import onnxruntime
import plugin_sources as src
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from textclf import signing
from textclf import runtime
from textclf.errors import UsageError
from textclf.testing import PluginSite, lines
from tiny_runs import trained_bundle

NOT_MINE = ("error: signing bundles and checking their signatures needs the cryptography package: "
            "pip install 'textclf[sign]'")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Any]:
    """A finished run of the tiny model and its fp32 bundle, made once for the module."""
    return trained_bundle(tmp_path_factory.mktemp("trust"))


@pytest.fixture(autouse=True)
def tiny_plugin(textclf_site):
    """The in-process CLI sees the tiny model plugin too (exporting a run loads its model class)."""
    textclf_site.add("textclf-tiny", src.TINY_MODEL)


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, Path]:
    """Key files: the publisher's pair (PEM and OpenSSH), a stranger's public key, an RSA key."""
    root = tmp_path_factory.mktemp("keys")
    publisher, stranger = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    pem, ssh = serialization.Encoding.PEM, serialization.Encoding.OpenSSH
    files = {
        "private": publisher.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        "public": publisher.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo),
        "public_ssh": publisher.public_key().public_bytes(ssh, serialization.PublicFormat.OpenSSH) + b" me\n",
        "stranger": stranger.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo),
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    return {name: root / name for name in files}


@pytest.fixture(scope="module")
def signed(trained, keys, tmp_path_factory) -> dict[str, Any]:
    """The run exported with ``--sign``, through the installed command."""
    out = tmp_path_factory.mktemp("signed") / "bundle"
    site = PluginSite(trained["root"] / "site")
    result = site.run("export", str(trained["run"]), "--output", str(out), "--sign", str(keys["private"]),
                      env=trained["env"])
    assert result.returncode == 0, result.stderr
    return {"bundle": out, "stderr": result.stderr}


def copy_bundle(source: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(source, tmp_path / "bundle", symlinks=True))


def rewrite(bundle: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    """Edit textclf.json and recompute its checksum, as anyone who edits a bundle can."""
    manifest = json.loads((bundle / "textclf.json").read_text())
    edit(manifest)
    manifest["manifest_sha256"] = runtime.manifest_digest(manifest)
    (bundle / "textclf.json").write_text(json.dumps(manifest))


def relist(bundle: Path, *names: str) -> None:
    """List files ``names`` with their current size and SHA-256, checksum recomputed."""
    def edit(manifest: dict[str, Any]) -> None:
        for name in names:
            data = (bundle / name).read_bytes()
            manifest["files"][name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    rewrite(bundle, edit)


def refused(textclf_cli, bundle: Path, message: str, **load: Any) -> None:
    """``textclf predict`` and ``runtime.load`` both refuse ``bundle`` with ``message``, one line."""
    result = textclf_cli("predict", str(bundle), "a text") if not load else None
    if result is not None:
        assert (result.returncode, result.stdout, lines(result.stderr)) == (1, "", [f"error: {message}"])
    with pytest.raises(runtime.BundleError) as caught:
        runtime.load(bundle, **load)
    assert str(caught.value) == message


# -- the checksum: accidents, not authenticity ----------------------------------------------------
def test_an_edit_with_a_recomputed_checksum_passes_the_checksum(trained, tmp_path):
    """What the README says: the checksum has no secret, so only a signature catches this."""
    bundle = copy_bundle(trained["bundle"], tmp_path)
    before = runtime.load(bundle).predict(["a good great film", "bad awful poor"])
    rewrite(bundle, lambda m: m.update(labels=["pos", "neg"]))
    assert runtime.load(bundle).predict(["a good great film", "bad awful poor"]) == before[::-1]


# -- nothing outside the bundle, nothing unlisted --------------------------------------------------
SECRET = b"outside the bundle " * 7


def outside(bundle: Path) -> Path:
    path = bundle.parent / "secret.bin"
    path.write_bytes(SECRET)
    return path


def reach(bundle: Path, case: str) -> str:
    """Make ``bundle`` reach outside itself or hide a file, as ``case`` says; the message expected."""
    manifest_path = bundle / "textclf.json"
    listing = {"bytes": len(SECRET), "sha256": hashlib.sha256(SECRET).hexdigest()}
    path_listed = (f'{manifest_path}: "files" lists a path, not a file name in the bundle directory '
                   f'(absolute, with a directory part, or reserved); export the bundle again')
    if case == "model not listed":
        rewrite(bundle, lambda m: m["files"].pop("model.onnx"))
        return (f'{manifest_path}: "model" is "model.onnx", where a bundle has the name of a file it '
                f'lists in "files"; export the bundle again')
    if case == "files empty":
        rewrite(bundle, lambda m: m.update(files={}))
        return (f'{manifest_path}: "model" is "model.onnx", where a bundle has the name of a file it '
                f'lists in "files"; export the bundle again')
    if case == "listed file up and out":
        outside(bundle)
        rewrite(bundle, lambda m: m["files"].update({"../secret.bin": listing}))
        return path_listed
    if case == "listed file by absolute path":
        secret = outside(bundle)
        rewrite(bundle, lambda m: m["files"].update({str(secret): listing}))
        return path_listed
    if case == "model outside":
        secret = outside(bundle)
        rewrite(bundle, lambda m: (m["files"].update({"../secret.bin": listing}), m.update(model=str(secret))))
        return path_listed
    if case == "unlisted external data":
        (bundle / "model.onnx.data").write_bytes(b"\0" * 64)
        return (f"{bundle / 'model.onnx.data'}: in the bundle but not listed in textclf.json (added after "
                f"export); remove it, or export the bundle again")
    if case == "unlisted directory":
        (bundle / "weights").mkdir()
        return (f"{bundle / 'weights'}: in the bundle but not listed in textclf.json (added after "
                f"export); remove it, or export the bundle again")
    if case == "symlink out":
        secret = outside(bundle)
        shutil.copy(bundle / "tokenizer.json", secret)
        (bundle / "tokenizer.json").unlink()
        (bundle / "tokenizer.json").symlink_to(secret)
        return (f"{bundle / 'tokenizer.json'}: a symbolic link to a file outside the bundle; copy the file "
                f"itself into the bundle, or export the bundle again")
    if case == "symlinked manifest":
        secret = outside(bundle)
        shutil.copy(manifest_path, secret)
        manifest_path.unlink()
        manifest_path.symlink_to(secret)
        return (f"{manifest_path}: a symbolic link to a file outside the bundle; copy the file itself "
                f"into the bundle, or export the bundle again")
    if case == "fifo":
        (bundle / "README.md").unlink()
        os.mkfifo(bundle / "README.md")
        return (f"{bundle / 'README.md'}: not a regular file; a bundle holds only files, so export the "
                f"bundle again")
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["model not listed", "files empty", "listed file up and out",
                                  "listed file by absolute path", "model outside", "unlisted external data",
                                  "unlisted directory", "symlink out", "symlinked manifest", "fifo"])
def test_a_bundle_that_reaches_outside_or_hides_a_file_is_refused(trained, textclf_cli, tmp_path,
                                                                  monkeypatch, case):
    bundle = copy_bundle(trained["bundle"], tmp_path)
    message = reach(bundle, case)
    opened: list[str] = []
    real = onnxruntime.InferenceSession
    monkeypatch.setattr(onnxruntime, "InferenceSession", lambda path, **kw: opened.append(path) or real(path, **kw))
    refused(textclf_cli, bundle, message)
    assert opened == []  # refused before onnxruntime saw anything
    assert "secret" not in message and f"{len(SECRET)}" not in message


def test_a_symlink_to_a_file_inside_the_bundle_is_followed(trained, tmp_path):
    bundle = copy_bundle(trained["bundle"], tmp_path)
    (bundle / "tokenizer.json").rename(bundle / "vocabulary.json")
    (bundle / "tokenizer.json").symlink_to("vocabulary.json")
    relist(bundle, "vocabulary.json")
    assert runtime.load(bundle).predict(["a good great film"]) == ["pos"]


# -- every field, checked --------------------------------------------------------------------------
@pytest.mark.parametrize(("field", "value", "shown", "wanted"), [
    ("labels", "neg,pos", '"neg,pos"', "a non-empty list of distinct, non-empty strings"),
    ("labels", [], "[]", "a non-empty list of distinct, non-empty strings"),
    ("labels", ["pos", "pos"], '["pos", "pos"]', "a non-empty list of distinct, non-empty strings"),
    ("labels", ["", "pos"], '["", "pos"]', "a non-empty list of distinct, non-empty strings"),
    ("labels", [0, 1], "[0, 1]", "a non-empty list of distinct, non-empty strings"),
    ("max_length", "64", '"64"', "a whole number of 3 or more"),
    ("max_length", 2, "2", "a whole number of 3 or more"),
    ("max_length", True, "true", "a whole number of 3 or more"),
    ("max_length", 64.5, "64.5", "a whole number of 3 or more"),
    ("truncation", "middle", '"middle"', "one of head, tail, head+tail"),
    ("inputs", ["attention_mask", "input_ids"], '["attention_mask", "input_ids"]', '["input_ids", "attention_mask"]'),
    ("inputs", ["input_ids"], '["input_ids"]', '["input_ids", "attention_mask"]'),
    ("model", 5, "5", 'the name of a file it lists in "files"'),
    ("tokenizer", None, "missing", 'the name of a file it lists in "files"'),
    ("files", ["model.onnx"], '["model.onnx"]', "an object from each file's name to its size and SHA-256"),
    ("format", 0, "0", "a format version of 1 or more"),
    ("pad_id", -1, "-1", "a whole number of 0 or more"),
    ("quantization", "int4", '"int4"', 'null or "int8"'),
])
def test_a_manifest_field_of_the_wrong_type_or_range_is_one_line(trained, textclf_cli, tmp_path, field, value,
                                                                  shown, wanted):
    bundle = copy_bundle(trained["bundle"], tmp_path)
    rewrite(bundle, lambda m: m.update({field: value}))
    refused(textclf_cli, bundle, f'{bundle / "textclf.json"}: "{field}" is {shown}, where a bundle has {wanted}; '
                                 f'export the bundle again')


def test_a_file_entry_of_the_wrong_type_is_one_line(trained, textclf_cli, tmp_path):
    bundle = copy_bundle(trained["bundle"], tmp_path)
    rewrite(bundle, lambda m: m["files"].update({"README.md": {"bytes": "1787", "sha256": "abc"}}))
    refused(textclf_cli, bundle, f'{bundle / "textclf.json"}: "files" entry README.md is {{"bytes": "1787", '
                                 f'"sha256": "abc"}}, where a bundle has {{"bytes": size, "sha256": hex digest}}; '
                                 f'export the bundle again')


def test_a_name_that_would_break_the_line_is_refused_without_being_shown(trained, textclf_cli, tmp_path):
    bundle = copy_bundle(trained["bundle"], tmp_path)
    rewrite(bundle, lambda m: m["files"].update({"x\nerror: all is well": m["files"]["README.md"]}))
    refused(textclf_cli, bundle, f'{bundle / "textclf.json"}: "files" lists a path, not a file name in the '
                                 f'bundle directory (absolute, with a directory part, or reserved); export the '
                                 f'bundle again')


# -- the model fits the manifest -------------------------------------------------------------------
def edit_model(bundle: Path, edit: Callable[[onnx.ModelProto], None]) -> None:
    model = onnx.load(str(bundle / "model.onnx"))
    edit(model)
    onnx.save(model, str(bundle / "model.onnx"))
    relist(bundle, "model.onnx")


def test_labels_must_match_the_models_output_width(trained, textclf_cli, tmp_path):
    bundle = copy_bundle(trained["bundle"], tmp_path)
    rewrite(bundle, lambda m: m.update(labels=["neg", "pos", "meh"]))
    refused(textclf_cli, bundle, f'{bundle / "model.onnx"}: the model gives 2 scores per text, but the bundle '
                                 f'has 3 labels (["neg", "pos", "meh"]); export the bundle again')


def test_a_model_with_a_dynamic_output_width_is_checked_on_a_first_text(trained, tmp_path, monkeypatch):
    real = onnxruntime.InferenceSession
    runs: list[int] = []

    class Dynamic:
        """The bundle's model, declaring its output as [batch, labels] with labels unknown."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.inner = real(*args, **kwargs)
            self.get_inputs = self.inner.get_inputs

        def get_outputs(self) -> list[SimpleNamespace]:
            return [SimpleNamespace(name=o.name, type=o.type, shape=[o.shape[0], "labels"])
                    for o in self.inner.get_outputs()]

        def run(self, *args: Any) -> Any:
            runs.append(len(runs))
            return self.inner.run(*args)

    monkeypatch.setattr(onnxruntime, "InferenceSession", Dynamic)
    bundle = copy_bundle(trained["bundle"], tmp_path)
    assert runtime.load(bundle).predict(["a good great film", "bad awful poor"]) == ["pos", "neg"]
    assert runs == [0, 1]  # one run to check the width, one to predict
    rewrite(bundle, lambda m: m.update(labels=["neg", "pos", "meh"]))
    with pytest.raises(runtime.BundleError) as caught:
        runtime.load(bundle)
    assert str(caught.value) == (f'{bundle / "model.onnx"}: the model gives 2 scores per text, but the bundle '
                                 f'has 3 labels (["neg", "pos", "meh"]); export the bundle again')
    monkeypatch.setattr(Dynamic, "run", lambda self, *args: 1 / 0)
    with pytest.raises(runtime.BundleError) as caught:
        runtime.load(bundle)
    assert str(caught.value) == (f"{bundle / 'model.onnx'}: the model fails on a first text (division by zero); "
                                 f"export the bundle again")


def test_the_models_inputs_must_be_the_listed_ones(trained, textclf_cli, tmp_path):
    bundle = copy_bundle(trained["bundle"], tmp_path)

    def rename(model: onnx.ModelProto) -> None:
        for value in model.graph.input:
            if value.name == "attention_mask":
                value.name = "mask"
        for node in model.graph.node:
            node.input[:] = ["mask" if name == "attention_mask" else name for name in node.input]

    edit_model(bundle, rename)
    refused(textclf_cli, bundle, f"{bundle / 'model.onnx'}: the model's inputs are input_ids (tensor(int64)), "
                                 f"mask (tensor(int64)), where a bundle's are input_ids and attention_mask "
                                 f"(int64); export the bundle again")


def test_a_model_onnxruntime_cannot_load_is_one_line_naming_it(trained, textclf_cli, tmp_path):
    bundle = copy_bundle(trained["bundle"], tmp_path)
    (bundle / "model.onnx").write_bytes(b"not a model\nsecond line\n")
    relist(bundle, "model.onnx")
    result = textclf_cli("predict", str(bundle), "a text")
    prefix = f"error: {bundle / 'model.onnx'}: onnxruntime {onnxruntime.__version__} cannot load the model ("
    assert (result.returncode, len(lines(result.stderr))) == (1, 1)
    assert result.stderr.startswith(prefix)
    assert result.stderr.rstrip().endswith("); export the bundle again, or upgrade onnxruntime")
    with pytest.raises(runtime.BundleError, match="cannot load the model"):
        runtime.load(bundle)


def test_a_tokenizer_that_cannot_be_read_is_one_line(trained, textclf_cli, tmp_path):
    bundle = copy_bundle(trained["bundle"], tmp_path)
    (bundle / "tokenizer.json").write_text("{}")
    relist(bundle, "tokenizer.json")
    refused(textclf_cli, bundle, f"{bundle / 'tokenizer.json'}: not a tokenizer the tokenizers library reads "
                                 f"(Model missing. at line 1 column 2); export the bundle again")


# -- signatures ------------------------------------------------------------------------------------
def fingerprint(public_key_file: Path) -> str:
    key = serialization.load_pem_public_key(public_key_file.read_bytes())
    assert isinstance(key, ed25519.Ed25519PublicKey)
    return signing.fingerprint(key)


def test_a_signed_bundle_loads_with_its_publishers_key(signed, keys):
    bundle = signed["bundle"]
    assert sorted(p.name for p in bundle.iterdir()) == ["README.md", "model.onnx", "textclf.json", "textclf.sig",
                                                        "tokenizer.json"]
    assert f"signed: key {fingerprint(keys['public'])} (textclf.sig)" in lines(signed["stderr"])
    for key in ("public", "public_ssh"):
        assert runtime.load(bundle, trusted_keys=[keys[key]]).predict(["a good great film"]) == ["pos"]
    assert runtime.load(bundle, trusted_keys=[str(keys["stranger"]), keys["public"]]).labels == ["neg", "pos"]
    assert runtime.load(bundle).labels == ["neg", "pos"]  # no keys given: the signature is not asked for
    assert runtime.verify(bundle, trusted_keys=[keys["public"]])["labels"] == ["neg", "pos"]


def test_a_signed_bundle_changed_after_signing_is_refused(signed, keys, tmp_path):
    bundle = copy_bundle(signed["bundle"], tmp_path)
    rewrite(bundle, lambda m: m.update(labels=["pos", "neg"]))
    refused(None, bundle, f"{bundle / 'textclf.sig'}: the signature does not match the bundle (changed after it "
                          f"was signed, or a damaged signature); do not use it; get the bundle again from its "
                          f"publisher", trusted_keys=[keys["public"]])
    assert runtime.load(bundle).labels == ["pos", "neg"]  # which the checksum alone cannot tell


def test_a_swapped_model_with_a_recomputed_manifest_is_refused(signed, keys, tmp_path):
    bundle = copy_bundle(signed["bundle"], tmp_path)
    data = (bundle / "model.onnx").read_bytes()
    (bundle / "model.onnx").write_bytes(data.replace(b"logits", b"logitz"))
    relist(bundle, "model.onnx")
    with pytest.raises(runtime.BundleError, match="the signature does not match the bundle"):
        runtime.load(bundle, trusted_keys=[keys["public"]])


def test_a_bundle_signed_by_another_key_is_refused(signed, keys):
    bundle = signed["bundle"]
    refused(None, bundle, f"{bundle}: signed by key {fingerprint(keys['public'])}, which is not one of the trusted "
                          f"keys; check where the bundle came from, or trust that key",
            trusted_keys=[keys["stranger"]])


def test_an_unsigned_bundle_is_refused_when_keys_are_given(trained, keys, tmp_path):
    bundle = trained["bundle"]
    refused(None, bundle, f"{bundle}: not signed, where a signature by a trusted key is required; use a bundle "
                          f"its publisher exported with --sign", trusted_keys=[keys["public"]])
    damaged = copy_bundle(trained["bundle"], tmp_path)
    (damaged / "textclf.sig").write_text('{"algorithm": "ed25519"}')
    refused(None, damaged, f"{damaged / 'textclf.sig'}: damaged (no 'signature' field); get the bundle again "
                           f"from its publisher", trusted_keys=[keys["public"]])


def test_predict_trusted_key_asks_for_a_signature_by_that_key(signed, trained, keys, textclf_cli):
    ok = textclf_cli("predict", str(signed["bundle"]), "a good great film", "--format", "jsonl",
                     "--trusted-key", str(keys["stranger"]), "--trusted-key", str(keys["public"]))
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["label"] == "pos"
    stranger = textclf_cli("predict", str(signed["bundle"]), "a text", "--trusted-key", str(keys["stranger"]))
    assert (stranger.returncode, stranger.stdout, lines(stranger.stderr)) == (1, "", [
        f"error: {signed['bundle']}: signed by key {fingerprint(keys['public'])}, which is not one of the "
        f"trusted keys; check where the bundle came from, or trust that key"])
    unsigned = textclf_cli("predict", str(trained["bundle"]), "a text", "--trusted-key", str(keys["public"]))
    assert (unsigned.returncode, lines(unsigned.stderr)) == (1, [
        f"error: {trained['bundle']}: not signed, where a signature by a trusted key is required; use a "
        f"bundle its publisher exported with --sign"])


@pytest.mark.parametrize(("given", "message"), [
    (lambda k: [k["private"]], "trusted key {private}: a private key; give its public key (openssl pkey -in "
                               "{private} -pubout), and keep the private key off the machines that only run bundles"),
    (lambda k: [k["rsa"]], "trusted key {rsa}: not an Ed25519 key (RSA), which is all textclf signs with; make one "
                           "with openssl genpkey -algorithm ed25519 -out KEYFILE"),
    (lambda k: [k["private"].parent / "nope.pem"], "trusted key {private_dir}/nope.pem: no such key file"),
    (lambda k: str(k["public"]), "trusted keys: give a list of one or more public key files (None checks no "
                                 "signature)"),
    (lambda k: [], "trusted keys: give a list of one or more public key files (None checks no signature)"),
])
def test_trusted_keys_that_cannot_be_used_are_one_line(signed, keys, given, message):
    names = {name: str(path) for name, path in keys.items()} | {"private_dir": str(keys["private"].parent)}
    refused(None, signed["bundle"], message.format(**names), trusted_keys=given(keys))


@pytest.mark.parametrize(("key", "message"), [
    ("missing", "error: --sign {path}: no such key file"),
    ("public", "error: --sign {path}: a public key; signing needs the private key (make a pair with openssl "
               "genpkey -algorithm ed25519 -out KEYFILE)"),
    ("rsa", "error: --sign {path}: not an Ed25519 key (RSA), which is all textclf signs with; make one with "
            "openssl genpkey -algorithm ed25519 -out KEYFILE"),
    ("text", "error: --sign {path}: not a PEM or OpenSSH key file; make an Ed25519 key pair with openssl genpkey "
             "-algorithm ed25519 -out KEYFILE"),
])
def test_a_key_that_cannot_sign_is_a_usage_error_before_anything_is_written(trained, keys, textclf_cli, tmp_path,
                                                                             key, message):
    work = tmp_path / "work"
    work.mkdir()
    path = {"missing": work / "missing.pem", "text": work / "notes.txt"}.get(key) or keys[key]
    (work / "notes.txt").write_text("my key is in the safe\n")
    result = textclf_cli("export", str(trained["run"]), "--output", str(work / "out"), "--sign", str(path),
                         env=trained["env"])
    assert (result.returncode, lines(result.stderr)) == (2, [message.format(path=path)])
    assert sorted(p.name for p in work.iterdir()) == ["notes.txt"]


def block_cryptography(monkeypatch) -> None:
    for name in [name for name in sys.modules if name == "cryptography" or name.startswith("cryptography.")]:
        monkeypatch.setitem(sys.modules, name, None)


def test_without_cryptography_signing_is_one_line_naming_the_extra(trained, keys, textclf_cli, tmp_path,
                                                                   monkeypatch):
    block_cryptography(monkeypatch)
    result = textclf_cli("export", str(trained["run"]), "--output", str(tmp_path / "out"), "--sign",
                         str(keys["private"]), env=trained["env"])
    assert (result.returncode, lines(result.stderr)) == (1, [NOT_MINE])
    assert not (tmp_path / "out").exists()
    with pytest.raises(runtime.BundleError) as caught:
        runtime.load(trained["bundle"], trusted_keys=[keys["public"]])
    assert f"error: {caught.value}" == NOT_MINE
    assert runtime.load(trained["bundle"]).labels == ["neg", "pos"]  # unsigned use needs no cryptography


@pytest.mark.skipif(not (shutil.which("openssl") and shutil.which("ssh-keygen")), reason="needs openssl and ssh-keygen")
def test_keys_made_as_the_readme_shows_sign_and_verify(trained, tmp_path):
    for tool, private, public in (("openssl", "key.pem", "key.pub.pem"), ("ssh-keygen", "id", "id.pub")):
        if tool == "openssl":
            subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", private], cwd=tmp_path, check=True)
            subprocess.run(["openssl", "pkey", "-in", private, "-pubout", "-out", public], cwd=tmp_path, check=True)
        else:
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "me", "-f", private], cwd=tmp_path,
                           check=True)
        bundle = Path(shutil.copytree(trained["bundle"], tmp_path / f"bundle-{tool}"))
        manifest = json.loads((bundle / "textclf.json").read_text())
        key = signing.private_key(tmp_path / private, "key", UsageError)
        signing.sign(bundle, manifest, key)
        assert runtime.load(bundle, trusted_keys=[tmp_path / public]).labels == ["neg", "pos"]
    shown = subprocess.run(["ssh-keygen", "-l", "-f", str(tmp_path / "id.pub")], capture_output=True, text=True)
    key = serialization.load_ssh_public_key((tmp_path / "id.pub").read_bytes())
    assert isinstance(key, ed25519.Ed25519PublicKey)
    assert shown.stdout.split()[1] == signing.fingerprint(key)
