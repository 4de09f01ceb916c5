"""Sweep reports that answer the experiment's question: effects at every level of the
other factors, main effects and interactions with intervals from the replicates alone,
intervals of counts that stay at or above 0, axes labelled from the schema, Lanchester's
prediction over a docking sweep, and Sobol and Morris reports that say when the design
is too small. Every sweep here is synthetic (an evaluator, not the model): fast, and with
known effects."""

from __future__ import annotations

import itertools
import math
import re
import typing

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sim.report
from sim.experiments import Experiment, ReportSpec
from sim.lanchester import square_law_survivors
from sim.model import RECORD_COLUMNS
from sim.quantities import METRICS, metric_quantity, parameter_quantity, series_quantity
from sim.report import write_report
from sim.report_figures import effects_figure
from sim.sweep import run_sweep, summary_keys
from sim.sweep_stats import (
    bounded_interval,
    cell_means,
    interaction,
    main_effects,
    marginal_means,
    sensitivity_warnings,
)
from sim.sweep_theory import LANCHESTER, THEORIES

TACTIC = "attacker.units[*].tactic"
FORTIFICATION = "sector.fortification_level"
TRAINING = "attacker.units[*].training_days"
FACTORS = [TACTIC, FORTIFICATION, TRAINING]
LEVELS = {TACTIC: ["human_wave", "infiltration"], FORTIFICATION: [0.0, 0.45, 0.9],
          TRAINING: [14, 365]}
NOISE_SD = 1.5


def planted_mean(tactic: str, fortification: float, training: int) -> float:
    """The true cell mean: fortification helps only against waves (an interaction of
    tactic and fortification); training adds the same everywhere (no interaction)."""
    wave = tactic == "human_wave"
    return 10.0 + 3.0 * wave + 8.0 * fortification * wave + 2.0 * (training == 365)


def planted_main_effect(factor: str, level) -> float:
    others = [f for f in FACTORS if f != factor]
    values = [planted_mean(**{_arg(factor): level,
                              **{_arg(f): v for f, v in zip(others, combo, strict=True)}})
              for combo in itertools.product(*[LEVELS[f] for f in others])]
    return float(np.mean(values))


def _arg(factor: str) -> str:
    return {TACTIC: "tactic", FORTIFICATION: "fortification", TRAINING: "training"}[factor]


def planted_runs(rng: np.random.Generator, replicates: int = 3) -> pd.DataFrame:
    """Runs of every cell: the planted mean plus normal noise."""
    grid = pd.DataFrame(list(itertools.product(*LEVELS.values())), columns=FACTORS)
    grid = grid.loc[grid.index.repeat(replicates)].reset_index(drop=True)
    truth = [planted_mean(*row) for row in grid.itertuples(index=False)]
    return grid.assign(loss_exchange_ratio=np.array(truth) + rng.normal(0, NOISE_SD, len(grid)),
                       status="ok")


class PlantedEvaluator:
    """The planted effects as a sweep's model; a count near 0 (defender_personnel,
    Poisson with mean 0.3) and a daily series beside them."""

    def __call__(self, params, seed):
        rng = np.random.default_rng(seed)
        mean = planted_mean(params[TACTIC], params[FORTIFICATION], params[TRAINING])
        days = [{"day": day, "side": side, "personnel": 100 - day * (2 + 10 * params[
            FORTIFICATION]) + rng.normal(0, 1)} for day in range(4)
                for side in ("attacker", "defender")]
        return {"loss_exchange_ratio": mean + rng.normal(0, NOISE_SD),
                "defender_personnel": int(rng.poisson(0.3)),
                "stop_reason": "max_days"}, pd.DataFrame(days)


def planted_experiment(**extra) -> Experiment:
    return Experiment.model_validate({
        "question": "Does the report recover planted effects and their interaction?",
        "scenario": "fortified_defense",
        "parameters": {f: {"values": LEVELS[f]} for f in FACTORS}, "replicates": 3,
        "seed": 8, "metrics": ["loss_exchange_ratio", "defender_personnel", "stop_reason"],
        "series": {"columns": ["personnel"]}} | extra)


