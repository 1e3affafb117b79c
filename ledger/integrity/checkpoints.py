"""Signed checkpoints: the ledger's Ed25519 key and the statements it signs.

A checkpoint says "the log had ``tree_size`` events and this RFC 6962 root at
``timestamp``", signed with the ledger's Ed25519 key. The signed message is this exact
ASCII byte string (``\\n`` is a line feed, and there is one after every field)::

    custody-ledger checkpoint v1\\n
    {tree_size}\\n            decimal, no sign, no leading zeros
    {root}\\n                 64 lowercase hex characters
    {timestamp}\\n            UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ (always 27 characters)
    {key_id}\\n               16 lowercase hex characters

No field can contain a line feed and every field has one fixed spelling, so distinct
checkpoints never share a message; the version line keeps this message apart from
anything else the key might sign in a later format.

``key_id`` is the first 16 hex characters (64 bits) of SHA-256 over the 32 raw bytes of
the Ed25519 public key. It names the key; it is not what makes a signature valid —
verification always uses the full public key, and checks that the key id matches it.

The private key lives in one file (PKCS#8 PEM, or the 32 raw private bytes). When the
file does not exist, :meth:`Signer.from_file` generates a key and creates the file with
mode 0600 without ever overwriting an existing one. The private key is never logged,
printed or returned by this module.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

MESSAGE_HEADER = b"custody-ledger checkpoint v1\n"
# Fixed by the signed message format (v1), so deliberately not imported from the
# domain's instant helpers: changing it would invalidate every stored signature.
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64

_TIMESTAMP_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_HEX64_RE = re.compile(r"[0-9a-f]{64}")
_KEY_ID_RE = re.compile(r"[0-9a-f]{16}")
_FIELDS = ("tree_size", "root", "timestamp", "key_id", "signature")


class KeyFileError(Exception):
    """The signing key file is missing (and may not be created), unreadable or invalid."""


class CheckpointFormatError(ValueError):
    """A checkpoint, key or field is not in the documented form."""


def key_id_for(public_key: bytes) -> str:
    """First 16 hex characters of SHA-256 over the raw 32-byte Ed25519 public key."""
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise CheckpointFormatError("an Ed25519 public key has 32 bytes")
    return hashlib.sha256(public_key).hexdigest()[:16]


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode_strict(text: str, size: int | None = None) -> bytes:
    """Standard padded base64 with exactly one accepted spelling per byte string.

    Plain ``b64decode`` ignores the unused low bits of the last character, so several
    strings decode to the same bytes; re-encoding and comparing refuses all but the
    canonical one, which keeps every byte of a bundle meaningful.
    """
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise CheckpointFormatError("not valid base64") from None
    if b64encode(data) != text:
        raise CheckpointFormatError("base64 is not in canonical form")
    if size is not None and len(data) != size:
        raise CheckpointFormatError(f"expected {size} bytes of base64, got {len(data)}")
    return data


def parse_public_key(public_key: bytes | str) -> bytes:
    """The raw 32 bytes of an Ed25519 public key given raw (``bytes``) or as base64 text."""
    if isinstance(public_key, str):
        return b64decode_strict(public_key, PUBLIC_KEY_SIZE)
    if len(public_key) == PUBLIC_KEY_SIZE:
        return bytes(public_key)
    try:
        text = public_key.decode("ascii")
    except UnicodeDecodeError:
        raise CheckpointFormatError("an Ed25519 public key has 32 bytes") from None
    return b64decode_strict(text.strip(), PUBLIC_KEY_SIZE)


def format_timestamp(moment: datetime) -> str:
    """A timezone-aware instant in the signed form ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    if moment.tzinfo is None:
        raise CheckpointFormatError("checkpoint time needs a timezone")
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def _check_timestamp(text: object) -> str:
    if not isinstance(text, str) or not _TIMESTAMP_RE.fullmatch(text):
        raise CheckpointFormatError("timestamp must be YYYY-MM-DDTHH:MM:SS.ffffffZ")
    try:
        datetime.strptime(text, TIMESTAMP_FORMAT)
    except ValueError:
        raise CheckpointFormatError(f"timestamp {text!r} is not a real instant") from None
    return text


def checkpoint_message(tree_size: int, root_hex: str, timestamp: str, key_id: str) -> bytes:
    """The exact bytes a checkpoint signature covers (see the module docstring)."""
    if type(tree_size) is not int or tree_size < 0:
        raise CheckpointFormatError("tree_size must be a non-negative integer")
    if not _HEX64_RE.fullmatch(root_hex):
        raise CheckpointFormatError("root must be 64 lowercase hex characters")
    _check_timestamp(timestamp)
    if not _KEY_ID_RE.fullmatch(key_id):
        raise CheckpointFormatError("key_id must be 16 lowercase hex characters")
    return MESSAGE_HEADER + f"{tree_size}\n{root_hex}\n{timestamp}\n{key_id}\n".encode("ascii")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement of the log's size and Merkle root at a moment."""

    tree_size: int
    root: str
    timestamp: str
    key_id: str
    signature: str

    @property
    def root_bytes(self) -> bytes:
        return bytes.fromhex(self.root)

    def message(self) -> bytes:
        return checkpoint_message(self.tree_size, self.root, self.timestamp, self.key_id)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Checkpoint:
        """Parse and check the form of every field; raises :class:`CheckpointFormatError`.

        The form is checked, not the signature: call :func:`verify_checkpoint` for that.
        """
        if not isinstance(data, dict) or set(data) != set(_FIELDS):
            raise CheckpointFormatError(f"a checkpoint has exactly the fields {_FIELDS}")
        tree_size, root, timestamp = data["tree_size"], data["root"], data["timestamp"]
        key_id, signature = data["key_id"], data["signature"]
        if not (isinstance(root, str) and isinstance(key_id, str)):
            raise CheckpointFormatError("root and key_id must be strings")
        if not isinstance(signature, str):
            raise CheckpointFormatError("signature must be a base64 string")
        checkpoint_message(tree_size, root, _check_timestamp(timestamp), key_id)
        b64decode_strict(signature, SIGNATURE_SIZE)
        return cls(tree_size, root, timestamp, key_id, signature)


