"""Checks and repairs of the timestamps Gemini returns (it invents them; pure functions).

The model output is taken as plausible but not trustworthy: stamps past the end, going
backwards or all equal are repaired from their neighbours, and a transcript whose clock
is wrong altogether is reported as "gross" so the caller asks again.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass

from bot.transcript.model import Segment, Transcript, format_timestamp

# More than this share of segments with a bad stamp means the model lost track of
# time altogether; repairing would only hide that, so the caller asks again.
GROSS_BAD_SHARE = 0.20
# A last stamp this far past the end (share of the duration, or seconds, whichever is
# larger) means the model's clock runs at the wrong speed, not a rounding slip.
GROSS_OVERRUN_SHARE = 0.10
GROSS_OVERRUN_MIN_S = 2.0
# Every stamp identical over a recording this long is the "all 00:00" failure.
COLLAPSED_MIN_SEGMENTS = 4
COLLAPSED_MIN_DURATION_S = 30.0

_LOOSE_TIMESTAMP = re.compile(
    r"^(?:(?P<h>\d+):(?P<m>\d{1,2})|(?P<mm>\d+)):(?P<s>\d{1,2}(?:[.,]\d+)?)$"
)


def parse_timestamp_loose(text: str) -> float | None:
    """`MM:SS`, `H:MM:SS`, with a fraction or in brackets (`[00:12]`, `1:02.5`) → seconds.

    Returns None when the text is not a timestamp (the caller interpolates).
    """
    cleaned = text.strip().strip("[]()<>{}").strip()
    m = _LOOSE_TIMESTAMP.match(cleaned)
    if not m:
        return None
    seconds = float(m.group("s").replace(",", "."))
    if seconds >= 60:
        return None
    if m.group("h") is not None:
        minutes = int(m.group("m"))
        if minutes >= 60:
            return None
        return int(m.group("h")) * 3600 + minutes * 60 + seconds
    return int(m.group("mm")) * 60 + seconds


@dataclass(frozen=True)
class TimestampReport:
    """What `check_timestamps` found: how many stamps it changed and whether to retry."""

    repaired: int
    gross: bool
    problems: list[str]


def _kept_indices(values: list[float | None]) -> set[int]:
    """Indices of a longest non-decreasing run of parsed stamps (patience sorting).

    Stamps outside it are the out-of-order ones; one wild stamp costs one index,
    not everything after it. Between equally long runs the earlier stamps win
    (the scan runs backwards over negated values), so in 0:10, 0:03 it is the
    later 0:03 that counts as the slip.
    """
    tails: list[float] = []
    tail_idx: list[int] = []
    prev: dict[int, int | None] = {}
    for i in reversed(range(len(values))):
        v = values[i]
        if v is None:
            continue
        pos = bisect.bisect_right(tails, -v)
        prev[i] = tail_idx[pos - 1] if pos > 0 else None
        if pos == len(tails):
            tails.append(-v)
            tail_idx.append(i)
        else:
            tails[pos] = -v
            tail_idx[pos] = i
    kept: set[int] = set()
    cur: int | None = tail_idx[-1] if tail_idx else None
    while cur is not None:
        kept.add(cur)
        cur = prev[cur]
    return kept


def check_timestamps(t: Transcript, duration_s: float) -> tuple[Transcript, TimestampReport]:
    """Parse, repair and normalise segment timestamps against the recording's duration.

    Unparsable stamps are interpolated between their neighbours, a stamp out of order
    is clamped between its neighbours, stamps past the end are clamped to just before
    it. The result never has a stamp past the end and is non-decreasing.
    """
    n = len(t.segments)
    if n == 0:
        return t, TimestampReport(repaired=0, gross=False, problems=[])
    known_end = duration_s > 0
    # The last whole second that is still inside the recording.
    end_cap = max(0.0, math.ceil(duration_s) - 1.0) if known_end else math.inf
    problems: list[str] = []
    values = [parse_timestamp_loose(s.timestamp) for s in t.segments]
    unparsable = [i for i, v in enumerate(values) if v is None]
    for i in unparsable:
        problems.append(f"segment {i + 1}: {t.segments[i].timestamp!r} is not a timestamp")
    kept = _kept_indices(values)
    out_of_order = [i for i, v in enumerate(values) if v is not None and i not in kept]
    for i in out_of_order:
        problems.append(
            f"segment {i + 1}: {t.segments[i].timestamp} is out of order with its neighbours"
        )

    gross = False
    bad = len(unparsable) + len(out_of_order)
    if bad >= 2 and bad > GROSS_BAD_SHARE * n:
        gross = True
        problems.append(f"{bad} of {n} timestamps are unparsable or out of order")
    kept_sorted = sorted(kept)
    last_kept = values[kept_sorted[-1]] if kept_sorted else None
    overrun_limit = duration_s + max(GROSS_OVERRUN_SHARE * duration_s, GROSS_OVERRUN_MIN_S)
    if known_end and last_kept is not None and last_kept > overrun_limit:
        gross = True
        problems.append(
            f"the last timestamp {format_timestamp(last_kept)} is far beyond the end of the "
            f"recording ({format_timestamp(duration_s)})"
        )
    kept_values = [values[i] for i in kept_sorted]
    if (
        n >= COLLAPSED_MIN_SEGMENTS
        and duration_s >= COLLAPSED_MIN_DURATION_S
        and len(kept_sorted) == n
        and len(set(kept_values)) == 1
    ):
        gross = True
        problems.append(f"all {n} timestamps are {format_timestamp(kept_values[0] or 0)}")

    repaired_values: list[float] = []
    changed: set[int] = set(unparsable) | set(out_of_order)
    for i in range(n):
        prev_k = _nearest_kept(kept_sorted, i, before=True)
        next_k = _nearest_kept(kept_sorted, i, before=False)
        lo = values[prev_k] if prev_k is not None else 0.0
        hi = values[next_k] if next_k is not None else None
        assert lo is not None
        if hi is None:
            hi = max(end_cap, lo) if known_end else lo
        v = values[i]
        if i in kept:
            assert v is not None
            new = v
        elif v is not None:
            new = min(max(v, lo), hi)
        else:
            # Spread unparsable stamps evenly between the neighbours that parsed.
            start_i = prev_k if prev_k is not None else -1
            stop_i = next_k if next_k is not None else n
            new = lo + (hi - lo) * (i - start_i) / (stop_i - start_i)
        if new > end_cap:
            if v is not None and v >= duration_s:
                changed.add(i)
            new = end_cap
        repaired_values.append(new)
    past_end = [i for i, v in enumerate(values) if known_end and v is not None and v >= duration_s]
    if past_end:
        problems.append(
            f"{len(past_end)} timestamp(s) at or past the end of the recording "
            f"({format_timestamp(duration_s)}), first in segment {past_end[0] + 1}"
        )

    running = 0.0
    segments: list[Segment] = []
    for seg, v in zip(t.segments, repaired_values, strict=True):
        running = max(running, v)
        segments.append(seg.model_copy(update={"timestamp": format_timestamp(running)}))
    report = TimestampReport(repaired=len(changed), gross=gross, problems=problems)
    return t.model_copy(update={"segments": segments}), report


def _nearest_kept(kept_sorted: list[int], i: int, *, before: bool) -> int | None:
    if before:
        pos = bisect.bisect_left(kept_sorted, i)
        return kept_sorted[pos - 1] if pos > 0 else None
    pos = bisect.bisect_right(kept_sorted, i)
    return kept_sorted[pos] if pos < len(kept_sorted) else None
