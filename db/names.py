"""Names of accounts and graders: what is accepted, and when two names are the same person.

A name is stored NFKC-normalised (full-width ``ａｄｍｉｎ`` is ``admin``) with
surrounding whitespace stripped. It is refused when it is empty, longer than
:data:`drcore.limits.MAX_NAME_CHARS`, holds a character that is not
printable (control characters such as newlines, tabs and terminal escapes;
format characters such as U+202E RIGHT-TO-LEFT OVERRIDE and zero-width
spaces; line and paragraph separators; unassigned and private-use code
points) or mixes letters of the Latin, Greek and Cyrillic scripts (``аdmin``
with a Cyrillic ``а``). Two names are the same when their :func:`name_key`
is: case folded, Greek and Cyrillic look-alikes of Latin letters read as
those letters. A new grader whose key is taken is refused, so ``Admin`` and
a Cyrillic ``аdmіn`` cannot stand beside ``admin``.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from db.errors import InvalidValue
from drcore.limits import MAX_NAME_CHARS

__all__ = ["clean_name", "name_key", "printable"]

#: scripts whose letters look alike: a name takes its letters from one of them
_CONFUSABLE_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC")
#: Greek and Cyrillic letters that look like Latin ones (after case folding)
_LOOK_ALIKES = str.maketrans({
    "а": "a", "в": "b", "е": "e", "һ": "h", "і": "i", "ј": "j", "к": "k", "м": "m", "н": "h", "о": "o", "п": "n", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ո": "n",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "μ": "u", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "ω": "w",
})


def _script(character: str) -> str:
    name = unicodedata.name(character, "")
    return next((script for script in _CONFUSABLE_SCRIPTS if name.startswith(script + " ")), "")


def _refused_character(character: str) -> bool:
    """Control (Cc), format (Cf), surrogate, private-use or unassigned (C*), and separators other than a space."""
    category = unicodedata.category(character)
    return category.startswith("C") or (category.startswith("Z") and character != " ")


def clean_name(value: Any, what: str = "an account name") -> str:
    """``value`` as a name is stored (NFKC, stripped); :class:`InvalidValue` saying why it cannot be one."""
    if not isinstance(value, str) or not unicodedata.normalize("NFKC", value).strip():
        raise InvalidValue(f"{what} must be a non-empty name, got {value!r:.40}")
    name = unicodedata.normalize("NFKC", value).strip()
    if len(name) > MAX_NAME_CHARS:
        raise InvalidValue(f"{what} may have at most {MAX_NAME_CHARS} characters, got {len(name):,}")
    odd = next((character for character in name if _refused_character(character)), None)
    if odd is not None:
        raise InvalidValue(f"{what} may not hold the invisible or control character U+{ord(odd):04X} "
                           f"({unicodedata.name(odd, repr(odd))})")
    scripts = {_script(character) for character in name if character.isalpha()} - {""}
    if len(scripts) > 1:
        raise InvalidValue(f"{what} mixes letters of the {' and '.join(sorted(s.title() for s in scripts))} "
                           "scripts (look-alike letters); use one script")
    return name


def name_key(name: str) -> str:
    """What makes two names the same person: case folded, look-alike letters read as Latin."""
    return unicodedata.normalize("NFKC", name).strip().casefold().translate(_LOOK_ALIKES)


def printable(name: str) -> str:
    """``name`` for a terminal or a listing: every character that is not printable (a name from before these
    rules) written as an escape such as ``\\n`` or ``\\u202e``; ordinary names unchanged."""
    return "".join(character.encode("unicode_escape").decode("ascii") if _refused_character(character)
                   else character for character in name)