# ------------------------------------------------------------------ statistics
def test_main_effect_interval_comes_from_the_replicates_alone():
    """var = sum of the cells' squared standard errors / cells^2, Welch degrees of
    freedom; the spread across the other factors' levels (here far larger) is not in it."""
    runs = planted_runs(np.random.default_rng(1))
    cells = cell_means(runs, FACTORS, LEVELS, "loss_exchange_ratio")
    table = main_effects(cells, FACTORS, TRAINING)
    at = cells[cells[TRAINING] == 14]
    parts = at["var_mean"].to_numpy() / len(at) ** 2
    df = parts.sum() ** 2 / np.sum(parts**2 / 2)
    half = stats.t.ppf(0.975, df) * math.sqrt(parts.sum())
    row = table.iloc[0]
    assert row["mean"] == pytest.approx(at["mean"].mean())
    assert (row["ci95_low"], row["ci95_high"]) == pytest.approx(
        (row["mean"] - half, row["mean"] + half))
    pooled = runs[runs[TRAINING] == 14]["loss_exchange_ratio"]
    pooled_half = stats.t.ppf(0.975, len(pooled) - 1) * pooled.std() / math.sqrt(len(pooled))
    assert half < 0.6 * pooled_half  # the pooled spread holds tactic's and fortification's


def test_intervals_cover_the_planted_effects_and_find_the_planted_interaction():
    """Over 200 synthetic sweeps of 3 replicates a cell: every main effect, every change
    from a first level and every cell mean is covered about 95% of the time (within 3
    standard errors, estimated from the per-sweep coverage fractions, so that the
    intervals of one sweep may be correlated); the planted interaction of tactic and
    fortification is found (p < 0.01) in every sweep (its median p is about 1e-5); the
    pair without one is flagged at about the test's 5% level (within 3 binomial
    standard errors)."""
    rng = np.random.default_rng(2024)
    sweeps = 200
    covered = {"main": [], "change": [], "cell": []}
    found, false_alarms = 0, 0
    true_cells = np.array([planted_mean(*combo) for combo in itertools.product(
        *LEVELS.values())])
    true_main = {f: np.array([planted_main_effect(f, v) for v in LEVELS[f]]) for f in FACTORS}
    for _ in range(sweeps):
        cells = cell_means(planted_runs(rng), FACTORS, LEVELS, "loss_exchange_ratio")
        covered["cell"].append(np.mean((cells["ci95_low"] <= true_cells)
                                       & (true_cells <= cells["ci95_high"])))
        main_hits, change_hits = [], []
        for factor in FACTORS:
            table = main_effects(cells, FACTORS, factor)
            planted = true_main[factor]
            main_hits += list((table["ci95_low"] <= planted) & (planted <= table["ci95_high"]))
            change = (planted - planted[0])[1:]
            change_hits += list((table["change_low"][1:] <= change)
                                & (change <= table["change_high"][1:]))
        covered["main"].append(np.mean(main_hits))
        covered["change"].append(np.mean(change_hits))
        found += interaction(cells, FACTORS, (TACTIC, FORTIFICATION)).p_value < 0.01
        false_alarms += interaction(cells, FACTORS, (TACTIC, TRAINING)).p_value < 0.05
    for kind, fractions in covered.items():
        fractions = np.asarray(fractions)
        se = max(fractions.std(ddof=1), math.sqrt(0.95 * 0.05 / len(fractions))) / math.sqrt(
            sweeps)
        assert abs(fractions.mean() - 0.95) <= 3 * se + 1e-9, (kind, fractions.mean(), se)
    assert found == sweeps
    assert false_alarms / sweeps <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / sweeps)


