"""Pure helpers for HTTP providers: request batching, Retry-After, backoff."""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from typing import Any

RETRY_AFTER_CAP = 60.0  # never sleep longer than this on a server's word


def estimate_tokens(text: str) -> int:
    """A cheap, generous token count: UTF-8 bytes / 3, plus one.

    English runs about 4 bytes a token, so this over-counts it (batches stay
    under a token limit); CJK runs about 3 bytes a token.

    Args:
        text: one input text.

    Returns:
        The estimate (>= 1).
    """
    return len(text.encode("utf-8")) // 3 + 1


def plan_batches(texts: Sequence[str], max_count: int, max_tokens: int) -> list[range]:
    """Split texts, in order, into batches under a count and a token-estimate limit.

    Args:
        texts: the texts.
        max_count: at most this many texts a batch (>= 1).
        max_tokens: at most this many estimated tokens a batch; a single text
            over it still goes, alone.

    Returns:
        Consecutive index ranges covering ``texts``.
    """
    batches: list[range] = []
    start, tokens = 0, 0
    for index, text in enumerate(texts):
        cost = estimate_tokens(text)
        if index > start and (index - start >= max_count or tokens + cost > max_tokens):
            batches.append(range(start, index))
            start, tokens = index, 0
        tokens += cost
    if start < len(texts):
        batches.append(range(start, len(texts)))
    return batches


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    value = headers.get(name)
    if value is None and isinstance(headers, Mapping):
        for key, item in headers.items():
            if isinstance(key, str) and key.lower() == name:
                return str(item)
    return None if value is None else str(value)


def retry_after_seconds(headers: Any, now: float | None = None) -> float | None:
    """How long a response asks the client to wait, from its headers.

    ``retry-after-ms`` (milliseconds, as OpenAI sends) wins over
    ``Retry-After`` (seconds, fractions allowed, or an HTTP date).

    Args:
        headers: the response headers (case-insensitive like httpx's, or a
            plain mapping).
        now: the current Unix time (for an HTTP date); ``time.time()`` by default.

    Returns:
        Seconds to wait (>= 0), or ``None`` if no usable header was sent.
    """
    milliseconds = _header(headers, "retry-after-ms")
    if milliseconds is not None:
        try:
            value = float(milliseconds) / 1000.0
        except ValueError:
            value = -1.0
        if value >= 0.0 and value == value:  # not NaN
            return value
    text = _header(headers, "retry-after")
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        import email.utils  # (an HTTP date: rare, and the module is ~1 MB)

        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            return None
        return max(0.0, moment.timestamp() - (time.time() if now is None else now))
    return value if value >= 0.0 and value == value else None


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: ``min(cap, base * 2**attempt)`` times 0.5 to 1.

    Args:
        attempt: how many attempts have failed before this wait, minus one (0 first).
        base: the first wait in seconds.
        cap: the longest wait in seconds.
        rng: the random source (``random`` module's by default).

    Returns:
        Seconds to wait.
    """
    ceiling = min(cap, base * (2.0 ** min(attempt, 62)))
    return ceiling * (rng or random).uniform(0.5, 1.0)


def retry_wait(
    attempt: int, headers: Any, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """The wait before the next attempt: the server's Retry-After if it sent one, else backoff.

    Args:
        attempt: failed attempts so far, minus one.
        headers: the failed response's headers (``None`` for a timeout or a
            connection error).
        base: backoff's first wait in seconds.
        cap: backoff's longest wait in seconds.
        rng: the random source for the jitter.

    Returns:
        Seconds to wait; a Retry-After is honoured exactly, up to
        ``RETRY_AFTER_CAP`` seconds.
    """
    asked = retry_after_seconds(headers)
    if asked is not None:
        return min(asked, RETRY_AFTER_CAP)
    return backoff_delay(attempt, base, cap, rng)


__all__ = [
    "RETRY_AFTER_CAP",
    "backoff_delay",
    "estimate_tokens",
    "plan_batches",
    "retry_after_seconds",
    "retry_wait",
]
