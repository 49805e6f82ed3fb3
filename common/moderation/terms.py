"""Blocked terms: a chat request containing one is refused before it reaches a provider.

The list is `settings.blocked_terms` (env `BLOCKED_TERMS`) plus the terms admins add, stored in
MongoDB. Each process keeps the compiled pattern and rebuilds it when a Redis version token
changes (every add/remove sets a new random token). The token is read at most once a second per
process, so `check_blocked` usually costs no round trip on the send path: a change applies at
once in the process that made it and within a second in every other.
"""

from __future__ import annotations

import re
import time
import uuid

from mongoengine.errors import NotUniqueError

from common.errors import Conflict, ContentBlocked, NotFound, ValidationError
from common.moderation.models import BlockedTerm
from common.redis_client import get_redis
from config import get_settings

VERSION_KEY = "aipasta:moderation:terms-version"
MAX_TERM_CHARS = 100
VERSION_CHECK_SECONDS = 1.0
_cache: dict = {"key": None, "pattern": None, "checked": float("-inf")}


def normalise(term: str) -> str:
    return " ".join(term.split()).lower()


def check_blocked(text: str) -> None:
    """Raise `ContentBlocked` (400 CONTENT_BLOCKED) if `text` contains a blocked term.

    Terms match case-insensitively as whole words: "ass" blocks "ASS!" but not "class".
    """
    pattern = _pattern()
    match = pattern.search(text) if pattern else None
    if match:
        raise ContentBlocked(
            "Your message contains a blocked term. Rephrase it and try again.",
            {"term": match.group(0)},
        )


def _pattern() -> re.Pattern | None:
    now = time.monotonic()
    settings_terms = get_settings().blocked_terms
    fresh = now - _cache["checked"] < VERSION_CHECK_SECONDS
    if fresh and _cache["key"] is not None and _cache["key"][1] == settings_terms:
        return _cache["pattern"]
    cache_key = (get_redis().get(VERSION_KEY), settings_terms)
    if _cache["key"] != cache_key:
        _cache.update(key=cache_key, pattern=compile_terms(all_terms()))
    _cache["checked"] = now
    return _cache["pattern"]


def forget_cache() -> None:
    """Re-read the terms on the next check (after a change, or when tests reset the stores)."""
    _cache.update(key=None, pattern=None, checked=float("-inf"))


def compile_terms(terms: list[str]) -> re.Pattern | None:
    """One alternation; `(?<!\\w)`/`(?!\\w)` rather than `\\b` so terms that start or end with
    punctuation still need a word edge around them. Whitespace inside a term matches any run."""
    if not terms:
        return None
    parts = [r"\s+".join(re.escape(word) for word in t.split()) for t in terms]
    parts.sort(key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)


def configured_terms() -> list[str]:
    return sorted({normalise(t) for t in get_settings().blocked_terms if t.strip()})


def runtime_terms() -> list[str]:
    return sorted(BlockedTerm.objects.scalar("term"))


def all_terms() -> list[str]:
    return sorted(set(configured_terms()) | set(runtime_terms()))


def add_term(term: str, admin_id: str) -> str:
    term = normalise(term)
    if not term or len(term) > MAX_TERM_CHARS:
        raise ValidationError(f"term must be 1 to {MAX_TERM_CHARS} characters", {"field": "term"})
    try:
        BlockedTerm(term=term, addedBy=admin_id).save()
    except NotUniqueError:
        raise Conflict("That term is already blocked.", {"field": "term"}) from None
    _bump()
    return term


def remove_term(term: str) -> str:
    term = normalise(term)
    if not BlockedTerm.objects(term=term).delete():
        if term in configured_terms():
            raise ValidationError(
                "That term comes from the BLOCKED_TERMS setting; change the setting to remove it.",
                {"field": "term"},
            )
        raise NotFound("That term is not blocked.")
    _bump()
    return term


def _bump() -> None:
    get_redis().set(VERSION_KEY, uuid.uuid4().hex)
    forget_cache()
