"""The statistics of a finished sweep, as pure functions of its runs: cell means of a
grid with their intervals, main effects and two-way tables averaged over the other
factors' levels with intervals from the replicates alone, tests of interaction, Sobol
and Morris indices with checks of their convergence, and envelopes of daily series.
:mod:`sim.report` writes them out.

A grid's *cell* is one combination of its factors' levels; its runs are replicates that
differ only in their seeds. The spread within a cell is the only noise: the spread of
all runs at one level of a factor also holds the other factors' effects, so an interval
from it is wrong (too wide where they matter, and not an interval of anything defined).
Every interval here comes from the within-cell variances alone:

    >>> runs = pd.DataFrame({"a": [0, 0, 1, 1] * 2, "b": ["x"] * 4 + ["y"] * 4,
    ...                      "y": [1.0, 1.2, 3.0, 3.2, 11.0, 11.2, 13.0, 13.2]})
    >>> cells = cell_means(runs, ["a", "b"], {"a": [0, 1], "b": ["x", "y"]}, "y")
    >>> cells["mean"].round(2).tolist()
    [1.1, 11.1, 3.1, 13.1]
    >>> effect = main_effects(cells, ["a", "b"], "a")
    >>> effect["mean"].round(2).tolist(), round(float(effect["ci95_high"].iloc[0] - 6.1), 2)
    ([6.1, 8.1], 0.3)

(The four runs at ``a = 0`` spread by about 5 from ``b``'s effect: a t-interval of
their mean would be +/- 9, not +/- 0.3.)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.linalg import null_space

from sim.experiments import Experiment, design_matrix
from sim.replicates import run_band

#: The confidence of every interval (the tables' ``ci95_low``, ``ci95_high``).
CONFIDENCE = 0.95


# ------------------------------------------------------------------- intervals
def bounded_interval(mean: float, var_of_mean: float, df: float, lower: float | None = None,
                     confidence: float = CONFIDENCE) -> tuple[float, float, bool]:
    """The Student-t interval ``mean +/- t(df) * sqrt(var_of_mean)``, cut at ``lower``,
    the least value the quantity can take by definition (0 for a count of persons, a
    number of days, a ratio of counts); and whether it was cut.

    Why a cut t-interval. The quantity is the mean over replicates of a number that is
    never below ``lower``, so its true mean is never below it either: the part of the
    interval below ``lower`` never holds the true mean, and cutting it off leaves the
    interval's coverage exactly as it was (a confidence set intersected with the
    parameter's possible values). The alternatives change what is estimated or how
    often it is covered: a t-interval on the log scale is one of the geometric mean,
    not the mean, and fails on zeros, which counts often are; a bootstrap percentile
    interval never reaches beyond the replicates' own range, so from the 2 to 10
    replicates of a sweep it covers far less than 95% (from 2 replicates, a bootstrap
    of their mean has three values). A quantity equal in every replicate (0 killed in
    each) has variance 0 and the interval ``[mean, mean]``. With no variance (one
    replicate, ``nan``) there is no interval.

    >>> bounded_interval(1.0, 4.0, 10, lower=0.0)[0], bounded_interval(0.0, 0.0, 3, 0.0)
    (0.0, (0.0, 0.0, False))
    """
    low, high, cut = bounded_intervals(np.array([mean]), np.array([var_of_mean]),
                                       np.array([df]), lower, confidence=confidence)
    return float(low[0]), float(high[0]), bool(cut[0])


def bounded_intervals(mean: np.ndarray, var_of_mean: np.ndarray, df: np.ndarray,
                      lower: float | None = None, bounded: np.ndarray | None = None,
                      confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray,
                                                                np.ndarray]:
    """:func:`bounded_interval` of many means at once; ``bounded`` says which may be
    cut at ``lower`` (default: all)."""
    mean, var, df = (np.asarray(a, float) for a in (mean, var_of_mean, df))
    with np.errstate(invalid="ignore"):
        half = stats.t.ppf(0.5 + confidence / 2, np.where(df >= 1, df, np.nan)) * np.sqrt(var)
    half = np.where(var == 0, 0.0, half)
    low, high = mean - half, mean + half
    cut = np.zeros(mean.shape, bool)
    if lower is not None:
        allowed = np.ones(mean.shape, bool) if bounded is None else np.asarray(bounded, bool)
        # Only a mean at or above the bound: below it, the values broke the definition.
        cut = allowed & (low < lower) & (mean >= lower)
        low = np.where(cut, lower, low)
    return low, high, cut


def welch_df(variances: np.ndarray, dfs: np.ndarray, axis: int = -1) -> np.ndarray:
    """Welch-Satterthwaite degrees of freedom of sums of independent variance estimates
    ``variances`` (each the squared standard error of a term, with ``dfs`` degrees of
    freedom), along ``axis``: ``(sum v)^2 / sum(v^2 / df)``; ``inf`` for a sum of zero
    variances, ``nan`` where a term has variance but no degrees of freedom. Equal cells
    of ``n`` replicates give ``cells * (n - 1)``.

    >>> float(welch_df(np.array([1.0, 1.0, 1.0]), np.array([4, 4, 4])))
    12.0
    """
    variances, dfs = np.asarray(variances, float), np.asarray(dfs, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(variances > 0, variances**2 / np.where(dfs > 0, dfs, np.nan), 0.0)
        total = variances.sum(axis=axis)
        return np.where(total == 0, np.inf, total**2 / terms.sum(axis=axis))


# ------------------------------------------------------------------- cells of a grid
def cell_means(runs: pd.DataFrame, factors: list[str], levels: dict[str, list[Any]],
               metric: str, lower: float | None = None) -> pd.DataFrame:
    """One row per cell of the grid (every combination of ``levels``, in the order of
    ``itertools.product``, empty cells included): the factors' values, ``mean``,
    ``ci95_low``, ``ci95_high`` (:func:`bounded_interval` over the cell's replicates),
    ``n`` (the replicates with a value), ``var_mean`` (the squared standard error of
    the mean, ``s^2 / n``), ``df`` (``n - 1``), ``truncated`` (the interval was cut at
    ``lower``) and ``bounded`` (every value of the cell respects ``lower``: only those
    are cut). Only runs whose ``status`` is ``ok`` count (a frame without a status
    column: all)."""
    ok = runs[runs["status"] == "ok"] if "status" in runs else runs
    frame = ok[factors].assign(_y=pd.to_numeric(ok[metric], errors="coerce"))
    frame = frame.dropna(subset=["_y"])
    summary = frame.groupby(factors, sort=False)["_y"].agg(["mean", "var", "count", "min"])
    if len(factors) == 1:
        index = pd.Index(levels[factors[0]], name=factors[0])
        summary.index = pd.Index(summary.index, name=factors[0])
    else:
        index = pd.MultiIndex.from_product([levels[f] for f in factors], names=factors)
    summary = summary.reindex(index)
    n = summary["count"].fillna(0).astype(int).to_numpy()
    mean = summary["mean"].to_numpy(dtype=float)
    var_mean = np.where(n >= 2, summary["var"].to_numpy(dtype=float), np.nan) / np.maximum(n, 1)
    smallest = summary["min"].to_numpy(dtype=float)
    bounded = np.zeros(len(n), bool) if lower is None else smallest >= lower
    df = (n - 1).astype(float)
    low, high, cut = bounded_intervals(mean, var_mean, df, lower, bounded)
    keys = {f: index.get_level_values(f) for f in factors}
    # Built in one go: column by column (assign) is ten times slower.
    return pd.DataFrame(keys | {"mean": mean, "ci95_low": low, "ci95_high": high, "n": n,
                                "var_mean": var_mean, "df": df, "truncated": cut,
                                "bounded": bounded})


def _grid(cells: pd.DataFrame, factors: list[str], keep: list[str]
          ) -> tuple[list[list[Any]], dict[str, np.ndarray]]:
    """The cells' columns as arrays of shape (combinations of ``keep``, cells each),
    and the levels of ``keep`` (cells in :func:`cell_means`'s order)."""
    levels = [list(dict.fromkeys(cells[f].tolist())) for f in factors]
    shape = [len(lv) for lv in levels]
    if math.prod(shape) != len(cells):
        raise ValueError("the cells are not a full grid of their factors' levels")
    kept = [factors.index(k) for k in keep]
    order = kept + [i for i in range(len(factors)) if i not in kept]
    rows = math.prod(shape[i] for i in kept)
    arrays = {column: np.transpose(cells[column].to_numpy().reshape(shape), order).reshape(
        rows, -1) for column in ("mean", "var_mean", "df", "n", "bounded")}
    return [levels[i] for i in kept], arrays


def marginal_means(cells: pd.DataFrame, factors: list[str], keep: list[str],
                   lower: float | None = None) -> pd.DataFrame:
    """The means of the factors ``keep`` at each combination of their levels, each the
    mean of the cell means over every combination of the other factors' levels (the
    grid is balanced: each cell weighs the same, whatever its replicates), with its
    interval from the within-cell variances: ``var = sum(var_mean) / cells^2``, Welch
    degrees of freedom, cut at ``lower`` (:func:`bounded_interval`) when every cell is
    bounded. A combination with an empty cell has no mean (``nan``): averaging the
    others would weigh the other factors differently from level to level."""
    kept_levels, grid = _grid(cells, factors, keep)
    count = grid["mean"].shape[1]
    mean = grid["mean"].astype(float).mean(axis=1)
    parts = grid["var_mean"].astype(float) / count**2
    var = parts.sum(axis=1)
    df = welch_df(parts, grid["df"].astype(float))
    bounded = grid["bounded"].astype(bool).all(axis=1)
    low, high, cut = bounded_intervals(mean, var, df, lower, bounded)
    combos = list(zip(*itertools.product(*kept_levels), strict=True))
    return pd.DataFrame({k: list(v) for k, v in zip(keep, combos, strict=True)} | {
        "mean": mean, "ci95_low": low, "ci95_high": high, "cells": count,
        "empty_cells": (grid["n"] == 0).sum(axis=1), "var_mean": var, "df": df,
        "truncated": cut})


def main_effects(cells: pd.DataFrame, factors: list[str], factor: str,
                 lower: float | None = None) -> pd.DataFrame:
    """The main effect of ``factor``: at each of its levels, the mean of the cell means
    over the other factors' levels (:func:`marginal_means`), and the ``change`` from its
    first level with the interval of that difference (``change_low``, ``change_high``:
    the two levels' cells are disjoint, so their variances add; Welch degrees of
    freedom over both levels' cells)."""
    table = marginal_means(cells, factors, [factor], lower)
    _, grid = _grid(cells, factors, [factor])
    parts = grid["var_mean"].astype(float) / grid["mean"].shape[1] ** 2
    dfs = grid["df"].astype(float)
    change = table["mean"].to_numpy() - table["mean"].iloc[0]
    var = table["var_mean"].to_numpy() + table["var_mean"].iloc[0]
    df = welch_df(np.hstack([parts, np.broadcast_to(parts[0], parts.shape)]),
                  np.hstack([dfs, np.broadcast_to(dfs[0], dfs.shape)]))
    low, high, _ = bounded_intervals(change, var, df)
    # The first level's change from itself is exactly 0.
    low[0], high[0], change[0] = 0.0, 0.0, 0.0
    return table.assign(change=change, change_low=low, change_high=high)


def level_difference(cells: pd.DataFrame, factors: list[str], factor: str, first: Any,
                     second: Any) -> tuple[float, float, float]:
    """The main effect's change from ``factor``'s level ``first`` to ``second``
    (:func:`main_effects` gives it from the first level only) and its 95% interval: the
    two levels' cells are disjoint, so their variances add; Welch degrees of freedom
    over both levels' cells."""
    table = marginal_means(cells, factors, [factor]).set_index(factor)
    _, grid = _grid(cells, factors, [factor])
    order = list(table.index)
    i, j = order.index(first), order.index(second)
    parts = grid["var_mean"].astype(float) / grid["mean"].shape[1] ** 2
    dfs = grid["df"].astype(float)
    change = float(table["mean"].iloc[j] - table["mean"].iloc[i])
    var = float(table["var_mean"].iloc[j] + table["var_mean"].iloc[i])
    df = welch_df(np.concatenate([parts[i], parts[j]]), np.concatenate([dfs[i], dfs[j]]))
    low, high, _ = bounded_intervals(np.array([change]), np.array([var]), np.array([df]))
    return change, float(low[0]), float(high[0])


#: The outcome of a run between two sides, from the persons each has left at its end.
WINNERS = ("attacker", "defender", "neither")


def run_winner(attacker_left: float, defender_left: float) -> str:
    """Who won a run: the side with persons left when the other has none; ``neither``
    when both have some left (the run reached ``max_days``) or both have none.

    >>> run_winner(12, 0), run_winner(0, 3), run_winner(5, 7), run_winner(0, 0)
    ('attacker', 'defender', 'neither', 'neither')
    """
    if attacker_left > 0 and not defender_left > 0:
        return "attacker"
    if defender_left > 0 and not attacker_left > 0:
        return "defender"
    return "neither"


def win_shares(runs: pd.DataFrame, factors: list[str], levels: dict[str, list[Any]],
               confidence: float = CONFIDENCE) -> pd.DataFrame:
    """For each cell of a grid (in :func:`cell_means`'s order): how many ok runs with
    both ``attacker_personnel`` and ``defender_personnel`` it has (``runs``), and for
    each side of :data:`WINNERS` the runs it won (``{side}_wins``), their share and
    its Wilson score interval (``{side}_low``, ``{side}_high``: a binomial interval
    that keeps its coverage near 0 and 1, where the Wald interval collapses to a
    point)."""
    ok = runs[runs["status"] == "ok"] if "status" in runs else runs
    attacker = pd.to_numeric(ok["attacker_personnel"], errors="coerce")
    defender = pd.to_numeric(ok["defender_personnel"], errors="coerce")
    known = attacker.notna() & defender.notna()
    winners = pd.Series([run_winner(a, d) for a, d in zip(attacker[known], defender[known],
                                                          strict=True)],
                        index=ok.index[known], dtype=object)
    frame = ok.loc[known, factors].assign(_winner=winners)
    rows = []
    for combo in itertools.product(*[levels[f] for f in factors]):
        at = np.ones(len(frame), bool)
        for f, v in zip(factors, combo, strict=True):
            at &= (frame[f] == v).to_numpy()
        found = frame.loc[at, "_winner"]
        row: dict[str, Any] = dict(zip(factors, combo, strict=True)) | {"runs": len(found)}
        for side in WINNERS:
            wins = int((found == side).sum())
            if len(found):
                interval = stats.binomtest(wins, len(found)).proportion_ci(
                    confidence_level=confidence, method="wilson")
                low, high = float(interval.low), float(interval.high)
            else:
                low = high = math.nan
            row |= {f"{side}_wins": wins,
                    f"{side}_share": wins / len(found) if len(found) else math.nan,
                    f"{side}_low": low, f"{side}_high": high}
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Interaction:
    """A test of whether the effect of ``factors[0]`` depends on the level of
    ``factors[1]`` (averaged over any other factors): the Wald statistic of the
    interaction contrasts of the two-way table over ``df1`` contrasts, compared with F
    on ``df2`` (the cells' within-cell degrees of freedom), its ``p_value``, and the
    ``largest`` departure of a two-way mean from the sum of its row and column effects,
    at the levels ``at``. ``p_value`` is none when the cells give no variance."""

    factors: tuple[str, str]
    statistic: float
    df1: int
    df2: float
    p_value: float | None
    largest: float
    at: tuple[Any, Any]


def interaction(cells: pd.DataFrame, factors: list[str], pair: tuple[str, str]) -> Interaction:
    """Test the interaction of the two factors ``pair`` from their two-way table of
    means (:func:`marginal_means`; cells independent, each with its own variance).

    The ``(I-1)(J-1)`` contrasts that vanish when the effects add
    (``C = H_I (x) H_J``, orthonormal contrasts of each factor) have covariance
    ``C diag(var) C'``; their Wald statistic over ``(I-1)(J-1)`` is compared with F on
    the pooled within-cell degrees of freedom (an approximation where cell variances
    differ). Raises ``ValueError`` when a cell is empty."""
    a, b = pair
    table = marginal_means(cells, factors, [a, b])
    if not np.isfinite(table["mean"]).all():
        raise ValueError("a cell of the grid has no value")
    levels_a, levels_b = list(dict.fromkeys(table[a])), list(dict.fromkeys(table[b]))
    shape = (len(levels_a), len(levels_b))
    means = table["mean"].to_numpy(float).reshape(shape)
    variances = table["var_mean"].to_numpy(float)
    departure = (means - means.mean(axis=1, keepdims=True) - means.mean(axis=0, keepdims=True)
                 + means.mean())
    i, j = np.unravel_index(np.argmax(np.abs(departure)), departure.shape)
    contrasts = np.kron(null_space(np.ones((1, shape[0]))).T,
                        null_space(np.ones((1, shape[1]))).T)
    q = contrasts.shape[0]
    found = contrasts @ means.reshape(-1)
    df2 = float(cells["df"].clip(lower=0).sum())
    largest, at = float(departure[i, j]), (levels_a[i], levels_b[j])
    if not np.isfinite(variances).all() or df2 < 1:
        return Interaction((a, b), math.nan, q, df2, None, largest, at)
    cov = contrasts @ np.diag(variances) @ contrasts.T
    if np.allclose(cov, 0.0):
        # No replicate varies: any departure from additivity is exact.
        exact = bool(np.any(np.abs(found) > 1e-9 * max(1.0, float(np.abs(means).max()))))
        return Interaction((a, b), math.inf if exact else 0.0, q, df2, 0.0 if exact else 1.0,
                           largest, at)
    statistic = float(found @ np.linalg.pinv(cov) @ found) / q
    return Interaction((a, b), statistic, q, df2, float(stats.f.sf(statistic, q, df2)),
                       largest, at)


# ------------------------------------------------------------- sensitivity indices
def point_means(runs: pd.DataFrame, metric: str) -> pd.Series:
    """The metric's mean over replicates at each design point, in point order."""
    ok = runs[runs["status"] == "ok"]
    means = ok.groupby("point")[metric].apply(lambda v: pd.to_numeric(v, errors="coerce")
                                              .mean())
    return means.reindex(range(int(runs["point"].max()) + 1))


def _point_values(runs: pd.DataFrame, metric: str) -> np.ndarray:
    y = point_means(runs, metric).to_numpy(dtype=float)
    if np.isnan(y).any():
        raise ValueError(f"{int(np.isnan(y).sum())} of {len(y)} design points have no "
                         f"value of {metric}")
    return y


#: The columns of the indices, by design (SALib's names).
_INDEX_COLUMNS = {"sobol": ("S1", "S1_conf", "ST", "ST_conf"),
                  "morris": ("mu_star", "mu_star_conf", "sigma")}


def _analysis(exp: Experiment, y: np.ndarray, x: np.ndarray | None, size: int,
              confidence: float) -> dict:
    """SALib's analysis of the design's first ``size`` base samples (Sobol; each a
    balanced part of the Sobol sequence, as the counts are powers of 2) or trajectories
    (Morris, whose design matrix is ``x``)."""
    k = len(exp.parameters)
    if exp.design == "sobol":
        from SALib.analyze import sobol

        rows = size * (2 * k + 2 if exp.second_order else k + 2)
        return sobol.analyze(exp.problem(), y[:rows], calc_second_order=exp.second_order,
                             conf_level=confidence, seed=exp.seed)
    if exp.design == "morris":
        from SALib.analyze import morris

        rows = size * (k + 1)
        return morris.analyze(exp.problem(), x[:rows], y[:rows], conf_level=confidence,
                              num_levels=exp.morris_levels, seed=exp.seed)
    raise ValueError(f"design '{exp.design}' has no sensitivity indices; allowed: sobol, "
                     f"morris")


def _indices(exp: Experiment, res: dict) -> pd.DataFrame:
    return pd.DataFrame({column: np.asarray(res[column], float)
                         for column in _INDEX_COLUMNS[exp.design]},
                        index=exp.problem()["names"])


def _second_order(exp: Experiment, res: dict) -> pd.DataFrame:
    names = exp.problem()["names"]
    return pd.DataFrame([{"parameter_1": names[i], "parameter_2": names[j],
                          "S2": float(res["S2"][i, j]), "S2_conf": float(res["S2_conf"][i, j])}
                         for i in range(len(names)) for j in range(i + 1, len(names))])


@dataclass(frozen=True)
class Sensitivity:
    """A metric's sensitivity indices (:func:`sensitivity`): ``indices`` of the whole
    design, their ``convergence`` (one row per size and parameter: ``size``,
    ``parameter`` and the indices) and, with ``second_order = true``, ``second_order``
    (``S2`` of every pair with its half-width: the share of the variance the pair
    explains together beyond its first-order effects)."""

    indices: pd.DataFrame
    convergence: pd.DataFrame
    second_order: pd.DataFrame | None


def sensitivity(runs: pd.DataFrame, exp: Experiment, metric: str,
                confidence: float = CONFIDENCE) -> Sensitivity:
    """Sobol first and total order indices (``S1``, ``ST`` and their confidence
    half-widths, SALib's bootstrap) or Morris ``mu_star`` and ``sigma``, of the metric's
    mean over replicates, recomputed on growing leading parts of the design: the first
    1/16, 1/8, 1/4, 1/2 and all of its base samples or trajectories, from 8 base
    samples or 4 trajectories on (converged indices change little from the half to the
    whole). One SALib analysis per size; the whole design's gives the indices. Raises
    ``ValueError`` if a design point has no value."""
    y = _point_values(runs, metric)
    x = design_matrix(exp) if exp.design == "morris" else None
    smallest = 8 if exp.design == "sobol" else 4
    sizes = sorted({exp.samples // 2**h for h in range(5)
                    if exp.samples // 2**h >= smallest} | {exp.samples})
    analyses = {size: _analysis(exp, y, x, size, confidence) for size in sizes}
    whole = analyses[exp.samples]
    steps = pd.concat([_indices(exp, res).rename_axis("parameter").reset_index()
                       .assign(size=size) for size, res in analyses.items()],
                      ignore_index=True)
    return Sensitivity(_indices(exp, whole), steps[["size", *steps.columns[:-1]]],
                       _second_order(exp, whole) if exp.second_order else None)


def sensitivity_indices(runs: pd.DataFrame, exp: Experiment, metric: str,
                        confidence: float = CONFIDENCE) -> pd.DataFrame:
    """The indices of the whole design alone (:func:`sensitivity`)."""
    y = _point_values(runs, metric)
    x = design_matrix(exp) if exp.design == "morris" else None
    return _indices(exp, _analysis(exp, y, x, exp.samples, confidence))


#: Below this many Morris trajectories the ranking is seldom settled (Campolongo et al.
#: 2007 use 10 to 20 and more).
SETTLED_MORRIS_TRAJECTORIES = 10
#: An interval half-width above this share of the largest index leaves the largest
#: index itself unresolved.
MAX_RELATIVE_HALF_WIDTH = 0.5


#: An index whose 95% half-width is below this (a share of the variance) is resolved
#: whatever its size: it is pinned down as small (0.00 +/- 0.02 says "no effect").
MIN_RESOLVED_SHARE = 0.05
#: ST summing above 1 by less than this is not warned about even with narrow intervals:
#: a little interaction is common and harmless.
MAX_ST_EXCESS = 0.1


def _unresolved(value: pd.Series, half: pd.Series, floor: float = MIN_RESOLVED_SHARE
                ) -> list[str]:
    """The indices whose 95% half-width is more than :data:`MAX_RELATIVE_HALF_WIDTH` of
    the index (0 for one below 0) and above ``floor``."""
    return [n for n in value.index
            if half[n] > MAX_RELATIVE_HALF_WIDTH * max(value[n], 0.0) and half[n] > floor]


#: A share of the point means' variance above this that is run-to-run noise (the seeds,
#: not the parameters) is worth a warning: Sobol counts it as interaction (ST).
MAX_NOISE_SHARE = 0.1


def noise_share(runs: pd.DataFrame, metric: str) -> float:
    """The share of the variance of the point means that the replicates' own noise
    explains: the mean over points of ``s^2 / n`` (the squared standard error of a point
    mean) over the variance of the point means; ``nan`` with one replicate a point."""
    ok = runs[runs["status"] == "ok"]
    values = pd.to_numeric(ok[metric], errors="coerce")
    by_point = values.groupby(ok["point"]).agg(["mean", "var", "count"]).dropna()
    if by_point.empty or (by_point["count"] < 2).all():
        return math.nan
    spread = float(by_point["mean"].var())
    noise = float((by_point["var"] / by_point["count"]).mean())
    return noise / spread if spread > 0 else math.inf if noise > 0 else 0.0


def sensitivity_warnings(indices: pd.DataFrame, exp: Experiment,
                         steps: pd.DataFrame | None = None,
                         second: pd.DataFrame | None = None,
                         noise: float = math.nan) -> list[str]:
    """Plain sentences saying why the indices cannot be trusted, if they cannot: few
    Morris trajectories, one replicate a point (noise unmeasured), any index whose
    interval is wide against it (and not small in itself), indices outside their
    possible range (Sobol: 0 to 1) beyond their intervals, first-order indices summing
    to more than 1 or above the total ones beyond their intervals, total indices summing
    well above 1 beyond their intervals, indices that still
    move between half and all of the design (``steps``, :func:`convergence`), second-order
    indices below 0 beyond their intervals or unresolved, run-to-run ``noise``
    (:func:`noise_share`) above :data:`MAX_NOISE_SHARE`. Empty when none applies."""
    out = []
    if noise > MAX_NOISE_SHARE:
        out.append(f"Run-to-run noise is {noise:.0%} of the variance of the point means: "
                   f"the indices share it out as if the parameters caused it (Sobol counts "
                   f"it as interaction, in ST); more replicates a point shrink it.")
    elif exp.replicates == 1:
        out.append("With one replicate a point the run-to-run noise cannot be measured: "
                   "the indices mix it in as if the parameters caused it (Sobol counts it as "
                   "interaction, in ST), by an unknown amount; 2 or more replicates a point "
                   "measure it.")
    if exp.design == "sobol":
        for order in ("S1", "ST"):
            value, half = indices[order], indices[f"{order}_conf"]
            unresolved = _unresolved(value, half)
            if unresolved:
                out.append(f"{order} not resolved for " + "; for ".join(
                    f"{n}: its 95% interval's half-width (+/-{half[n]:.2f}) is more than "
                    f"half the index ({value[n]:.2f})" for n in unresolved)
                    + ": use more base samples (or replicates).")
            outside = [n for n in indices.index
                       if value[n] - half[n] > 1 or value[n] + half[n] < 0]
            if outside:
                named = ", ".join(f"{n} ({value[n]:.2f} +/- {half[n]:.2f})" for n in outside)
                out.append(f"{order} outside 0 to 1 beyond its interval for {named}: the "
                           f"estimator has not converged; use more base samples.")
        total, spread = indices["S1"].sum(), math.sqrt((indices["S1_conf"] ** 2).sum())
        if total - 1 > spread:
            out.append(f"The S1 sum to {total:.2f}, above 1 by more than their combined "
                       f"interval ({spread:.2f}): impossible for a converged estimate.")
        total_st = indices["ST"].sum()
        spread_st = math.sqrt((indices["ST_conf"] ** 2).sum())
        if total_st - 1 > max(spread_st, MAX_ST_EXCESS):
            out.append(f"The ST sum to {total_st:.2f}, above 1 by more than their combined "
                       f"interval (+/-{spread_st:.2f}), against S1 summing to {total:.2f}: "
                       f"either the parameters interact strongly (each interaction counts in "
                       f"the ST of every parameter in it) or run-to-run noise, which Sobol "
                       f"counts as interaction, inflates every ST.")
        above = [n for n in indices.index if indices.at[n, "S1"] - indices.at[n, "ST"] >
                 math.hypot(indices.at[n, "S1_conf"], indices.at[n, "ST_conf"])]
        if above:
            out.append(f"S1 above ST beyond their intervals for {', '.join(above)}: "
                       f"impossible for a converged estimate.")
        keys = ("S1", "ST")
    else:
        if exp.samples < SETTLED_MORRIS_TRAJECTORIES:
            out.append(f"Only {exp.samples} trajectories: the ranking is seldom settled "
                       f"below {SETTLED_MORRIS_TRAJECTORIES}.")
        value, half = indices["mu_star"], indices["mu_star_conf"]
        floor = MIN_RESOLVED_SHARE * float(value.abs().max())
        unresolved = _unresolved(value, half, floor)
        if unresolved:
            out.append("mu* not resolved for " + "; for ".join(
                f"{n}: its 95% interval's half-width (+/-{half[n]:.3g}) is more than half "
                f"the index ({value[n]:.3g})" for n in unresolved)
                + ": use more trajectories.")
        keys = ("mu_star",)
    if steps is not None and steps["size"].nunique() >= 2:
        sizes = sorted(steps["size"].unique())
        half_, whole = (steps[steps["size"] == s].set_index("parameter") for s in sizes[-2:])
        for key in keys:
            moved = (whole[key] - half_[key]).abs()
            limit = whole[f"{key}_conf"]
            drifting = [n for n in whole.index if moved[n] > limit[n] and moved[n] > 0.02 * max(
                1.0, float(whole[key].abs().max()))]
            if drifting:
                out.append(f"{key} still moves between {sizes[-2]} and {sizes[-1]} "
                           f"{'base samples' if exp.design == 'sobol' else 'trajectories'} "
                           f"by more than its interval for {', '.join(drifting)}: not "
                           f"converged.")
        if exp.design == "morris" and half_["mu_star"].idxmax() != whole["mu_star"].idxmax():
            out.append(f"The most influential parameter changes from {half_['mu_star'].idxmax()} "
                       f"to {whole['mu_star'].idxmax()} between half and all trajectories: "
                       f"the ranking is not settled.")
    if second is not None and len(second):
        negative = second[second["S2"] + second["S2_conf"] < 0]
        if len(negative):
            pairs = ", ".join(f"{r.parameter_1} x {r.parameter_2}" for r in negative.itertuples())
            out.append(f"S2 below 0 beyond its interval for {pairs}: the second-order "
                       f"indices have not converged.")
        top = second.loc[second["S2"].idxmax()]
        if top["S2_conf"] > MAX_RELATIVE_HALF_WIDTH * max(top["S2"], 0.0):
            out.append(f"The largest S2 ({top['parameter_1']} x {top['parameter_2']}: "
                       f"{top['S2']:.2f} +/- {top['S2_conf']:.2f}) is not resolved: no pair "
                       f"is told apart from no interaction; use more base samples.")
    return out


# ------------------------------------------------------------------ daily series
def envelopes(series: pd.DataFrame, runs: pd.DataFrame, factor: str | None,
              column: str) -> pd.DataFrame:
    """A daily series' envelope over runs: for each level of ``factor`` (or all runs,
    with none), side and day, the ``median`` and the band of :func:`sim.replicates.run_band`
    (5-95% from 20 runs on, else the range) of ``column`` over the ok runs still going
    that day, and how many they are (``runs``)."""
    ok = runs[runs["status"] == "ok"]
    keep = ["run"] if factor is None else ["run", factor]
    frame = series.merge(ok[keep], on="run")
    frame = frame.assign(_v=pd.to_numeric(frame[column], errors="coerce")).dropna(
        subset=["_v"])
    groups = ["side", "day"] if factor is None else [factor, "side", "day"]
    rows = []
    for key, group in frame.groupby(groups, sort=True):
        values = group["_v"].to_numpy(float)
        low, high = run_band(values[:, None])
        rows.append({**dict(zip(groups, key, strict=True)), "median": float(np.median(values)),
                     "low": float(low[0]), "high": float(high[0]), "runs": len(values)})
    return pd.DataFrame(rows)
