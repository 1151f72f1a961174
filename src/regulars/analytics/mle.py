"""Maximum-likelihood fitting shared by the CLV models (BG/NBD, Gamma-Gamma).

The models are fitted on log-parameters (so every parameter stays positive) by minimising the
negative log-likelihood *per customer* with its analytic gradient. Customers with the same
statistics are collapsed into one weighted row first, which is what makes the fit cheap:
a summary of tens of thousands of customers has a few thousand distinct rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize

__all__ = ["LOG_BOUND", "Array", "as_array", "collapse", "maximise", "wall"]

Array = NDArray[np.float64]
Data = TypeVar("Data")

#: Log-parameters beyond ±LOG_BOUND meet a wall: wide enough for any real customer base,
#: narrow enough that a degenerate one (a single customer) cannot overflow the special functions.
LOG_BOUND = 15.0


def as_array(values: ArrayLike) -> Array:
    """``values`` as a one-dimensional float64 array."""
    return np.atleast_1d(np.asarray(values, dtype=np.float64))


def collapse(*columns: Array, weights: Array) -> tuple[list[Array], Array]:
    """Identical rows merged into one, their weights summed (the likelihood is a weighted sum)."""
    order = np.lexsort(columns[::-1])
    ordered = [column[order] for column in columns]
    changed = np.zeros(order.size, dtype=bool)
    changed[:1] = True
    for column in ordered:
        changed[1:] |= column[1:] != column[:-1]
    starts = np.flatnonzero(changed)
    return [column[starts] for column in ordered], np.add.reduceat(weights[order], starts)


def wall(theta: Array) -> tuple[float, Array]:
    """A quadratic penalty beyond ±LOG_BOUND and its gradient.

    It is zero for any real fit and keeps degenerate ones (a single customer, whose
    likelihood has no maximum) finite.
    """
    excess = np.sign(theta) * np.maximum(np.abs(theta) - LOG_BOUND, 0.0)
    return 0.5 * float(excess @ excess), excess


def maximise(
    objective: Callable[[Array, Data], tuple[float, Array]], theta0: Array, data: Data
) -> tuple[Array, float]:
    """Minimise ``objective`` (value and gradient) over log-parameters; return θ and the value.

    BFGS rather than L-BFGS-B: the latter's LAPACK calls go through OpenBLAS threads, which on
    a busy two-core machine made each four-parameter step cost milliseconds. ``gtol`` 1e-7 on
    the per-customer log-likelihood gives the parameters to about six significant figures.
    """
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        result = minimize(
            objective, theta0, args=(data,), jac=True, method="BFGS", options={"gtol": 1e-7}
        )
    if not np.all(np.isfinite(result.x)) or not np.isfinite(result.fun):
        raise ArithmeticError("the likelihood could not be maximised")
    return np.asarray(result.x, dtype=np.float64), float(result.fun)
