"""Repurchase prediction: what each member is likely to buy on their next visit, and why.

The model scores every candidate (user, item) — the user's own past items and the most
popular ones — with a logistic regression over a handful of explainable signals
(:mod:`regulars.analytics.repurchase_features`): how often and how recently the user bought
the item (counts with fast and slow time decay), where they are in their own rhythm for it
(time since the last purchase over their usual interval, in visits and, for dated
histories, in days), how likely anyone is to buy the item again once bought (a propensity
learned across users), its popularity, and the user's category and household signals where
those are known. Repeat-consumption models of this kind are strong next-basket predictors
(Li et al. 2023, *A Next Basket Recommendation Reality Check*; Ariannezhad et al. 2022,
*ReCANet*); here they stay small, fast and readable.

The weights are learned on a validation target: a given set of next baskets (e.g. a
validation split) or, by default, each user's last basket held out of their own history.
Each prediction carries a probability, the expected days until it is needed (dated
histories) and a reason code with its parameters, e.g. ``rhythm`` with
``{"every_days": 12, "last_days": 11}`` → *you buy this about every 12 days; last bought 11
days ago*.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl
from numpy.typing import NDArray

from regulars.analytics.frames import LINES, require
from regulars.analytics.repurchase_features import candidates, feature_frame, feature_matrix
from regulars.analytics.repurchase_learning import learning_set
from regulars.analytics.repurchase_reasons import REASONS, explain, reason_text
from regulars.analytics.repurchase_summary import HISTORY, Summary, summarise

__all__ = [
    "PREDICTIONS",
    "REASONS",
    "Extras",
    "RepurchaseModel",
    "RepurchaseParams",
    "fit",
    "history_from_lines",
    "reason_text",
]

#: What :meth:`RepurchaseModel.predict` returns, one row per predicted (user, item).
PREDICTIONS: Mapping[str, pl.DataType] = {
    "user_id": pl.Int64(),
    "item_id": pl.Int64(),
    "rank": pl.Int32(),
    "score": pl.Float64(),  # probability that the item is in the user's next basket
    "expected_days": pl.Int32(),  # days from as_of until it is due; null when unknown
    "reason_code": pl.String(),
    "reason_params": pl.String(),  # JSON object, the reason's parameters
}


@dataclass(frozen=True)
class RepurchaseParams:
    """The model's few knobs (defaults: cost against accuracy on Ta-Feng and dunnhumby)."""

    n_popular: int = 40  # popular items scored for every user besides their own
    negatives: float = 0.1  # share of non-bought candidates kept when learning the weights
    l2: float = 1.0  # ridge penalty on the standardised weights
    max_iter: int = 30  # Newton steps at most
    learn_users: int | None = 3000  # users sampled to learn the weights from (None: all)
    seed: int = 0


@dataclass(frozen=True)
class Extras:
    """What a history may come with besides baskets: categories and household signals."""

    categories: pl.DataFrame | None = None
    user_signals: pl.DataFrame | None = None
    item_signals: pl.DataFrame | None = None

    def summarise(
        self,
        history: pl.DataFrame,
        users: pl.DataFrame | None,
        as_of: int | None,
        *,
        spread: bool = True,
    ) -> Summary:
        """Summarise ``history`` for ``users`` with these extras."""
        return summarise(
            history,
            users=users,
            as_of=as_of,
            categories=self.categories,
            user_signals=self.user_signals,
            item_signals=self.item_signals,
            spread=spread,
        )


