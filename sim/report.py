"""Reports of finished sweeps: each metric against the varied parameters with 95%
confidence intervals over runs, heatmaps of two-parameter grids, and Sobol (S1, ST) or
Morris (mu*, sigma) sensitivity indices with their confidence bars (SALib), gathered in
``report.md``.

    >>> import tempfile
    >>> from sim.experiments import Experiment
    >>> from sim.sweep import run_sweep
    >>> exp = Experiment.model_validate({"question": "How do drones change the losses?",
    ...     "scenario": "fortified_defense", "set": {"max_days": 2},
    ...     "parameters": {"defender.drones": {"values": [0, 50]}}, "replicates": 2,
    ...     "metrics": ["attacker_killed"]})
    >>> out = run_sweep(exp, tempfile.mkdtemp(), progress=False).out
    >>> write_report(out).name
    'report.md'
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sim.experiments import Experiment, design_matrix  # noqa: E402
from sim.replicates import mean_interval  # noqa: E402
from sim.sweep import MANIFEST_FILE, RUNS_FILE  # noqa: E402


def _mean_interval(values: pd.Series) -> pd.Series:
    """:func:`sim.replicates.mean_interval` of a column's numbers, as a row."""
    numbers = pd.to_numeric(values, errors="coerce").dropna().tolist()
    found = mean_interval(numbers) or {"mean": math.nan, "ci95_low": math.nan,
                                       "ci95_high": math.nan, "n": 0}
    return pd.Series({k: math.nan if found[k] is None else found[k]
                      for k in ("mean", "ci95_low", "ci95_high", "n")})


def point_means(runs: pd.DataFrame, exp: Experiment, metric: str) -> pd.Series:
    """The metric's mean over replicates at each design point, in point order."""
    ok = runs[runs["status"] == "ok"]
    means = ok.groupby("point")[metric].apply(lambda v: pd.to_numeric(v, errors="coerce")
                                              .mean())
    return means.reindex(range(int(runs["point"].max()) + 1))


def sensitivity_indices(runs: pd.DataFrame, exp: Experiment, metric: str,
                        confidence: float = 0.95) -> pd.DataFrame:
    """Sobol first and total order indices (``S1``, ``ST`` and their confidence
    half-widths) or Morris ``mu_star`` and ``sigma``, of the metric's mean over
    replicates, by SALib. Raises ``ValueError`` if a design point has no value."""
    y = point_means(runs, exp, metric).to_numpy(dtype=float)
    if np.isnan(y).any():
        raise ValueError(f"{int(np.isnan(y).sum())} of {len(y)} design points have no "
                         f"value of {metric}")
    problem = exp.problem()
    seed = exp.seed
    if exp.design == "sobol":
        from SALib.analyze import sobol

        res = sobol.analyze(problem, y, calc_second_order=False, conf_level=confidence,
                            seed=seed)
        return pd.DataFrame({"S1": res["S1"], "S1_conf": res["S1_conf"], "ST": res["ST"],
                             "ST_conf": res["ST_conf"]}, index=problem["names"])
    if exp.design == "morris":
        from SALib.analyze import morris

        res = morris.analyze(problem, design_matrix(exp), y, conf_level=confidence,
                             num_levels=exp.morris_levels, seed=seed)
        return pd.DataFrame({"mu_star": res["mu_star"], "mu_star_conf": res["mu_star_conf"],
                             "sigma": res["sigma"]}, index=problem["names"])
    raise ValueError(f"design '{exp.design}' has no sensitivity indices; allowed: sobol, "
                     f"morris")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def _markdown_table(frame: pd.DataFrame, digits: int = 4) -> str:
    def fmt(v):
        if isinstance(v, float | np.floating):
            return "n/a" if not np.isfinite(v) else f"{v:.{digits}g}"
        return str(v)

    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |"
              for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _effect_plot(ok: pd.DataFrame, x: str, by: str | None, metric: str,
                 path: Path) -> pd.DataFrame:
    """The metric against parameter ``x``, a line per value of ``by`` (means over the
    other parameters and the replicates, with 95% CIs)."""
    keys = [x] if by is None else [x, by]
    table = ok.groupby(keys, sort=True)[metric].apply(_mean_interval).unstack().reset_index()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    groups = [(None, table)] if by is None else list(table.groupby(by, sort=True))
    numeric_x = pd.api.types.is_numeric_dtype(table[x])
    for label, rows in groups:
        xs = rows[x] if numeric_x else rows[x].astype(str)
        name = metric if label is None else f"{by} = {label}"
        ax.errorbar(xs, rows["mean"], yerr=[rows["mean"] - rows["ci95_low"],
                                            rows["ci95_high"] - rows["mean"]],
                    marker="o", capsize=3, label=name)
    ax.set(xlabel=x, ylabel=metric, title=f"{metric}: mean and 95% CI over runs")
    ax.title.set_fontsize("small")
    if by is not None:
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return table


