"""Figures of a run written to files (matplotlib, no screen needed): strengths,
casualties, recruit pool and training pipeline, a map of the front, and the fits of a
calibration. The front and the live charts drawn in place (the demo page, animations)
are in :mod:`sim.views`.

Each ``plot_*`` function returns the file it wrote. Those of a run's strengths,
casualties and force generation take the tidy daily record of :func:`sim.run` (one run,
or several replicates told apart by a ``seed`` column: then lines are means and bands
the 95% confidence interval of the mean) and draw what a ``*_figure`` function returns
(the matplotlib figure: to draw on further, or to test what is drawn). A run's figures
give each side its own panel, with its own y axis when the sides' scales differ
(:func:`scales_differ`); draw only what a side has (no pool curve for a side without a
recruit pool); and draw two series that are equal on every day as one line labelled
"a = b".

    >>> import tempfile, os
    >>> from sim import Scenario, run
    >>> result = run(Scenario(max_days=2), seed=0)
    >>> out = plot_strengths(result.daily, os.path.join(tempfile.mkdtemp(), "s.png"))
    >>> out.read_bytes()[:4] == b"\\x89PNG"
    True
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

if not os.environ.get("MPLBACKEND"):
    # Files only: works on servers, in CI and without a display. A backend chosen on
    # purpose is kept: Jupyter's kernels set MPLBACKEND to draw figures inline.
    matplotlib.use("Agg")

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import ticker  # noqa: E402

from sim.replicates import band_label, mean_interval  # noqa: E402
from sim.sides import SIDES  # noqa: E402
from sim.views import SIDE_COLOURS, draw_front, plain  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from sim.model.records import FrontMap


def side_band(daily: pd.DataFrame, side: str, column: str) -> pd.DataFrame:
    """Per day, a side's ``column``: ``mean``, and ``low``/``high`` of the 95% confidence
    interval of the mean over replicates (equal to the mean for a single run). Cumulative
    columns (``*_total``) keep a stopped replicate's last value; others average the
    replicates still running."""
    rows = side_rows(daily, side)
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


#: The two sides' panels share one y axis only while the larger side's peak is at most this
#: many times the smaller's: beyond it the smaller side's curves would lie squashed along
#: zero (an attacker of 10,000 beside a defence of hundreds).
SHARED_AXIS_MAX_RATIO = 3.0


@dataclass(frozen=True)
class Series:
    """A curve of a side's panel: a side row's daily-record ``column``, its legend
    ``label`` and its matplotlib line ``style``."""

    column: str
    label: str
    style: dict = field(default_factory=dict)


#: Strength: "in units" as a wide pale line under a thin "fighting" line, so that both
#: are seen where they meet; on days they are equal throughout, one line says so.
STRENGTH_SERIES = (
    Series("personnel_fighting", "fighting", {"linewidth": 1.6, "zorder": 3}),
    Series("personnel", "in units (fighting, waiting, routed or withdrawn)",
           {"linewidth": 6.0, "alpha": 0.3, "zorder": 2, "solid_capstyle": "butt"}))
#: The legend of series equal on every day, where "a = b" would not say what it means.
MERGED_LABELS = {("personnel_fighting", "personnel"):
                 "fighting = in units (none waiting, routed or withdrawn)"}
CASUALTY_SERIES = (
    Series("killed_total", "killed", {"linewidth": 2.0}),
    Series("wounded_total", "wounded", {"linestyle": "--", "linewidth": 1.6}),
    Series("permanently_lost_total", "wounded permanently lost",
           {"linestyle": ":", "linewidth": 2.4}))
POOL_SERIES = (Series("pool", "recruit pool left", {"linewidth": 2.0}),)
#: Persons outside the units: drawn only where a side has any (a side that recruits no one
#: has no one in training; a side without a pool, no pool).
PIPELINE_SERIES = (
    Series("in_training", "in training", {"linewidth": 2.0}),
    Series("reserve", "trained reserve", {"linestyle": "--", "linewidth": 1.6}),
    Series("in_care", "wounded in care", {"linestyle": ":", "linewidth": 2.4}))


def side_rows(daily: pd.DataFrame, side: str) -> pd.DataFrame:
    """A side's rows of the daily record (``contingent == "all"``)."""
    return daily[(daily["side"] == side) & (daily["contingent"] == "all")]


