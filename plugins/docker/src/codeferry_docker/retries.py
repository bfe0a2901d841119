"""Bounded retries of registry requests answered 429 (too many requests) or a passing 5xx.

Only requests that can be sent again safely are retried: reads, manifest writes (the same bytes
under the same name), and blob uploads restarted from the beginning (a blob is named by its
digest, so a second upload of it changes nothing). ``Retry-After`` is honoured; the attempts and
the total time spent waiting are capped, and a registry that asks for a longer wait than is left
gets an answer at once instead of a stalled pull.
"""

from __future__ import annotations

import datetime
import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

__all__ = ["RETRIED_STATUSES", "RetryPolicy", "retry_after", "send_with_retries"]

# Overloaded, failing or unreachable behind a proxy: answers that may differ a moment later.
# 501 (not implemented) and 505 (HTTP version) never will.
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a request answered 429 or 5xx is tried again.

    :param attempts: tries in all, the first included.
    :param backoff: seconds before the first retry when the registry gives no ``Retry-After``;
        doubled for each further one, with jitter, up to ``max_delay``.
    :param total_wait: the most that the waits of one request may add up to.
    """

    attempts: int = 5
    backoff: float = 0.5
    max_delay: float = 8.0
    total_wait: float = 30.0

    def delay(self, attempt: int, asked: float | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if asked is not None:
            return asked
        jitter = random.uniform(0.75, 1.25)  # noqa: S311 - spreads clients out, not security
        return float(min(self.max_delay, self.backoff * 2 ** (attempt - 1) * jitter))


def retry_after(value: str | None) -> float | None:
    """The seconds a ``Retry-After`` header asks for (a number or an HTTP date), if it is valid."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())


def send_with_retries(
    send: Callable[[], httpx.Response],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[httpx.Response, str]:
    """Call ``send`` until its answer is not 429/5xx, or the attempts or the waiting run out.

    :returns: the last response (the ones before it are closed), and a note for an error message
        when it is still a 429/5xx after retrying (empty otherwise).
    """
    waited = 0.0
    attempt = 1
    while True:
        response = send()
        if response.status_code not in RETRIED_STATUSES:
            return response, ""
        if attempt >= policy.attempts:
            return response, f" (after {attempt} attempts)"
        asked = retry_after(response.headers.get("Retry-After"))
        delay = policy.delay(attempt, asked)
        if waited + delay > policy.total_wait:
            if asked is not None:
                return response, (
                    f" (it asked to retry after {asked:.0f} s, longer than the "
                    f"{policy.total_wait - waited:.0f} s of waiting left)"
                )
            return response, f" (after {attempt} attempts)"
        response.close()
        sleep(delay)
        waited += delay
        attempt += 1