def _heatmap(ok: pd.DataFrame, x: str, y: str, metric: str, path: Path,
             break_even: str | None) -> None:
    grid = ok.assign(**{metric: pd.to_numeric(ok[metric], errors="coerce")}).pivot_table(
        index=y, columns=x, values=metric, aggfunc="mean")
    fig, ax = plt.subplots(figsize=(7, 4.8))
    xs, ys = list(grid.columns), list(grid.index)
    image = ax.imshow(grid.to_numpy(dtype=float), origin="lower", aspect="auto",
                      cmap="viridis")
    ax.set_xticks(range(len(xs)), [f"{v:g}" if isinstance(v, float) else str(v) for v in xs],
                  rotation=45)
    ax.set_yticks(range(len(ys)), [f"{v:g}" if isinstance(v, float) else str(v) for v in ys])
    for (i, j), value in np.ndenumerate(grid.to_numpy(dtype=float)):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.3g}", ha="center", va="center", fontsize="x-small",
                    color="w")
    fig.colorbar(image, ax=ax, label=f"{metric} (mean)")
    if break_even and pd.api.types.is_numeric_dtype(grid.columns.dtype):
        # Where the first parameter is largest it constrains least (a recruitment ceiling
        # above the losses): the metric there is the break-even of that row.
        top = ok[ok[x] == max(xs)]
        level = top.assign(v=pd.to_numeric(top[break_even], errors="coerce")).groupby(y)["v"]
        line = level.mean().reindex(ys)
        # Place each row's break-even value on the (index) x axis by interpolation.
        positions = np.interp(line.to_numpy(dtype=float), np.asarray(xs, dtype=float),
                              np.arange(len(xs)), left=-0.5, right=len(xs) - 0.5)
        ax.plot(positions, range(len(ys)), "w--", linewidth=2,
                label=f"break-even ({break_even} at the largest {x.split('.')[-1]})")
        ax.legend(fontsize="x-small", loc="lower right", framealpha=0.9)
    ax.set(xlabel=x, ylabel=y, title=f"{metric}, mean over replicates")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _scatter(ok: pd.DataFrame, params: list[str], metric: str, path: Path) -> None:
    ncols = min(4, len(params))
    nrows = math.ceil(len(params) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.0 * nrows), sharey=True,
                             squeeze=False)
    for ax, p in zip(axes.flat, params, strict=False):
        ax.scatter(ok[p] if pd.api.types.is_numeric_dtype(ok[p]) else ok[p].astype(str),
                   pd.to_numeric(ok[metric], errors="coerce"), s=6, alpha=0.5)
        ax.set_xlabel(p, fontsize="small")
    for ax in axes.flat[len(params):]:
        ax.set_visible(False)
    for row in axes:
        row[0].set_ylabel(metric)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _indices_plot(indices: pd.DataFrame, metric: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.8))
    names = list(indices.index)
    at = np.arange(len(names))
    if "S1" in indices:
        ax.bar(at - 0.2, indices["S1"], 0.4, yerr=indices["S1_conf"], capsize=3, label="S1")
        ax.bar(at + 0.2, indices["ST"], 0.4, yerr=indices["ST_conf"], capsize=3, label="ST")
        ax.set_ylabel("Sobol index")
    else:
        ax.bar(at - 0.2, indices["mu_star"], 0.4, yerr=indices["mu_star_conf"], capsize=3,
               label="mu*")
        ax.bar(at + 0.2, indices["sigma"], 0.4, label="sigma")
        ax.set_ylabel("Morris elementary effects")
    ax.set_xticks(at, names, rotation=30, ha="right", fontsize="small")
    ax.set_title(f"Sensitivity of {metric} (bars: 95% confidence)", fontsize="small")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(folder: str | Path) -> Path:
    """Write ``report.md`` and its figures into a finished sweep's folder."""
    folder = Path(folder)
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    exp = Experiment.model_validate(manifest["experiment"])
    runs = pd.read_parquet(folder / RUNS_FILE)
    ok = runs[runs["status"] == "ok"]
    params = list(exp.parameters)
    failed = runs[runs["status"] != "ok"]
    lines = [f"# {exp.question}", "",
             f"Experiment `{manifest.get('experiment_file') or '(API)'}` (hash "
             f"{manifest['fingerprint']}), attrition-sim {manifest['package_version']}: "
             f"{exp.design} design over {', '.join(f'`{p}`' for p in params)}, "
             f"{exp.replicates} replicates per point, master seed {exp.seed}. "
             f"{len(runs)} runs, {len(ok)} ok, {len(failed)} failed.", ""]
    if len(failed):
        lines += ["Failed runs (first 5):", "",
                  _markdown_table(failed[["run", "point", "replicate", "error"]].head(5)), ""]
    figures = folder / "figures"
    figures.mkdir(exist_ok=True)
    metrics = list(exp.metrics)
    for name in exp.report.log:
        values = pd.to_numeric(runs[name], errors="coerce")
        runs[f"log({name})"] = np.log(values.where(values > 0))
        metrics.append(f"log({name})")
    ok = runs[runs["status"] == "ok"]
    for metric in metrics:
        lines += [f"## `{metric}`", ""]
        slug = _slug(metric)
        if ok.empty or not pd.to_numeric(ok[metric], errors="coerce").notna().any():
            lines += ["No numeric values in the successful runs.", ""]
            continue
        if exp.design == "grid":
            tables = []
            for i, x in enumerate(params):
                by = None if len(params) == 1 else params[1] if i == 0 else params[0]
                name = f"{slug}_effects.png" if i == 0 else f"{slug}_by_{_slug(x)}.png"
                tables.append(_effect_plot(ok, x, by, metric, figures / name))
                lines += [f"![{metric} against {x}](figures/{name})", ""]
            table = tables[0]
            if len(params) >= 2:
                _heatmap(ok, params[0], params[1], metric, figures / f"{slug}_heatmap.png",
                         exp.report.break_even)
                lines += [f"![{metric} over {params[0]} and {params[1]}]"
                          f"(figures/{slug}_heatmap.png)", ""]
            lines += [f"Mean and 95% confidence interval over runs"
                      f"{' (averaged over the other parameters)' if len(params) > 2 else ''}:",
                      "", _markdown_table(table), ""]
        else:
            _scatter(ok, params, metric, figures / f"{slug}_scatter.png")
            lines += [f"![{metric} against each parameter](figures/{slug}_scatter.png)", ""]
        if exp.design in ("sobol", "morris"):
            try:
                indices = sensitivity_indices(runs, exp, metric)
            except ValueError as err:
                lines += [f"No sensitivity indices: {err}.", ""]
            else:
                _indices_plot(indices, metric, figures / f"{slug}_sensitivity.png")
                lines += [f"![sensitivity of {metric}](figures/{slug}_sensitivity.png)", "",
                          _markdown_table(indices.reset_index(names="parameter")), ""]
    path = folder / "report.md"
    path.write_text("\n".join(lines))
    return path
