"""Reports of finished sweeps: ``report.md`` and ``figures/``, written whole or not at
all, answering the experiment's question factor by factor.

For a grid: each factor's effect at every level of the other factors (small multiples:
nothing is averaged away), its main effect (the mean over the other factors' levels of
the cell means), the interaction of every pair of factors (a test, and the two-way
table where it matters), a heatmap of the cell means, and the table of every cell. For
a sampling design: each metric against each parameter, and for Sobol and Morris the
sensitivity indices (SALib) with their convergence on growing parts of the design and
plain warnings when the design is too small (second-order indices too when the
experiment asks for them). With kept daily series: their envelopes by factor level.
With ``[report] theory``: the theory's prediction over the model's means
(:mod:`sim.sweep_theory`).

Every interval is a 95% confidence interval from the spread between replicates of a
cell, never from the spread across other factors' levels, propagated as
:mod:`sim.sweep_stats` says; the interval of a quantity that cannot be negative (a
count, days, a ratio of counts: :mod:`sim.quantities`) is cut at 0
(:func:`sim.sweep_stats.bounded_interval` says why that keeps its coverage). Axes and
tables say what a parameter or metric means and in what unit, from the scenario schema
and the run summary's definitions.

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
import itertools
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError
from scipy import stats

from sim.experiments import Experiment, base_data, scenario_at, stored_experiment
from sim.publish import publishing, write_atomically
from sim.quantities import Quantity, metric_quantity, parameter_quantity, series_quantity
from sim.report_figures import MAX_PANELS, categorical, tick
from sim.report_figures import convergence_plot as _convergence_plot
from sim.report_figures import effects_figure as _effects_figure
from sim.report_figures import envelope_figure as _envelope_figure
from sim.report_figures import heatmap as _heatmap
from sim.report_figures import indices_plot as _indices_plot
from sim.report_figures import scatter as _scatter
from sim.report_figures import second_order_plot as _second_order_plot
from sim.report_figures import theory_figure as _theory_figure
from sim.scenarios import ScenarioError
from sim.sweep import MANIFEST_FILE, RUNS_FILE, SERIES_FILE
from sim.sweep_stats import (
    MIN_RESOLVED_SHARE,
    WINNERS,
    cell_means,
    envelopes,
    interaction,
    level_difference,
    main_effects,
    marginal_means,
    noise_share,
    run_winner,
    sensitivity,
    sensitivity_indices,
    sensitivity_warnings,
    win_shares,
)
from sim.sweep_store import read_manifest
from sim.sweep_theory import THEORIES, Theory, predictions

__all__ = ["md", "md_code", "sensitivity_indices", "write_report"]

#: A two-way table is shown (for three factors or more) when its interaction test
#: gives a p-value below this.
INTERACTION_P = 0.05
#: Values of a numeric factor at which a theory is evaluated for its curve, at most.
THEORY_CURVE_POINTS = 121


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


def _cell_text(v: Any, digits: int) -> str:
    if v is None or (isinstance(v, float | np.floating) and not np.isfinite(v)):
        return "n/a"
    if isinstance(v, float | np.floating):
        return f"{v:.{digits}g}"
    if isinstance(v, bool | np.bool_ | int | np.integer):
        return str(v)
    return md(v)


def _markdown_table(frame: pd.DataFrame, digits: int = 4) -> str:
    """A table whose cells are numbers (``digits`` significant; none or not finite:
    ``n/a``) or user text (:func:`md`: a ``|`` in a value does not make a cell)."""
    cols = [md(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
    lines += ["| " + " | ".join(_cell_text(v, digits) for v in row) + " |"
              for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _number(value: float, unit: str | None = None) -> str:
    """A number as report.md says it, with its unit (none for ``-``)."""
    text = "n/a" if value is None or not np.isfinite(value) else f"{value:.3g}"
    return f"{text} {md(unit)}" if unit and unit != "-" and text != "n/a" else text


#: What a zero-width interval means, said beside it.
SAME_VALUE_NOTE = "all replicates gave the same value"


def _interval_column(table: pd.DataFrame) -> pd.DataFrame:
    """The table's ``truncated`` flags as a column saying which intervals were cut at 0,
    and which have no width (every replicate the same value, so no spread to measure);
    none when no interval is either."""
    zero = ((table["ci95_low"] == table["ci95_high"]) & np.isfinite(table["ci95_low"])
            ).to_numpy().copy()
    if "n" in table:
        zero &= (table["n"] >= 2).to_numpy()
    cut = table["truncated"].fillna(False).to_numpy(bool)
    if not cut.any() and not zero.any():
        return table.drop(columns="truncated")
    notes = np.where(cut, "cut at 0", np.where(zero, SAME_VALUE_NOTE, ""))
    return table.assign(interval=notes).drop(columns="truncated")


# ------------------------------------------------------------------ the report
def _levels(exp: Experiment, quantities: dict[str, Quantity]) -> dict[str, list[Any]]:
    """Each grid factor's levels: numbers in increasing order, categories as given."""
    out = {}
    for name, parameter in exp.parameters.items():
        values = list(dict.fromkeys(parameter.discrete() or []))
        out[name] = values if categorical(values, quantities[name]) else sorted(values)
    return out