def test_intervals_of_counts_never_go_below_zero():
    """A count near 0 with noise: the Student-t interval reaches below 0, the report's
    is cut there (the true mean cannot be below 0), cells that are 0 in every replicate
    have [0, 0]; a quantity with no lower bound is not cut."""
    rng = np.random.default_rng(5)
    runs = planted_runs(rng, replicates=3).assign(
        defender_personnel=rng.poisson(0.3, 36).astype(float))
    nobody = ((runs[TACTIC] == "human_wave") & (runs[FORTIFICATION] == 0.0)
              & (runs[TRAINING] == 14))
    runs.loc[nobody, "defender_personnel"] = 0.0
    lower = metric_quantity("defender_personnel").lower
    assert lower == 0.0  # from the metric's definition, not from the data
    cells = cell_means(runs, FACTORS, LEVELS, "defender_personnel", lower)
    unbounded = cell_means(runs, FACTORS, LEVELS, "defender_personnel")
    assert (unbounded["ci95_low"] < 0).any()  # the raw t-interval would go below 0
    assert (cells["ci95_low"] >= 0).all() and cells["truncated"].any()
    zero = cells[(cells[TACTIC] == "human_wave") & (cells[FORTIFICATION] == 0.0)
                 & (cells[TRAINING] == 14)].iloc[0]
    assert (zero["mean"], zero["ci95_low"], zero["ci95_high"]) == (0.0, 0.0, 0.0)
    for factor in FACTORS:
        assert (main_effects(cells, FACTORS, factor, lower)["ci95_low"] >= 0).all()
    assert (marginal_means(cells, FACTORS, [TACTIC, TRAINING], lower)["ci95_low"] >= 0).all()
    # The cut keeps the upper end: the interval is the t-interval within [0, inf).
    assert np.allclose(cells["ci95_high"], unbounded["ci95_high"], equal_nan=True)
    assert bounded_interval(-0.5, 1.0, 4, lower=0.0)[2] is False  # values broke the bound


# ------------------------------------------------------------------ labels and units
def test_every_summary_key_and_record_column_has_a_meaning_and_unit():
    assert set(METRICS) == set(summary_keys())
    numbers = [q for q in METRICS.values() if q.kind == "number"]
    assert numbers and all(q.unit and q.lower == 0.0 for q in numbers)
    for column in RECORD_COLUMNS[3:]:
        assert series_quantity(column).unit, column
    assert metric_quantity("log(loss_exchange_ratio)").lower is None
    assert metric_quantity("score") is None


def test_parameter_labels_and_units_come_from_the_schema():
    count = parameter_quantity("attacker.units[0].count")
    assert (count.label, count.unit, count.integer) == ("Attacker: number of units", "-", True)
    training = parameter_quantity(TRAINING)
    assert training.axis_label() == "Attacker: days of training each soldier received (days)"
    assert parameter_quantity("attacker.artillery_strikes_per_day").unit == "strikes/day"
    assert parameter_quantity(TACTIC).kind == "category"
    assert parameter_quantity("combat.morale_enabled").kind == "flag"
    assert parameter_quantity("mode").axis_label() == "mode"


def test_effect_figures_draw_every_level_of_the_other_factors(tmp_path):
    """A panel per level of one other factor, a line (or point colour) per level of the
    third, plus the main effect: no panel averages over a factor. Tactics are points
    with no line between them; training is ticked at its whole-number levels."""
    runs = planted_runs(np.random.default_rng(3))
    cells = cell_means(runs, FACTORS, LEVELS, "loss_exchange_ratio", 0.0)
    quantities = {f: parameter_quantity(f) for f in FACTORS}
    metric = metric_quantity("loss_exchange_ratio")
    drawn = effects_figure(cells, main_effects(cells, FACTORS, TACTIC), FACTORS, TACTIC,
                           LEVELS, metric, quantities, tmp_path / "tactic.png")
    assert drawn["hue"] == TRAINING and drawn["panel_factors"] == [FORTIFICATION]
    assert [p["title"] for p in drawn["panels"]] == [
        "main effect", "fortification_level = 0", "fortification_level = 0.45",
        "fortification_level = 0.9"]
    panel = drawn["panels"][2]
    line = panel["lines"][1]  # training 365, fortification 0.45
    expected = cells[(cells[FORTIFICATION] == 0.45) & (cells[TRAINING] == 365)]["mean"]
    assert line["mean"] == pytest.approx(expected.tolist())
    assert not line["connected"] and drawn["ticks"] == ["human_wave", "infiltration"]
    assert drawn["xlabel"].startswith("Attacker: tactic")
    assert drawn["ylabel"].startswith("Attacker casualties per defender casualty (-)")
    drawn = effects_figure(cells, main_effects(cells, FACTORS, TRAINING), FACTORS, TRAINING,
                           LEVELS, metric, quantities, tmp_path / "training.png")
    assert drawn["ticks"] == ["14", "365"] and drawn["panels"][1]["lines"][0]["connected"]
    assert len(drawn["panels"]) == 1 + 3  # main effect + fortification's levels


