"""MyDecimal binary form of a `decimal.Decimal` (`docs/formats/tidb-codec.md` §7).

Base-10⁹ words of 4 big-endian bytes; partial words take `DIG2BYTES[n]` bytes. Negative
values have every byte inverted; every value then has the top bit of its first byte flipped.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

__all__ = [
    "MAX_DECIMAL_FRAC",
    "MAX_DECIMAL_PRECISION",
    "decimal_bin_size",
    "decimal_precision_and_frac",
    "encode_decimal_bin",
    "quantize_decimal",
]

MAX_DECIMAL_PRECISION = 65
MAX_DECIMAL_FRAC = 30
DIGITS_PER_WORD = 9
WORD_SIZE = 4
DIG2BYTES = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)


def _check_precision_frac(precision: int, frac: int) -> None:
    if not 1 <= precision <= MAX_DECIMAL_PRECISION:
        raise ValueError(f"decimal precision {precision} outside 1..{MAX_DECIMAL_PRECISION}")
    if not 0 <= frac <= min(precision, MAX_DECIMAL_FRAC):
        raise ValueError(f"decimal frac {frac} invalid for precision {precision}")


def decimal_bin_size(precision: int, frac: int) -> int:
    """Number of bytes of the binary form for (precision, frac)."""
    _check_precision_frac(precision, frac)
    intg = precision - frac
    return (
        (intg // DIGITS_PER_WORD) * WORD_SIZE
        + DIG2BYTES[intg % DIGITS_PER_WORD]
        + (frac // DIGITS_PER_WORD) * WORD_SIZE
        + DIG2BYTES[frac % DIGITS_PER_WORD]
    )


def decimal_precision_and_frac(value: Decimal) -> tuple[int, int]:
    """(precision, frac) that hold `value` exactly; what TiDB uses when none is given."""
    if not value.is_finite():
        raise ValueError(f"decimal {value} is not finite")
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    frac = max(0, -exponent)
    int_part = int(abs(value))
    intg = len(str(int_part)) if int_part else 0
    return max(intg + frac, 1), frac


def quantize_decimal(value: Decimal, precision: int, frac: int) -> Decimal:
    """Round `value` half-up to `frac` digits, as TiDB does when storing into DECIMAL(p, s).

    Raises `ValueError` if the integer part needs more than `precision - frac` digits.
    """
    _check_precision_frac(precision, frac)
    if not value.is_finite():
        raise ValueError(f"decimal {value} is not finite")
    # Enough digits that quantize never overflows the context; too-large values are
    # rejected by the overflow check below instead.
    digits = max(MAX_DECIMAL_PRECISION, value.adjusted() + 1) + frac + 10
    context = decimal.Context(prec=digits, rounding=decimal.ROUND_HALF_UP)
    rounded = value.quantize(Decimal(1).scaleb(-frac), context=context)
    # copy_abs() and comparisons are exact; abs() and ** would round to the default context.
    if rounded.copy_abs() >= Decimal(f"1e{precision - frac}"):
        raise ValueError(f"decimal {value} overflows DECIMAL({precision},{frac})")
    return rounded


def encode_decimal_bin(value: Decimal, precision: int, frac: int) -> bytes:
    """MyDecimal `WriteBin` of `value` as DECIMAL(precision, frac) (rounded half-up)."""
    rounded = quantize_decimal(value, precision, frac)
    sign, digits, _ = rounded.as_tuple()
    # After quantize the exponent is exactly -frac: the digits are the scaled magnitude.
    scaled = int("".join(map(str, digits)))
    negative = bool(sign) and scaled != 0
    int_part, frac_part = divmod(scaled, 10**frac)
    int_digits = str(int_part).rjust(precision - frac, "0") if precision > frac else ""
    frac_digits = str(frac_part).rjust(frac, "0") if frac else ""
    out = bytearray()
    lead = len(int_digits) % DIGITS_PER_WORD
    if lead:
        out += int(int_digits[:lead]).to_bytes(DIG2BYTES[lead], "big")
    for start in range(lead, len(int_digits), DIGITS_PER_WORD):
        out += int(int_digits[start : start + DIGITS_PER_WORD]).to_bytes(WORD_SIZE, "big")
    whole_frac_words = len(frac_digits) // DIGITS_PER_WORD
    for index in range(whole_frac_words):
        word = frac_digits[index * DIGITS_PER_WORD : (index + 1) * DIGITS_PER_WORD]
        out += int(word).to_bytes(WORD_SIZE, "big")
    trail = len(frac_digits) % DIGITS_PER_WORD
    if trail:
        out += int(frac_digits[-trail:]).to_bytes(DIG2BYTES[trail], "big")
    if negative:
        out = bytearray(b ^ 0xFF for b in out)
    out[0] ^= 0x80
    return bytes(out)
