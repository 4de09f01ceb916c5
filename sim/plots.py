"""Figures of a run (matplotlib, no screen needed): strengths, casualties, recruit pool
and training pipeline, and a map of the front.

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

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: works on servers, in CI and without a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402

from sim.replicates import mean_interval  # noqa: E402

SIDE_COLOURS = {"attacker": "tab:red", "defender": "tab:blue"}


def side_band(daily: pd.DataFrame, side: str, column: str) -> pd.DataFrame:
    """Per day, a side's ``column``: ``mean``, and ``low``/``high`` of the 95% confidence
    interval of the mean over replicates (equal to the mean for a single run)."""
    rows = daily[(daily["side"] == side) & (daily["contingent"] == "all")]
    if "seed" not in rows:
        rows = rows.assign(seed=0)
    table = rows.pivot_table(index="day", columns="seed", values=column, aggfunc="first")
    out = []
    for day, values in table.iterrows():
        found = mean_interval(values.dropna().tolist())
        low = found["mean"] if found["ci95_low"] is None else found["ci95_low"]
        high = found["mean"] if found["ci95_high"] is None else found["ci95_high"]
        out.append((day, found["mean"], low, high))
    return pd.DataFrame(out, columns=["day", "mean", "low", "high"]).set_index("day")


def _line(ax, daily: pd.DataFrame, side: str, column: str, label: str, **style) -> None:
    band = side_band(daily, side, column)
    colour = SIDE_COLOURS[side]
    ax.plot(band.index, band["mean"], color=colour, label=label, **style)
    if (band["high"] > band["low"]).any():
        ax.fill_between(band.index, band["low"], band["high"], color=colour, alpha=0.2,
                        linewidth=0)


def _finish(fig, path: str | Path, title: str) -> Path:
    if title:
        fig.suptitle(title)
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
    ax.set(xlabel="day", ylabel="persons", title="Strength" + _replicate_note(daily))
    ax.legend(fontsize="small")
    return _finish(fig, path, title)


def plot_casualties(daily: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Cumulative killed, wounded and permanently lost, per side and day."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for side in SIDE_COLOURS:
        _line(ax, daily, side, "killed_total", f"{side} killed")
        _line(ax, daily, side, "wounded_total", f"{side} wounded", linestyle="--")
        _line(ax, daily, side, "permanently_lost_total", f"{side} lost for good",
              linestyle=":")
    ax.set(xlabel="day", ylabel="cumulative persons",
           title="Casualties" + _replicate_note(daily))
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
    pool.set(xlabel="day", ylabel="persons", title="Recruit pool left")
    pipe.set(xlabel="day", ylabel="persons",
             title="Pipeline" + _replicate_note(daily))
    pool.legend(fontsize="small")
    pipe.legend(fontsize="small")
    return _finish(fig, path, title)


def plot_front_map(front: dict[str, Any], path: str | Path, title: str = "") -> Path:
    """The sector at the end: who holds each cell, fortification, mines left, and the
    units still in the sector (area proportional to personnel)."""
    size = front["cell_size_m"]
    width, depth = front["control"].shape
    extent = (0, width * size, 0, depth * size)
    fig, ax = plt.subplots(figsize=(6.5, 6.5 * min(1.3, max(0.6, depth / width))))
    # Control: -1 neutral, 0 attacker, 1 defender; shown with x along the front.
    colours = ListedColormap(["#e8e8e8", "#f4b6b0", "#b3cde3"])
    ax.imshow(front["control"].T + 1, origin="lower", extent=extent, cmap=colours,
              vmin=0, vmax=2, interpolation="nearest", aspect="auto")
    fortified_rows = np.flatnonzero(front["fortification"].max(axis=0) > 0)
    if fortified_rows.size:
        ax.axhspan(fortified_rows[0] * size, (fortified_rows[-1] + 1) * size, fill=False,
                   hatch="//", edgecolor="0.3", linewidth=0.0, label="fortified band")
    mines = front["mines"]
    if mines.any():
        xs, ys = np.nonzero(mines > 0.5)
        ax.scatter((xs + 0.5) * size, (ys + 0.5) * size, marker="x", s=8, color="0.35",
                   linewidths=0.6, label="mines left")
    units = front["units"]
    for side, colour in SIDE_COLOURS.items():
        mine = units[units["side"] == side]
        if len(mine):
            ax.scatter((mine["x"] + 0.5) * size, mine["y_m"], s=4 + mine["personnel"] * 1.5,
                       color=colour, alpha=0.7, edgecolors="k", linewidths=0.3,
                       label=f"{side} units")
    taken = (front["control"] == 0) & (front["initial_control"] == 1)
    ax.set(xlabel="along the front (m)", ylabel="depth from the attacker's rear (m)",
           title=f"Front on day {front['day']}: {int(taken.sum())} cells taken "
                 f"(red: attacker's ground, blue: defender's)")
    ax.title.set_fontsize("small")
    ax.legend(fontsize="x-small", loc="upper right")
    return _finish(fig, path, title)
