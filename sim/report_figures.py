"""The figures of a sweep's report (:mod:`sim.report`), drawn from the tables of
:mod:`sim.sweep_stats`: small multiples of each factor's effect at every level of the
others, heatmaps of cell means, scatter plots of sampling designs, sensitivity indices
with their convergence, second-order indices, envelopes of daily series and a theory's
prediction over the model's means.

Axes are labelled with the meaning and unit of what they show
(:mod:`sim.quantities`); a factor of text or booleans is drawn as categories (points,
no line between them), a numeric one at its own values (integers at whole ticks). Every
text drawn is :func:`sim.views.plain`: names and values are user text. Each function
returns what it drew, for tests.
"""

from __future__ import annotations

import itertools
import math
import textwrap
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import patheffects  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from sim.quantities import Quantity  # noqa: E402
from sim.replicates import BAND_MIN_RUNS  # noqa: E402
from sim.views import plain  # noqa: E402

#: Panels of one figure at most: a grid whose other factors have more combinations is
#: drawn as its main effect alone (the report's table of cells holds them all).
MAX_PANELS = 24
#: Levels beyond which a numeric axis gets round ticks instead of one per level.
MAX_LEVEL_TICKS = 12
_COLOURS = plt.get_cmap("tab10").colors


def tick(value: Any) -> str:
    """A parameter's value as a tick label, drawn as plain text."""
    return plain(f"{value:g}" if isinstance(value, float) else value)


def categorical(levels: list[Any], quantity: Quantity | None = None) -> bool:
    """Whether a factor is drawn as categories: text or booleans (by its schema or by
    its values)."""
    if quantity is not None and quantity.kind in ("category", "flag"):
        return True
    return any(isinstance(v, str | bool | np.bool_) or not isinstance(v, int | float | np.number)
               for v in levels)


def whole(levels: list[Any], quantity: Quantity | None = None) -> bool:
    """Whether a numeric factor takes whole numbers only (its ticks are whole)."""
    if quantity is not None and quantity.integer:
        return True
    return all(float(v).is_integer() for v in levels)


def axis_text(quantity: Quantity) -> str:
    """An axis label: meaning and unit, and the key on a second line when the label is
    not the key itself."""
    label = quantity.axis_label()
    lines = textwrap.wrap(label, 60) or [label]
    if label != quantity.name:
        lines.append(quantity.name)
    # Each line plain on its own: plain() shows a line break in user text as an escape.
    return "\n".join(plain(line) for line in lines)


def _positions(levels: list[Any], is_category: bool) -> np.ndarray:
    return np.arange(len(levels), dtype=float) if is_category else np.asarray(levels, float)


def _x_ticks(ax, levels: list[Any], quantity: Quantity) -> None:
    if categorical(levels, quantity):
        ax.set_xticks(range(len(levels)), [tick(v) for v in levels])
        ax.set_xlim(-0.5, len(levels) - 0.5)
    elif len(levels) <= MAX_LEVEL_TICKS:
        ax.set_xticks([float(v) for v in levels], [tick(v) for v in levels])
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=whole(levels, quantity)))


def _save(fig, path: Path) -> None:
    fig.savefig(path, dpi=110, bbox_inches="tight")


