"""Figures of a run written to files (matplotlib, no screen needed): strengths,
casualties, recruit pool and training pipeline, a map of the front, and the fits of a
calibration. The front and the live charts drawn in place (the demo page, animations)
are in :mod:`sim.views`.

Each function takes the tidy daily record of :func:`sim.run` (one run, or several
replicates told apart by a ``seed`` column: then lines are means and bands the 95%
confidence interval of the mean) and returns the file it wrote.

    >>> import tempfile, os
    >>> from sim import Scenario, run
    >>> result = run(Scenario(max_days=2), seed=0)
    >>> out = plot_strengths(result.daily, os.path.join(tempfile.mkdtemp(), "s.png"))
    >>> out.read_bytes()[:4] == b"\\x89PNG"
    True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

if not os.environ.get("MPLBACKEND"):
    # Files only: works on servers, in CI and without a display. A backend chosen on
    # purpose is kept: Jupyter's kernels set MPLBACKEND to draw figures inline.
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sim.replicates import mean_interval  # noqa: E402
from sim.views import SIDE_COLOURS, draw_front, plain  # noqa: E402

if TYPE_CHECKING:
    from sim.model.records import FrontMap


def side_band(daily: pd.DataFrame, side: str, column: str) -> pd.DataFrame:
    """Per day, a side's ``column``: ``mean``, and ``low``/``high`` of the 95% confidence
    interval of the mean over replicates (equal to the mean for a single run). Cumulative
    columns (``*_total``) keep a stopped replicate's last value; others average the
    replicates still running."""
    rows = daily[(daily["side"] == side) & (daily["contingent"] == "all")]
    if "seed" not in rows:
        rows = rows.assign(seed=0)
    table = rows.pivot_table(index="day", columns="seed", values=column, aggfunc="first")
    if column.endswith("_total"):
        # A replicate that has stopped keeps its totals: the mean stays over all of them
        # (rather than jumping as the runs still going thin out).
        table = table.ffill()
    out = []
    for day, values in table.iterrows():
        found = mean_interval(values.dropna().tolist())
        low = found["mean"] if found["ci95_low"] is None else found["ci95_low"]
        high = found["mean"] if found["ci95_high"] is None else found["ci95_high"]
        out.append((day, found["mean"], low, high))
    return pd.DataFrame(out, columns=["day", "mean", "low", "high"]).set_index("day")


def calendar(daily: pd.DataFrame, days) -> tuple[object, str]:
    """The x values of ``days`` and the axis label: dates where the daily record has
    them (a scenario with a ``start_date``), else day numbers."""
    if "date" not in daily:
        return days, "day"
    start = pd.Timestamp(daily["date"].iloc[0]) - pd.Timedelta(days=int(daily["day"].iloc[0]))
    return start + pd.to_timedelta(np.asarray(days), unit="D"), "date"


def _line(ax, daily: pd.DataFrame, side: str, column: str, label: str, **style) -> None:
    band = side_band(daily, side, column)
    colour = SIDE_COLOURS[side]
    x, xlabel = calendar(daily, band.index)
    ax.plot(x, band["mean"], color=colour, label=label, **style)
    if (band["high"] > band["low"]).any():
        ax.fill_between(x, band["low"], band["high"], color=colour, alpha=0.2, linewidth=0)
    ax.set_xlabel(xlabel)
    if xlabel == "date":
        ax.figure.autofmt_xdate()


def _finish(fig, path: str | Path, title: str) -> Path:
    if title:
        fig.suptitle(plain(title))  # user text (a scenario's name): never mathtext
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _replicate_note(daily: pd.DataFrame) -> str:
    n = daily["seed"].nunique() if "seed" in daily else 1
    return f" (mean of {n} replicates, 95% CI)" if n > 1 else ""


def plot_strengths(daily: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Personnel fighting, and all personnel in units, per side and day."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for side in SIDE_COLOURS:
        _line(ax, daily, side, "personnel_fighting", f"{side} fighting")
        _line(ax, daily, side, "personnel", f"{side} in units", linestyle=":")
    ax.set(ylabel="persons", title="Strength" + _replicate_note(daily))
    ax.legend(fontsize="small")
    return _finish(fig, path, title)


def plot_casualties(daily: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Cumulative killed, wounded and permanently lost, per side and day."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for side in SIDE_COLOURS:
        _line(ax, daily, side, "killed_total", f"{side} killed")
        _line(ax, daily, side, "wounded_total", f"{side} wounded", linestyle="--")
        _line(ax, daily, side, "permanently_lost_total", f"{side} permanently lost",
              linestyle=":")
    ax.set(ylabel="cumulative persons", title="Casualties" + _replicate_note(daily))
    ax.legend(fontsize="small")
    return _finish(fig, path, title)


def plot_force_generation(daily: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Recruit pool left, and people in training, in the trained reserve and in care."""
    fig, (pool, pipe) = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    for side in SIDE_COLOURS:
        _line(pool, daily, side, "pool", side)
        _line(pipe, daily, side, "in_training", f"{side} in training")
        _line(pipe, daily, side, "reserve", f"{side} trained reserve", linestyle="--")
        _line(pipe, daily, side, "in_care", f"{side} wounded in care", linestyle=":")
    pool.set(ylabel="persons", title="Recruit pool left")
    pipe.set(ylabel="persons", title="Pipeline" + _replicate_note(daily))
    pool.legend(fontsize="small")
    pipe.legend(fontsize="small")
    return _finish(fig, path, title)


