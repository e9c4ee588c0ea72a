"""A count with its noun in the right number, for messages people read: "1 contact",
"2 contacts", never "1 contacts".

English only, where the plural is one form; the portal's translations (Polish has
three forms) bring their own plural rules with the catalogue.
"""

from __future__ import annotations


def counted(count: int, singular: str, plural: str | None = None, *, grouped: bool = False
            ) -> str:  # fmt: skip
    """`counted(1, "code")` is "1 code", `counted(2, "code")` "2 codes"; `plural` for nouns
    that do not just add an s ("1 reply", "2 replies"); `grouped` writes 12,500."""
    noun = singular if count == 1 else (plural or f"{singular}s")
    return f"{count:,} {noun}" if grouped else f"{count} {noun}"
