"""BG/NBD: how often a customer buys, and whether they are still a customer.

Fader, Hardie & Lee, "Counting your customers the easy way: an alternative to the
Pareto/NBD model", Marketing Science 24(2), 2005. While active, a customer buys as a
Poisson process with rate λ ~ gamma(r, α); after each purchase they drop out with
probability p ~ beta(a, b). Inputs are per-customer frequency x (repeat purchases),
recency t_x and age T, in the same time unit; see :func:`regulars.analytics.clv.clv_summary`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from regulars.analytics.mle import Array, as_array, collapse, maximise, wall

__all__ = [
    "BgNbdParams",
    "bgnbd_fit",
    "bgnbd_log_likelihood",
    "expected_purchases",
    "expected_purchases_new",
    "p_alive",
]

#: expected_purchases divides by a−1; at a = 1 it takes the (continuous) value just beside.
A_NUDGE = 1e-7


@dataclass(frozen=True)
class BgNbdParams:
    """A fitted BG/NBD model: purchase-rate gamma(r, alpha), dropout beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float  # summed over customers
    n: int  # customers the fit saw


@dataclass(frozen=True)
class _BgData:
    """A summary collapsed for fitting: distinct rows with weights summing to one.

    Frequencies and T take few distinct values (purchase counts; first-purchase cohorts), so
    the special functions of x and the logarithms of α+T are evaluated once per value.
    """

    xs: Array  # distinct frequencies
    x_at: NDArray[np.intp]  # each row's index into xs
    ts: Array  # distinct T
    t_at: NDArray[np.intp]
    x: Array
    tx: Array
    w: Array
    total: float  # the weight before normalising


def _bg_data(x: Array, tx: Array, big_t: Array, weights: ArrayLike | None) -> _BgData:
    """Check the summary and collapse it for :func:`_bgnbd_objective`."""
    w = np.ones_like(x) if weights is None else as_array(weights)
    if not x.shape == tx.shape == big_t.shape == w.shape:
        raise ValueError("frequency, recency, T and weights must have the same length")
    if np.any(x < 0) or np.any(tx < 0) or np.any(tx > big_t) or np.any(w < 0):
        raise ValueError("need frequency >= 0, 0 <= recency <= T and weights >= 0")
    (x, tx, big_t), w = collapse(x, tx, big_t, weights=w)
    xs, x_at = np.unique(x, return_inverse=True)
    ts, t_at = np.unique(big_t, return_inverse=True)
    total = float(w.sum())
    return _BgData(xs, x_at, ts, t_at, x, tx, w / total if total > 0 else w, total)


def _bgnbd_objective(theta: Array, d: _BgData) -> tuple[float, Array]:
    """Negative log-likelihood of BG/NBD per customer and its gradient in log-parameters.

    log L = lnΓ(r+x) − lnΓ(r) + r ln α − ln B(a,b) + logaddexp(A, δ_{x>0} C) with
    A = ln B(a, b+x) − (r+x) ln(α+T) and C = ln B(a+1, b+x−1) − (r+x) ln(α+t_x) (FHL 2005, eq. 6).
    """
    r, alpha, a, b = np.exp(theta)
    xs, xs1 = d.xs, np.maximum(d.xs, 1.0)  # xs1 keeps C finite where the mask drops it
    log_at, log_atx = np.log(alpha + d.ts)[d.t_at], np.log(alpha + d.tx)
    term_a = betaln(a, b + xs)[d.x_at] - (r + d.x) * log_at
    term_c = np.where(d.x > 0, betaln(a + 1, b + xs1 - 1)[d.x_at] - (r + d.x) * log_atx, -np.inf)
    lse = np.logaddexp(term_a, term_c)
    wa, wc = np.exp(term_a - lse), np.exp(term_c - lse)  # posterior shares of the two terms
    w, x_at = d.w, d.x_at
    # Terms of x alone are summed once per distinct x, weighted by how many rows have it.
    wx = np.bincount(x_at, weights=w, minlength=xs.size)
    ll = wx @ gammaln(r + xs) - gammaln(r) + r * np.log(alpha) - betaln(a, b) + w @ lse
    common = wx @ (digamma(a + b) - digamma(a + b + xs))
    d_r = wx @ digamma(r + xs) - digamma(r) + np.log(alpha) - w @ (wa * log_at + wc * log_atx)
    d_alpha = r / alpha - w @ ((r + d.x) * (wa / (alpha + d.ts[d.t_at]) + wc / (alpha + d.tx)))
    d_a = common + (w @ wc) / a
    d_b = (
        common - digamma(b)
        + np.bincount(x_at, weights=w * wa, minlength=xs.size) @ digamma(b + xs)
        + np.bincount(x_at, weights=w * wc, minlength=xs.size) @ digamma(b + xs1 - 1)
    )  # fmt: skip
    penalty, push = wall(theta)
    grad = -np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b]) + push
    return -float(ll) + penalty, grad