def test_figures_mark_cut_intervals_scale_panels_apart_and_label_indices(tmp_path):
    """A cut interval is marked (and footnoted) in the figure; heatmap panels whose
    ranges differ 20-fold get their own colour scales (equal ones share one) and short
    ticks stay upright; Sobol bars are ticked with the parameters' labels, and no title
    says "(-)"."""
    from sim.report_figures import heatmap, indices_plot

    rng = np.random.default_rng(5)
    runs = planted_runs(rng).assign(defender_personnel=rng.poisson(0.3, 36).astype(float))
    quantities = {f: parameter_quantity(f) for f in FACTORS}
    counts = cell_means(runs, FACTORS, LEVELS, "defender_personnel", 0.0)
    assert counts["truncated"].any()
    drawn = effects_figure(counts, main_effects(counts, FACTORS, TRAINING, 0.0), FACTORS,
                           TRAINING, LEVELS, metric_quantity("defender_personnel"),
                           quantities, tmp_path / "counts.png")
    assert drawn["cut_note"] and sum(line["cut"] for panel in drawn["panels"]
                                     for line in panel["lines"]) == counts["truncated"].sum()
    cells = cell_means(runs, FACTORS, LEVELS, "loss_exchange_ratio")
    apart = cells.assign(mean=np.where(cells[TACTIC] == "human_wave", 20 * cells["mean"],
                                       cells["mean"]))
    metric = metric_quantity("loss_exchange_ratio")
    found = heatmap(apart, FACTORS, FORTIFICATION, TRAINING, LEVELS, metric, quantities,
                    tmp_path / "apart.png")
    assert found["own_scales"] and found["rotation"] == 0
    assert found["panels"][0]["scale"] != found["panels"][1]["scale"]
    same = heatmap(cells, FACTORS, FORTIFICATION, TRAINING, LEVELS, metric, quantities,
                   tmp_path / "same.png")
    assert not same["own_scales"]
    indices = pd.DataFrame({"S1": [0.5, 0.2], "S1_conf": [0.1, 0.1], "ST": [0.6, 0.3],
                            "ST_conf": [0.1, 0.1]}, index=[FORTIFICATION, TRAINING])
    bars = indices_plot(indices, metric, tmp_path / "bars.png", quantities)
    assert bars["ticks"][0] == "Fortification of the\nforward band"
    assert "(-)" not in bars["title"]


