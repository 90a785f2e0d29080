"""Which failures are worth another try on their own, and when that try is due.

Gemini overloaded or rate-limiting (429/5xx past the SDK's own retries), a request
that timed out, Slack down or rate-limiting past slack_sdk's retry handlers: these
pass. The job goes back to the queue with a due time (exponential backoff, jittered so
that jobs failed together do not return together) and frees its worker slot; after
SCRIBE_RETRY_WINDOW_S since the first such failure it gives up with a Retry button.
A bad file, a file too long, a missing permission would fail the same way again: those
end at once.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.errors import UserFacingError
from bot.jobs.spec import Job

#: The longest wait between two tries: a recovered Gemini should not sit idle for long.
MAX_DELAY_S = 300.0

#: Slack errors that say "not now" rather than "not this" (docs.slack.dev: each method's
#: errors; `ratelimited` reaches us only once slack_sdk's RateLimitErrorRetryHandler gave up).
_SLACK_TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


def is_transient(exc: BaseException) -> bool:
    """Whether the same job might well succeed later without anyone changing anything."""
    if isinstance(exc, UserFacingError):
        return exc.transient
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", 200)
        return status >= 500 or exc.response.get("error") in _SLACK_TRANSIENT
    # Connection refused or reset, DNS down, a read that timed out (not the job budget).
    return isinstance(exc, aiohttp.ClientConnectionError | TimeoutError | asyncio.TimeoutError)


def next_try_at(
    job: Job,
    now: float,
    *,
    window_s: float,
    first_delay_s: float,
    jitter: Callable[[], float] = random.random,
) -> float | None:
    """When to run `job` again after one more transient failure; None once the window is over.

    The delay doubles with each failure in a row, from `first_delay_s`, and is drawn
    between half and all of that ("equal jitter"). The last try is at the window's end.
    """
    since = job.transient_since if job.transient_since is not None else now
    ends = since + window_s
    if now >= ends:
        return None
    ceiling = min(MAX_DELAY_S, first_delay_s * 2.0**job.transient_failures)
    delay = ceiling * (0.5 + jitter() / 2)
    return min(now + delay, ends)


def after_transient_failure(job: Job, now: float) -> Job:
    """The spec of the next try: one more failure in a row, counted from the first."""
    return job.model_copy(
        update={
            "transient_failures": job.transient_failures + 1,
            "transient_since": job.transient_since if job.transient_since is not None else now,
        }
    )