def _values_text(exp: Experiment, name: str) -> str:
    parameter = exp.parameters[name]
    if parameter.interval is not None:
        whole = ", whole numbers" if parameter.integer else ""
        return f"{parameter.interval.low:g} to {parameter.interval.high:g}{whole}"
    values = parameter.discrete()
    shown = ", ".join(str(v) if not isinstance(v, float) else f"{v:g}" for v in values[:12])
    return shown + (f", ... ({len(values)} values)" if len(values) > 12 else "")


def _parameter_lines(exp: Experiment, quantities: dict[str, Quantity]) -> list[str]:
    """The table of the varied parameters: key, meaning, unit and values."""
    lines = ["| parameter | meaning | unit | values |", "| --- | --- | --- | --- |"]
    for name, q in quantities.items():
        meaning = q.label if q.label != name else "not a scenario key"
        lines.append(f"| {md_code(name)} | {md(meaning)} | {md(q.unit or '')} | "
                     f"{md(_values_text(exp, name))} |")
    return ["## Parameters", "", *lines, ""]


def _reading_note(exp: Experiment) -> list[str]:
    if exp.design == "grid":
        return [
            "How to read it: every interval is a 95% confidence interval of a mean, from the "
            "spread between the replicates of a cell (a combination of the parameters' "
            "levels) only, never from the spread across other parameters' levels. A main "
            "effect is the mean of the cell means over the other parameters' levels, and "
            "its interval adds up the cells' own variances (Welch degrees of freedom). "
            "Intervals of quantities that cannot be negative (persons, days, ratios of "
            "counts) are Student-t intervals cut at 0 where they would reach below it "
            "(marked cut at 0): the true mean cannot lie there, so the cut leaves their "
            "coverage as it was."
            + (" With one replicate a point there is no spread within cells, so no interval "
               "and no test of interaction." if exp.replicates == 1 else ""), ""]
    return ["How to read it: the scatter plots show every run; sensitivity indices are "
            "computed from the mean over replicates at each design point, with 95% "
            "bootstrap intervals (SALib).", ""]


def write_report(folder: str | Path) -> Path:
    """Write ``report.md`` and its figures into a finished sweep's folder, whole or not
    at all: the figures are drawn into a staging folder that replaces ``figures/``
    once all are written (:func:`sim.publish.publishing`), then ``report.md`` is
    replaced. Every user string in ``report.md`` is escaped (:func:`md`), and every
    one drawn is plain text (:func:`sim.views.plain`)."""
    folder = Path(folder)
    manifest = read_manifest(folder / MANIFEST_FILE)
    exp = stored_experiment(manifest["experiment"])
    runs = pd.read_parquet(folder / RUNS_FILE)
    ok = runs[runs["status"] == "ok"]
    params = list(exp.parameters)
    failed = runs[runs["status"] != "ok"]
    source = manifest.get("experiment_file")
    lines = [f"# {md(exp.question)}", "",
             f"Experiment {md_code(source) if source else '(API)'} (hash "
             f"{md(manifest['fingerprint'])}), attrition-sim "
             f"{md(manifest['package_version'])}: {exp.design} design over "
             f"{', '.join(md_code(p) for p in params)}, {exp.replicates} "
             f"replicate{'s' if exp.replicates > 1 else ''} per point, master seed "
             f"{exp.seed}. {len(runs)} runs, {len(ok)} ok, {len(failed)} failed.", ""]
    if len(failed):
        lines += ["Failed runs (first 5):", "",
                  _markdown_table(failed[["run", "point", "replicate", "error"]].head(5)), ""]
    quantities = {p: parameter_quantity(p) for p in params}
    lines += _reading_note(exp) + _parameter_lines(exp, quantities)
    metrics = list(exp.metrics)
    for name in exp.report.log:
        values = pd.to_numeric(runs[name], errors="coerce")
        runs[f"log({name})"] = np.log(values.where(values > 0))
        metrics.append(f"log({name})")
    levels = _levels(exp, quantities) if exp.design == "grid" else {}
    if exp.design == "grid":
        lines += _answer_lines(runs, exp, params, metrics, levels, quantities)
    theory = _theory(exp, manifest, params, levels, quantities)
    if theory is not None:
        lines += theory.intro
        if {"attacker_personnel", "defender_personnel"} <= set(runs) and levels:
            theory.wins = win_shares(runs, params, levels)
            lines += _winner_lines(theory, params)
    used: set[str] = set()
    with publishing(folder / "figures", option="report", replace=True) as figures:
        for metric in metrics:
            lines += _metric_section(runs, exp, params, metric, _slug(metric, used), figures,
                                     levels, quantities, theory)
        if exp.series is not None and (folder / SERIES_FILE).is_file():
            lines += _series_section(pd.read_parquet(folder / SERIES_FILE), runs, exp,
                                     params, quantities, figures, used)
    path = folder / "report.md"
    write_atomically(path, lambda tmp: tmp.write_text("\n".join(lines)))
    return path


# ------------------------------------------------------------------ the answer
#: An interaction is named in the answer when its test gives a p-value below this.
ANSWER_P = 0.01


