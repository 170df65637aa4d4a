"""Item identifiers: unguessable, and checked before any cache lookup."""

from __future__ import annotations

import re
import secrets

from .._runtime import KEY_TAG_PATTERN

__all__ = ["is_valid_uid", "new_uid"]

# 16 random bytes (128 bits) from `secrets`, as 32 lowercase hex digits; per-process
# caches append the owning process's tag (CacheAbstract.new_key), e.g. "...-0123456789ab".
_UID_BYTES = 16
_UID_RE = re.compile(f"[0-9a-f]{{{2 * _UID_BYTES}}}(?:{KEY_TAG_PATTERN})?")


def new_uid() -> str:
    """Return a fresh uid."""
    return secrets.token_hex(_UID_BYTES)


def is_valid_uid(value: object) -> bool:
    """Whether ``value`` has the exact form of a uid (with or without a process tag).

    Only such values ever reach a cache, so no client input can name a path,
    a wildcard or anything else a backend might interpret.
    """
    return isinstance(value, str) and _UID_RE.fullmatch(value) is not None