def bgnbd_log_likelihood(
    r: float,
    alpha: float,
    a: float,
    b: float,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,  # noqa: N803 - the papers' name
    weights: ArrayLike | None = None,
) -> float:
    """The BG/NBD log-likelihood of the summary at (r, alpha, a, b), summed over customers."""
    data = _bg_data(as_array(frequency), as_array(recency), as_array(T), weights)
    value, _ = _bgnbd_objective(np.log([r, alpha, a, b]), data)
    return -value * data.total


def bgnbd_fit(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,  # noqa: N803 - the papers' name
    *,
    weights: ArrayLike | None = None,
) -> BgNbdParams:
    """Fit BG/NBD (r, alpha, a, b) by maximum likelihood with an analytic gradient.

    Needs at least one repeat purchase: without one the likelihood rises towards a zero
    purchase rate and has no maximum.
    """
    data = _bg_data(as_array(frequency), as_array(recency), as_array(T), weights)
    if not np.any((data.x > 0) & (data.w > 0)):
        raise ValueError("BG/NBD needs at least one repeat purchase")
    # Start from a unit-shape gamma at the observed mean purchase rate, and a = b = 1.
    mean_t = float(np.bincount(data.t_at, weights=data.w) @ data.ts)
    rate = max(float(data.w @ data.x) / max(mean_t, 1e-12), 1e-6)
    theta0 = np.log(np.array([1.0, 1.0 / rate, 1.0, 1.0]))
    theta, value = maximise(_bgnbd_objective, theta0, data)
    r, alpha, a, b = (float(v) for v in np.exp(theta))
    log_likelihood = -(value - wall(theta)[0]) * data.total
    return BgNbdParams(r, alpha, a, b, log_likelihood=log_likelihood, n=round(data.total))


def p_alive(
    params: BgNbdParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,  # noqa: N803 - the papers' name
) -> Array:
    """Probability each customer is still active at T (1 for a customer with no repeat).

    P = 1 / (1 + δ_{x>0} · a/(b+x−1) · ((α+T)/(α+t_x))^{r+x}), taken through its log-odds.
    """
    x, tx, big_t = np.broadcast_arrays(as_array(frequency), as_array(recency), as_array(T))
    repeat = x > 0
    x1 = np.where(repeat, x, 1.0)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    log_odds = (
        np.log(a) - np.log(b + x1 - 1) + (r + x) * (np.log(alpha + big_t) - np.log(alpha + tx))
    )
    return np.where(repeat, expit(-log_odds), 1.0)


def expected_purchases(
    params: BgNbdParams,
    t: ArrayLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,  # noqa: N803 - the papers' name
) -> Array:
    """Expected purchases in the next ``t`` periods given each customer's history (FHL eq. 10).

    The factor ((α+T)/(α+T+t))^{r+x} · ₂F₁(r+x, b+x; a+b+x−1; z) is rewritten with Euler's
    transformation as (1−z)^{a−1} · ₂F₁(a+b−1−r, a−1; a+b+x−1; z), z = t/(α+T+t), whose
    parameters do not grow with x, so heavy buyers neither overflow nor lose precision.
    """
    horizon, x, tx, big_t = np.broadcast_arrays(
        as_array(t), as_array(frequency), as_array(recency), as_array(T)
    )
    r, alpha, b = params.r, params.alpha, params.b
    a = params.a if abs(params.a - 1) > A_NUDGE else 1 + A_NUDGE
    z = horizon / (alpha + big_t + horizon)
    c = a + b + x - 1
    # A fit with almost no drop-out (a → 0, b huge: seen on a few months of grocery data)
    # overflows ₂F₁; there BG/NBD tends to plain NBD, whose expectation is t·(r+x)/(α+T).
    with np.errstate(over="ignore", invalid="ignore"):
        tail = (1 - z) ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, c, z)
        alive = p_alive(params, x, tx, big_t)
        bg = c / (a - 1) * (1 - tail) * alive
    nbd = horizon * (r + x) / (alpha + big_t)
    return np.asarray(np.where(np.isfinite(bg), bg, nbd), dtype=np.float64)


def expected_purchases_new(params: BgNbdParams, t: ArrayLike) -> Array:
    """Expected purchases of a new customer in ``t`` periods after the first (FHL eq. 7)."""
    horizon = as_array(t)
    zeros = np.zeros_like(horizon)
    return expected_purchases(params, horizon, zeros, zeros, zeros)