def _logged(metric: str, exp: Experiment) -> str | None:
    """The metric a ``log(...)`` column is the natural logarithm of, or none."""
    found = re.fullmatch(r"log\((.+)\)", metric)
    return found.group(1) if found and found.group(1) in exp.report.log else None


def _value(value: float, log: bool, q: Quantity) -> str:
    return _number(math.exp(value) if log else value, None if log else q.unit)


def _exact(value: float, scale: float) -> float:
    """``value``, or 0 where it is rounding left over from a difference of ``scale``
    (the mean goes 92.8 m to 92.8 m: a change of 0, not of 1.42e-14)."""
    return 0.0 if abs(value) <= 1e-9 * abs(scale) else value


def _change(change: float, low: float, high: float, log: bool, q: Quantity,
            scale: float = 0.0) -> str:
    """A change with its interval: a factor (exp of the change of a logarithm) or a
    difference (rounding left over from ``scale``, the larger mean, taken as 0)."""
    change = _exact(change, scale)
    if log:
        text = f"a factor of {math.exp(change):.3g}"
        return text + (f" (95% CI {math.exp(low):.3g} to {math.exp(high):.3g})"
                       if np.isfinite(low) else " (no interval: one replicate a cell)")
    text = f"a change of {change:+.3g}"
    return text + (f" (95% CI {low:+.3g} to {high:+.3g})" if np.isfinite(low)
                   else " (no interval: one replicate a cell)")


def _answer_lines(runs: pd.DataFrame, exp: Experiment, params: list[str], metrics: list[str],
                  levels: dict[str, list[Any]], quantities: dict[str, Quantity]) -> list[str]:
    """A few plain sentences per metric, from the statistics the report gives below: the
    factor with the largest main effect and its range, the interactions found
    (p < :data:`ANSWER_P`) and which way they go, and the factors with no detectable
    effect. Generated: nothing here is particular to an experiment."""
    lines = ["## Answer", "",
             "Generated from the statistics below (every interval a 95% interval from the "
             "replicates; a main effect is the mean over the other parameters' levels)."]
    if any(_logged(m, exp) for m in metrics):
        lines[-1] += (" A `log(...)` metric is the natural logarithm: its effects are "
                      "given back as factors (exp of the change) and its means as geometric "
                      "means (exp of the mean of the logarithm).")
    lines.append("")
    for metric in metrics:
        q = metric_quantity(metric) or Quantity(metric, metric)
        values = pd.to_numeric(runs.loc[runs["status"] == "ok", metric], errors="coerce")
        if not values.notna().any():
            continue
        try:
            sentences = _answer_sentences(runs, params, metric, q, levels, quantities,
                                          _logged(metric, exp))
        except ValueError as err:
            sentences = [f"no answer ({md(err)})."]
        lines += [f"- {md_code(metric)}: " + " ".join(sentences), ""]
    return lines


def _answer_sentences(runs: pd.DataFrame, params: list[str], metric: str, q: Quantity,
                      levels: dict[str, list[Any]], quantities: dict[str, Quantity],
                      logged: str | None) -> list[str]:
    log = logged is not None
    cells = cell_means(runs, params, levels, metric, q.lower)
    mean_word = "geometric mean" if log else "mean"
    effects = {}
    for x in params:
        table = marginal_means(cells, params, [x])
        if not np.isfinite(table["mean"]).all():
            raise ValueError(f"a cell has no value of {metric}")
        order = list(table[x])
        ends = sorted([int(table["mean"].idxmin()), int(table["mean"].idxmax())])
        first, last = order[ends[0]], order[ends[1]]
        change, low, high = level_difference(cells, params, x, first, last)
        effects[x] = {"first": first, "last": last, "from": float(table["mean"].iloc[ends[0]]),
                      "to": float(table["mean"].iloc[ends[1]]), "change": change,
                      "low": low, "high": high,
                      "detected": np.isfinite(low) and (low > 0 or high < 0)}
    top = max(params, key=lambda p: abs(effects[p]["change"]))
    e = effects[top]
    scale = max(abs(e["from"]), abs(e["to"]))
    if _exact(e["change"], scale) == 0 and e["low"] == e["high"]:
        return [f"the {mean_word} is {_value(e['from'], log, q)} at every level of every "
                f"parameter, in every run: no parameter changes it."]
    label = quantities[top].label
    out = [f"{md(label)} ({md_code(top)}) has the largest main effect: the {mean_word} goes "
           f"from {_value(e['from'], log, q)} at {md(tick(e['first']))} to "
           f"{_value(e['to'], log, q)} at {md(tick(e['last']))}, "
           f"{_change(e['change'], e['low'], e['high'], log, q, scale)}."]
    if np.isfinite(e["low"]) and not e["detected"]:
        out[-1] = out[-1][:-1] + ": not told apart from no effect."
    interacting: set[str] = set()
    for a, b in itertools.combinations(params, 2):
        try:
            found = interaction(cells, params, (a, b))
        except ValueError:
            continue
        if found.p_value is None or found.p_value >= ANSWER_P:
            continue
        interacting |= {a, b}
        # The effect told along the factor with more levels (a dose: fortification 0 to
        # 0.9), else the larger main effect, at each level of the other.
        x, z = max([(a, b), (b, a)], key=lambda pair: (
            len(levels[pair[0]]), abs(effects[pair[0]]["change"])))
        two_way = marginal_means(cells, params, [x, z])
        first, last = levels[x][0], levels[x][-1]
        parts = []
        for level in levels[z]:
            at = two_way[two_way[z] == level].set_index(x)["mean"]
            start, end = float(at[first]), float(at[last])
            step = (f"x{math.exp(end - start):.3g}" if log
                    else f"{_exact(end - start, max(abs(start), abs(end))):+.3g}")
            parts.append(f"{_value(start, log, q)} to {_value(end, log, q)} ({step}) at "
                         f"{md(quantities[z].short())} = {md(tick(level))}")
        out.append(f"{md(quantities[x].short())} and {md(quantities[z].short())} interact "
                   f"(p = {found.p_value:.2g}): as {md(quantities[x].short())} goes from "
                   f"{md(tick(first))} to {md(tick(last))} the {mean_word} goes "
                   + "; ".join(parts) + ".")
    quiet = [p for p in params if np.isfinite(effects[p]["low"])
             and not effects[p]["detected"] and p not in interacting]
    if quiet:
        out.append("No detectable effect (no main effect whose 95% interval excludes 0, no "
                   f"interaction at p < {ANSWER_P:g}): "
                   + ", ".join(f"{md(quantities[p].short())}" for p in quiet) + ".")
    return out


