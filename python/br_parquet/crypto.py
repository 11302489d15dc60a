"""BR's cipher for metadata and SST files: AES-CTR with a 16-byte IV.

BR (`--crypter.method`, `--crypter.key` / `--crypter.key-file`) encrypts the whole
content with AES in counter mode; the 16-byte IV is the initial 128-bit big-endian
counter block and there is no padding, so ciphertext and plaintext have the same length.
The top-level `backupmeta` carries its IV as a 16-byte prefix; child meta files and SSTs
keep theirs in `File.cipher_iv`.
"""

from __future__ import annotations

import os
import string
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.ciphers import Cipher as _AesCipher
from cryptography.hazmat.primitives.ciphers import algorithms, modes

from .errors import CipherConfigError
from .proto.encryptionpb_pb2 import EncryptionMethod

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers import CipherContext

IV_LENGTH = 16
"""Length of an AES-CTR IV (one AES block)."""

PLAINTEXT: EncryptionMethod = EncryptionMethod.PLAINTEXT
AES128_CTR: EncryptionMethod = EncryptionMethod.AES128_CTR
AES192_CTR: EncryptionMethod = EncryptionMethod.AES192_CTR
AES256_CTR: EncryptionMethod = EncryptionMethod.AES256_CTR

_KEY_LENGTHS: dict[EncryptionMethod, int] = {
    AES128_CTR: 16,
    AES192_CTR: 24,
    AES256_CTR: 32,
}

_METHOD_BY_NAME: dict[str, EncryptionMethod] = {
    "plaintext": PLAINTEXT,
    "aes128-ctr": AES128_CTR,
    "aes192-ctr": AES192_CTR,
    "aes256-ctr": AES256_CTR,
}

METHOD_NAMES: tuple[str, ...] = tuple(_METHOD_BY_NAME)
"""The `--crypter.method` values, as BR spells them."""


def parse_method(name: str) -> EncryptionMethod:
    """Map a `--crypter.method` value (case-insensitive) to its `EncryptionMethod`."""
    method = _METHOD_BY_NAME.get(name.strip().lower())
    if method is None:
        raise CipherConfigError(
            f"invalid crypter method {name!r}: expected one of {', '.join(METHOD_NAMES)}"
        )
    return method


def method_name(method: EncryptionMethod) -> str:
    """The `--crypter.method` spelling of `method` (e.g. `aes256-ctr`)."""
    for name, value in _METHOD_BY_NAME.items():
        if value == method:
            return name
    return str(EncryptionMethod.Name(method))


def decode_key_hex(text: str, *, source: str = "--crypter.key") -> bytes:
    """Decode a hex key as BR does (Go `hex.DecodeString`: even length, hex digits only)."""
    if len(text) % 2 != 0 or any(c not in string.hexdigits for c in text):
        raise CipherConfigError(
            f"{source} must be a hexadecimal string with an even number of digits "
            f"(got {len(text)} characters)"
        )
    return bytes.fromhex(text)


def read_key_file(path: str | os.PathLike[str]) -> bytes:
    """Read a `--crypter.key-file`: hex text, one trailing newline trimmed."""
    try:
        with open(path, "rb") as f:
            content = f.read()
    except OSError as e:
        raise CipherConfigError(f"cannot read crypter key file {os.fspath(path)!r}: {e}") from e
    content = content.removesuffix(b"\n")
    try:
        text = content.decode("ascii")
    except UnicodeDecodeError:
        raise CipherConfigError(
            f"crypter key file {os.fspath(path)!r} must contain a hexadecimal key"
        ) from None
    return decode_key_hex(text, source=f"crypter key file {os.fspath(path)!r}")


@dataclass(frozen=True)
class Cipher:
    """An AES-CTR method plus its key. The key is never shown by `repr`."""

    method: EncryptionMethod
    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        expected = _KEY_LENGTHS.get(self.method)
        if expected is None:
            raise CipherConfigError(
                f"crypter method {method_name(self.method)!r} does not encrypt; "
                f"expected one of {', '.join(METHOD_NAMES[1:])}"
            )
        if len(self.key) != expected:
            raise CipherConfigError(
                f"crypter method {method_name(self.method)} needs a {expected}-byte key "
                f"({expected * 2} hex digits), got {len(self.key)} bytes"
            )

    def context(self, iv: bytes) -> CipherContext:
        """A streaming AES-CTR context starting at counter block `iv` (encrypts = decrypts)."""
        if len(iv) != IV_LENGTH:
            raise ValueError(f"AES-CTR IV must be {IV_LENGTH} bytes, got {len(iv)}")
        return _AesCipher(algorithms.AES(self.key), modes.CTR(iv)).decryptor()

    def decrypt(self, data: bytes, iv: bytes) -> bytes:
        """Decrypt `data` whose counter starts at `iv`."""
        ctx = self.context(iv)
        return ctx.update(data) + ctx.finalize()

    def encrypt(self, data: bytes, iv: bytes) -> bytes:
        """Encrypt `data` with counter start `iv` (CTR is its own inverse)."""
        return self.decrypt(data, iv)


def cipher_from_options(
    method: str = "plaintext",
    *,
    key: str | None = None,
    key_file: str | os.PathLike[str] | None = None,
) -> Cipher | None:
    """Build the cipher described by `--crypter.method`, `--crypter.key`, `--crypter.key-file`.

    Returns None for `plaintext`. Exactly one of `key` / `key_file` is required otherwise.

    >>> cipher_from_options("aes256-ctr", key="00" * 32)
    Cipher(method=4)
    """
    parsed = parse_method(method)
    has_key = bool(key)
    has_file = key_file is not None and os.fspath(key_file) != ""
    if parsed == PLAINTEXT:
        if has_key or has_file:
            raise CipherConfigError(
                "a crypter key was given but --crypter.method is plaintext; "
                f"pass --crypter.method (one of {', '.join(METHOD_NAMES[1:])})"
            )
        return None
    if has_key == has_file:
        raise CipherConfigError(
            f"--crypter.method {method_name(parsed)} needs exactly one of "
            "--crypter.key or --crypter.key-file"
        )
    if key:
        raw = decode_key_hex(key)
    else:
        assert key_file is not None
        raw = read_key_file(key_file)
    return Cipher(parsed, raw)