def has_any(daily: pd.DataFrame, side: str, column: str) -> bool:
    """Whether a side's ``column`` is above zero on any day of any replicate: a side
    without a recruit pool has a pool of 0 throughout, and gets no pool curve."""
    return bool((side_rows(daily, side)[column] > 0).any())


def side_bands(daily: pd.DataFrame, side: str,
               series: tuple[Series, ...] | list[Series]) -> list[tuple[list[Series],
                                                                        pd.DataFrame]]:
    """Each series' :func:`side_band`, series whose bands are equal on every day merged
    into one entry (drawn twice, the second line would hide the first)."""
    merged: list[tuple[list[Series], pd.DataFrame]] = []
    for one in series:
        band = side_band(daily, side, one.column)
        for group, other in merged:
            if band.index.equals(other.index) and np.array_equal(band.to_numpy(),
                                                                 other.to_numpy()):
                group.append(one)
                break
        else:
            merged.append(([one], band))
    return merged


def _draw(ax, daily: pd.DataFrame, side: str,
          bands: list[tuple[list[Series], pd.DataFrame]]) -> None:
    """A side's curves (mean lines, bands of the 95% CI of the mean) in its colour; one
    line for series equal throughout, labelled "a = b"."""
    colour = SIDE_COLOURS[side]
    for group, band in bands:
        x, _ = calendar(daily, band.index)
        label = MERGED_LABELS.get(tuple(s.column for s in group),
                                  " = ".join(s.label for s in group))
        ax.plot(x, band["mean"], color=colour, label=label, **group[0].style)
        if (band["high"] > band["low"]).any():
            ax.fill_between(x, band["low"], band["high"], color=colour, alpha=0.2,
                            linewidth=0)


def _mark_thinning(ax, daily: pd.DataFrame, series) -> None:
    """Shade the days on which some replicates have stopped and others run on: there a
    stock's mean is of the runs still going (a cumulative total keeps every run's last
    value, :func:`side_band`), and its band widens on few runs."""
    if "seed" not in daily or all(s.column.endswith("_total") for s in series):
        return
    ends = daily.groupby("seed")["day"].max()
    if ends.min() == ends.max():
        return
    (first, last), _ = calendar(daily, [ends.min(), ends.max()])
    ax.axvspan(first, last, color="0.5", alpha=0.12, linewidth=0,
               label=f"replicates end (days {ends.min()} to {ends.max()}): mean of "
                     f"those still running")


def _peak(bands: list[tuple[list[Series], pd.DataFrame]]) -> float:
    return max(float(band["high"].max()) for _, band in bands)


def _persons_axes(ax, daily: pd.DataFrame, ylabel: str, peak: float) -> None:
    """Persons from 0 to a little above ``peak`` (a flat line at the peak stays off the
    frame), with thousands separators as the run's table writes them; days or dates
    along the bottom (:func:`date_label`, the years in the axis's label)."""
    ax.set_ylim(0, max(peak, 1.0) * 1.06)
    ax.yaxis.set_major_formatter(ticker.StrMethodFormatter("{x:,.0f}"))
    ax.set_ylabel(ylabel)
    if "date" in daily:
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=8))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(date_label))
        years = sorted({str(d)[:4] for d in (daily["date"].min(), daily["date"].max())})
        ax.set_xlabel(f"date ({' to '.join(years)})")
    else:
        ax.set_xlabel("day")


