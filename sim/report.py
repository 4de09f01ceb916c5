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

import hashlib
import html
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
from sim.publish import publishing, write_atomically  # noqa: E402
from sim.replicates import mean_interval  # noqa: E402
from sim.sweep import MANIFEST_FILE, RUNS_FILE  # noqa: E402
from sim.views import plain  # noqa: E402


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


# ------------------------------------------------------------ text in report.md
#: Characters that Markdown (GitHub's) reads as syntax anywhere in a line: escaped.
_MARKDOWN = re.compile(r"[\\`*\[\]()|~#$]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
#: Names shown as code: key paths and metrics, nothing Markdown or HTML would read.
_CODE = re.compile(r"[\w./:@\[\]()*,=+-]+")


def md(text: object) -> str:
    """User text (a question, a value, an error) as Markdown shows it, literally and on
    one line: no HTML (``<``, ``>``, ``&`` as entities), no links, emphasis, code or
    table cells, no math where a viewer renders ``$...$`` (``\\``, backticks, ``*``,
    ``_``, brackets, parentheses, ``|``, ``~``, ``#`` and ``$`` escaped), control
    characters and line breaks as spaces.

    >>> print(md("[a](javascript:alert(1)) <script> | *b*"))
    \\[a\\]\\(javascript:alert\\(1\\)\\) &lt;script&gt; \\| \\*b\\*
    >>> print(md("attacker_killed"))
    attacker_killed
    """
    text = html.escape(_CONTROL.sub(" ", str(text)), quote=False)
    return _MARKDOWN.sub(lambda found: "\\" + found.group(0), text)


def md_code(text: object) -> str:
    """A name (key path, metric) as inline code when it is a plain name, else as
    :func:`md` text."""
    text = str(text)
    return f"`{text}`" if _CODE.fullmatch(text) else md(text)


def _slug(text: str, used: set[str] | None = None) -> str:
    """A figure's file name part for ``text``: letters, digits and ``_``, at most 60
    characters, distinct from those in ``used`` (to which it is added)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_") or "metric"
    if len(slug) > 60:
        slug = f"{slug[:51]}_{hashlib.sha256(text.encode()).hexdigest()[:8]}"
    if used is not None:
        base, k = slug, 1
        while slug in used:
            k += 1
            slug = f"{base}_{k}"
        used.add(slug)
    return slug


def _markdown_table(frame: pd.DataFrame, digits: int = 4) -> str:
    """A table whose cells are numbers (``digits`` significant) or user text
    (:func:`md`: a ``|`` in a value does not make a cell)."""
    def fmt(v):
        if isinstance(v, float | np.floating):
            return "n/a" if not np.isfinite(v) else f"{v:.{digits}g}"
        if isinstance(v, bool | np.bool_ | int | np.integer):
            return str(v)
        return md(v)

    cols = [md(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |"
              for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _tick(value) -> str:
    """A parameter's value as a tick label, drawn as plain text."""
    return plain(f"{value:g}" if isinstance(value, float) else value)


def _axis_values(column: pd.Series) -> pd.Series:
    """A parameter's values for an x axis: numbers as they are, anything else as plain
    text (a category)."""
    return column if pd.api.types.is_numeric_dtype(column) else column.map(plain)


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _effect_plot(ok: pd.DataFrame, x: str, by: str | None, metric: str,
                 path: Path) -> pd.DataFrame:
    """The metric against parameter ``x``, a line per value of ``by`` (means over the
    other parameters and the replicates, with 95% CIs). Every text drawn is
    :func:`sim.views.plain`: names and values are user text."""
    keys = [x] if by is None else [x, by]
    table = ok.groupby(keys, sort=True)[metric].apply(_mean_interval).unstack().reset_index()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    groups = [(None, table)] if by is None else list(table.groupby(by, sort=True))
    try:
        for label, rows in groups:
            name = metric if label is None else f"{by} = {label}"
            ax.errorbar(_axis_values(rows[x]), rows["mean"],
                        yerr=[rows["mean"] - rows["ci95_low"], rows["ci95_high"] - rows["mean"]],
                        marker="o", capsize=3, label=plain(name))
        ax.set(xlabel=plain(x), ylabel=plain(metric),
               title=plain(f"{metric}: mean and 95% CI over runs"))
        ax.title.set_fontsize("small")
        if by is not None:
            ax.legend(fontsize="small")
        _save(fig, path)
    finally:
        plt.close(fig)
    return table


def _heatmap(ok: pd.DataFrame, x: str, y: str, metric: str, path: Path,
             break_even: str | None) -> None:
    grid = ok.assign(**{metric: pd.to_numeric(ok[metric], errors="coerce")}).pivot_table(
        index=y, columns=x, values=metric, aggfunc="mean")
    fig, ax = plt.subplots(figsize=(7, 4.8))
    try:
        xs, ys = list(grid.columns), list(grid.index)
        image = ax.imshow(grid.to_numpy(dtype=float), origin="lower", aspect="auto",
                          cmap="viridis")
        ax.set_xticks(range(len(xs)), [_tick(v) for v in xs], rotation=45)
        ax.set_yticks(range(len(ys)), [_tick(v) for v in ys])
        for (i, j), value in np.ndenumerate(grid.to_numpy(dtype=float)):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.3g}", ha="center", va="center", fontsize="x-small",
                        color="w")
        fig.colorbar(image, ax=ax, label=plain(f"{metric} (mean)"))
        if break_even and pd.api.types.is_numeric_dtype(grid.columns.dtype):
            # Where the first parameter is largest it constrains least (a recruitment
            # ceiling above the losses): the metric there is the break-even of that row.
            top = ok[ok[x] == max(xs)]
            level = top.assign(v=pd.to_numeric(top[break_even], errors="coerce")).groupby(y)["v"]
            line = level.mean().reindex(ys)
            # Place each row's break-even value on the (index) x axis by interpolation.
            positions = np.interp(line.to_numpy(dtype=float), np.asarray(xs, dtype=float),
                                  np.arange(len(xs)), left=-0.5, right=len(xs) - 0.5)
            ax.plot(positions, range(len(ys)), "w--", linewidth=2,
                    label=plain(f"break-even ({break_even} at the largest "
                                f"{x.split('.')[-1]})"))
            ax.legend(fontsize="x-small", loc="lower right", framealpha=0.9)
        ax.set(xlabel=plain(x), ylabel=plain(y), title=plain(f"{metric}, mean over replicates"))
        _save(fig, path)
    finally:
        plt.close(fig)