def _metric_section(runs: pd.DataFrame, exp: Experiment, params: list[str], metric: str,
                    slug: str, figures: Path, levels: dict[str, list[Any]],
                    quantities: dict[str, Quantity], theory: _TheoryContext | None
                    ) -> list[str]:
    """A metric's part of report.md, its figures drawn into ``figures``."""
    ok = runs[runs["status"] == "ok"]
    lines = [f"## {md_code(metric)}", ""]
    known = metric_quantity(metric)
    q = known or Quantity(metric, metric)
    if known is not None:
        bound = "; never below 0, so its intervals stop at 0" if q.lower == 0 else ""
        lines += [f"{md(q.label)}{f' ({md(q.unit)})' if q.unit else ''}{bound}.", ""]
    if ok.empty or not pd.to_numeric(ok[metric], errors="coerce").notna().any():
        return lines + ["No numeric values in the successful runs.", ""]
    if exp.design == "grid":
        lines += _grid_lines(runs, exp, params, metric, q, slug, figures, levels, quantities,
                             theory)
    else:
        _scatter(ok, params, q, quantities, figures / f"{slug}_scatter.png")
        lines += [f"![{md(metric)} against each parameter](figures/{slug}_scatter.png)", ""]
    if exp.design in ("sobol", "morris"):
        lines += _sensitivity_lines(runs, exp, metric, q, slug, figures, quantities)
    return lines


def _heatmap_axes(exp: Experiment, params: list[str], levels: dict[str, list[Any]],
                  quantities: dict[str, Quantity]) -> tuple[str, str]:
    """The factors a heatmap spans: the first two with ``break_even`` (its line is
    defined on the first), else the numeric ones with the most levels."""
    if exp.report.break_even:
        return params[0], params[1]
    ranked = sorted(params, key=lambda p: (categorical(levels[p], quantities[p]),
                                           -len(levels[p]), params.index(p)))
    return ranked[0], ranked[1]


def _grid_lines(runs: pd.DataFrame, exp: Experiment, params: list[str], metric: str,
                q: Quantity, slug: str, figures: Path, levels: dict[str, list[Any]],
                quantities: dict[str, Quantity], theory: _TheoryContext | None) -> list[str]:
    cells = cell_means(runs, params, levels, metric, q.lower)
    several = len(params) > 1
    mains = {x: main_effects(cells, params, x, q.lower) for x in params} if several else {}
    lines = []
    for i, x in enumerate(params):
        name = f"{slug}_effects.png" if i == 0 else f"{slug}_by_{_slug(x)}.png"
        drawn = _effects_figure(cells, mains.get(x), params, x, levels, q, quantities,
                                figures / name)
        lines += [f"![{md(metric)} against {md(x)}](figures/{name})", ""]
        if drawn["hue"]:
            panels = ", ".join(md_code(p) for p in drawn["panel_factors"])
            lines += [f"Colours: the levels of {md_code(drawn['hue'])}"
                      f"{f'; a panel per level of {panels}' if panels else ''}; first, the "
                      f"main effect of {md_code(x)}.", ""]
        if drawn["omitted_panels"]:
            lines += [f"The other parameters have {drawn['omitted_panels']} combinations, more "
                      f"than {MAX_PANELS} panels: the figure shows the main effect, the table "
                      f"of cells below every combination.", ""]
    if several:
        x, y = _heatmap_axes(exp, params, levels, quantities)
        break_even = (cell_means(runs, params, levels, exp.report.break_even)
                      if exp.report.break_even in runs else None)
        _heatmap(cells, params, x, y, levels, q, quantities, figures / f"{slug}_heatmap.png",
                 break_even, exp.report.break_even)
        lines += [f"![{md(metric)} over {md(x)} and {md(y)}](figures/{slug}_heatmap.png)", ""]
    table = cells[[*params, "mean", "ci95_low", "ci95_high", "n", "truncated"]]
    lines += ["Mean and 95% confidence interval of each cell over its replicates (n: the "
              "replicates with a value):", "", _markdown_table(_interval_column(table)), ""]
    if several:
        lines += _main_effect_lines(mains)
        lines += _interaction_lines(cells, params, q)
    if theory is not None and metric in theory.metrics:
        lines += _theory_lines(cells, params, metric, q, slug, figures, levels, quantities,
                               theory)
    return lines