def date_label(value: float, _position=None) -> str:
    """A date tick, short and never turned on its side: a day with its month, a month's
    first as the month, a year's first with the year.

    >>> [date_label(mdates.date2num(pd.Timestamp(d))) for d in
    ...  ("2024-12-08", "2024-12-01", "2025-01-01")]
    ['08 Dec', 'Dec', 'Jan 2025']
    """
    day = mdates.num2date(value)
    if day.day == 1:
        return day.strftime("%b %Y" if day.month == 1 else "%b")
    return day.strftime("%d %b")


def scales_differ(peaks: dict[str, float]) -> bool:
    """Whether the sides' peaks are too far apart for one y axis
    (:data:`SHARED_AXIS_MAX_RATIO`).

    >>> scales_differ({"attacker": 10_890, "defender": 1_800})
    True
    >>> scales_differ({"attacker": 900, "defender": 600})
    False
    """
    low, high = min(peaks.values()), max(peaks.values())
    return high > SHARED_AXIS_MAX_RATIO * low


def _heading(fig, daily: pd.DataFrame, title: str) -> None:
    """The figure's title (user text: never mathtext) and, for replicates, what the lines
    and bands are."""
    n = daily["seed"].nunique() if "seed" in daily else 1
    lines = [plain(title)] if title else []
    if n > 1:
        lines.append(f"lines: mean of {n} replicates; bands: 95% confidence interval of "
                     f"the mean")
    if lines:
        fig.suptitle("\n".join(lines))


def _sides_figure(daily: pd.DataFrame, series: tuple[Series, ...], what: str,
                  ylabel: str, title: str) -> Figure:
    """A panel per side, side by side and sharing days; one y axis for both unless
    :func:`scales_differ`."""
    bands = {side: side_bands(daily, side, series) for side in SIDES}
    peaks = {side: _peak(bands[side]) for side in SIDES}
    fig, axes = plt.subplots(1, len(SIDES), figsize=(11, 4.2), sharex=True)
    shared = not scales_differ(peaks)
    if shared:
        for ax in axes[1:]:
            ax.sharey(axes[0])
    for ax, side in zip(axes, SIDES, strict=True):
        _draw(ax, daily, side, bands[side])
        _mark_thinning(ax, daily, series)
        ax.set_title(f"{side}: {what}")
        _persons_axes(ax, daily, ylabel, max(peaks.values()) if shared else peaks[side])
        ax.legend(fontsize="small", loc="best")
    _heading(fig, daily, title)
    return fig


def strengths_figure(daily: pd.DataFrame, title: str = "") -> Figure:
    """Persons fighting and persons in units (any state), a panel per side."""
    return _sides_figure(daily, STRENGTH_SERIES, "strength", "persons", title)


def casualties_figure(daily: pd.DataFrame, title: str = "") -> Figure:
    """Cumulative killed, wounded and wounded permanently lost, a panel per side."""
    return _sides_figure(daily, CASUALTY_SERIES, "casualties", "persons, cumulative",
                         title)


