"""The GSM 7-bit default alphabet and its extension table (3GPP TS 23.038, 6.2.1).

Kept as data, indexed by septet value, so the same tables drive classification,
encoding and decoding and cannot disagree with each other.
"""

from __future__ import annotations

ESCAPE = 0x1B
"""The septet that says "the next septet is read from the extension (single shift) table"."""

# Septet value -> character. 0x1B is the escape to the extension table; it never
# stands for a character of its own, so it holds a placeholder that no text contains.
DEFAULT_ALPHABET = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)

# Septet value after an escape -> character (the default single shift table).
DEFAULT_EXTENSION: dict[int, str] = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

assert len(DEFAULT_ALPHABET) == 128
