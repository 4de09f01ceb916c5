"""Figures of the theatre: its fit to the record of 2023-2024, and the sustainability
answers under named policies. Written to files (no screen needed), each a few panels
that answer one question apiece, in the palettes of :mod:`sim.views`."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import matplotlib.dates as mdates
import numpy as np
import pandas as pd

from sim.plots import _finish, plt
from sim.sides import SIDES
from sim.theatre.calibration import CLAIM_FACTOR, NAMED_SHARE
from sim.theatre.sustainability import POLICY_START
from sim.views import SIDE_COLOURS, plain

# Policies in a colour-blind-safe order (Okabe-Ito), the status quo in black.
POLICY_COLOURS = ("black", "#E69F00", "#0072B2", "#009E73", "#CC79A7", "#D55E00", "#56B4E9")


def _month_axis(ax) -> None:
    ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=(1, 7)))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))


def plot_fit(table: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """The attacker's monthly claimed-loss and named-dead equivalents (model: mean and
    5-95% of single runs) beside the record and its stated uncertainty (the claim within
    a factor of 1.5; the named dead as 45-65% of the model's killed)."""
    months = pd.to_datetime(table.index + "-15")
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharex=True)
    for ax, name, what in ((axes[0], "claimed_losses", "killed and wounded a month"),
                           (axes[1], "named_dead", "named dead a month")):
        model, record = table[f"{name}_model"], table[f"{name}_record"]
        if name == "claimed_losses":
            ax.fill_between(months, record / CLAIM_FACTOR, record * CLAIM_FACTOR,
                            color="0.85", label=f"claim, x/÷ {CLAIM_FACTOR:g} (its uncertainty)")
            ax.plot(months, record, "ko", ms=4, label="claimed (Ukraine's General Staff)")
        else:
            killed = model / np.sqrt(NAMED_SHARE[0] * NAMED_SHARE[1])
            ax.fill_between(months, killed * NAMED_SHARE[0], killed * NAMED_SHARE[1],
                            color="0.85", label="model's killed x 0.45-0.65 (named share)")
            ax.plot(months, record, "ko", ms=4, label="named (Mediazona, BBC)")
        ax.fill_between(months, table[f"{name}_low"], table[f"{name}_high"],
                        color=SIDE_COLOURS["attacker"], alpha=0.2,
                        label="model, 5-95% of single runs")
        ax.plot(months, model, color=SIDE_COLOURS["attacker"], lw=2, label="model, mean")
        agrees = table[f"{name}_agrees"]
        ax.set_title(f"Russian {what}: agrees in {agrees.sum()} of {len(agrees)} months")
        ax.set_ylabel("persons per month")
        ax.set_ylim(bottom=0)
        _month_axis(ax)
        ax.legend(loc="upper left", fontsize=8, frameon=False)
        ax.grid(alpha=0.3)
    return _finish(fig, path, title)


def plot_sustainability(results: list[dict[str, Any]], answers: pd.DataFrame,
                        start_date: datetime.date, path: str | Path,
                        title: str = "") -> Path:
    """Three panels: each side's force in the line by policy (median of runs, the status
    quo's 5-95% shaded); the attacker's recruits a day against its break-even (90-day
    means, status quo); when its recruitment stops covering its losses and when its line
    falls below half, by policy (each run a mark; runs past the horizon counted)."""
    policies = list(dict.fromkeys(r["policy"] for r in results))
    colours = dict(zip(policies, POLICY_COLOURS, strict=False))
    days = results[0]["in_line"].shape[0]
    dates = pd.date_range(start_date, periods=days, freq="D")
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.8))
    for s, side in enumerate(SIDES):
        ax = axes[0]
        for name in policies:
            lines = np.array([r["in_line"][:, s] for r in results if r["policy"] == name])
            ax.plot(dates, np.median(lines, axis=0) / 1000, color=colours[name],
                    lw=2 if name == policies[0] else 1.3,
                    ls="-" if side == "attacker" else "--",
                    label=plain(f"{side}: {name}") if s == 0 or name == policies[0] else None)
            if name == policies[0]:
                ax.fill_between(dates, np.percentile(lines, 5, axis=0) / 1000,
                                np.percentile(lines, 95, axis=0) / 1000,
                                color=SIDE_COLOURS[side], alpha=0.15)
    axes[0].axvline(pd.Timestamp(POLICY_START), color="0.5", lw=1)
    axes[0].set_title("Force in the line (solid: attacker; dashed: defender)")
    axes[0].set_ylabel("thousand persons")
    axes[0].set_ylim(bottom=0)
    axes[0].legend(fontsize=8, frameon=False, loc="lower left")

    ax = axes[1]
    quo = [r for r in results if r["policy"] == policies[0]]
    window = 90
    for key, label, colour in (("recruited", "recruited", SIDE_COLOURS["attacker"]),
                               ("leaving", "break-even (killed, lost, released)", "0.2")):
        means = np.array([(r[key][window:, 0] - r[key][:-window, 0]) / window for r in quo])
        ax.plot(dates[window:], np.median(means, axis=0), color=colour, lw=2, label=label)
        ax.fill_between(dates[window:], np.percentile(means, 5, axis=0),
                        np.percentile(means, 95, axis=0), color=colour, alpha=0.15)
    ax.axvline(pd.Timestamp(POLICY_START), color="0.5", lw=1)
    ax.set_title(plain(f"Attacker: recruits against losses ({policies[0]}, 90-day means)"))
    ax.set_ylabel("persons per day")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, frameon=False)

    from sim.theatre.sustainability import cover_ends, line_breaks

    ax = axes[2]
    first = (POLICY_START - start_date).days
    horizon = dates[-1]
    for y, name in enumerate(policies):
        mine = [r for r in results if r["policy"] == name]
        for offset, marker, days in (
                (-0.15, "o", [cover_ends(r["recruited"][:, 0], r["leaving"][:, 0], first)
                              for r in mine]),
                (0.15, "x", [line_breaks(r["in_line"][:, 0], first) for r in mine])):
            came = [dates[d] for d in days if d is not None]
            later = sum(d is None for d in days)
            ax.plot(came, np.full(len(came), y + offset), marker, color=colours[name],
                    alpha=0.7, ms=7)
            if later:
                ax.annotate(f"{later}/{len(days)} later", (horizon + pd.Timedelta(days=20),
                                                          y + offset),
                            ha="left", va="center", fontsize=8, color=colours[name])
    ax.axvline(horizon, color="0.5", lw=1)
    ax.plot([], [], "ko", label="recruitment stops covering losses (180 days short)")
    ax.plot([], [], "kx", label="the line falls below half its strength of 2025")
    ax.plot([], [], ls="", label="(right of the grey line: not by the horizon)")
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.08))
    ax.set_yticks(range(len(policies)), [plain(p) for p in policies])
    ax.set_xlim(pd.Timestamp(POLICY_START), horizon + pd.Timedelta(days=300))
    ax.set_ylim(len(policies) - 0.5, -0.5)
    ax.set_title("Attacker: when, run by run")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(mdates.YearLocator(month=1, day=1))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    return _finish(fig, path, title)
