"""Gamma-Gamma: how much a customer spends per purchase.

Fader, Hardie & Lee, "RFM and CLV: using iso-value curves for customer base analysis",
JMR 42(4), 2005, and Hardie's note "The Gamma-Gamma model of monetary value" (2013). Each
purchase of a customer is gamma(p, ν) distributed and ν ~ gamma(q, γ) across customers
(γ is called ``v`` here, as in most software). The model is fitted on the *mean* spend of
the repeat purchases of customers with at least one, and assumes spend is independent of
how often a customer buys.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import digamma, gammaln

from regulars.analytics.mle import Array, as_array, collapse, maximise, wall

__all__ = [
    "GammaGammaParams",
    "expected_average_value",
    "gamma_gamma_fit",
    "gamma_gamma_log_likelihood",
]


@dataclass(frozen=True)
class GammaGammaParams:
    """A fitted Gamma-Gamma spend model: shape p, and the gamma(q, v) of the spend scale."""

    p: float
    q: float
    v: float
    log_likelihood: float  # summed over customers
    n: int  # customers with a repeat purchase the fit saw


@dataclass(frozen=True)
class _GgData:
    """Repeat customers' (x, mean spend) collapsed, weights summing to one."""

    xs: Array  # distinct frequencies
    x_at: NDArray[np.intp]
    x: Array
    m: Array
    log_m: Array
    w: Array
    total: float


def _gg_data(x: Array, m: Array) -> _GgData:
    """Keep customers with a repeat purchase and a positive mean spend; collapse them."""
    if x.shape != m.shape:
        raise ValueError("frequency and monetary_value must have the same length")
    keep = (x > 0) & (m > 0)
    (x, m), w = collapse(x[keep], m[keep], weights=np.ones(int(keep.sum())))
    xs, x_at = np.unique(x, return_inverse=True)
    total = float(w.sum())
    return _GgData(xs, x_at, x, m, np.log(m), w / total if total > 0 else w, total)


def _gg_objective(theta: Array, d: _GgData) -> tuple[float, Array]:
    """Negative Gamma-Gamma log-likelihood of mean spends per customer, and its gradient.

    log L = lnΓ(px+q) − lnΓ(px) − lnΓ(q) + q ln v + (px−1) ln m + px ln x − (px+q) ln(v+xm).
    """
    p, q, v = np.exp(theta)
    x, w, xs = d.x, d.w, d.xs
    wx = np.bincount(d.x_at, weights=w, minlength=xs.size)
    log_vxm = np.log(v + x * d.m)
    px = p * x
    ll = (
        wx @ (gammaln(p * xs + q) - gammaln(p * xs)) - gammaln(q) + q * np.log(v)
        + w @ ((px - 1) * d.log_m + px * np.log(x) - (px + q) * log_vxm)
    )  # fmt: skip
    psi = digamma(p * xs + q)
    d_p = wx @ (xs * (psi - digamma(p * xs) + np.log(xs))) + w @ (x * (d.log_m - log_vxm))
    d_q = wx @ psi - digamma(q) + np.log(v) - w @ log_vxm
    d_v = q / v - w @ ((px + q) / (v + x * d.m))
    penalty, push = wall(theta)
    return -float(ll) + penalty, -np.array([d_p * p, d_q * q, d_v * v]) + push


def gamma_gamma_log_likelihood(
    p: float, q: float, v: float, frequency: ArrayLike, monetary_value: ArrayLike
) -> float:
    """The Gamma-Gamma log-likelihood of the mean spends of customers with frequency > 0."""
    data = _gg_data(as_array(frequency), as_array(monetary_value))
    value, _ = _gg_objective(np.log([p, q, v]), data)
    return -value * data.total


def gamma_gamma_fit(frequency: ArrayLike, monetary_value: ArrayLike) -> GammaGammaParams:
    """Fit Gamma-Gamma (p, q, v) by maximum likelihood on customers with a repeat purchase.

    Customers with frequency 0 (no repeat spend observed) or a non-positive mean value are
    left out, as the model requires.
    """
    data = _gg_data(as_array(frequency), as_array(monetary_value))
    if data.total < 2:
        raise ValueError("Gamma-Gamma needs at least two customers with a repeat purchase")
    # Start at p = 1 and a spend scale whose mean v/(q−1) is the observed mean spend.
    theta0 = np.log(np.array([1.0, 2.0, float(data.w @ data.m)]))
    theta, value = maximise(_gg_objective, theta0, data)
    p, q, v = (float(val) for val in np.exp(theta))
    log_likelihood = -(value - wall(theta)[0]) * data.total
    return GammaGammaParams(p, q, v, log_likelihood=log_likelihood, n=round(data.total))


def expected_average_value(
    params: GammaGammaParams, frequency: ArrayLike, monetary_value: ArrayLike
) -> Array:
    """Expected mean spend per future purchase: a blend of the population's and the customer's.

    E(Z | x, m̄) = (p v + p x m̄) / (p x + q − 1); it needs q > 1 (a finite population mean).
    """
    if params.q <= 1:
        raise ValueError("Gamma-Gamma with q <= 1 has no finite mean spend")
    x, m = np.broadcast_arrays(as_array(frequency), as_array(monetary_value))
    p, q, v = params.p, params.q, params.v
    return np.asarray((p * v + p * x * m) / (p * x + q - 1), dtype=np.float64)
