"""Figures of a run's daily record (matplotlib, no screen needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: works on servers, in CI and without a display

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def plot_daily(daily: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Save a two-panel figure: personnel fighting, and cumulative killed and wounded,
    per side and day. Returns the path written.

    >>> import tempfile, os
    >>> from sim import Scenario, run
    >>> out = plot_daily(run(Scenario(max_days=2), seed=0).daily,
    ...                  os.path.join(tempfile.mkdtemp(), "run.png"))
    >>> out.stat().st_size > 0
    True
    """
    sides = daily[daily["contingent"] == "all"]
    fig, (strength, losses) = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    for side, color in (("attacker", "tab:red"), ("defender", "tab:blue")):
        rows = sides[sides["side"] == side]
        strength.plot(rows["day"], rows["personnel_fighting"], color=color, label=side)
        losses.plot(rows["day"], rows["killed_total"], color=color, label=f"{side} killed")
        losses.plot(rows["day"], rows["wounded_total"], color=color, linestyle="--",
                    label=f"{side} wounded")
    strength.set(xlabel="day", ylabel="personnel fighting (persons)", title="Strength")
    losses.set(xlabel="day", ylabel="cumulative casualties (persons)", title="Losses")
    strength.legend()
    losses.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
