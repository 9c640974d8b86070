"""Matching of operator search terms: ``*`` and ``?`` wildcards, case-insensitive."""

from __future__ import annotations

import re

from django.db.models import Q

WILDCARDS = frozenset("*?")


def wildcard_q(field: str, pattern: str, *, upper_field: bool = False) -> Q:
    """A filter matching ``pattern`` (``*`` any run, ``?`` one character) against ``field``.

    Without wildcards the term matches anywhere in the value. ``upper_field``: the column
    already holds upper-cased text, so the match can use its index for a prefix.
    """
    term = re.sub(r"\*+", "*", pattern.strip())  # runs of * would make the regex backtrack
    if not term:
        return Q()
    if sum(term.count(c) for c in "*?") > 16:
        term = term.replace("?", "*")
        term = re.sub(r"\*+", "*", term)
    if not WILDCARDS & set(term):
        return Q(**{f"{field}__icontains": term})
    body = term.rstrip("*")
    if body and not WILDCARDS & set(body) and term.endswith("*"):
        if upper_field:
            return Q(**{f"{field}__startswith": body.upper()})
        return Q(**{f"{field}__istartswith": body})
    regex = "^" + "".join(
        ".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in term
    ) + "$"
    if upper_field:
        return Q(**{f"{field}__regex": regex.upper().replace("\\", "\\")})
    return Q(**{f"{field}__iregex": regex})
