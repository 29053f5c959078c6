"""The fleet's release key: Ed25519, made once, kept off the boards.

The private key is a PEM file readable by its owner only; the public key is
64 hex digits, the form the boards keep on flash (ota.pub)."""
from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..paths import state_home

PRIVATE = "release.key"
PUBLIC = "release.pub"


class ReleaseKeyError(Exception):
    """A key is missing, unreadable or not an Ed25519 key; the text says which and where."""


def default_dir() -> Path:
    return state_home() / "release-key"


def keygen(folder: Path, force: bool = False) -> tuple[Path, Path]:
    """Make a key pair in `folder`; refuse to overwrite one (boards trust it)."""
    priv, pub = folder / PRIVATE, folder / PUBLIC
    if priv.exists() and not force:
        raise ReleaseKeyError(f"{priv} exists: every board provisioned with it would stop trusting a new one "
                        f"(use --force only if that is what you want)")
    folder.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    tmp = priv.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.replace(tmp, priv)
    pub.write_text(public_hex(key.public_key()) + "\n")
    return priv, pub


def public_hex(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def load_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise ReleaseKeyError(f"{path}: no release key there (make one with `pilotlight release keygen`)") from None
    except (ValueError, TypeError) as e:
        raise ReleaseKeyError(f"{path}: not a readable private key ({e})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ReleaseKeyError(f"{path}: not an Ed25519 key")
    return key


def load_public_hex(path: Path) -> str:
    """The 64 hex digits of a release.pub, checked."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        raise ReleaseKeyError(f"{path}: no release public key there") from None
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))
    except ValueError:
        raise ReleaseKeyError(f"{path}: not an Ed25519 public key (expected 64 hex digits)") from None
    return text.lower()


def verify(public_hex_: str, data: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex_)).verify(signature, data)
        return True
    except InvalidSignature:
        return False
