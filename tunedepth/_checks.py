"""Argument checks shared across the package: an int in range, an image shape.

Each raises ``ValueError`` with one line naming the parameter, the function, what was expected and what was got
(``bool`` is refused where an int is expected, although Python counts it as one). Checks tied to one package's
meaning live beside it (``evaluation/_inputs.py``, ``analysis/_checks.py``).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["check_int", "check_shape", "is_number"]


def is_number(value: object) -> bool:
    """True for a finite int or float that is not a bool (as parsed from JSON or TOML)."""
    numeric = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    return numeric and math.isfinite(value)  # type: ignore[arg-type]


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_int(value: object, name: str, func: str, *, minimum: int, maximum: int | None = None,
              example: str = "") -> int:
    """Return ``value`` as an int, or raise unless it is an int in ``[minimum, maximum]``.

    Args:
        value: what the caller passed.
        name: the parameter's name, as the caller spells it.
        func: the public function the user called.
        minimum: smallest allowed value.
        maximum: largest allowed value, or None for no upper bound.
        example: appended to the expectation, e.g. ", for example 2000".

    Example:
        >>> check_int(3, "n_rays", "extract_closed_boundary", minimum=3)
        3
        >>> check_int(2, "n_rays", "extract_closed_boundary", minimum=3)
        Traceback (most recent call last):
        ...
        ValueError: The 'n_rays' parameter of extract_closed_boundary must be an int >= 3; got 2.
    """
    if _is_int(value) and value >= minimum and (maximum is None or value <= maximum):  # type: ignore[operator]
        return int(value)  # type: ignore[call-overload]
    expected = f"an int >= {minimum}" if maximum is None else f"an int in [{minimum}, {maximum}]"
    raise ValueError(f"The '{name}' parameter of {func} must be {expected}{example}; got {value!r}.")


def check_shape(shape: object, name: str, func: str) -> tuple[int, int]:
    """Return ``shape`` as (height, width), or raise unless it is two ints >= 1.

    Example:
        >>> check_shape([4, 6], "shape", "layered_label_image")
        (4, 6)
    """
    if isinstance(shape, (tuple, list)) and len(shape) == 2 and all(_is_int(v) and v >= 1 for v in shape):
        return int(shape[0]), int(shape[1])
    raise ValueError(f"The '{name}' parameter of {func} must be (height, width), two ints >= 1; got {shape!r}.")