def _main_effect_lines(mains: dict[str, pd.DataFrame]) -> list[str]:
    """The table of each factor's main effect (:func:`sim.sweep_stats.main_effects`)."""
    lines = []
    for x, table in mains.items():
        shown = table[[x, "mean", "ci95_low", "ci95_high", "change", "change_low",
                       "change_high", "truncated"]]
        empty = int(table["empty_cells"].sum())
        lines += [f"Main effect of {md_code(x)}: the mean over the other parameters' levels "
                  f"of the cell means, and the change from its first level, with 95% "
                  f"intervals from the replicates"
                  f"{f' ({empty} empty cells: no mean where one is missing)' if empty else ''}:",
                  "", _markdown_table(_interval_column(shown)), ""]
    return lines


def _interaction_lines(cells: pd.DataFrame, params: list[str], q: Quantity) -> list[str]:
    lines = []
    for a, b in itertools.combinations(params, 2):
        head = f"Interaction of {md_code(a)} and {md_code(b)}"
        try:
            found = interaction(cells, params, (a, b))
        except ValueError as err:
            lines += [f"{head}: not tested ({md(err)}).", ""]
            continue
        where = (f"the largest departure from additive effects (a two-way mean minus what "
                 f"the overall mean and the two factors' own effects add up to there) is "
                 f"{_number(found.largest, q.unit)}, at {md(a)} = {md(tick(found.at[0]))}, "
                 f"{md(b)} = {md(tick(found.at[1]))}")
        if found.p_value is None:
            lines += [f"{head}: not tested (a cell has fewer than 2 replicates); {where}.", ""]
            continue
        test = ("exact: no replicate varies" if not np.isfinite(found.statistic) or
                found.statistic == 0 and found.p_value == 1.0 else
                f"F = {found.statistic:.3g} on {found.df1} and {found.df2:g} degrees of "
                f"freedom, p = {found.p_value:.2g}")
        verdict = (f"the effect of {md_code(a)} depends on the level of {md_code(b)}"
                   if found.p_value < INTERACTION_P else
                   "no evidence that the effect of one depends on the level of the other")
        lines += [f"{head}: {verdict} ({test}); {where}.", ""]
        if found.p_value < INTERACTION_P and len(params) > 2:
            table = marginal_means(cells, params, [a, b], q.lower)
            shown = table[[a, b, "mean", "ci95_low", "ci95_high", "truncated"]]
            lines += [f"Two-way table of {md_code(a)} and {md_code(b)} (means over the other "
                      f"parameters' levels, 95% intervals from the replicates):", "",
                      _markdown_table(_interval_column(shown)), ""]
    return lines


# ------------------------------------------------------------------ sensitivity
def _sensitivity_lines(runs: pd.DataFrame, exp: Experiment, metric: str, q: Quantity,
                       slug: str, figures: Path, quantities: dict[str, Quantity]
                       ) -> list[str]:
    try:
        found = sensitivity(runs, exp, metric)
    except ValueError as err:
        return [f"No sensitivity indices: {md(err)}.", ""]
    indices, steps, second = found.indices, found.convergence, found.second_order
    warnings = sensitivity_warnings(indices, exp, steps, second, noise_share(runs, metric))
    lines = [f"**Warning:** {md(text)}" for text in warnings]
    if warnings:
        lines = [*itertools.chain.from_iterable((line, "") for line in lines)]
    else:
        sizes = [int(size) for size in sorted(steps["size"].unique())]
        moved = (f", and no index moved by more than its interval between {sizes[-2]} and "
                 f"{sizes[-1]} {'base samples' if exp.design == 'sobol' else 'trajectories'}"
                 if len(sizes) > 1 else "")
        checks = ("the indices lie in their possible range within their intervals, their "
                  "sums do not exceed 1 beyond them, and every index is resolved (its 95% "
                  "interval's half-width at most half the index, or under "
                  f"{MIN_RESOLVED_SHARE:g})" if exp.design == "sobol" else
                  "every mu* is resolved")
        lines = [f"No sign of too small a design: {checks}{moved}.", ""]
    _indices_plot(indices, q, figures / f"{slug}_sensitivity.png", quantities)
    lines += [f"![sensitivity of {md(metric)}](figures/{slug}_sensitivity.png)", "",
              _markdown_table(indices.reset_index(names="parameter")), ""]
    _convergence_plot(steps, exp.design, figures / f"{slug}_convergence.png")
    sizes = [int(size) for size in sorted(steps["size"].unique())]
    unit = "base samples" if exp.design == "sobol" else "trajectories"
    lines += [f"Convergence: the indices from the first {', '.join(map(str, sizes))} {unit} "
              f"of the design:", "",
              f"![convergence of the indices of {md(metric)}](figures/{slug}_convergence.png)",
              ""]
    if second is not None:
        _second_order_plot(second, list(exp.parameters), figures / f"{slug}_second_order.png")
        lines += ["Second-order indices S2: the share of the variance each pair explains "
                  "together beyond its first-order effects, with 95% half-widths:", "",
                  f"![second-order indices of {md(metric)}](figures/{slug}_second_order.png)",
                  "", _markdown_table(second), ""]
    return lines


