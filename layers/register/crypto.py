"""Personal data at rest: ID numbers and phone numbers are encrypted (AES-256-GCM, a fresh
nonce per value, the field's name bound as associated data) and indexed by a keyed hash (BLAKE2b,
a blind index) so an exact lookup needs no decryption. Both keys derive (HKDF-SHA256) from one
master key that lives in the environment or a key file, never in the repository or the database;
rows carry the id of the key that wrote them, so a rotation is checkable and resumable.

Threat model and operations: docs/security.md ("Personal data at rest").
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import overload

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from layers.errors import DomainError

VERSION = b"\x01"
NONCE = 12


class MissingKey(DomainError):
    code = "register_key_missing"


class WrongKey(DomainError):
    code = "register_key_wrong"


def generate_key() -> str:
    """A new master key, as it is written to the environment or the key file."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _decode(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode() + b"==")
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise MissingKey("the register key must be 32 bytes in URL-safe base64 (44 characters); "
                         "make one with `gridmap register keygen`", zh="个人信息密钥格式有误")
    return raw


def read_key(env_value: str | None, key_file: Path) -> bytes:
    """The master key: GRIDMAP_REGISTER_KEY, else the key file; neither is a clear error."""
    if env_value:
        return _decode(env_value)
    if key_file.exists():
        return _decode(key_file.read_text())
    raise MissingKey(
        "no register key: personal data (ID and phone numbers) is encrypted at rest and gridmap "
        f"will not start without its key. Set GRIDMAP_REGISTER_KEY, or run `gridmap register "
        f"keygen` to write {key_file} (keep a copy somewhere safe: without it the encrypted "
        "columns cannot be read)", zh="缺少个人信息加密密钥")


def write_key_file(path: Path, key: str) -> None:
    """Write a key file readable by its owner only (created 0600, replaced atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    os.replace(tmp, path)


class PersonalData:
    """Encrypts, decrypts and indexes the register's personal fields with one master key."""

    def __init__(self, master: bytes):
        def derive(label: bytes) -> bytes:
            return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(master)

        self._aead = AESGCM(derive(b"gridmap register encryption"))
        self._index_key = derive(b"gridmap register blind index")
        self.key_id = hashlib.blake2b(derive(b"gridmap register key id"), digest_size=8).hexdigest()

    def encrypt(self, value: str | None, field: str) -> bytes | None:
        if value is None:
            return None
        nonce = secrets.token_bytes(NONCE)
        return VERSION + nonce + self._aead.encrypt(nonce, value.encode(), field.encode())

    def encrypt_many(self, values: Iterable[str | None], field: str) -> list[bytes | None]:
        aad, enc = field.encode(), self._aead.encrypt
        values = list(values)
        nonces = secrets.token_bytes(NONCE * len(values))
        out: list[bytes | None] = []
        for i, v in enumerate(values):
            if v is None:
                out.append(None)
                continue
            nonce = nonces[NONCE * i:NONCE * (i + 1)]
            out.append(VERSION + nonce + enc(nonce, v.encode(), aad))
        return out

    @overload
    def decrypt(self, blob: bytes, field: str) -> str: ...
    @overload
    def decrypt(self, blob: None, field: str) -> None: ...
    @overload
    def decrypt(self, blob: bytes | None, field: str) -> str | None: ...

    def decrypt(self, blob: bytes | None, field: str) -> str | None:
        """A value as :meth:`encrypt` took it (None stays None)."""
        if blob is None:
            return None
        blob = bytes(blob)
        if blob[:1] != VERSION:
            raise WrongKey("an encrypted value has an unknown format", zh="加密数据格式有误")
        try:
            return self._aead.decrypt(blob[1:1 + NONCE], blob[1 + NONCE:], field.encode()).decode()
        except InvalidTag:
            raise WrongKey("the register key does not decrypt the stored personal data: the "
                           "key was changed without `gridmap register rotate-key`",
                           zh="个人信息密钥与数据不符") from None

    def index(self, value: str | None, field: str) -> bytes | None:
        if value is None:
            return None
        return hashlib.blake2b(value.encode(), key=self._index_key, digest_size=16,
                               person=field.encode()[:16]).digest()

    def index_many(self, values: Iterable[str | None], field: str) -> list[bytes | None]:
        key, person, blake = self._index_key, field.encode()[:16], hashlib.blake2b
        return [None if v is None else blake(v.encode(), key=key, digest_size=16,
                                             person=person).digest() for v in values]


_CACHE: dict[bytes, PersonalData] = {}


def personal_data(settings) -> PersonalData:
    """The cipher for the configured key (``settings``: gridmap.settings.Settings)."""
    master = read_key(settings.register_key, settings.key_file)
    if master not in _CACHE:
        _CACHE[master] = PersonalData(master)
    return _CACHE[master]


def check_key(engine, cipher: PersonalData) -> None:
    """Refuse to start when the stored personal data was written with another key."""
    with engine.connect() as conn:
        check_key_on(conn, cipher)


def check_key_on(conn, cipher: PersonalData) -> None:
    from sqlalchemy import text

    row = conn.execute(text("SELECT key_id, id_cipher FROM persons LIMIT 1")).one_or_none()
    if row is None:
        return
    if row.key_id != cipher.key_id:
        raise WrongKey(f"the register was encrypted with key {row.key_id}, but the configured key "
                       f"is {cipher.key_id}: configure the key it was written with (a rotation "
                       "is `gridmap register rotate-key`)", zh="个人信息密钥与数据不符")
    cipher.decrypt(row.id_cipher, "id")