def force_generation_figure(daily: pd.DataFrame, title: str = "") -> Figure:
    """A row per side: its recruit pool left (only for a side with a pool) and, in a
    panel of their own (persons outside the units are hundreds where a pool is tens of
    thousands), those in training, in the trained reserve and wounded in care (each
    only where the side has any). A panel's title says what the side lacks."""
    rows = []
    for side in SIDES:
        pipeline = [s for s in PIPELINE_SERIES if has_any(daily, side, s.column)]
        panels = [(["recruit pool left"], POOL_SERIES)] if has_any(daily, side, "pool") \
            else []
        if pipeline:
            panels.append(([s.label for s in pipeline], pipeline))
        lacks = [words for column, words in (("pool", "no recruit pool"),
                                             ("in_training", "no one in training"))
                 if not has_any(daily, side, column)]
        rows.append((side, panels, lacks))
    columns = max(1, *(len(panels) for _, panels, _ in rows))
    fig = plt.figure(figsize=(5.2 * columns + 0.6, 7.0))
    grid = fig.add_gridspec(len(rows), columns)
    first = None
    for row, (side, panels, lacks) in enumerate(rows):
        if not panels:
            ax = fig.add_subplot(grid[row, :])
            ax.axis("off")
            ax.text(0.5, 0.5, f"{side}: {', '.join(lacks)}, no trained reserve and no "
                              f"wounded in care", ha="center", va="center",
                    transform=ax.transAxes)
            ax.set_title(side)
            continue
        for k, (contents, series) in enumerate(panels):
            where = grid[row, k] if len(panels) == columns else grid[row, :]
            ax = fig.add_subplot(where, sharex=first)
            first = first or ax
            bands = side_bands(daily, side, series)
            _draw(ax, daily, side, bands)
            _mark_thinning(ax, daily, series)
            heading = f"{side}: {', '.join(contents)}"
            if lacks and k == len(panels) - 1:
                heading += f"\n({'; '.join(lacks)})"
            ax.set_title(heading, fontsize="medium")
            _persons_axes(ax, daily, "persons", _peak(bands))
            if series is POOL_SERIES:
                _note_pool_drawn(ax, daily, side)
            else:
                _note_reserve_without_units(ax, daily, side)
            if len(ax.get_legend_handles_labels()[1]) > 1:
                ax.legend(fontsize="small", loc="best")
    _heading(fig, daily, title)
    return fig


def pool_drawn(daily: pd.DataFrame, side: str) -> tuple[float, float]:
    """Recruits a side drew over the run (the sum of its daily ``recruited``) and its
    pool on the first day, each the mean over replicates."""
    rows = side_rows(daily, side)
    rows = rows.assign(seed=0) if "seed" not in rows else rows
    by_seed = rows.sort_values("day").groupby("seed")
    start = float(by_seed["pool"].first().mean())
    if "recruited" in rows:
        drawn = float(by_seed["recruited"].sum().mean())
    else:
        drawn = float((by_seed["pool"].first() - by_seed["pool"].last()).mean())
    return drawn, start


def _note_pool_drawn(ax, daily: pd.DataFrame, side: str) -> None:
    """Write on the pool's panel how many recruits were drawn of how many. The axis
    stays from 0 (a pool is a stock, and how near it comes to exhaustion is the
    question), so a draw of a few hundred from 100,000 is a flat line at the top: the
    number says what the line cannot show, without a second scale to misread."""
    drawn, start = pool_drawn(daily, side)
    if start <= 0:
        return
    mean = ", mean of the replicates" if "seed" in daily and \
        daily["seed"].nunique() > 1 else ""
    ax.text(0.5, 0.5, f"recruits drawn: {drawn:,.0f} of {start:,.0f} ({drawn / start:.2%}){mean}",
            transform=ax.transAxes, ha="center", va="center", fontsize="small",
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "0.7"})


def reserve_without_units(daily: pd.DataFrame, side: str) -> list[tuple[int, float]]:
    """The days on which a side's trained reserve grew while none of its units fought
    (a contingent broken and withdrawn), with the growth: wounded back from care whose
    units no longer fight go to the reserve (ODD 7.5), so the reserve can jump on the
    last day of a run a side lost. Only growth that the day's returned wounded explain
    (means over replicates)."""
    reserve, fighting, returned = (side_band(daily, side, c)["mean"]
                                   for c in ("reserve", "personnel_fighting", "returned"))
    growth = reserve.diff()
    days = growth.index[(growth > 0) & (fighting <= 0) & (returned >= growth - 1e-9)]
    return [(int(day), float(growth[day])) for day in days]


def _note_reserve_without_units(ax, daily: pd.DataFrame, side: str) -> None:
    """Label a jump of the reserve on a day no unit of the side fought: without it the
    reserve's rise from 0 on the last day reads as a fault of the figure."""
    if "reserve" not in daily or "returned" not in daily:
        return
    jumps = reserve_without_units(daily, side)
    if not jumps:
        return
    day, growth = jumps[-1]
    x, _ = calendar(daily, [day])
    level = float(side_band(daily, side, "reserve")["mean"][day])
    ax.annotate(f"+{growth:,.0f} to the reserve: wounded back from care,\n"
                f"their units no longer fighting (contingent withdrawn)",
                xy=(x[0], level), xytext=(-12, 28), textcoords="offset points",
                ha="right", va="bottom", fontsize="x-small",
                arrowprops={"arrowstyle": "->", "color": "0.3", "linewidth": 0.8})