@dataclass(frozen=True)
class RepurchaseModel:
    """A fitted model: the learned weights, and the history they are applied to by default.

    The history is summarised when predicting, for the users asked about, so a model fitted
    once can score each cycle's refreshed history (``predict(…, history=newer)``).
    """

    history: pl.DataFrame
    extras: Extras
    as_of: int | None
    names: tuple[str, ...]
    weights: NDArray[np.float64]
    intercept: float
    mean: NDArray[np.float64]
    scale: NDArray[np.float64]
    params: RepurchaseParams

    def weights_by_name(self) -> dict[str, float]:
        """The learned weight of each (standardised) feature, for inspection."""
        return {name: float(w) for name, w in zip(self.names, self.weights, strict=True)}

    def scored(
        self,
        users: Sequence[int] | None = None,
        *,
        history: pl.DataFrame | None = None,
        as_of: int | None = None,
        spread: bool = True,
    ) -> tuple[Summary, pl.DataFrame]:
        """Every candidate of ``users`` (all by default) with its facts, features and score.

        ``spread=False`` leaves out a fact only the reasons need (see :func:`summarise`).
        """
        source = self.history if history is None else require(history, HISTORY, "history")
        who = None if users is None else _user_frame(users)
        at = as_of if as_of is not None else self.as_of
        summary = self.extras.summarise(source, who, at, spread=spread)
        if who is None:
            who = source.select("user_id").unique().sort("user_id")
        lazy, names = feature_frame(summary, candidates(summary, who, self.params.n_popular))
        if tuple(names) != self.names:
            raise ValueError("the history's kind (dates, categories, signals) changed since fit")
        frame = lazy.collect()
        matrix = (feature_matrix(frame, names) - self.mean) / self.scale
        logit = np.einsum("nj,j->n", matrix, self.weights) + self.intercept
        return summary, frame.with_columns(score=pl.Series(_sigmoid(logit)))

    def top_k(
        self,
        users: Sequence[int] | None = None,
        k: int = 20,
        *,
        history: pl.DataFrame | None = None,
    ) -> pl.DataFrame:
        """Ranked predictions only (``user_id, item_id, rank``), for evaluation."""
        _summary, frame = self.scored(users, history=history, spread=False)
        return _rank(frame, k).select("user_id", "item_id", "rank")

    def predict(
        self,
        users: Sequence[int] | None = None,
        k: int = 20,
        *,
        history: pl.DataFrame | None = None,
        as_of: int | None = None,
    ) -> pl.DataFrame:
        """The k most likely items per user with probability, expected days and reason."""
        summary, frame = self.scored(users, history=history, as_of=as_of)
        return explain(summary, _rank(frame, k)).select(list(PREDICTIONS))


def _user_frame(users: Sequence[int]) -> pl.DataFrame:
    """The users to predict for, as a one-column frame."""
    return pl.DataFrame({"user_id": list(users)}, schema={"user_id": pl.Int64}).unique(
        maintain_order=True
    )


def _rank(scored: pl.DataFrame, k: int) -> pl.DataFrame:
    """Keep each user's k best-scored candidates (ties by item id) and number them."""
    # Cut to the rows at or above each user's k-th best score first: sorting all candidates
    # costs more than the rest of prediction.
    threshold = pl.col("score").top_k(k).min().over("user_id")
    return (
        scored.filter(pl.col("score") >= threshold)
        .sort(["user_id", "score", "item_id"], descending=[False, True, False])
        .with_columns(rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int32).over("user_id"))
        .filter(pl.col("rank") <= k)
    )


def _sigmoid(z: NDArray[np.float64]) -> NDArray[np.float64]:
    """The logistic function, without overflow warnings for large negative logits."""
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)), dtype=np.float64)