def _draw_series(ax, x: np.ndarray, rows: pd.DataFrame, colour, label: str,
                 is_category: bool, offset: float = 0.0, marker: str = "o") -> dict:
    """Means with their intervals at ``x``: a line between them for a numeric factor,
    points alone (shifted by ``offset`` to stay apart) for categories."""
    mean = rows["mean"].to_numpy(float)
    low, high = rows["ci95_low"].to_numpy(float), rows["ci95_high"].to_numpy(float)
    errors = np.vstack([np.where(np.isfinite(low), mean - low, 0.0),
                        np.where(np.isfinite(high), high - mean, 0.0)])
    ax.errorbar(x + offset, mean, yerr=errors, marker=marker, capsize=3, color=colour,
                linestyle="none" if is_category else "-", label=plain(label), markersize=4)
    cut = (rows["truncated"].fillna(False).to_numpy(bool) if "truncated" in rows
           else np.zeros(len(mean), bool))
    if cut.any():
        # The interval's end at 0 is the bound, not the data's: a hollow triangle there.
        ax.plot((x + offset)[cut], low[cut], linestyle="none", marker=CUT_MARKER,
                markersize=7, markerfacecolor="white", markeredgecolor=colour)
    return {"label": label, "x": list(x), "mean": list(mean), "low": list(low),
            "high": list(high), "connected": not is_category, "cut": int(cut.sum())}


#: The marker at the lower end of an interval cut at 0, and the footnote that says so.
CUT_MARKER = "v"
CUT_NOTE = ("hollow triangle: the interval was cut at 0 (the quantity cannot be negative, "
            "so the true mean cannot lie below it)")


def _cut_footnote(fig, drawn_lines: list[dict]) -> bool:
    """Say under the figure what the hollow triangles mean, if any was drawn."""
    if not any(line.get("cut") for line in drawn_lines):
        return False
    fig.text(0.01, 0.0, plain(CUT_NOTE), fontsize="x-small", ha="left", va="top",
             color="0.3")
    return True


def title_text(quantity: Quantity) -> str:
    """A quantity in a title: its label, with its unit unless it is a pure number."""
    return (f"{quantity.label} ({quantity.unit})" if quantity.unit and quantity.unit != "-"
            else quantity.label)


# ------------------------------------------------------------------ grid effects
def effects_figure(cells: pd.DataFrame, main: pd.DataFrame, factors: list[str], x: str,
                   levels: dict[str, list[Any]], metric: Quantity,
                   quantities: dict[str, Quantity], path: Path) -> dict:
    """The metric against factor ``x``: a panel per combination of the other factors
    but one, whose levels are the lines (or point colours) of each panel, so that no
    panel averages over any factor; first, a panel of ``x``'s main effect (the mean
    over the other factors' levels) with its interval from the replicates alone. All
    panels share the y axis. With more than :data:`MAX_PANELS` combinations, the main
    effect alone."""
    others = [f for f in factors if f != x]
    hue = min(others, key=lambda f: len(levels[f])) if others else None
    panel_factors = [f for f in others if f != hue]
    combos = list(itertools.product(*[levels[f] for f in panel_factors]))
    drawn_combos = combos if len(combos) <= MAX_PANELS else []
    is_category = categorical(levels[x], quantities[x])
    xs = _positions(levels[x], is_category)
    panels = (1 if others else 0) + len(drawn_combos)
    nrows = math.ceil(panels / 4)
    ncols = math.ceil(panels / nrows)
    size = (7.0, 4.4) if panels == 1 else (3.6 * ncols + 0.8, 2.9 * nrows + 1.0)
    fig, axes = plt.subplots(nrows, ncols, figsize=size, sharey=True, squeeze=False)
    drawn: dict[str, Any] = {"panels": [], "hue": hue, "panel_factors": panel_factors,
                             "omitted_panels": len(combos) - len(drawn_combos)}
    try:
        flat = list(axes.flat)
        if others:
            ax = flat.pop(0)
            line = _draw_series(ax, xs, main.set_index(x).reindex(levels[x]).reset_index(),
                                "black", "main effect", is_category)
            ax.set_title(plain("main effect: mean over the other factors' levels"),
                         fontsize="small")
            drawn["panels"].append({"title": "main effect", "lines": [line]})
        hue_levels = levels[hue] if hue else [None]
        width = 0.6 / len(hue_levels)
        for combo, ax in zip(drawn_combos, flat, strict=False):
            at = np.ones(len(cells), bool)
            for f, v in zip(panel_factors, combo, strict=True):
                at &= (cells[f] == v).to_numpy()
            lines = []
            for h, level in enumerate(hue_levels):
                rows = cells[at & ((cells[hue] == level).to_numpy() if hue else True)]
                rows = rows.set_index(x).reindex(levels[x]).reset_index()
                offset = (h - (len(hue_levels) - 1) / 2) * width if is_category else 0.0
                label = (f"{quantities[hue].short()} = {tick(level)}" if hue else metric.name)
                lines.append(_draw_series(ax, xs, rows, _COLOURS[h % 10], label, is_category,
                                          offset))
            title = ", ".join(f"{quantities[f].short()} = {tick(v)}"
                              for f, v in zip(panel_factors, combo, strict=True))
            if title:
                ax.set_title(plain(title), fontsize="small")
            drawn["panels"].append({"title": title, "lines": lines})
        for ax in axes.flat[panels:]:
            ax.set_visible(False)
        for ax in axes.flat[:panels]:
            _x_ticks(ax, levels[x], quantities[x])
            ax.tick_params(labelsize="small")
            ax.grid(alpha=0.3)
        fig.supxlabel(axis_text(quantities[x]), fontsize="small")
        fig.supylabel(axis_text(metric), fontsize="small")
        if hue and drawn_combos:
            handles, labels = flat[0].get_legend_handles_labels()
            fig.legend(handles, labels, loc="upper right", fontsize="small", ncols=min(
                4, len(labels)), frameon=False)
        fig.suptitle(plain(f"{metric.label}: cell means and 95% CI over replicates"),
                     fontsize="medium", x=0.01, ha="left")
        fig.tight_layout(rect=(0, 0, 1, 0.93 if nrows == 1 else 0.96))
        drawn["cut_note"] = _cut_footnote(fig, [line for panel in drawn["panels"]
                                                for line in panel["lines"]])
        _save(fig, path)
        drawn |= {"ticks": [t.get_text() for t in axes.flat[0].get_xticklabels()],
                  "xlabel": fig.get_supxlabel(), "ylabel": fig.get_supylabel()}
    finally:
        plt.close(fig)
    return drawn