# ------------------------------------------------------------------ daily series
def _series_section(series: pd.DataFrame, runs: pd.DataFrame, exp: Experiment,
                    params: list[str], quantities: dict[str, Quantity], figures: Path,
                    used: set[str]) -> list[str]:
    by = params if exp.design == "grid" else []
    lines = ["## Daily series", "",
             "Each kept series day by day: the median over the runs still going that day "
             "and the band of 5% to 95% of them (their range with fewer than 20 runs), "
             + ("for each level of each parameter (the other parameters vary within a level)."
                if by else "over all runs."), ""]
    for column in exp.series.columns:
        cq = series_quantity(column) or Quantity(column, column)
        found = {factor: envelopes(series, runs, factor, column) for factor in by} or {
            "": envelopes(series, runs, None, column)}
        name = f"{_slug(f'series_{column}', used)}.png"
        _envelope_figure(found, cq, quantities, figures / name)
        lines += [f"### {md_code(column)}", "", f"{md(cq.axis_label())}, per side.", "",
                  f"![{md(column)} by day](figures/{name})", ""]
    return lines


# ------------------------------------------------------------------ theory
class _TheoryContext:
    """A theory's predictions for a sweep: at every cell, and along a curve."""

    def __init__(self, theory: Theory, x: str, at_cells: pd.DataFrame, curve: pd.DataFrame,
                 metrics: list[str], intro: list[str]):
        self.theory, self.x, self.at_cells, self.curve = theory, x, at_cells, curve
        self.metrics, self.intro = metrics, intro
        #: Who won each cell's runs (:func:`sim.sweep_stats.win_shares`), when the sweep
        #: kept both sides' survivors.
        self.wins: pd.DataFrame | None = None

    def persons(self) -> dict[Any, tuple[float, float]] | None:
        """The attacker's persons and the force ratio (attacker over defender persons)
        at each level of ``x``, when ``x`` alone changes them (a one-factor grid, or
        strengths equal across the other factors' levels)."""
        if self.at_cells.empty or "attacker_strength_persons" not in self.at_cells:
            return None
        frame = self.at_cells[[self.x, "attacker_strength_persons",
                               "defender_strength_persons"]].dropna().drop_duplicates()
        if frame.empty or frame[self.x].duplicated().any():
            return None
        return {row[0]: (float(row[1]), float(row[1]) / float(row[2]) if row[2] else math.nan)
                for row in frame.itertuples(index=False)}


def _curve_values(levels: list[Any], q: Quantity) -> list[Any]:
    """Values of a factor to draw a theory along: its levels for categories, every
    whole number between its ends for a whole-number factor (at most
    :data:`THEORY_CURVE_POINTS`), else evenly spaced values and its levels."""
    if categorical(levels, q):
        return list(levels)
    low, high = min(levels), max(levels)
    if all(isinstance(v, int | np.integer) for v in levels):
        if high - low + 1 <= THEORY_CURVE_POINTS:
            return list(range(int(low), int(high) + 1))
        spaced = np.linspace(low, high, THEORY_CURVE_POINTS).round().astype(int).tolist()
        return sorted(set(spaced) | set(levels))
    return sorted(set(np.linspace(low, high, THEORY_CURVE_POINTS).tolist()) | set(levels))