# ------------------------------------------------------------------ written reports
def test_report_of_a_planted_sweep(tmp_path):
    """The report prints the statistics above (its tables are the pure functions'),
    names the planted interaction and not the absent one, cuts intervals of counts at 0,
    labels parameters from the schema, and draws the series' envelopes."""
    exp = planted_experiment(report={"log": ["loss_exchange_ratio"]})
    out = run_sweep(exp, tmp_path / "sweep", PlantedEvaluator(), progress=False).out
    text = write_report(out).read_text()
    # The answer on top: the largest main effect (tactic: 6.6 against fortification's
    # 3.6 and training's 2), the planted interaction told along fortification at each
    # tactic, and the logarithm's effects as factors.
    answer = text.split("## Answer")[1].split("## Parameters")[0]
    ratio = answer.split("- `loss_exchange_ratio`:")[1].split("\n")[0]
    assert "Attacker: tactic (`attacker.units[*].tactic`) has the largest main effect" in ratio
    assert re.search(r"fortification_level and tactic interact \(p = [\d.e-]+\): as "
                     r"fortification_level goes from 0 to 0\.9 the mean goes", ratio)
    assert "No detectable effect" not in ratio  # training's +2 is 7 standard errors
    logged = answer.split("- `log(loss_exchange_ratio)`:")[1].split("\n")[0]
    assert "the geometric mean goes from" in logged and "a factor of" in logged
    assert "natural logarithm" in answer
    assert "(a two-way mean minus what the overall mean and the two factors' own" in text
    runs = pd.read_parquet(out / "runs.parquet")
    cells = cell_means(runs, FACTORS, LEVELS, "loss_exchange_ratio", 0.0)
    table = main_effects(cells, FACTORS, FORTIFICATION, 0.0)
    for row in table.itertuples():
        assert (f"| {row[1]:.4g} | {row.mean:.4g} | {row.ci95_low:.4g} | {row.ci95_high:.4g} "
                f"| {row.change:.4g} |") in text
    assert (r"Interaction of `attacker.units[*].tactic` and `sector.fortification_level`: "
            r"the effect of `attacker.units[*].tactic` depends on the level of "
            r"`sector.fortification_level`") in text
    p_value = interaction(cells, FACTORS, (FORTIFICATION, TRAINING)).p_value
    assert p_value > 0.05  # this seed: no false alarm (the test above counts them)
    assert (r"Interaction of `sector.fortification_level` and "
            r"`attacker.units[*].training_days`: no evidence") in text
    assert "Two-way table of `attacker.units[*].tactic` and `sector.fortification_level`" in text
    assert "| `sector.fortification_level` | Fortification of the forward band | - |" in text
    section = text.split("## `defender_personnel`")[1].split("## ")[0]
    table = section.split("each cell over its replicates")[1].split("\n\n")[1]
    lows = [float(row.split("|")[5]) for row in table.splitlines()[2:]]
    assert len(lows) == 12 and min(lows) >= 0 and "| cut at 0 |" in table
    assert "No numeric values" in text.split("## `stop_reason`")[1]
    figures = {p.name for p in (out / "figures").iterdir()}
    assert {"loss_exchange_ratio_effects.png", "loss_exchange_ratio_heatmap.png",
            "loss_exchange_ratio_by_sector_fortification_level.png",
            "series_personnel.png"} <= figures
    assert "## Daily series" in text and "figures/series_personnel.png" in text


class LanchesterEvaluator:
    """Lanchester's square law with a little noise, as a docking sweep's model (150
    defenders in units of 10, kill rates 0.05 a day)."""

    def __call__(self, params, seed):
        rng = np.random.default_rng(seed)
        a0 = 10 * params["attacker.units[0].count"]
        a, b = square_law_survivors(a0, 150, 0.05, 0.05)
        # A side the law wipes out has nobody left in every run (no noise on 0).
        return {"attacker_personnel": max(0, round(a + rng.normal(0, 3))) if a > 0 else 0,
                "defender_personnel": max(0, round(b + rng.normal(0, 3))) if b > 0 else 0,
                "days": 20 + int(rng.integers(0, 3))}, None