def _scatter(ok: pd.DataFrame, params: list[str], metric: str, path: Path) -> None:
    ncols = min(4, len(params))
    nrows = math.ceil(len(params) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.0 * nrows), sharey=True,
                             squeeze=False)
    try:
        for ax, p in zip(axes.flat, params, strict=False):
            ax.scatter(_axis_values(ok[p]), pd.to_numeric(ok[metric], errors="coerce"), s=6,
                       alpha=0.5)
            ax.set_xlabel(plain(p), fontsize="small")
        for ax in axes.flat[len(params):]:
            ax.set_visible(False)
        for row in axes:
            row[0].set_ylabel(plain(metric))
        _save(fig, path)
    finally:
        plt.close(fig)


def _indices_plot(indices: pd.DataFrame, metric: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.8))
    try:
        names = [plain(name) for name in indices.index]
        at = np.arange(len(names))
        if "S1" in indices:
            ax.bar(at - 0.2, indices["S1"], 0.4, yerr=indices["S1_conf"], capsize=3,
                   label="S1")
            ax.bar(at + 0.2, indices["ST"], 0.4, yerr=indices["ST_conf"], capsize=3,
                   label="ST")
            ax.set_ylabel("Sobol index")
        else:
            ax.bar(at - 0.2, indices["mu_star"], 0.4, yerr=indices["mu_star_conf"], capsize=3,
                   label="mu*")
            ax.bar(at + 0.2, indices["sigma"], 0.4, label="sigma")
            ax.set_ylabel("Morris elementary effects")
        ax.set_xticks(at, names, rotation=30, ha="right", fontsize="small")
        ax.set_title(plain(f"Sensitivity of {metric} (bars: 95% confidence)"),
                     fontsize="small")
        ax.legend()
        _save(fig, path)
    finally:
        plt.close(fig)