def _cell_label(value: float) -> str:
    """A heatmap cell's number: whole thousands with separators (not 3e+03)."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


#: Panels of a heatmap whose value ranges differ by more than this factor get a colour
#: scale each: on a shared one the narrow panel would be one flat colour.
MAX_SHARED_SCALE_RATIO = 10.0
#: Characters of tick labels that fit across a heatmap panel unrotated.
PANEL_TICK_CHARACTERS = 36


def _spans(grids: list[np.ndarray]) -> list[tuple[float, float]]:
    out = []
    for grid in grids:
        finite = grid[np.isfinite(grid)]
        out.append((float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0))
    return out


def heatmap(cells: pd.DataFrame, factors: list[str], x: str, y: str,
            levels: dict[str, list[Any]], metric: Quantity, quantities: dict[str, Quantity],
            path: Path, break_even: pd.DataFrame | None = None,
            break_even_name: str | None = None) -> dict:
    """Cell means over factors ``x`` and ``y``, a panel per combination of the other
    factors, on one colour scale (said in the title) unless the panels' ranges differ
    by more than :data:`MAX_SHARED_SCALE_RATIO`, when each panel gets its own. With
    ``break_even`` (the cell means of another metric), a line on each panel: for each
    ``y`` level, that metric's mean at the largest ``x``, placed on the (numeric) ``x``
    axis. The ``x`` ticks are rotated only when they would not fit."""
    others = [f for f in factors if f not in (x, y)]
    combos = list(itertools.product(*[levels[f] for f in others]))[:MAX_PANELS]
    grids, masks = [], []
    for combo in combos:
        at = np.ones(len(cells), bool)
        for f, v in zip(others, combo, strict=True):
            at &= (cells[f] == v).to_numpy()
        masks.append(at)
        grids.append(cells[at].pivot_table(index=y, columns=x, values="mean", sort=False,
                                           dropna=False)
                     .reindex(index=levels[y], columns=levels[x]).to_numpy(float))
    spans = _spans(grids)
    widths = [high - low for low, high in spans]
    own = (len(grids) > 1 and min(widths) >= 0 and max(widths) > 0 and
           max(widths) > MAX_SHARED_SCALE_RATIO * max(min(widths), 1e-12))
    shared = (min(low for low, _ in spans), max(high for _, high in spans))
    ticks = [tick(v) for v in levels[x]]
    rotate = 45 if sum(len(t) + 2 for t in ticks) > PANEL_TICK_CHARACTERS else 0
    ncols = min(3, len(combos))
    nrows = math.ceil(len(combos) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.4 * ncols + 1.6 + 0.9 * own * ncols,
                                                    3.4 * nrows + 1.0),
                             squeeze=False, layout="constrained")
    drawn: dict[str, Any] = {"panels": [], "own_scales": own, "rotation": rotate}
    try:
        image = None
        for combo, ax, grid, at, span in zip(combos, axes.flat, grids, masks, spans,
                                              strict=False):
            vmin, vmax = span if own else shared
            image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis", vmin=vmin,
                              vmax=vmax)
            ax.set_xticks(range(len(levels[x])), ticks, rotation=rotate,
                          ha="right" if rotate else "center", fontsize="small")
            ax.set_yticks(range(len(levels[y])), [tick(v) for v in levels[y]],
                          fontsize="small")
            for (i, j), value in np.ndenumerate(grid):
                if np.isfinite(value):
                    light = (value - vmin) / ((vmax - vmin) or 1.0) > 0.6
                    ax.text(j, i, _cell_label(value), ha="center", va="center",
                            fontsize="x-small", color="k" if light else "w")
            title = ", ".join(f"{quantities[f].short()} = {tick(v)}"
                              for f, v in zip(others, combo, strict=True))
            if title:
                ax.set_title(plain(title), fontsize="small")
            if break_even is not None and not categorical(levels[x], quantities[x]):
                top = break_even[at & (break_even[x] == max(levels[x])).to_numpy()]
                line = top.set_index(y)["mean"].reindex(levels[y]).to_numpy(float)
                positions = np.interp(line, np.asarray(levels[x], float),
                                      np.arange(len(levels[x])), left=-0.5,
                                      right=len(levels[x]) - 0.5)
                # Outlined, so that the line shows on light cells and in the legend.
                ax.plot(positions, range(len(levels[y])), "w--", linewidth=2,
                        path_effects=[patheffects.withStroke(linewidth=3.5, foreground="k")],
                        label=plain(f"break-even ({break_even_name} at the largest "
                                    f"{quantities[x].short()})"))
                ax.legend(fontsize="x-small", loc="lower right", framealpha=0.9)
            if own:
                bar = fig.colorbar(image, ax=ax)
                bar.ax.tick_params(labelsize="x-small")
            drawn["panels"].append({"title": title, "grid": grid, "scale": (vmin, vmax)})
        for ax in axes.flat[len(combos):]:
            ax.set_visible(False)
        fig.supxlabel(axis_text(quantities[x]), fontsize="small")
        fig.supylabel(axis_text(quantities[y]), fontsize="small")
        label = plain(f"{metric.axis_label()}, mean over replicates")
        if own:
            scale = "each panel on its own colour scale (their ranges differ more than " \
                    f"{MAX_SHARED_SCALE_RATIO:g}-fold)"
        else:
            colourbar = fig.colorbar(image, ax=axes.ravel().tolist())
            colourbar.set_label(label, fontsize="small")
            scale = "one colour scale shared by the panels" if len(combos) > 1 else ""
        fig.suptitle(plain(f"{metric.label}: cell means" + (f"; {scale}" if scale else "")),
                     fontsize="medium", x=0.01, ha="left")
        _save(fig, path)
    finally:
        plt.close(fig)
    return drawn


# ------------------------------------------------------------------ sampling designs
def scatter(ok: pd.DataFrame, params: list[str], metric: Quantity,
            quantities: dict[str, Quantity], path: Path) -> dict:
    """The metric of every run against each parameter; categories at their own
    positions, spread a little sideways so that runs do not hide each other."""
    ncols = min(4, len(params))
    nrows = math.ceil(len(params) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 3.2 * nrows), sharey=True,
                             squeeze=False)
    values = pd.to_numeric(ok[metric.name], errors="coerce").to_numpy(float)
    rng = np.random.default_rng(0)  # the jitter only: the same picture every time
    try:
        for ax, p in zip(axes.flat, params, strict=False):
            levels = list(dict.fromkeys(ok[p].tolist()))
            if categorical(levels, quantities[p]):
                levels = sorted(levels, key=str)
                where = {v: i for i, v in enumerate(levels)}
                xs = ok[p].map(where).to_numpy(float) + rng.uniform(-0.15, 0.15, len(ok))
                ax.scatter(xs, values, s=6, alpha=0.5)
                _x_ticks(ax, levels, quantities[p])
            else:
                ax.scatter(ok[p].to_numpy(float), values, s=6, alpha=0.5)
                ax.xaxis.set_major_locator(MaxNLocator(integer=whole(levels, quantities[p])))
            ax.set_xlabel(axis_text(quantities[p]), fontsize="x-small")
            ax.tick_params(labelsize="small")
        for ax in axes.flat[len(params):]:
            ax.set_visible(False)
        for row in axes:
            row[0].set_ylabel(axis_text(metric), fontsize="small")
        fig.tight_layout()
        _save(fig, path)
    finally:
        plt.close(fig)
    return {"params": params, "runs": int(np.isfinite(values).sum())}


def indices_plot(indices: pd.DataFrame, metric: Quantity, path: Path,
                 quantities: dict[str, Quantity] | None = None) -> dict:
    """Sobol S1 and ST, or Morris mu* and sigma, per parameter (ticked with its label
    from ``quantities``, as the scatter plots are), with their 95% intervals; the
    legend beside the axes, where no bar is."""
    fig, ax = plt.subplots(figsize=(8.5, 4.4))
    try:
        names = ["\n".join(plain(line) for line in textwrap.wrap(
            quantities[name].label if quantities and name in quantities else name, 24))
            for name in indices.index]
        at = np.arange(len(names))
        if "S1" in indices:
            ax.bar(at - 0.2, indices["S1"], 0.4, yerr=indices["S1_conf"], capsize=3,
                   label="S1 (first order)")
            ax.bar(at + 0.2, indices["ST"], 0.4, yerr=indices["ST_conf"], capsize=3,
                   label="ST (total)")
            for level in (0.0, 1.0):
                ax.axhline(level, color="grey", linewidth=0.8, linestyle=":")
            ax.set_ylabel("Sobol index (share of the variance)")
        else:
            ax.bar(at - 0.2, indices["mu_star"], 0.4, yerr=indices["mu_star_conf"], capsize=3,
                   label="mu* (mean absolute effect)")
            ax.bar(at + 0.2, indices["sigma"], 0.4, label="sigma (spread of effects)")
            unit = metric.unit or "units of the metric"
            ax.set_ylabel(plain(f"Morris elementary effect ({unit})"))
        ax.set_xticks(at, names, fontsize="small")
        ax.set_title(plain(f"Sensitivity of {title_text(metric)} (bars: 95% confidence)"),
                     fontsize="small")
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
        fig.tight_layout()
        _save(fig, path)
    finally:
        plt.close(fig)
    return {"parameters": list(indices.index), "ticks": names,
            "title": ax.get_title()}


def convergence_plot(steps: pd.DataFrame, design: str, path: Path) -> dict:
    """Each index against the part of the design it is computed from (base samples or
    trajectories, doubling), a line per parameter with its 95% interval: converged
    indices level off inside their intervals."""
    keys = ["S1", "ST"] if design == "sobol" else ["mu_star"]
    fig, axes = plt.subplots(1, len(keys), figsize=(5.2 * len(keys) + 1.5, 3.8), squeeze=False)
    sizes = sorted(steps["size"].unique())
    try:
        for ax, key in zip(axes[0], keys, strict=True):
            for i, (name, rows) in enumerate(steps.groupby("parameter", sort=False)):
                ax.errorbar(rows["size"], rows[key], yerr=rows[f"{key}_conf"], marker="o",
                            capsize=3, color=_COLOURS[i % 10], label=plain(name),
                            markersize=3)
            ax.set_xscale("log", base=2)
            ax.set_xticks(sizes, [str(s) for s in sizes])
            ax.minorticks_off()
            ax.set_xlabel("base samples used" if design == "sobol" else "trajectories used")
            ax.set_ylabel({"S1": "S1 (first order)", "ST": "ST (total)",
                           "mu_star": "mu* (mean absolute effect)"}[key])
            ax.grid(alpha=0.3)
        axes[0][-1].legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.02, 0.5))
        fig.suptitle("Convergence: indices from growing parts of the design (95% CI)",
                     fontsize="medium")
        fig.tight_layout()
        _save(fig, path)
    finally:
        plt.close(fig)
    return {"sizes": sizes}


def second_order_plot(second: pd.DataFrame, names: list[str], path: Path) -> dict:
    """Second-order Sobol indices as a matrix: each pair's S2 and its 95% half-width."""
    k = len(names)
    grid = np.full((k, k), np.nan)
    for row in second.itertuples():
        grid[names.index(row.parameter_1), names.index(row.parameter_2)] = row.S2
    fig, ax = plt.subplots(figsize=(1.1 * k + 3.5, 0.9 * k + 2.5))
    try:
        limit = max(0.05, float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 0.05)
        image = ax.imshow(grid, cmap="RdBu_r", vmin=-limit, vmax=limit)
        for row in second.itertuples():
            i, j = names.index(row.parameter_1), names.index(row.parameter_2)
            ax.text(j, i, f"{row.S2:.2f}\n+/- {row.S2_conf:.2f}", ha="center", va="center",
                    fontsize="x-small")
        ax.set_xticks(range(k), [plain(n) for n in names], rotation=30, ha="right",
                      fontsize="small")
        ax.set_yticks(range(k), [plain(n) for n in names], fontsize="small")
        fig.colorbar(image, ax=ax, label="S2 (share of the variance, pair beyond S1)")
        ax.set_title("Second-order Sobol indices (95% half-width)", fontsize="small")
        fig.tight_layout()
        _save(fig, path)
    finally:
        plt.close(fig)
    return {"grid": grid}