def plot_strengths(daily: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """:func:`strengths_figure`, written to ``path``."""
    return _finish(strengths_figure(daily, title), path, "")


def plot_casualties(daily: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """:func:`casualties_figure`, written to ``path``."""
    return _finish(casualties_figure(daily, title), path, "")


def plot_force_generation(daily: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """:func:`force_generation_figure`, written to ``path``."""
    return _finish(force_generation_figure(daily, title), path, "")


def _finish(fig, path: str | Path, title: str,
            rect: tuple[float, float, float, float] = (0, 0, 1, 1)) -> Path:
    """Title, lay out (within ``rect`` of the figure), save and close."""
    if title:
        fig.suptitle(plain(title))  # user text (a scenario's name): never mathtext
    fig.tight_layout(rect=rect)
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_front_map(front: FrontMap, path: str | Path, title: str = "") -> Path:
    """The sector at the end (see :func:`draw_front`), its legend at the foot of the
    figure, below the axis label "along the front (m)". The view puts it under the axes
    at a gap in font sizes, which the tick labels and axis label (larger fonts) outgrow,
    so that the legend was printed over the label; here it moves to the figure, and the
    axes are laid out above the height it takes."""
    width, depth = front.control.shape
    fig, ax = plt.subplots(figsize=(6.5, 6.5 * min(1.3, max(0.6, depth / width))))
    draw_front(ax, front)
    shown = ax.get_legend()
    if shown is None:
        return _finish(fig, path, title)
    handles, labels = shown.legend_handles, [t.get_text() for t in shown.get_texts()]
    shown.remove()
    legend = fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.005),
                        ncol=2, frameon=False, fontsize="x-small", columnspacing=1.0,
                        handletextpad=0.4)
    fig.canvas.draw()
    foot = legend.get_window_extent().height / fig.bbox.height + 0.01
    return _finish(fig, path, title, rect=(0, foot, 1, 1))


def plot_law_fits(record, fits: list, path: str | Path, title: str = "") -> Path:
    """Observed series of a battle record (points) against each fitted law (lines),
    with the residuals of the best fit below: one column per observed series."""
    series = list(record.observed)
    fig, axes = plt.subplots(2, len(series), figsize=(5.5 * len(series), 6.5), sharex=True,
                             squeeze=False, gridspec_kw={"height_ratios": (3, 1)})
    days = np.arange(record.days + 1)
    for k, name in enumerate(series):
        top, bottom = axes[0, k], axes[1, k]
        observed = record.observed[name]
        top.plot(days, observed, "o", color="0.3", markersize=3, label="observed")
        for rank, fit in enumerate(fits):
            fitted = fit.predicted[name]
            top.plot(days, fitted, linewidth=2 if rank == 0 else 1,
                     alpha=1 if rank == 0 else 0.6, label=f"{fit.law} (BIC {fit.bic:.1f})")
            if rank == 0:
                bottom.axhline(0, color="0.6", linewidth=0.8)
                bottom.plot(days, observed - fitted, "o", markersize=3)
        top.set(title=name.replace("_", " "), ylabel="persons")
        bottom.set(xlabel="day", ylabel=f"residual ({fits[0].law})")
        top.legend(fontsize="small")
    return _finish(fig, path, title)


def plot_model_fit(record, fit, path: str | Path, title: str = "") -> Path:
    """Observed series of a battle record (points) against the calibrated model's
    replicate mean (line) and the band of its single runs (:func:`sim.replicates.run_band`),
    with the residuals (observed minus mean) below: one column per observed series."""
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
                         label=band_label(fit.replicates, "single runs"))
        top.plot(days, fit.fitted[name], color="C0", linewidth=2, label="model mean")
        top.plot(days, observed, "o", color="0.3", markersize=3, label="observed")
        top.set(title=name.replace("_", " "), ylabel="persons")
        top.legend(fontsize="small")
        bottom.axhline(0, color="0.6", linewidth=0.8)
        bottom.plot(days, observed - fit.fitted[name], "o", markersize=3, color="C0")
        bottom.set(xlabel="day", ylabel="residual (persons)")
    return _finish(fig, path, f"{title}: {fit.scenario} with {label}" if title else label)


