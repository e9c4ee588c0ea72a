"""Compliance keywords: the words that opt people out, back in, or ask for help.

Carriers and regulators expect STOP, START and HELP to work on every number,
whatever campaigns run on it, so these lists come first in routing and ship with
defaults per language. A workspace edits them per language: it adds words of its
own and removes defaults it cannot use (a word it needs as a campaign keyword).
Words are kept in normalised form (`normalise`), so `REZYGNUJĘ` is `rezygnuje`.
"""

from __future__ import annotations

import enum
import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


class ComplianceKind(enum.StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


DEFAULT_WORDS: Mapping[str, Mapping[ComplianceKind, tuple[str, ...]]] = {
    "en": {
        ComplianceKind.OPT_OUT: (
            "STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT",
            "OPT OUT", "REVOKE",
        ),
        ComplianceKind.OPT_IN: ("START", "UNSTOP"),
        ComplianceKind.HELP: ("HELP", "INFO"),
    },
    "pl": {
        ComplianceKind.OPT_OUT: (
            "NIE", "REZYGNUJĘ", "REZYGNUJE", "REZYGNACJA", "WYPISZ", "WYPISZ MNIE", "KONIEC",
            "STOP",
        ),
        ComplianceKind.OPT_IN: ("START", "ZAPISZ"),
        ComplianceKind.HELP: ("POMOC", "INFO"),
    },
}  # fmt: skip

#: Words that confirm a double opt-in ("Reply YES to confirm").
CONFIRM_WORDS = frozenset({"yes", "y", "tak", "t", "ok", "confirm", "potwierdzam"})

# Letters NFKD does not take apart but that people type without their marks.
_LETTERS = str.maketrans(
    {"ł": "l", "đ": "d", "ø": "o", "æ": "ae", "œ": "oe", "ħ": "h", "ı": "i", "ŧ": "t", "ŀ": "l"}
)
# Dropped inside a word, so OPT-OUT is OPTOUT and DON'T is DONT.
_JOINERS = frozenset("-'‐‑‒–—―’`´")
_SPACES = re.compile(r"\s+")


@functools.lru_cache(maxsize=8192)
def normalise(text: str) -> str:
    """The form keywords are compared in: trimmed, case-folded, without diacritics or
    punctuation, single spaces. Applying it twice changes nothing more.

    Cached: inbound texts repeat a lot (STOP, YES, the keyword of the day), and this
    character-by-character pass was a tenth of routing's time."""
    previous = None
    current = text
    # Case folding can expose new decompositions (and NFKD new capitals); a few rounds
    # reach the fixed point for every real text, which is what makes this idempotent.
    for _ in range(4):
        if current == previous:
            break
        previous = current
        current = _normalise_once(current)
    return current


def _normalise_once(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_LETTERS))
    kept: list[str] = []
    for char in decomposed:
        if char in _JOINERS:
            continue
        category = unicodedata.category(char)
        if category.startswith("M"):
            continue
        if category[0] in "LN":
            kept.append(char)
        else:  # punctuation, symbols (emoji), separators, controls
            kept.append(" ")
    return _SPACES.sub(" ", "".join(kept)).strip()


@dataclass(frozen=True, slots=True)
class ComplianceOverride:
    """One workspace edit: add `word` to a list, or (removed=True) take a default off it."""

    language: str
    kind: ComplianceKind
    word: str
    removed: bool = False


@dataclass(frozen=True, slots=True)
class ComplianceWords:
    """The normalised words of each kind in force for one workspace (all its languages)."""

    opt_out: frozenset[str]
    opt_in: frozenset[str]
    help: frozenset[str]

    def kind_of(self, normalised_text: str) -> ComplianceKind | None:
        """Which compliance list the whole text is on; opt-out is checked first so a word
        on two lists (a workspace's mistake) always stops messages."""
        if normalised_text in self.opt_out:
            return ComplianceKind.OPT_OUT
        if normalised_text in self.opt_in:
            return ComplianceKind.OPT_IN
        if normalised_text in self.help:
            return ComplianceKind.HELP
        return None


def default_words(language: str) -> dict[ComplianceKind, set[str]]:
    table = DEFAULT_WORDS.get(language, {})
    return {kind: {normalise(w) for w in table.get(kind, ())} for kind in ComplianceKind}


def compliance_words(
    languages: Iterable[str], overrides: Iterable[ComplianceOverride] = ()
) -> ComplianceWords:
    """The lists in force: defaults of every language named, then the workspace's edits.

    English is always included: STOP must work on every number, whatever the language.
    """
    per_language = {lang: default_words(lang) for lang in {"en", *languages}}
    for edit in overrides:
        words = per_language.setdefault(edit.language, default_words(edit.language))
        word = normalise(edit.word)
        if edit.removed:
            words[edit.kind].discard(word)
        elif word:
            words[edit.kind].add(word)
    merged: dict[ComplianceKind, set[str]] = {kind: set() for kind in ComplianceKind}
    for words in per_language.values():
        for kind, found in words.items():
            merged[kind] |= found
    return ComplianceWords(
        frozenset(merged[ComplianceKind.OPT_OUT]),
        frozenset(merged[ComplianceKind.OPT_IN]),
        frozenset(merged[ComplianceKind.HELP]),
    )


DEFAULT_REPLIES: Mapping[str, Mapping[str, str]] = {
    "en": {
        "opt_out": "{{ sender }}: you are unsubscribed and will get no more messages. "
        "Reply START to subscribe again.",
        "opt_in": "{{ sender }}: you are subscribed again. Reply STOP to unsubscribe.",
        "help": "{{ sender }}: reply STOP to unsubscribe, START to subscribe again.",
        "confirmed": "{{ sender }}: thank you, your subscription is confirmed. "
        "Reply STOP to unsubscribe.",
    },
    "pl": {
        "opt_out": "{{ sender }}: wypisano Cię, nie dostaniesz więcej wiadomości. "
        "Odpisz START, aby zapisać się ponownie.",
        "opt_in": "{{ sender }}: zapisano Cię ponownie. Odpisz STOP, aby się wypisać.",
        "help": "{{ sender }}: odpisz STOP, aby się wypisać, START, aby się zapisać.",
        "confirmed": "{{ sender }}: dziękujemy, zapis potwierdzony. Odpisz STOP, aby się wypisać.",
    },
}


def default_reply(language: str | None, what: str) -> str:
    """The built-in answer template for a compliance keyword, in the contact's language."""
    table = DEFAULT_REPLIES.get(language or "en", DEFAULT_REPLIES["en"])
    return table[what]