def verify_checkpoint(checkpoint: Checkpoint, public_key: bytes | str) -> bool:
    """Whether ``checkpoint`` is well formed, names this key and is signed by it."""
    try:
        raw = parse_public_key(public_key)
        if checkpoint.key_id != key_id_for(raw):
            return False
        message = checkpoint.message()
        signature = b64decode_strict(checkpoint.signature, SIGNATURE_SIZE)
        Ed25519PublicKey.from_public_bytes(raw).verify(signature, message)
    except (CheckpointFormatError, InvalidSignature, ValueError, TypeError):
        return False
    return True


def _parse_private_key(data: bytes) -> Ed25519PrivateKey:
    # Error messages never include ``data``: it is the secret.
    if data.lstrip().startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            raise KeyFileError("the key file is not an unencrypted PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError("the key file does not hold an Ed25519 private key")
        return key
    if len(data) == 32:
        return Ed25519PrivateKey.from_private_bytes(data)
    raise KeyFileError("the key file is neither PEM nor 32 raw Ed25519 private key bytes")


class Signer:
    """The ledger's checkpoint signing key. Holds the private key and never hands it out."""

    __slots__ = ("_key", "_public")

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self._public = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @classmethod
    def generate(cls) -> Signer:
        """A fresh key kept only in memory (tests, throwaway ledgers)."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_key_bytes(cls, data: bytes) -> Signer:
        """A key given directly: PKCS#8 PEM (unencrypted) or the 32 raw private bytes."""
        return cls(_parse_private_key(data))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, create: bool = True) -> Signer:
        """Load the key at ``path``; if there is none and ``create``, make one (mode 0600).

        Creation is race-safe: the key is written and synced to a private temporary file
        first, then hard-linked into place, which fails rather than replaces when
        another process got there first — in which case its key is loaded instead.
        """
        target = Path(path)
        try:
            data = target.read_bytes()
        except FileNotFoundError:
            if not create:
                raise KeyFileError(f"no signing key file at {target}") from None
            return cls._create(target)
        except OSError as exc:
            raise KeyFileError(f"cannot read the signing key file {target}: {exc}") from None
        return cls(_parse_private_key(data))

    @classmethod
    def _create(cls, target: Path) -> Signer:
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
        _write_new_private_file(temp, pem)
        try:
            os.link(temp, target)
        except FileExistsError:
            return cls.from_file(target, create=False)
        except OSError:
            # Filesystems without hard links: exclusive creation still never clobbers
            # an existing key, only the tiny window of a half-written file remains.
            try:
                _write_new_private_file(target, pem)
            except FileExistsError:
                return cls.from_file(target, create=False)
        finally:
            with contextlib.suppress(OSError):
                temp.unlink()
        _fsync_directory(target.parent)
        return cls(key)

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key."""
        return self._public

    @property
    def public_key_b64(self) -> str:
        return b64encode(self._public)

    @property
    def key_id(self) -> str:
        return key_id_for(self._public)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def checkpoint(
        self, tree_size: int, root: bytes, timestamp: datetime | str | None = None
    ) -> Checkpoint:
        """Sign a checkpoint for a tree of ``tree_size`` leaves with this ``root``."""
        return sign_checkpoint(self, tree_size, root, timestamp)

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id!r})"

    def __reduce__(self) -> Any:
        # Pickling would copy the private key into whatever holds the pickle.
        raise TypeError("a Signer cannot be pickled")


def _write_new_private_file(path: Path, data: bytes) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sign_checkpoint(
    signer: Signer, tree_size: int, root: bytes, timestamp: datetime | str | None = None
) -> Checkpoint:
    """A checkpoint for ``(tree_size, root)`` signed by ``signer``; the time defaults to now."""
    if len(root) != 32:
        raise CheckpointFormatError("a Merkle root has 32 bytes")
    if timestamp is None:
        timestamp = datetime.now(UTC)
    stamp = format_timestamp(timestamp) if isinstance(timestamp, datetime) else timestamp
    message = checkpoint_message(tree_size, root.hex(), stamp, signer.key_id)
    signature = b64encode(signer.sign(message))
    return Checkpoint(tree_size, root.hex(), stamp, signer.key_id, signature)
