"""Signed bundles: an Ed25519 signature over a bundle's manifest checksum, and checking one
against the public keys a user trusts. Needs the ``cryptography`` package (the ``textclf[sign]``
extra), imported only here and only when a bundle is signed or a signature checked.

The manifest's checksum covers every file of the bundle (``textclf.bundle``), so signing it signs
the whole bundle; unlike the checksum, a signature proves who made the bundle.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textclf import atomic
from textclf.bundle import SIGNATURE, BundleError, member, one_line
from textclf.errors import TextclfError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

#: What a signature signs: this prefix, then the manifest's SHA-256 in hex. The prefix keeps a
#: bundle signature from being passed off as the key's signature of anything else.
SIGNED_PREFIX = b"textclf bundle manifest sha256 "
SIGN_EXTRA = "pip install 'textclf[sign]'"
MAKE_KEY = "openssl genpkey -algorithm ed25519 -out KEYFILE"


def _crypto(error: type[TextclfError]) -> Any:
    """``cryptography``'s serialization module; one line naming the extra when it is missing."""
    try:
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        raise error(f"signing bundles and checking their signatures needs the cryptography "
                    f"package: {SIGN_EXTRA}") from None
    return serialization


def _read_key(path: Path, where: str, error: type[TextclfError]) -> Any:
    """The key in a PEM (``openssl genpkey``) or OpenSSH (``ssh-keygen``) file, private or public."""
    serialization = _crypto(error)
    from cryptography.exceptions import UnsupportedAlgorithm

    try:
        with open(path, "rb") as handle:
            data = handle.read(1 << 16)  # keys are small: never read a large file by mistake
    except FileNotFoundError:
        raise error(f"{where}: no such key file") from None
    except OSError as exc:
        raise error(f"{where}: cannot read it ({exc.strerror})") from None
    text = data.strip()
    try:
        if text.startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----"):
            return serialization.load_ssh_private_key(data, password=None)
        if text.startswith(b"-----BEGIN") and b"PRIVATE KEY-----" in text.split(b"\n", 1)[0]:
            return serialization.load_pem_private_key(data, password=None)
        if text.startswith(b"-----BEGIN PUBLIC KEY-----"):
            return serialization.load_pem_public_key(data)
        if text.startswith(b"ssh-"):
            return serialization.load_ssh_public_key(text.split(b"\n", 1)[0])
    except TypeError:  # cryptography's way of saying that the key needs a password
        raise error(f"{where}: the key is encrypted; textclf reads unencrypted keys only") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise error(f"{where}: not a key textclf can read ({one_line(exc)})") from None
    raise error(f"{where}: not a PEM or OpenSSH key file; make an Ed25519 key pair with {MAKE_KEY}")


def _ed25519(key: Any, where: str, error: type[TextclfError]) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    if not isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        kind = type(key).__name__.removeprefix("_").replace("PrivateKey", "").replace("PublicKey", "")
        raise error(f"{where}: not an Ed25519 key ({kind}), which is all textclf signs with; make "
                    f"one with {MAKE_KEY}")


def private_key(path: Path, where: str, error: type[TextclfError]) -> Ed25519PrivateKey:
    """The Ed25519 private key to sign with, from ``path`` (named ``where`` in errors)."""
    _crypto(TextclfError)  # a missing package is no mistake in ``path``
    key = _read_key(path, where, error)
    from cryptography.hazmat.primitives.asymmetric import ed25519

    _ed25519(key, where, error)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise error(f"{where}: a public key; signing needs the private key (make a pair with "
                    f"{MAKE_KEY})")
    return key


def public_keys(paths: Sequence[str | Path]) -> list[Ed25519PublicKey]:
    """The Ed25519 public keys in the files ``paths``: those a bundle must be signed with."""
    if isinstance(paths, (str, Path)) or not paths:
        # A lone path would be read as a list of characters, and no keys at all as "check
        # nothing": either would silently accept an unsigned bundle.
        raise BundleError("trusted keys: give a list of one or more public key files (None "
                          "checks no signature)")
    _crypto(BundleError)
    from cryptography.hazmat.primitives.asymmetric import ed25519

    keys = []
    for path in paths:
        where = f"trusted key {path}"
        key = _read_key(Path(path), where, BundleError)
        _ed25519(key, where, BundleError)
        if not isinstance(key, ed25519.Ed25519PublicKey):
            raise BundleError(f"{where}: a private key; give its public key (openssl pkey -in "
                              f"{path} -pubout), and keep the private key off the machines that "
                              f"only run bundles")
        keys.append(key)
    return keys


def fingerprint(key: Ed25519PublicKey) -> str:
    """The key's fingerprint as ``ssh-keygen -l`` shows it: ``SHA256:`` and unpadded base64."""
    serialization = _crypto(BundleError)
    line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    blob = base64.b64decode(line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def sign(directory: Path, manifest: dict[str, Any], key: Ed25519PrivateKey) -> str:
    """Write ``textclf.sig``: ``key``'s signature of the sealed manifest; returns the key's
    fingerprint."""
    serialization = _crypto(BundleError)
    public = key.public_key()
    record = {
        "algorithm": "ed25519",
        "public_key": public.public_bytes(serialization.Encoding.OpenSSH,
                                          serialization.PublicFormat.OpenSSH).decode(),
        "signature": base64.b64encode(key.sign(SIGNED_PREFIX + manifest["manifest_sha256"].encode())).decode(),
    }
    atomic.write_text(directory / SIGNATURE, json.dumps(record, indent=2) + "\n")
    return fingerprint(public)


def check_signature(directory: Path, manifest: dict[str, Any], keys: Sequence[Ed25519PublicKey]) -> None:
    """One of ``keys`` signed this manifest (whose checksum was checked: so, the whole bundle)."""
    serialization = _crypto(BundleError)
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ed25519

    path = directory / SIGNATURE
    if not os.path.lexists(path):
        raise BundleError(f"{directory}: not signed, where a signature by a trusted key is "
                          f"required; use a bundle its publisher exported with --sign")
    member(directory, SIGNATURE)
    try:
        record = json.loads(path.read_bytes()[: 1 << 16])
        signature = base64.b64decode(record["signature"], validate=True)
        claimed = serialization.load_ssh_public_key(record["public_key"].encode())
        if (record["algorithm"] != "ed25519" or len(signature) != 64
                or not isinstance(claimed, ed25519.Ed25519PublicKey)):
            raise ValueError("not an Ed25519 signature")
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        reason = f"no {exc} field" if isinstance(exc, KeyError) else one_line(exc)
        raise BundleError(f"{path}: damaged ({reason}); get the bundle again from its "
                          f"publisher") from None
    signed = SIGNED_PREFIX + manifest["manifest_sha256"].encode()
    for key in keys:
        try:
            key.verify(signature, signed)
            return
        except InvalidSignature:
            continue
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    if any(key.public_bytes(*raw) == claimed.public_bytes(*raw) for key in keys):
        raise BundleError(f"{path}: the signature does not match the bundle (changed after it was "
                          f"signed, or a damaged signature); do not use it; get the bundle again "
                          f"from its publisher")
    raise BundleError(f"{directory}: signed by key {fingerprint(claimed)}, which is not one of the "
                      f"trusted keys; check where the bundle came from, or trust that key")
