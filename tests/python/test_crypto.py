"""BR's AES-CTR cipher: the vectors of br-metadata.md §2.4 and the --crypter.* options."""

from __future__ import annotations

from pathlib import Path

import pytest

from br_parquet.crypto import (
    AES128_CTR,
    AES192_CTR,
    AES256_CTR,
    PLAINTEXT,
    Cipher,
    cipher_from_options,
    decode_key_hex,
    parse_method,
    read_key_file,
)
from br_parquet.errors import CipherConfigError

IV = b"1234567890123456"


@pytest.mark.parametrize(
    ("method", "key", "plaintext", "ciphertext_hex"),
    [
        (AES128_CTR, b"1234567890123456", b"pingcap123", "0515A36BBF3DE0DBE9DD"),
        (AES192_CTR, b"123456789012345678901234", b"pingcap", "45A57592449893"),
    ],
)
def test_tidb_vectors(method: int, key: bytes, plaintext: bytes, ciphertext_hex: str) -> None:
    cipher = Cipher(method, key)  # type: ignore[arg-type]
    assert cipher.encrypt(plaintext, IV) == bytes.fromhex(ciphertext_hex)
    assert cipher.decrypt(bytes.fromhex(ciphertext_hex), IV) == plaintext


def test_counter_is_big_endian_128_bit() -> None:
    # An IV of all 0xff wraps the whole 128-bit counter to zero for the second block.
    cipher = Cipher(AES256_CTR, b"\x42" * 32)
    data = bytes(48)
    wrapped = cipher.encrypt(data, b"\xff" * 16)
    from_zero = cipher.encrypt(data, bytes(16))
    assert wrapped[16:32] == from_zero[:16]
    assert wrapped[32:48] == from_zero[16:32]


def test_streaming_context_matches_one_shot() -> None:
    cipher = Cipher(AES256_CTR, bytes(range(32)))
    data = bytes(range(256)) * 5
    ctx = cipher.context(IV)
    streamed = b"".join(ctx.update(data[i : i + 7]) for i in range(0, len(data), 7))
    assert streamed + ctx.finalize() == cipher.encrypt(data, IV)


def test_empty_input_and_iv_length() -> None:
    cipher = Cipher(AES128_CTR, bytes(16))
    assert cipher.decrypt(b"", IV) == b""
    with pytest.raises(ValueError, match="16 bytes"):
        cipher.decrypt(b"x", b"short")


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("plaintext", PLAINTEXT),
        ("PLAINTEXT", PLAINTEXT),
        ("aes128-ctr", AES128_CTR),
        ("AES192-CTR", AES192_CTR),
        ("Aes256-Ctr", AES256_CTR),
    ],
)
def test_parse_method(name: str, method: int) -> None:
    assert parse_method(name) == method


@pytest.mark.parametrize("name", ["sm4-ctr", "aes256", "", "aes-256-ctr"])
def test_parse_method_rejects(name: str) -> None:
    with pytest.raises(CipherConfigError, match="plaintext, aes128-ctr, aes192-ctr, aes256-ctr"):
        parse_method(name)


def test_key_length_must_match_method() -> None:
    with pytest.raises(CipherConfigError, match=r"needs a 32-byte key .* got 16 bytes"):
        Cipher(AES256_CTR, bytes(16))
    with pytest.raises(CipherConfigError, match="does not encrypt"):
        Cipher(PLAINTEXT, b"")


def test_decode_key_hex() -> None:
    assert decode_key_hex("00ffAB") == b"\x00\xff\xab"
    for bad in ("abc", "zz", "00 11"):
        with pytest.raises(CipherConfigError, match="hexadecimal"):
            decode_key_hex(bad)


def test_key_file_trims_one_newline(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_bytes(b"42" * 32 + b"\n")
    assert read_key_file(path) == b"\x42" * 32
    path.write_bytes(b"42" * 32 + b"\n\n")
    with pytest.raises(CipherConfigError, match="hexadecimal"):
        read_key_file(path)
    with pytest.raises(CipherConfigError, match="cannot read crypter key file"):
        read_key_file(tmp_path / "missing")


def test_cipher_from_options(tmp_path: Path) -> None:
    assert cipher_from_options() is None
    assert cipher_from_options("plaintext") is None
    cipher = cipher_from_options("aes256-ctr", key="42" * 32)
    assert cipher == Cipher(AES256_CTR, b"\x42" * 32)
    assert "42" not in repr(cipher)
    path = tmp_path / "key"
    path.write_text("42" * 16 + "\n")
    assert cipher_from_options("aes128-ctr", key_file=path) == Cipher(AES128_CTR, b"\x42" * 16)


def test_cipher_from_options_rejects() -> None:
    with pytest.raises(
        CipherConfigError, match=r"exactly one of --crypter\.key or --crypter\.key-file"
    ):
        cipher_from_options("aes128-ctr")
    with pytest.raises(CipherConfigError, match="exactly one"):
        cipher_from_options("aes128-ctr", key="00" * 16, key_file="/k")
    with pytest.raises(CipherConfigError, match="method is plaintext"):
        cipher_from_options("plaintext", key="00" * 16)
    with pytest.raises(CipherConfigError, match="needs a 24-byte key"):
        cipher_from_options("aes192-ctr", key="00" * 16)