# ------------------------------------------------------------------ daily series
def envelope_figure(envelopes: dict[str, pd.DataFrame], column: Quantity,
                    quantities: dict[str, Quantity], path: Path) -> dict:
    """A daily series over runs: a row of panels per factor (``""``: all runs), a panel
    per side, in each the median and the band of each level of the factor."""
    rows = list(envelopes)
    sides = sorted({s for frame in envelopes.values() for s in frame["side"].unique()})
    fig, axes = plt.subplots(len(rows), len(sides), figsize=(5.0 * len(sides) + 1.5,
                                                             3.0 * len(rows) + 0.6),
                             sharex=True, squeeze=False)
    drawn: dict[str, Any] = {"panels": []}
    try:
        for r, factor in enumerate(rows):
            frame = envelopes[factor]
            groups = [(None, frame)] if not factor else list(frame.groupby(factor, sort=False))
            for c, side in enumerate(sides):
                ax = axes[r][c]
                most = 0
                for i, (level, rows_) in enumerate(groups):
                    part = rows_[rows_["side"] == side].sort_values("day")
                    colour = _COLOURS[i % 10]
                    label = "all runs" if level is None else (
                        f"{quantities[factor].short()} = {tick(level)}")
                    ax.plot(part["day"], part["median"], color=colour, label=plain(label))
                    ax.fill_between(part["day"], part["low"], part["high"], color=colour,
                                    alpha=0.18, linewidth=0)
                    most = max(most, int(part["runs"].max()) if len(part) else 0)
                    drawn["panels"].append({"factor": factor, "side": side, "level": level,
                                            "days": len(part)})
                band = "5-95%" if most >= BAND_MIN_RUNS else "range"
                ax.set_title(plain(f"{side}{', by ' + quantities[factor].short() if factor else ''}"
                                   f": median and {band} over runs"), fontsize="small")
                ax.set_ylabel(axis_text(column), fontsize="small")
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
                ax.grid(alpha=0.3)
            # One legend a row, beside it: the levels are the same on both sides (and
            # matplotlib's "best" place is slow to find among the bands).
            axes[r][-1].legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
        for ax in axes[-1]:
            ax.set_xlabel("day")
        fig.tight_layout()
        _save(fig, path)
    finally:
        plt.close(fig)
    return drawn