def test_docking_report_draws_the_square_law(tmp_path, monkeypatch):
    exp = Experiment.model_validate({
        "question": "Does the model follow the square law across force ratios?",
        "scenario": "lanchester_square", "set": {"sector.width_cells": 30},
        "parameters": {"attacker.units[0].count": {"values": [10, 20, 30]}},
        "replicates": 3, "seed": 2, "report": {"theory": "lanchester"},
        "metrics": ["attacker_personnel", "defender_personnel", "days"]})
    out = run_sweep(exp, tmp_path / "dock", LanchesterEvaluator(), progress=False).out
    drawn = {}

    def recording(cells, curve, factors, x, levels, metric, quantities, title, path, *rest):
        drawn[metric.name] = sim.report_figures.theory_figure(
            cells, curve, factors, x, levels, metric, quantities, title, path, *rest)

    monkeypatch.setattr(sim.report, "_theory_figure", recording)
    text = write_report(out).read_text()
    line = drawn["attacker_personnel"]["panels"][0]
    assert line["theory_x"] == list(range(10, 31))  # every whole unit count between
    # At parity (15 units) the law's battle outlasts the run: the strength at max_days.
    assert line["theory"] == pytest.approx(
        [square_law_survivors(10 * n, 150, 0.05, 0.05)[0] for n in range(10, 31)], abs=1e-3)
    assert "## Theory: Lanchester's square law" in text
    assert "Its assumptions hold at every design point." in text
    assert ("| attacker.units\\[0\\].count | attackers \\(persons\\) | force ratio | mean | "
            "ci95_low | ci95_high | n | theory | theory_in_ci | model_minus_theory | "
            "difference_low | difference_high | cell |") in text
    assert f"| 30 | {np.sqrt(300**2 - 150**2):.4g} |" not in text  # the model's mean first
    assert re.search(r"\| 30 \| 300 \| 2 \| [\d.]+ \| [\d.]+ \| [\d.]+ \| 3 \| 259\.8 \| "
                     r"yes \| [-\d.]+ \| [-\d.]+ \| [-\d.]+ \| clear win \|", text)
    assert (out / "figures" / "attacker_personnel_theory.png").is_file()
    # The unit count in persons, read from the base scenario (10 persons a unit).
    assert ("`attacker.units[0].count` counts units of 10 persons each "
            "(`attacker.units[0].personnel` in the base scenario); the design's points have "
            "100 to 300 attackers against 150 defenders, a force ratio (attacker persons / "
            "defender persons) of 0.667 to 2.") in text
    # Who wins: every run of each cell, as the law says (Wilson interval of 3 of 3).
    wins = text.split("### Who wins")[1].split("## ")[0]
    assert re.search(r"\| 10 \| 100 \| 0\.6667 \| 3 \| 0\.00 \\\(0\.00 to 0\.56\\\) \| "
                     r"1\.00 \\\(0\.44 to 1\.00\\\) \| .* \| defender \|", wins)
    assert "One side wins every run at 3 of 3 cells, the theory's winner at 3 of them." in wins
    # The attacker wiped out at 10 units: 0 in every run and in the law, not counted.
    section = text.split("## `attacker_personnel`")[1].split("## `")[0]
    assert ("the prediction lies in the model's 95% interval at 2 of 2 cells; 1 cells are 0 "
            "in every run and in the theory and are not counted") in section
    assert "| all zero | all replicates gave the same value |" in section
    # The model's days (20 to 22) lie above the law's (16.1, 19.5, 11.0) in every cell.
    days = text.split("## `days`")[1]
    assert "above at 3, below at 0" in days and "**a systematic error**" in days
    assert "the model counts the day in which the last loser falls" in days
    assert drawn["days"]["legend"][:2] == ["Lanchester's square law", "model: mean and 95% CI"]


def test_a_run_is_won_by_the_side_left_standing_with_wilson_intervals():
    """Winner: the side with persons left when the other has none, neither when both
    (or none) have; shares with scipy's Wilson interval."""
    from sim.sweep_stats import run_winner, win_shares

    assert [run_winner(*pair) for pair in ((5, 0), (0, 5), (3, 4), (0, 0))] == [
        "attacker", "defender", "neither", "neither"]
    runs = pd.DataFrame({"n": [1] * 10 + [2] * 4, "status": "ok",
                         "attacker_personnel": [9, 8, 7, 0, 0, 0, 0, 0, 0, 5] + [3] * 4,
                         "defender_personnel": [0, 0, 0, 4, 4, 4, 4, 4, 4, 6] + [0] * 4})
    shares = win_shares(runs, ["n"], {"n": [1, 2]})
    first = shares.iloc[0]
    assert (first["attacker_wins"], first["defender_wins"], first["neither_wins"]) == (3, 6, 1)
    wilson = stats.binomtest(3, 10).proportion_ci(method="wilson")
    assert (first["attacker_low"], first["attacker_high"]) == pytest.approx(
        (wilson.low, wilson.high))
    assert shares.iloc[1]["attacker_share"] == 1.0 and shares.iloc[1]["runs"] == 4