def _theory(exp: Experiment, manifest: dict, params: list[str], levels: dict[str, list[Any]],
            quantities: dict[str, Quantity]) -> _TheoryContext | None:
    """The experiment's theory and its predictions, or none without one (or for a
    design that is not a grid: a theory is drawn against cell means)."""
    name = exp.report.theory
    if name is None:
        return None
    theory = THEORIES[name]
    head = f"## Theory: {md(theory.title)}"
    if exp.design != "grid":
        return _TheoryContext(theory, params[0], pd.DataFrame(), pd.DataFrame(), [], [
            head, "", "Not drawn: a theory is compared with the cell means of a grid design.",
            ""])
    try:
        _, base = base_data(exp, manifest.get("experiment_file") or None)
    except (ScenarioError, OSError, ValueError) as err:
        return _TheoryContext(theory, params[0], pd.DataFrame(), pd.DataFrame(), [], [
            head, "", f"Not drawn: the base scenario cannot be read ({md(err)}).", ""])
    numeric = [p for p in params if not categorical(levels[p], quantities[p])]
    x = numeric[0] if numeric else params[0]
    others = [p for p in params if p != x]
    cells = [dict(zip(params, combo, strict=True))
             for combo in itertools.product(*[levels[p] for p in params])]
    curve_points = [{x: value, **dict(zip(others, combo, strict=True))}
                    for combo in itertools.product(*[levels[p] for p in others])
                    for value in _curve_values(levels[x], quantities[x])]
    try:
        at_cells = predictions(theory, base, cells)
        curve = predictions(theory, base, curve_points)
    except (KeyError, ValueError, ValidationError) as err:
        return _TheoryContext(theory, x, pd.DataFrame(), pd.DataFrame(), [], [
            head, "", f"Not drawn: {md(err)}.", ""])
    metrics = [m for m in exp.metrics if m in at_cells and at_cells[m].notna().any()]
    departures = at_cells.get("departures", pd.Series(dtype=str)).fillna("")
    broken = departures[departures != ""]
    holds = ("Its assumptions hold at every design point." if broken.empty else
             f"Its assumptions do not hold at {len(broken)} of {len(at_cells)} design points "
             f"(e.g. {md(broken.iloc[0])}): there it is no prediction of the model.")
    named = ", ".join(md_code(m) for m in metrics) or "none"
    intro = [head, "", *_strength_lines(base, x, cells, at_cells),
             f"Each metric it predicts ({named}) is drawn against "
             f"{md(theory.title)} (dashed line, evaluated along {md_code(x)} at every "
             f"design level of the other parameters), and its table "
             f"gives the prediction at each cell. The theory is deterministic: it predicts "
             f"the mean only where a side clearly wins; near parity the model's battles are "
             f"won by either side. {holds}", ""]
    return _TheoryContext(theory, x, at_cells, curve, metrics, intro)


_UNIT_COUNT = re.compile(r"(attacker|defender)\.units\[(\d+)\]\.count")


def _strength_lines(base: dict, x: str, cells: list[dict[str, Any]],
                    at_cells: pd.DataFrame) -> list[str]:
    """What a unit count along ``x`` means in persons, from the base scenario: the
    persons a unit, and the sides' strengths and their ratio over the design."""
    if "attacker_strength_persons" not in at_cells or at_cells[
            "attacker_strength_persons"].isna().all():
        return []
    attackers = at_cells["attacker_strength_persons"].dropna()
    defenders = at_cells["defender_strength_persons"].dropna()
    ratio = attackers / defenders.where(defenders > 0)
    found = _UNIT_COUNT.fullmatch(x)
    unit = ""
    if found:
        side, index = found.group(1), int(found.group(2))
        try:
            group = getattr(scenario_at(base, cells[0]), side).units[index]
        except (KeyError, ValueError, ValidationError, IndexError):
            group = None
        if group is not None:
            unit = (f"{md_code(x)} counts units of {group.personnel} persons each "
                    f"({md_code(f'{side}.units[{index}].personnel')} in the base scenario); ")
    return [f"In persons: {unit}the design's points have {attackers.min():g} to "
            f"{attackers.max():g} attackers against {defenders.min():g}"
            f"{'' if defenders.min() == defenders.max() else f' to {defenders.max():g}'} "
            f"defenders, a force ratio (attacker persons / defender persons) of "
            f"{ratio.min():.3g} to {ratio.max():.3g}. The tables below give both at each "
            f"cell, the figures on their top axis.", ""]


def _persons_columns(table: pd.DataFrame, theory: _TheoryContext) -> pd.DataFrame:
    """The table with the attacker's persons and the force ratio beside ``x``."""
    persons = theory.persons()
    if not persons:
        return table
    at = table[theory.x].map(lambda v: persons.get(v, (math.nan, math.nan)))
    column = list(table.columns).index(theory.x) + 1
    table = table.copy()
    table.insert(column, "attackers (persons)", [p[0] for p in at])
    table.insert(column + 1, "force ratio", [p[1] for p in at])
    return table


def _share_text(share: float, low: float, high: float) -> str:
    return "n/a" if not np.isfinite(share) else f"{share:.2f} ({low:.2f} to {high:.2f})"


def _winner_lines(theory: _TheoryContext, params: list[str]) -> list[str]:
    """Who wins each cell's runs (with Wilson intervals) beside the theory's winner."""
    wins = theory.wins
    if wins is None or theory.at_cells.empty or not {
            "attacker_personnel", "defender_personnel"} <= set(theory.at_cells):
        return []
    predicted = [run_winner(a, d) for a, d in zip(
        theory.at_cells["attacker_personnel"], theory.at_cells["defender_personnel"],
        strict=True)]
    table = wins[params].copy()
    table["runs"] = wins["runs"]
    for side in WINNERS:
        table[f"{side} wins: share (95% CI)"] = [
            _share_text(r[f"{side}_share"], r[f"{side}_low"], r[f"{side}_high"])
            for _, r in wins.iterrows()]
    table["theory's winner"] = predicted
    table = _persons_columns(table, theory)
    unanimous = _unanimous(wins)
    agree = sum(bool(u) and wins.iloc[i][f"{predicted[i]}_share"] == 1.0
                for i, u in enumerate(unanimous))
    split = [i for i, u in enumerate(unanimous) if not u]
    split_text = ("" if not split else
                  f" At the other {len(split)} (near parity) the runs are split between the "
                  f"sides, as a stochastic battle near parity is: there the deterministic law "
                  f"predicts no mean, and the survivors' means mix wins and losses.")
    return ["### Who wins, and with how many left", "",
            "A run's winner is the side with persons left when the other has none "
            "(`attacker_personnel`, `defender_personnel` at the end); neither, when both "
            "have some left at `max_days` (or none). Shares of the cell's runs with their "
            "95% Wilson score intervals, beside the theory's winner:", "",
            _markdown_table(table), "",
            f"One side wins every run at {sum(map(bool, unanimous))} of {len(wins)} cells, "
            f"the theory's winner at {agree} of them.{split_text} The survivors of the "
            f"winner are the tables of `attacker_personnel` and `defender_personnel` below.",
            ""]


