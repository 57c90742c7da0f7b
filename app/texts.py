"""Counted nouns for status lines, messages and undo texts: "1 person", "3 people", "1 frame".

Every user-visible text that says how many of something goes through :func:`count` (or its
shorthands), so that no message reads "1 people" or "1 frames".
"""

from __future__ import annotations

# nouns whose plural is not the singular + "s"
_IRREGULAR = {"person": "people", "box": "boxes"}


def plural(n: int, singular: str, plural_form: str | None = None) -> str:
    """The noun for ``n`` of it, without the number: ``plural(1, "frame") == "frame"``,
    ``plural(2, "frame") == "frames"``, ``plural(3, "person") == "people"``."""
    if int(n) == 1:
        return singular
    return plural_form or _IRREGULAR.get(singular, singular + "s")


def count(n: int, singular: str, plural_form: str | None = None) -> str:
    """``n`` and the noun in the right number: ``count(1, "frame") == "1 frame"``,
    ``count(0, "person") == "0 people"``."""
    return f"{int(n)} {plural(n, singular, plural_form)}"


def people(n: int) -> str:
    """"1 person", "2 people" (also "0 people")."""
    return count(n, "person")


def frames(n: int) -> str:
    """"1 frame", "2 frames"."""
    return count(n, "frame")
