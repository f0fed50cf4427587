"""Short, stable text forms of the numbers the dashboard shows."""

import math


def duration(seconds: float | None) -> str:
    """`0:42`, `12:05` or `3:07:45`; `-` when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "-"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def count(n: float | None) -> str:
    """A count with thousands separators, `-` when unknown."""
    return "-" if n is None or not math.isfinite(n) else f"{n:,.0f}"


def loss(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def perplexity(value: float) -> str:
    """e^loss, the effective number of characters the model is choosing between."""
    try:
        return f"{math.exp(value):.2f}"
    except OverflowError:
        return "inf"


def rate(value: float | None) -> str:
    """A learning rate in the form people write it: 1.0e-03."""
    return "-" if value is None else f"{value:.1e}"
