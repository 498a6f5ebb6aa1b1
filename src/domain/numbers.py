"""The one test every quantity from outside passes: a finite JSON number, never a bool."""

from __future__ import annotations

import math
from typing import TypeGuard


def is_finite_number(value: object) -> TypeGuard[float]:
    """Whether ``value`` is an int or float that is finite as a float. ``bool`` is refused
    (an int subclass: a JSON ``true`` must not become 1 ml), and so is an int too large
    for a float (``10**400``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False