def _posterior_view(values: np.ndarray, weights: np.ndarray, prior: tuple[float, float],
                    truth: float | None) -> tuple[float, float, bool]:
    """The x range of a marginal: the prior's range, or, when the posterior (0.5% to 99.5%
    points, and the truth) fills less than half of it, that span and half as much again
    on each side (on the log scale for a log-uniform prior); and whether it is zoomed."""
    from sim.bayes import weighted_quantile

    low, high = prior
    to, back = (np.log, np.exp) if low > 0 else ((lambda x: x), (lambda x: x))
    ends = [weighted_quantile(values, weights, 0.005), weighted_quantile(values, weights,
                                                                         0.995)]
    if truth is not None and low <= truth <= high:
        ends += [truth]
    inner, outer = to(min(ends)), to(max(ends))
    if outer - inner >= 0.5 * (to(high) - to(low)):
        return low, high, False
    pad = max(0.5 * (outer - inner), 0.01 * (to(high) - to(low)))
    return float(back(max(to(low), inner - pad))), float(back(min(to(high), outer + pad))), True


def plot_posterior(posterior, path: str | Path, truth: dict[str, float] | None = None,
                   title: str = "") -> Path:
    """Marginal posteriors of an ABC calibration (:class:`sim.bayes.Posterior`): a panel
    per model (of positive probability) and parameter, with the particles' weight per bin
    (bars), a weighted kernel density (line, on the log scale for a log-uniform prior),
    the median and the 95% credible interval (shaded), and ``truth`` (parameter -> value)
    where given. The axis spans the prior, or zooms in on a posterior far narrower than
    the prior (the label says which). Below: the models' probabilities and the verdict
    on convergence."""
    from scipy.stats import gaussian_kde

    truth = truth or {}
    models = [m for m in posterior.models.values() if len(m.weights)]
    columns = max(len(m.parameters) for m in models)
    fig, axes = plt.subplots(len(models), columns, figsize=(4.6 * columns,
                                                             3.4 * len(models) + 1.0),
                             squeeze=False)
    for row, model in enumerate(models):
        for col in range(columns):
            ax = axes[row, col]
            if col >= len(model.parameters):
                ax.axis("off")
                continue
            name = model.parameters[col]
            low, high = model.priors[name]
            values, weights = model.particles[:, col], model.weights
            logged = low > 0
            left, right, zoomed = _posterior_view(values, weights, (low, high),
                                                  truth.get(name))
            scale = np.log if logged else (lambda x: x)
            bins = np.geomspace(left, right, 31) if logged else np.linspace(left, right, 31)
            ax.hist(values, bins=bins, weights=weights, color="C0", alpha=0.45,
                    label=f"{len(weights)} particles (ESS {model.ess:.0f})")
            if np.ptp(scale(values)) > 0:
                grid = np.linspace(scale(left), scale(right), 300)
                density = gaussian_kde(scale(values), weights=weights)(grid)
                ax.plot(np.exp(grid) if logged else grid,
                        density * (scale(right) - scale(left)) / 30, color="C0",
                        label="weighted kernel density")
            summary = model.summary[name]
            ax.axvspan(summary["ci95_low"], summary["ci95_high"], color="C1", alpha=0.15,
                       zorder=0, label=f"95% credible interval {summary['ci95_low']:.3g} "
                                       f"to {summary['ci95_high']:.3g}")
            ax.axvline(summary["median"], color="C1", label=f"median {summary['median']:.3g}")
            if name in truth:
                ax.axvline(truth[name], color="k", linestyle="--",
                           label=f"truth {truth[name]:.3g}")
            if logged:
                ax.set_xscale("log")
                ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
                ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
                ax.xaxis.set_minor_formatter(ticker.NullFormatter())
            ax.set_xlim(left, right)
            ax.set_ylim(0, 1.8 * ax.get_ylim()[1])  # room for the legend above the bars
            axis = (f"zoomed in; the prior spans {low:g} to {high:g}" if zoomed
                    else "the prior's range") + (", log scale" if logged else "")
            ax.set_xlabel(f"{plain(name)}\n(axis: {axis})", fontsize="small")
            ax.set_ylabel("posterior weight per bin")
            heading = plain(model.name)
            if len(posterior.models) > 1:
                heading += f" (probability {model.probability:.2f})"
            ax.set_title(heading, fontsize="medium")
            ax.legend(fontsize="x-small", loc="upper center")
    footer = [posterior.verdict]
    if len(posterior.models) > 1:
        footer.insert(0, "posterior model probabilities: " + ", ".join(
            f"{m.name} {m.probability:.3f}" for m in posterior.models.values()))
    fig.text(0.5, 0.01, "\n".join(plain(line) for line in footer), ha="center",
             va="bottom", fontsize="small", wrap=True)
    if title:
        fig.suptitle(plain(title))
    fig.tight_layout(rect=(0, 0.04 + 0.035 * len(footer), 1, 1))
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_posterior_predictive(record, posterior, path: str | Path, title: str = "") -> Path:
    """The record's observed series (points) over the posterior predictive of the most
    probable model of an ABC calibration: the mean and the 5-95% band of its runs at
    posterior draws (their range for fewer than 20 runs: :func:`sim.replicates.run_band`),
    labelled with the number of runs; a column per observed series (one panel of the
    summary's elements when the summary is not a set of daily series)."""
    from sim.replicates import band_label, run_band

    model = posterior.best
    if model.predictive is None or not len(model.predictive):
        raise ValueError("the posterior has no posterior predictive runs; allowed: "
                         "predictive_runs of 1 or more")
    runs = model.predictive
    observed = posterior.observed
    if posterior.series is not None:
        names, rows, x = posterior.series, range(len(posterior.series)), np.arange(
            observed.shape[-1])
        xlabel, ylabel = "day", "persons"
        if record is not None and len(x) == record.days + 1:
            x, xlabel = np.arange(record.days + 1), "day of the record"
    else:
        names, rows = ["observed summary"], [None]
        x, xlabel, ylabel = np.arange(observed.size), "summary element", "value"
    fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 4.2), squeeze=False)
    for k, (name, row) in enumerate(zip(names, rows, strict=True)):
        ax = axes[0, k]
        values = runs[:, row] if row is not None else runs.reshape(len(runs), -1)
        points = observed[row] if row is not None else observed.reshape(-1)
        low, high = run_band(values)
        ax.fill_between(x, low, high, color="C0", alpha=0.25,
                        label=band_label(len(runs), "posterior predictive"))
        ax.plot(x, values.mean(axis=0), color="C0", linewidth=2,
                label=f"posterior predictive mean of {len(runs)} runs")
        ax.plot(x, points, "o", color="0.2", markersize=4, label="observed")
        ax.set(xlabel=xlabel, ylabel=ylabel, title=plain(name.replace("_", " ")))
        ax.legend(fontsize="small")
    lines = [f"{title}: " if title else ""]
    lines[0] += f"{posterior.scenario or model.name}, posterior median (95% credible interval)"
    lines += [f"{k} = {v['median']:.3g} ({v['ci95_low']:.3g} to {v['ci95_high']:.3g})"
              for k, v in model.summary.items()]
    fig.suptitle("\n".join(plain(line) for line in lines), fontsize="medium")
    fig.tight_layout()  # makes room for the title's lines
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