def test_lanchester_names_what_breaks_its_assumptions():
    from sim.docking import square_law_scenario
    from sim.scenarios import load

    assert LANCHESTER.departures(square_law_scenario(200, 150, 0.05, 0.05)) == []
    broken = LANCHESTER.departures(load("fortified_defense"))
    assert any("morale_enabled" in text for text in broken)
    assert any("artillery_strikes_per_day" in text for text in broken)


def test_report_spec_names_only_known_theories():
    assert set(typing.get_args(typing.get_args(
        ReportSpec.model_fields["theory"].annotation)[0])) == set(THEORIES)
    with pytest.raises(ValueError, match="theory"):
        ReportSpec.model_validate({"theory": "lotka"})


# ------------------------------------------------------------------ sensitivity
class NoisyEvaluator:
    """``x1 + 0.5 x2 + 2 x1 x3`` plus run-to-run noise of ``noise`` (sd)."""

    def __init__(self, noise: float):
        self.noise = noise

    def __call__(self, params, seed):
        rng = np.random.default_rng(seed)
        y = params["x1"] + 0.5 * params["x2"] + 2 * params["x1"] * params["x3"]
        return {"y": y + rng.normal(0, self.noise)}, None


def sobol_experiment(**extra) -> Experiment:
    unit = {"interval": {"low": 0.0, "high": 1.0}}
    return Experiment.model_validate({
        "question": "Which of three inputs drive y, alone and in pairs?",
        "scenario": "not used: the evaluator is a formula", "design": "sobol",
        "samples": 128, "parameters": {"x1": unit, "x2": unit, "x3": unit}, "seed": 4,
        "metrics": ["y"]} | extra)


def test_a_sobol_design_too_small_for_its_noise_says_so(tmp_path):
    """Run-to-run noise of sd 2 against a signal of about 0.5: at 128 base samples and 2
    replicates the indices are not resolved, and the report says so in plain words."""
    exp = sobol_experiment(replicates=2)
    out = run_sweep(exp, tmp_path / "noisy", NoisyEvaluator(2.0), progress=False).out
    text = write_report(out).read_text()
    assert "**Warning:** Run-to-run noise is" in text
    assert re.search(r"\*\*Warning:\*\* S1 not resolved for x\d: its 95% interval's "
                     r"half-width \\\(\+/-[\d.]+\\\) is more than half the index", text)
    assert "figures/y_convergence.png" in text
    assert "Convergence: the indices from the first 8, 16, 32, 64, 128 base samples" in text


def test_second_order_indices_are_reported_when_asked(tmp_path):
    """x1 and x3 interact (2 x1 x3), x2 does not: S2 of x1 x x3 clearly above those of
    the pairs with x2 (no noise)."""
    exp = sobol_experiment(second_order=True)
    out = run_sweep(exp, tmp_path / "second", NoisyEvaluator(0.0), progress=False).out
    text = write_report(out).read_text()
    rows = dict(re.findall(r"\| (x\d \| x\d) \| ([-\d.e]+) \|", text))
    assert set(rows) == {"x1 | x2", "x1 | x3", "x2 | x3"}
    assert "| parameter_1 | parameter_2 | S2 | S2_conf |" in text
    assert (out / "figures" / "y_second_order.png").read_bytes()[:4] == b"\x89PNG"