# ------------------------------------------------------------------ theory
def _keep_in_view(ax, model: dict, at_levels: np.ndarray, curve: np.ndarray,
                  steep: str | None = None) -> str | None:
    """Scale the y axis to the model's intervals and the theory at the design's
    levels: between them a theory may soar (a battle at parity never ends), and would
    flatten everything else. Say so where it leaves the axis, and why (``steep``);
    return what was said."""
    shown = np.concatenate([np.asarray(model["low"], float), np.asarray(model["high"], float),
                            np.asarray(model["mean"], float), at_levels])
    shown = shown[np.isfinite(shown)]
    finite_curve = curve[np.isfinite(curve)]
    if not shown.size or not finite_curve.size:
        return None
    low, high = float(shown.min()), float(shown.max())
    if finite_curve.max() <= high and finite_curve.min() >= low:
        return None
    pad = 0.08 * ((high - low) or max(abs(high), 1.0))
    ax.set_ylim(low - pad, high + pad)
    note = (f"Between the design's levels the theory's curve leaves this axis (it reaches "
            f"{finite_curve.max():.3g}" if finite_curve.max() > high else
            f"Between the design's levels the theory's curve leaves this axis (down to "
            f"{finite_curve.min():.3g}")
    return note + (f": {steep})." if steep else ").")


