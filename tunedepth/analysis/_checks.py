"""Argument checks shared by the study's statistics tables (significance, recommendation, analysis)."""

from __future__ import annotations

from tunedepth.errors import ConfigError

__all__ = ["check_alpha"]


def check_alpha(alpha: float, func: str) -> float:
    """Return ``alpha`` as a float, or raise ConfigError unless it is a significance level in (0, 1)."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ConfigError(f"The 'alpha' parameter of {func} must be a significance level in (0, 1), for example "
                          f"0.05. Got {alpha!r}.")
    return float(alpha)