def test_sensitivity_warnings_name_impossible_indices():
    exp = sobol_experiment()
    broken = pd.DataFrame({"S1": [1.8, -0.4, 0.3], "S1_conf": [0.1, 0.1, 0.02],
                           "ST": [1.9, 0.2, 0.05], "ST_conf": [0.1, 0.1, 0.01]},
                          index=["x1", "x2", "x3"])
    text = " ".join(sensitivity_warnings(broken, exp))
    assert "S1 outside 0 to 1 beyond its interval for x1 (1.80 +/- 0.10), x2" in text
    assert "The S1 sum to 1.70" in text and "S1 above ST beyond their intervals for x3" in text
    sound = pd.DataFrame({"S1": [0.6, 0.3, 0.0], "S1_conf": [0.05, 0.04, 0.02],
                          "ST": [0.65, 0.32, 0.01], "ST_conf": [0.05, 0.04, 0.01]},
                         index=["x1", "x2", "x3"])
    assert sensitivity_warnings(sound, sobol_experiment(replicates=2)) == []
    morris = exp.model_copy(update={"design": "morris", "samples": 4})
    few = pd.DataFrame({"mu_star": [1.0, 0.2], "mu_star_conf": [0.9, 0.1],
                        "sigma": [0.5, 0.1]}, index=["x1", "x2"])
    text = " ".join(sensitivity_warnings(few, morris))
    assert "Only 4 trajectories" in text
    assert ("mu* not resolved for x1: its 95% interval's half-width (+/-0.9) is more than "
            "half the index (1)") in text


def test_sobol_warnings_check_every_index_and_one_replicate():
    """Not only the largest index: a middling one with a wide interval is named; ST
    summing well above 1 is said; one replicate a point says that the noise is not
    measured; a small index pinned down near 0 is resolved."""
    exp = sobol_experiment(replicates=1)
    indices = pd.DataFrame({"S1": [0.6, 0.2, 0.01], "S1_conf": [0.05, 0.15, 0.02],
                            "ST": [0.9, 0.7, 0.6], "ST_conf": [0.05, 0.05, 0.05]},
                           index=["x1", "x2", "x3"])
    warnings = sensitivity_warnings(indices, exp)
    text = " ".join(warnings)
    assert text.startswith("With one replicate a point the run-to-run noise cannot be measured")
    assert ("S1 not resolved for x2: its 95% interval's half-width (+/-0.15) is more than "
            "half the index (0.20): use more") in text
    assert "x1:" not in text and "for x3" not in text
    assert "The ST sum to 2.20, above 1 by more than their combined interval" in text
    replicated = sensitivity_warnings(indices.assign(ST=[0.62, 0.22, 0.02]),
                                      sobol_experiment(replicates=2))
    assert not any("ST sum" in w or "one replicate" in w for w in replicated)


def test_a_sweep_run_before_the_floor_on_sobol_samples_is_still_reported(tmp_path):
    """A manifest whose design is under today's floor (16 base samples) is read as it
    was run: its report is written, and says the indices are not resolved, where a new
    experiment of that size is refused."""
    from sim.experiments import stored_experiment

    data = sobol_experiment().model_dump() | {"samples": 16}
    with pytest.raises(ValueError, match="too few for Sobol"):
        Experiment.model_validate(data)
    out = run_sweep(stored_experiment(data), tmp_path / "old", NoisyEvaluator(0.5),
                    progress=False).out
    text = write_report(out).read_text()
    assert "**Warning:**" in text


class ConstantEvaluator:
    """A metric no parameter moves (the same days in every run), beside one that only
    one factor moves by a whole amount."""

    def __call__(self, params, seed):
        return {"days": 3, "ground_gained_m": 92.8 + (0.1 + 0.2 if params[TACTIC] ==
                                                      "infiltration" else 0.3)}, None


def test_the_answer_says_when_no_parameter_moves_a_metric_and_rounding_is_no_change(
        tmp_path):
    exp = planted_experiment(metrics=["days", "ground_gained_m"], series=None,
                             replicates=2)
    out = run_sweep(exp, tmp_path / "flat", ConstantEvaluator(), progress=False).out
    text = write_report(out).read_text()
    answer = text.split("## Answer", 1)[1].split("\n## ", 1)[0]
    assert "the mean is 3 days at every level of every parameter" in answer, answer
    # 92.8 + (0.1 + 0.2) and 92.8 + 0.3 differ by rounding alone: no change, not 1e-14.
    assert "e-1" not in answer, answer