def theory_figure(cells: pd.DataFrame, curve: pd.DataFrame, factors: list[str], x: str,
                  levels: dict[str, list[Any]], metric: Quantity,
                  quantities: dict[str, Quantity], title: str, path: Path,
                  persons: dict[Any, tuple[float, float]] | None = None,
                  steep: str | None = None) -> dict:
    """The model's cell means with their 95% intervals (points) and the theory's
    prediction (a line through ``curve``, the theory at many values of ``x``), a panel
    per combination of the other factors. With ``persons`` (each level of ``x``: the
    attacker's persons and the force ratio), a top axis says the levels in persons.
    The legend and notes (why the curve leaves the axis: ``steep``; intervals cut at
    0) go under the panels, where they cover no data."""
    others = [f for f in factors if f != x]
    combos = list(itertools.product(*[levels[f] for f in others]))[:MAX_PANELS]
    is_category = categorical(levels[x], quantities[x])
    ncols = min(3, len(combos))
    nrows = math.ceil(len(combos) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.8 * ncols + 0.8, 3.6 * nrows + 1.2),
                             sharey=True, squeeze=False)
    drawn: dict[str, Any] = {"panels": [], "notes": []}
    try:
        for combo, ax in zip(combos, axes.flat, strict=False):
            at = np.ones(len(cells), bool)
            on_curve = np.ones(len(curve), bool)
            for f, v in zip(others, combo, strict=True):
                at &= (cells[f] == v).to_numpy()
                on_curve &= (curve[f] == v).to_numpy()
            line = curve[on_curve].dropna(subset=[metric.name]).sort_values(x)
            if is_category:
                where = {v: i for i, v in enumerate(levels[x])}
                theory_x = line[x].map(where).to_numpy(float)
            else:
                theory_x = line[x].to_numpy(float)
            ax.plot(theory_x, line[metric.name], "--" if not is_category else "_",
                    color="tab:red", markersize=14, label=plain(title))
            rows = cells[at].set_index(x).reindex(levels[x]).reset_index()
            model = _draw_series(ax, _positions(levels[x], is_category), rows, "black",
                                 "model: mean and 95% CI", True)
            _x_ticks(ax, levels[x], quantities[x])
            note = _keep_in_view(ax, model,
                                 line[line[x].isin(levels[x])][metric.name].to_numpy(float),
                                 line[metric.name].to_numpy(float), steep)
            if note and note not in drawn["notes"]:
                drawn["notes"].append(note)
            ax.set_xlabel(axis_text(quantities[x]), fontsize="small")
            ax.grid(alpha=0.3)
            if persons and not is_category:
                _persons_axis(ax, levels[x], persons)
            name = ", ".join(f"{quantities[f].short()} = {tick(v)}"
                             for f, v in zip(others, combo, strict=True))
            if name:
                ax.set_title(plain(name), fontsize="small", pad=30 if persons else 6)
            drawn["panels"].append({"title": name, "theory_x": list(theory_x),
                                    "theory": list(line[metric.name]), "model": model})
        for ax in axes.flat[len(combos):]:
            ax.set_visible(False)
        for row in axes:
            row[0].set_ylabel(axis_text(metric), fontsize="small")
        handles, labels = axes.flat[0].get_legend_handles_labels()
        if any(panel["model"]["cut"] for panel in drawn["panels"]):
            handles.append(plt.Line2D([], [], linestyle="none", marker=CUT_MARKER,
                                      markerfacecolor="white", markeredgecolor="black"))
            labels.append("interval cut at 0 (the quantity cannot be negative)")
        drawn["legend"] = labels
        fig.suptitle(plain(f"{metric.label}: the model against {title}"), fontsize="medium",
                     x=0.01, ha="left")
        fig.tight_layout(rect=(0, 0.16 + 0.05 * len(drawn["notes"]), 1, 1))
        fig.legend(handles, [plain(label) for label in labels], loc="lower left",
                   bbox_to_anchor=(0.01, 0.02 + 0.05 * len(drawn["notes"])),
                   fontsize="x-small", ncols=1, frameon=False)
        for i, note in enumerate(drawn["notes"]):
            fig.text(0.01, 0.01 + 0.05 * i, "\n".join(
                plain(part) for part in textwrap.wrap(note, 110)), fontsize="x-small",
                color="tab:red", ha="left", va="bottom")
        _save(fig, path)
    finally:
        plt.close(fig)
    return drawn


def _persons_axis(ax, levels: list[Any], persons: dict[Any, tuple[float, float]]) -> None:
    """A top axis at the design's levels: the attacker's persons and, under them, the
    force ratio (attacker persons over defender persons)."""
    top = ax.twiny()
    top.set_xlim(ax.get_xlim())
    shown = [v for v in levels if v in persons]
    top.set_xticks([float(v) for v in shown], [
        f"{persons[v][0]:g}\n{persons[v][1]:.2g}" for v in shown], fontsize="x-small")
    top.set_xlabel(plain("attackers (persons) / force ratio (attacker / defender persons)"),
                   fontsize="x-small")