def plot_front_map(front: FrontMap, path: str | Path, title: str = "") -> Path:
    """The sector at the end (see :func:`draw_front`)."""
    width, depth = front.control.shape
    fig, ax = plt.subplots(figsize=(6.5, 6.5 * min(1.3, max(0.6, depth / width))))
    draw_front(ax, front)
    return _finish(fig, path, title)


def plot_law_fits(record, fits: list, path: str | Path, title: str = "") -> Path:
    """Observed series of a battle record (points) against each fitted law (lines),
    with the residuals of the best fit below: one column per observed series."""
    series = list(record.observed)
    fig, axes = plt.subplots(2, len(series), figsize=(5.5 * len(series), 6.5), sharex=True,
                             squeeze=False, gridspec_kw={"height_ratios": (3, 1)})
    days = np.arange(record.days + 1)
    cumulative = np.cumsum(record.reinforcements, axis=0)
    for k, name in enumerate(series):
        top, bottom = axes[0, k], axes[1, k]
        observed = record.observed[name]
        top.plot(days, observed, "o", color="0.3", markersize=3, label="observed")
        for rank, fit in enumerate(fits):
            s = 0 if name.startswith("attacker") else 1
            fitted = fit.fitted[:, s]
            if name.endswith("_casualties"):
                fitted = fit.fitted[0, s] + cumulative[:, s] - fitted
            top.plot(days, fitted, linewidth=2 if rank == 0 else 1,
                     alpha=1 if rank == 0 else 0.6, label=f"{fit.law} (AIC {fit.aic:.1f})")
            if rank == 0:
                bottom.axhline(0, color="0.6", linewidth=0.8)
                bottom.plot(days, observed - fitted, "o", markersize=3)
        top.set(title=name.replace("_", " "), ylabel="persons")
        bottom.set(xlabel="day", ylabel=f"residual ({fits[0].law})")
        top.legend(fontsize="small")
    return _finish(fig, path, title)


def plot_model_fit(record, fit, path: str | Path, title: str = "") -> Path:
    """Observed series of a battle record (points) against the calibrated model's
    replicate mean (line) and the 5-95% band of its single runs, with the residuals
    (observed minus mean) below: one column per observed series."""
    series = list(fit.fitted)
    fig, axes = plt.subplots(2, len(series), figsize=(5.5 * len(series), 6.5), sharex=True,
                             squeeze=False, gridspec_kw={"height_ratios": (3, 1)})
    days = np.arange(record.days + 1)
    label = ", ".join(f"{k} = {v:.4g}" for k, v in fit.estimates.items())
    for k, name in enumerate(series):
        top, bottom = axes[0, k], axes[1, k]
        observed = record.observed[name]
        low, high = fit.band[name]
        top.fill_between(days, low, high, color="C0", alpha=0.2,
                         label=f"single runs, 5-95% of {fit.replicates}")
        top.plot(days, fit.fitted[name], color="C0", linewidth=2, label="model mean")
        top.plot(days, observed, "o", color="0.3", markersize=3, label="observed")
        top.set(title=name.replace("_", " "), ylabel="persons")
        top.legend(fontsize="small")
        bottom.axhline(0, color="0.6", linewidth=0.8)
        bottom.plot(days, observed - fit.fitted[name], "o", markersize=3, color="C0")
        bottom.set(xlabel="day", ylabel="residual (persons)")
    return _finish(fig, path, f"{title}: {fit.scenario} with {label}" if title else label)
