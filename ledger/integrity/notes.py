"""C2SP signed notes, checkpoints and cosignatures (``c2sp.org/signed-note``,
``c2sp.org/tlog-checkpoint``, ``c2sp.org/tlog-cosignature``), so the transparency
ecosystem's verifiers and witnesses can check this ledger's checkpoints.

A checkpoint note is::

    custody-ledger/1c0f2e5a9b8d7c6e          origin (the key name too)
    1234                                     tree size, decimal
    3q2+7w...=                               base64 of the RFC 6962 root
                                             (blank line)
    — custody-ledger/1c0f2e5a9b8d7c6e base64(key id[4] || Ed25519 signature[64])

The key id is ``SHA-256(name || 0x0A || 0x01 || public key)[:4]`` (signature type 0x01,
Ed25519 over the note text). A witness cosignature is a further signature line of type
0x04 whose signature is ``u64 timestamp || Ed25519`` over ``cosignature/v1\\ntime T\\n``
followed by the note text. ``tests/unit/test_notes.py`` checks this module against the
worked examples of the specifications and against golang.org/x/mod's ``sumdb/note``.

Pure: no database, no network. Verifiers never raise on a bad signature; parsers raise
:class:`NoteError` on text that is not in the form.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.integrity.checkpoints import Signer

ED25519 = 0x01
"""Signature type of an Ed25519 note signature (the log's own)."""
COSIGNATURE_V1 = 0x04
"""Signature type of a timestamped Ed25519 witness cosignature (tlog-cosignature)."""

EM_DASH = "\u2014"
MAX_SIGNATURES = 64
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")


class NoteError(ValueError):
    """Text that is not a signed note, checkpoint, key or proof in the C2SP form."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise NoteError(f"{what}: not base64") from None
    if _b64(data) != text:
        raise NoteError(f"{what}: base64 not in canonical form")
    return data


NAME_SPACES = (
    r"\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f"
    r"\u205f\u3000"
)
r"""Every character Python's ``str.isspace`` calls whitespace, spelled out: ``\s`` means
different things in ECMA-262 (JSON Schema), Rust's regex (pydantic) and Python's ``re``."""
VERIFIER_KEY_PATTERN = rf"^[^{NAME_SPACES}+]{{1,300}}\+[0-9a-f]{{8}}\+[A-Za-z0-9+/]{{44}}$"
"""A verifier key ``name+key id+base64(type || public key)`` whose name
``check_key_name`` accepts, as the same pattern in every regex dialect."""


def check_key_name(name: str) -> str:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError("a key name is non-empty, without spaces or '+'")
    return name


def note_key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    """``SHA-256(name || 0x0A || type || public key)[:4]`` (signed-note, tlog-cosignature)."""
    check_key_name(name)
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()[:4]


@dataclass(frozen=True, slots=True)
class NoteVerifier:
    """A key a verifier trusts: name, signature type and raw public key (a *vkey*)."""

    name: str
    sig_type: int
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return note_key_id(self.name, self.sig_type, self.public_key)

    def vkey(self) -> str:
        """``name+hex key id+base64(type || public key)``, the text form of a verifier key."""
        return f"{self.name}+{self.key_id.hex()}+{_b64(bytes([self.sig_type]) + self.public_key)}"

    @classmethod
    def parse(cls, vkey: str) -> NoteVerifier:
        """A verifier key; the key id in the text must be the one the key gives."""
        name, sep, rest = vkey.strip().partition("+")
        hex_id, sep2, material = rest.partition("+")
        if not (sep and sep2) or not re.fullmatch(r"[0-9a-f]{8}", hex_id):
            raise NoteError("a verifier key is name+8 hex digits+base64")
        raw = _unb64(material, "verifier key")
        if len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE_V1):
            raise NoteError("only Ed25519 (type 0x01) and cosignature/v1 (0x04) keys are known")
        verifier = cls(check_key_name(name), raw[0], raw[1:])
        if verifier.key_id.hex() != hex_id:
            raise NoteError(f"verifier key {name}: the key id does not match the key")
        return verifier


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key name, 4-byte key id and the signature bytes after it."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        return f"{EM_DASH} {self.name} {_b64(self.key_id + self.signature)}\n"

    @classmethod
    def parse_line(cls, line: str) -> NoteSignature:
        if not line.startswith(EM_DASH + " "):
            raise NoteError("a signature line starts with an em dash and a space")
        parts = line[2:].rstrip("\n").split(" ")
        if len(parts) != 2:
            raise NoteError("a signature line is '— name base64'")
        raw = _unb64(parts[1], "signature")
        if len(raw) < 5:
            raise NoteError("a signature has a 4-byte key id and at least one byte")
        return cls(check_key_name(parts[0]), raw[:4], raw[4:])

    def matches(self, verifier: NoteVerifier) -> bool:
        return self.name == verifier.name and self.key_id == verifier.key_id


@dataclass(frozen=True, slots=True)
class Note:
    """A signed note: its text (ending in a newline) and its signature lines."""

    text: str
    signatures: tuple[NoteSignature, ...] = field(default=())

    def encode(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    def with_signatures(self, extra: Iterable[NoteSignature]) -> Note:
        """This note with ``extra`` appended, skipping lines it already has."""
        have = list(self.signatures)
        for sig in extra:
            if sig not in have:
                have.append(sig)
        return Note(self.text, tuple(have))

    @classmethod
    def parse(cls, data: str | bytes) -> Note:
        if isinstance(data, bytes):
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError:
                raise NoteError("a note is UTF-8") from None
        if any(ord(c) < 0x20 and c != "\n" for c in data):
            raise NoteError("a note has no control characters but newlines")
        if not data.endswith("\n"):
            raise NoteError("a note ends with a newline")
        # The text is separated from the signatures by the last blank line.
        cut = data.rfind("\n\n")
        if cut < 0:
            raise NoteError("a note has a blank line before its signatures")
        text, sig_block = data[: cut + 1], data[cut + 2 :]
        lines = sig_block.splitlines(keepends=True)
        if not lines:
            raise NoteError("a note has at least one signature")
        if len(lines) > MAX_SIGNATURES:
            raise NoteError(f"more than {MAX_SIGNATURES} signatures")
        return cls(text, tuple(NoteSignature.parse_line(line) for line in lines))


def sign_note(text: str, name: str, signer: Signer) -> NoteSignature:
    """An Ed25519 (type 0x01) signature line by ``signer`` under ``name`` over ``text``."""
    if not text.endswith("\n"):
        raise NoteError("note text ends with a newline")
    key_id = note_key_id(name, ED25519, signer.public_key)
    return NoteSignature(name, key_id, signer.sign(text.encode("utf-8")))


def _ed25519_ok(public_key: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_signature(note: Note, verifier: NoteVerifier) -> bool | None:
    """``None`` when no line is by ``verifier`` (name and key id); else whether every
    line by it verifies (a cosignature's timestamp is not judged here)."""
    found: bool | None = None
    for sig in note.signatures:
        if not sig.matches(verifier):
            continue
        if verifier.sig_type == ED25519:
            ok = len(sig.signature) == 64 and _ed25519_ok(
                verifier.public_key, sig.signature, note.text.encode("utf-8")
            )
        else:
            ok = cosignature_time(note.text, sig, verifier) is not None
        if not ok:
            return False
        found = True
    return found


# --- checkpoints -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckpointBody:
    """The text of a tlog-checkpoint: origin, size, root and any extension lines."""

    origin: str
    tree_size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [self.origin, str(self.tree_size), _b64(self.root), *self.extensions]
        return "".join(f"{line}\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> CheckpointBody:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("a checkpoint has at least three lines, each ending in a newline")
        origin, size, root, *extensions = lines[:-1]
        if not origin or any(not line for line in extensions):
            raise NoteError("checkpoint lines are non-empty")
        if not _DECIMAL.fullmatch(size):
            raise NoteError("the tree size is a decimal without leading zeros")
        digest = _unb64(root, "root hash")
        if len(digest) != 32:
            raise NoteError("the root hash has 32 bytes")
        return cls(origin, int(size), digest, tuple(extensions))


def origin_for(key_id: str) -> str:
    """The ledger's origin (and note key name): ``custody-ledger/<16 hex key id>``.

    Derived from the key, so it is stable without configuration and two ledgers never
    share one unless they share a key.
    """
    return f"custody-ledger/{key_id}"


def checkpoint_note(signer: Signer, tree_size: int, root: bytes) -> Note:
    """The C2SP checkpoint of ``(tree_size, root)`` signed by the ledger's key.

    Ed25519 is deterministic, so the same checkpoint always gets the same bytes.
    """
    origin = origin_for(signer.key_id)
    text = CheckpointBody(origin, tree_size, root).text()
    return Note(text, (sign_note(text, origin, signer),))


def log_verifier(public_key: bytes, key_id: str | None = None) -> NoteVerifier:
    """The note verifier of a ledger's own key (its origin is its key name)."""
    from ledger.integrity.checkpoints import key_id_for

    return NoteVerifier(origin_for(key_id or key_id_for(public_key)), ED25519, public_key)


# --- cosignatures --------------------------------------------------------------------


def cosignature_message(text: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: the header, the time line and the checkpoint text."""
    if not 0 <= timestamp < 2**63:
        raise NoteError("a cosignature timestamp is below 2^63")
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def cosign(text: str, name: str, signer: Signer, timestamp: int) -> NoteSignature:
    """A timestamped Ed25519 cosignature (type 0x04) of a checkpoint's text."""
    key_id = note_key_id(name, COSIGNATURE_V1, signer.public_key)
    signature = signer.sign(cosignature_message(text, timestamp))
    return NoteSignature(name, key_id, struct.pack(">Q", timestamp) + signature)


def cosignature_time(text: str, sig: NoteSignature, verifier: NoteVerifier) -> int | None:
    """The timestamp of a valid cosignature of ``text`` by ``verifier``, else ``None``."""
    if verifier.sig_type != COSIGNATURE_V1 or not sig.matches(verifier):
        return None
    if len(sig.signature) != 8 + 64:
        return None
    (timestamp,) = struct.unpack(">Q", sig.signature[:8])
    if timestamp >= 2**63:
        return None
    if not _ed25519_ok(
        verifier.public_key, sig.signature[8:], cosignature_message(text, timestamp)
    ):
        return None
    return int(timestamp)


def count_cosigners(note: Note, witnesses: Sequence[NoteVerifier]) -> list[str]:
    """Names of the trusted ``witnesses`` with a valid cosignature on ``note``."""
    return [
        w.vkey()
        for w in witnesses
        if any(cosignature_time(note.text, s, w) is not None for s in note.signatures)
    ]


# --- tlog-proof ----------------------------------------------------------------------

PROOF_HEADER = "c2sp.org/tlog-proof@v1"


@dataclass(frozen=True, slots=True)
class TlogProof:
    """A ``c2sp.org/tlog-proof@v1``: leaf index, audit path and the checkpoint note."""

    index: int
    path: tuple[bytes, ...]
    checkpoint: Note
    extra: bytes | None = None

    def encode(self) -> str:
        lines = [PROOF_HEADER]
        if self.extra is not None:
            lines.append(f"extra {_b64(self.extra)}")
        lines.append(f"index {self.index}")
        lines.extend(_b64(p) for p in self.path)
        return "".join(f"{line}\n" for line in lines) + "\n" + self.checkpoint.encode()

    @classmethod
    def parse(cls, data: str) -> TlogProof:
        head, sep, note = data.partition("\n\n")
        if not sep:
            raise NoteError("a tlog-proof has a blank line before its checkpoint")
        lines = head.split("\n")
        if lines[0] != PROOF_HEADER:
            raise NoteError(f"a tlog-proof starts with {PROOF_HEADER}")
        rest = lines[1:]
        extra = None
        if rest and rest[0].startswith("extra "):
            extra = _unb64(rest[0][6:], "extra")
            rest = rest[1:]
        if not rest or not rest[0].startswith("index ") or not _DECIMAL.fullmatch(rest[0][6:]):
            raise NoteError("a tlog-proof names its leaf: 'index N'")
        path = tuple(_unb64(p, "proof hash") for p in rest[1:])
        if any(len(p) != 32 for p in path):
            raise NoteError("proof hashes have 32 bytes")
        return cls(int(rest[0][6:]), path, Note.parse(note), extra)