def _unanimous(wins: pd.DataFrame) -> list[bool]:
    """Whether one side (or neither) took every run of each cell: a clear-win cell."""
    return [bool(r["runs"]) and max(r[f"{side}_share"] for side in WINNERS) == 1.0
            for _, r in wins.iterrows()]


def _offset_sentence(diff: np.ndarray, var: np.ndarray, metric: str, q: Quantity,
                     theory: _TheoryContext) -> str:
    """Whether the model departs from the theory the same way across the cells: how
    many lie above and below, and the precision-weighted mean difference (cells that
    agree exactly weigh nothing: they have no variance to weigh by) with its 95%
    interval."""
    if not diff.size:
        return ""
    above, below = int((diff > 0).sum()), int((diff < 0).sum())
    text = (f"Model minus theory at these {diff.size} cells: above at {above}, below at "
            f"{below}")
    usable = np.isfinite(var) & (var > 0)
    if usable.sum() < 2:
        return text + "."
    weights = 1.0 / var[usable]
    mean = float((weights * diff[usable]).sum() / weights.sum())
    half = float(stats.norm.ppf(0.975) / math.sqrt(weights.sum()))
    text += (f"; their precision-weighted mean is {_number(mean, q.unit)} (95% CI "
             f"{mean - half:.3g} to {mean + half:.3g})")
    if mean - half > 0 or mean + half < 0:
        why = theory.theory.offsets.get(metric)
        return (text + f": **a systematic error**: the model lies "
                f"{'above' if mean > 0 else 'below'} the theory"
                + (f" ({md(why)})." if why else "."))
    return text + ": no systematic error detected."


def _theory_lines(cells: pd.DataFrame, params: list[str], metric: str, q: Quantity, slug: str,
                  figures: Path, levels: dict[str, list[Any]],
                  quantities: dict[str, Quantity], theory: _TheoryContext) -> list[str]:
    name = f"{slug}_theory.png"
    _theory_figure(cells, theory.curve, params, theory.x, levels, q, quantities,
                   theory.theory.title, figures / name, theory.persons(),
                   theory.theory.steep.get(metric))
    predicted = theory.at_cells[metric].to_numpy(float)
    table = cells[[*params, "mean", "ci95_low", "ci95_high", "n"]].assign(theory=predicted)
    inside = (table["theory"] >= table["ci95_low"]) & (table["theory"] <= table["ci95_high"])
    # Cells where every replicate and the theory are 0 (nobody left on a side that
    # lost): agreement there says nothing about the law.
    trivial = ((table["mean"] == 0) & (table["ci95_high"] == 0) & (table["theory"] == 0)
               ).to_numpy()
    clear = (np.array(_unanimous(theory.wins), bool) if theory.wins is not None
             else np.ones(len(table), bool))
    kind = np.where(trivial, "all zero", np.where(clear, "clear win", "split (near parity)"))
    diff = table["mean"].to_numpy(float) - predicted
    table = table.assign(
        theory_in_ci=np.where(inside, "yes", "no"), model_minus_theory=diff,
        difference_low=table["ci95_low"] - predicted,
        difference_high=table["ci95_high"] - predicted, cell=kind)
    table = _persons_columns(table, theory)
    counted = clear & ~trivial
    near = ~clear & ~trivial
    parts = [f"where one side wins every run, the prediction lies in the model's 95% "
             f"interval at {int(inside[counted].sum())} of {int(counted.sum())} cells"]
    if near.any():
        parts.append(f"at the {int(near.sum())} near-parity cells whose runs are split "
                     f"(where the report says the law predicts no mean) at "
                     f"{int(inside[near].sum())} of {int(near.sum())}")
    if trivial.any():
        parts.append(f"{int(trivial.sum())} cells are 0 in every run and in the theory and "
                     f"are not counted (agreement there is trivial)")
    var = cells["var_mean"].to_numpy(float)
    offset = _offset_sentence(diff[counted], var[counted], metric, q, theory)
    return [f"![{md(metric)} against {md(theory.theory.title)}](figures/{name})", "",
            f"The model against {md(theory.theory.title)} (theory): {'; '.join(parts)}. "
            f"{offset}", "",
            "Per cell: the model's mean and 95% interval, the theory, their difference "
            "(model minus theory, with the interval shifted by the theory) and the kind of "
            "cell (clear win: one side wins every run; split: both sides win some; all "
            "zero: every run and the theory are 0):", "",
            _markdown_table(_interval_column(table.assign(truncated=cells["truncated"]
                                                          .to_numpy()))), ""]