def write_report(folder: str | Path) -> Path:
    """Write ``report.md`` and its figures into a finished sweep's folder, whole or not
    at all: the figures are drawn into a staging folder that replaces ``figures/``
    once all are written (:func:`sim.publish.publishing`), then ``report.md`` is
    replaced. Every user string in ``report.md`` is escaped (:func:`md`), and every
    one drawn is plain text (:func:`sim.views.plain`)."""
    folder = Path(folder)
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    exp = Experiment.model_validate(manifest["experiment"])
    runs = pd.read_parquet(folder / RUNS_FILE)
    ok = runs[runs["status"] == "ok"]
    params = list(exp.parameters)
    failed = runs[runs["status"] != "ok"]
    source = manifest.get("experiment_file")
    lines = [f"# {md(exp.question)}", "",
             f"Experiment {md_code(source) if source else '(API)'} (hash "
             f"{md(manifest['fingerprint'])}), attrition-sim "
             f"{md(manifest['package_version'])}: {exp.design} design over "
             f"{', '.join(md_code(p) for p in params)}, {exp.replicates} replicates per "
             f"point, master seed {exp.seed}. {len(runs)} runs, {len(ok)} ok, "
             f"{len(failed)} failed.", ""]
    if len(failed):
        lines += ["Failed runs (first 5):", "",
                  _markdown_table(failed[["run", "point", "replicate", "error"]].head(5)), ""]
    metrics = list(exp.metrics)
    for name in exp.report.log:
        values = pd.to_numeric(runs[name], errors="coerce")
        runs[f"log({name})"] = np.log(values.where(values > 0))
        metrics.append(f"log({name})")
    ok = runs[runs["status"] == "ok"]
    used: set[str] = set()
    with publishing(folder / "figures", option="report", replace=True) as figures:
        for metric in metrics:
            lines += _metric_section(ok, runs, exp, params, metric, _slug(metric, used),
                                     figures)
    path = folder / "report.md"
    write_atomically(path, lambda tmp: tmp.write_text("\n".join(lines)))
    return path


def _metric_section(ok: pd.DataFrame, runs: pd.DataFrame, exp: Experiment,
                    params: list[str], metric: str, slug: str, figures: Path) -> list[str]:
    """A metric's part of report.md, its figures drawn into ``figures``."""
    lines = [f"## {md_code(metric)}", ""]
    if ok.empty or not pd.to_numeric(ok[metric], errors="coerce").notna().any():
        return lines + ["No numeric values in the successful runs.", ""]
    if exp.design == "grid":
        tables = []
        for i, x in enumerate(params):
            by = None if len(params) == 1 else params[1] if i == 0 else params[0]
            name = f"{slug}_effects.png" if i == 0 else f"{slug}_by_{_slug(x)}.png"
            tables.append(_effect_plot(ok, x, by, metric, figures / name))
            lines += [f"![{md(metric)} against {md(x)}](figures/{name})", ""]
        if len(params) >= 2:
            _heatmap(ok, params[0], params[1], metric, figures / f"{slug}_heatmap.png",
                     exp.report.break_even)
            lines += [f"![{md(metric)} over {md(params[0])} and {md(params[1])}]"
                      f"(figures/{slug}_heatmap.png)", ""]
        lines += [f"Mean and 95% confidence interval over runs"
                  f"{' (averaged over the other parameters)' if len(params) > 2 else ''}:",
                  "", _markdown_table(tables[0]), ""]
    else:
        _scatter(ok, params, metric, figures / f"{slug}_scatter.png")
        lines += [f"![{md(metric)} against each parameter](figures/{slug}_scatter.png)", ""]
    if exp.design in ("sobol", "morris"):
        try:
            indices = sensitivity_indices(runs, exp, metric)
        except ValueError as err:
            lines += [f"No sensitivity indices: {md(err)}.", ""]
        else:
            _indices_plot(indices, metric, figures / f"{slug}_sensitivity.png")
            lines += [f"![sensitivity of {md(metric)}](figures/{slug}_sensitivity.png)", "",
                      _markdown_table(indices.reset_index(names="parameter")), ""]
    return lines