def _softplus_sigmoid(z: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``log(1 + e^z)`` and the logistic of ``z``, from one exponential, finite for large |z|."""
    small = np.exp(-np.abs(z))  # e^−|z| never overflows
    softplus = np.maximum(z, 0.0) + np.log1p(small)
    sigmoid = np.where(z >= 0.0, 1.0, small) / (1.0 + small)
    return softplus, sigmoid


def _penalised_loss(
    softplus: NDArray[np.float64],
    z: NDArray[np.float64],
    y: NDArray[np.float64],
    theta: NDArray[np.float64],
    penalty: NDArray[np.float64],
) -> float:
    """Logistic log-loss (summed), log(1 + e^z) − y·z, plus the ridge term on ``theta``."""
    return float(
        softplus.sum()
        - np.einsum("n,n->", y, z)
        + 0.5 * np.einsum("j,j,j->", penalty, theta, theta)
    )


def _curvature(rows: NDArray[np.float32], weights: NDArray[np.float32]) -> NDArray[np.float64]:
    """``rows · diag(weights) · rowsᵀ`` (the Hessian's data term), one triangle computed.

    ``rows`` is features × observations. A matrix product would go to threaded BLAS, whose
    threads spinning on a busy machine cost up to a hundred times more; these are dot
    products of one row with the rows below it (``vecdot``: BLAS ``sdot``, which runs on the
    calling thread), so only the upper triangle is computed, and twice as fast as einsum.
    """
    weighted = rows * weights
    size = rows.shape[0]
    out = np.empty((size, size), dtype=np.float64)
    for i in range(size):
        out[i, i:] = _row_dots(rows[i:], weighted[i])
        out[i:, i] = out[i, i:]
    return out


def _row_dots(rows: NDArray[np.float32], vector: NDArray[np.float32]) -> NDArray[np.float32]:
    """The dot product of each row with ``vector`` (einsum where NumPy 1 has no vecdot)."""
    if hasattr(np, "vecdot"):
        return np.asarray(np.vecdot(rows, vector), dtype=np.float32)
    return np.asarray(np.einsum("jn,n->j", rows, vector), dtype=np.float32)


#: A full Newton step moving no weight (of standardised features) by more than this is
#: followed by a step on the same Hessian: near the optimum it changes too little to matter.
_CHORD_STEP = 0.05


def _logistic(
    x: NDArray[np.float64], y: NDArray[np.float64], l2: float, max_iter: int
) -> tuple[NDArray[np.float64], float]:
    """Ridge logistic regression by damped Newton steps; returns (weights, intercept).

    ``x`` holds one row per feature and one column per observation (contiguous rows make
    the products below stream through memory). Each Newton step is halved until the
    penalised loss falls: plain Newton can overshoot and diverge when some features nearly
    separate the labels.
    """
    features, n = x.shape
    design = np.empty((features + 1, n))
    design[:features] = x
    design[features] = 1.0  # the intercept
    theta = np.zeros(features + 1)
    share = float(np.clip(y.mean(), 1e-6, 1.0 - 1e-6))
    theta[-1] = np.log(share / (1.0 - share))  # start from the base rate
    penalty = np.full(features + 1, l2)
    penalty[-1] = 0.0  # the intercept is not shrunk
    ridge = np.diag(penalty + 1e-9)
    z = np.einsum("jn,j->n", design, theta)
    softplus, p = _softplus_sigmoid(z)
    loss = _penalised_loss(softplus, z, y, theta, penalty)
    # The Hessian, the dearest product, only steers the step: single precision halves its
    # cost, while the gradient and the loss, which decide where the fit ends, stay double.
    single = design.astype(np.float32)
    hessian = ridge
    small_step = False
    for _step in range(max_iter):
        gradient = np.einsum("jn,n->j", design, p - y) + penalty * theta
        if not small_step:
            # Floor the curvature so saturated rows never produce subnormal floats (slow).
            curvature = np.maximum(p * (1.0 - p), 1e-12).astype(np.float32)
            hessian = _curvature(single, curvature) + ridge
        # else: the last step barely moved the weights, so the last Hessian still steers
        # well (a chord step); the line search and the exact gradient keep it safe.
        step = np.linalg.solve(hessian, gradient)
        size = 1.0
        while True:
            trial = theta - size * step
            trial_z = np.einsum("jn,j->n", design, trial)
            trial_softplus, trial_p = _softplus_sigmoid(trial_z)
            trial_loss = _penalised_loss(trial_softplus, trial_z, y, trial, penalty)
            if trial_loss <= loss or size < 1e-4:
                break
            size /= 2.0
        moved = float(np.abs(size * step).max())
        converged = moved < 1e-6 or loss - trial_loss < 1e-9 * abs(loss)
        if trial_loss <= loss:
            theta, loss, p = trial, trial_loss, trial_p
        if converged:
            break
        small_step = size == 1.0 and moved < _CHORD_STEP
    return theta[:-1], float(theta[-1])


def fit(
    history: pl.DataFrame,
    *,
    target: pl.DataFrame | None = None,
    categories: pl.DataFrame | None = None,
    user_signals: pl.DataFrame | None = None,
    item_signals: pl.DataFrame | None = None,
    as_of: int | None = None,
    params: RepurchaseParams | None = None,
) -> RepurchaseModel:
    """Learn the weights on a validation target; the model then predicts from ``history``.

    ``history`` has the :data:`~regulars.analytics.repurchase_summary.HISTORY` columns.
    ``target`` (``user_id, item_id``) holds next baskets of some users to learn from — a
    validation split; without it each user's last basket is held out of their history.
    ``as_of`` is the day the predictions are for (dated histories; default: the last day).
    """
    params = params or RepurchaseParams()
    history = require(history, HISTORY, "history")
    if target is not None:
        target = target.select(pl.col("user_id").cast(pl.Int64), pl.col("item_id").cast(pl.Int64))
    # Learn from a sample of users' own world (see :func:`learning_set`), computed in NumPy:
    # on a bounded learning set, Polars' cost per query outweighed the work.
    learn = learning_set(
        history,
        target,
        n_popular=params.n_popular,
        negatives=params.negatives,
        learn_users=params.learn_users,
        seed=params.seed,
        categories=categories,
        user_signals=user_signals,
        item_signals=item_signals,
    )
    mean = learn.matrix.mean(axis=1)
    scale = learn.matrix.std(axis=1)
    scale[scale < 1e-12] = 1.0
    standard = (learn.matrix - mean[:, None]) / scale[:, None]
    weights, intercept = _logistic(standard, learn.labels, params.l2, params.max_iter)
    # Dropping negatives at rate q multiplies the odds by 1/q; undo it so scores are probabilities.
    intercept += float(np.log(params.negatives))
    return RepurchaseModel(
        history=history,
        extras=Extras(categories, user_signals, item_signals),
        as_of=as_of,
        names=learn.names,
        weights=weights,
        intercept=intercept,
        mean=mean,
        scale=scale,
        params=params,
    )


def history_from_lines(lines: pl.DataFrame) -> pl.DataFrame:
    """Members' purchase histories from receipt lines: one row per product per receipt.

    Anonymous receipts and returns are left out; a member's receipts are numbered in time
    order and dated by their UTC day (days since 1970-01-01).
    """
    lines = require(lines, LINES, "lines").filter(
        pl.col("member_id").is_not_null() & (pl.col("quantity") > 0)
    )
    epoch = date(1970, 1, 1)
    receipts = (
        lines.group_by("member_id", "receipt_id")
        .agg(pl.col("at").min())
        .sort("member_id", "at", "receipt_id")
        .with_columns(
            basket=pl.int_range(pl.len(), dtype=pl.Int32).over("member_id"),
            day=(pl.col("at").dt.date() - pl.lit(epoch)).dt.total_days().cast(pl.Int32),
        )
    )
    history = (
        lines.select("member_id", "receipt_id", "product_id")
        .unique()
        .join(receipts.drop("at"), on=["member_id", "receipt_id"])
        .select(
            pl.col("member_id").alias("user_id"),
            "basket",
            "day",
            pl.col("product_id").alias("item_id"),
        )
        .sort("user_id", "basket", "item_id")
    )
    return require(history, HISTORY, "history")
