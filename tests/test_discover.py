"""Scenario discovery (sim.discover) and its condition language (sim.where).

The sweeps here run no model: their evaluators are a few lines of numpy (as
tests/sweep_helpers.py's Ishigami), so that PRIM sees hundreds of runs in a fraction of
a second. The first test to call PRIM pays EMA Workbench's import (2 to 4 s).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim.discover as discover_module
from sim.discover import (
    MAX_DENSITY_LOSS,
    MIN_RUNS,
    PEEL_ALPHA,
    SCORE_KEY,
    Box,
    DiscoveryError,
    choose,
    discover,
    discovery_folder,
    write_discovery,
)
from sim.experiments import Experiment
from sim.sweep import run_sweep
from sim.sweep_store import RUNS_FILE
from sim.where import MAX_CHARS, MAX_DEPTH, And, Not, Or, WhereError, parse, tokens

# One worker runs them all: the sweeps, the discoveries and EMA Workbench's import are
# made once per worker.
pytestmark = pytest.mark.xdist_group("discover")
EXHAUSTIVE = os.environ.get("ATTRITION_EXHAUSTIVE") == "1"
UNIT = {"interval": {"low": 0.0, "high": 1.0}}
#: The planted box of the interval sweep: the pool runs dry within two years where
#: 0.2 <= x1 <= 0.6 and x2 > 0.6 (16% of the space), and in NOISE of the other runs.
PLANTED = {"x1": (0.2, 0.6), "x2": (0.6, None)}
NOISE = 0.02


class PlantedBox:
    """A sweep's model with a planted box: inside it the pool is exhausted on a day
    before 730; outside, on such a day in 2% of the runs (noise), else never (the day is
    missing, 80%) or after two years."""

    def __call__(self, params, seed):
        rng = np.random.default_rng(seed)
        inside = PLANTED["x1"][0] <= params["x1"] <= PLANTED["x1"][1] and \
            params["x2"] > PLANTED["x2"][0]
        if inside or rng.random() < NOISE:
            return {"attacker_pool_exhausted_day": float(rng.uniform(100, 700))}, None
        never = rng.random() < 0.8
        return {"attacker_pool_exhausted_day": None if never
                else float(rng.uniform(731, 2000))}, None


class TacticBox:
    """A categorical and an integer parameter decide a loss ratio: high (about 10) for
    human waves with at least 30 battalions, low (0 to 5) otherwise; a run fails where
    x > 0.9."""

    def __call__(self, params, seed):
        if params["x"] > 0.9:
            raise RuntimeError("the model diverged")
        rng = np.random.default_rng(seed)
        high = params["attacker.units[0].tactic"] == "human_wave" and params["count"] >= 30
        return {"loss_exchange_ratio": float(10 + rng.normal() if high
                                             else rng.uniform(0, 5))}, None


def _sweep(folder, parameters, metrics, evaluate, samples, seed=1, design="lhs"):
    exp = Experiment.model_validate({
        "question": "Under which conditions does the pool run dry within two years?",
        "scenario": "not used: the evaluator is a formula", "parameters": parameters,
        "design": design, "samples": samples, "seed": seed, "metrics": metrics})
    run_sweep(exp, folder, evaluate=evaluate, progress=False)
    return folder


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """400 runs of a Latin hypercube over x1, x2 and x3 (x3 matters to nothing)."""
    return _sweep(tmp_path_factory.mktemp("planted") / "sweep",
                  {"x1": UNIT, "x2": UNIT, "x3": UNIT}, ["attacker_pool_exhausted_day"],
                  PlantedBox(), samples=400)


@pytest.fixture(scope="module")
def found(planted):
    return discover(planted, "attacker_pool_exhausted_day <= 730")


@pytest.fixture(scope="module")
def tactics(tmp_path_factory):
    """200 random points over a whole number of battalions, a tactic whose names hold
    Markdown and mathtext, a true/false parameter and x (runs with x > 0.9 fail)."""
    return _sweep(tmp_path_factory.mktemp("tactics") / "sweep", {
        "count": {"interval": {"low": 0, "high": 50}, "integer": True}, "x": UNIT,
        "attacker.units[0].tactic": {"values": ["human_wave", "infiltration",
                                                "a|b $x$ [c](d)"]},
        "fortified": {"values": [True, False]}},
        ["loss_exchange_ratio"], TacticBox(), samples=200, design="random")


# ------------------------------------------------------------------------- PRIM
def test_prim_recovers_a_planted_box(found):
    """The box's limits lie within one peel of the planted ones, and x3 stays free.

    PRIM sets a limit halfway between the last run kept and the first peeled, and moves
    it in peels of PEEL_ALPHA (5%) of the box's runs: along a parameter spread evenly
    over a range of 1, a peel is at most 0.05 wide, so each limit is within 0.05 of the
    planted one (over 20 seeds the largest miss was 0.033). Coverage: the rule keeps it
    at 0.8 or more (the planted box holds 0.16 / (0.16 + 0.02 * 0.84) = 90% of the cases
    on average). Density: inside the planted box the condition always holds; a limit one
    peel beyond the planted one adds at most 5% of the box's runs, so two such sides
    leave it at 0.9 or more (20 seeds: 0.985 or more)."""
    box = found.box
    limits = {limit.parameter: limit for limit in box.limits}
    assert set(limits) == {"x1", "x2"}, [limit.text() for limit in box.limits]
    tolerance = PEEL_ALPHA * 1.0
    assert limits["x1"].low == pytest.approx(PLANTED["x1"][0], abs=tolerance)
    assert limits["x1"].high == pytest.approx(PLANTED["x1"][1], abs=tolerance)
    assert limits["x2"].low == pytest.approx(PLANTED["x2"][0], abs=tolerance)
    assert limits["x2"].high is None  # the planted box is open above in x2
    assert box.coverage >= 0.8 and box.density >= 0.9
    assert box.cases == round(box.coverage * found.cases)
    assert box.runs == round(box.mass * found.runs)
    # Every restricted limit is significant, and the first box is all runs.
    assert all(limit.significant() for limit in box.limits)
    assert (found.trajectory[0].coverage, found.trajectory[0].mass) == (1.0, 1.0)


def test_the_rule_picks_the_densest_box_with_enough_coverage():
    def box(step, coverage, density, restricted=1):
        return Box(step, coverage, density, 0.5, 10, 5, (None,) * restricted)

    trajectory = [box(0, 1.0, 0.2, 0), box(1, 0.9, 0.5), box(2, 0.85, 0.7),
                  box(3, 0.82, 0.7, 2), box(4, 0.6, 0.95)]
    assert choose(trajectory, 0.8) == 2  # ties on density: the larger coverage
    assert choose(trajectory, 0.5) == 4
    assert choose(trajectory, 1.0) == 0
    assert choose([box(0, 1.0, 0.2, 0), box(1, 0.9, 0.5, 2), box(2, 0.9, 0.5, 1)],
                  0.8) == 2  # then fewer restricted parameters


def test_feature_scores_rank_the_planted_parameters_above_noise(found, planted):
    """x1 and x2 decide the outcome, x3 nothing; the same sweep scores the same (the
    random state comes from the sweep's seed)."""
    scores = dict(found.scores)
    assert set(scores) == {"x1", "x2", "x3"}
    assert min(scores["x1"], scores["x2"]) > scores["x3"]
    assert sum(scores.values()) == pytest.approx(1.0)
    assert found.score_seed == int(np.random.SeedSequence(1, spawn_key=(SCORE_KEY,))
                                   .generate_state(1)[0])
    assert discover(planted, "attacker_pool_exhausted_day <= 730").scores == found.scores


def test_categories_and_whole_numbers_enter_prim_and_failed_runs_do_not(tactics):
    """The tactic is a category (the box keeps human_wave), the battalions a number
    (its limit within one peel of the planted 30, over the range 0 to 50); failed runs
    (x > 0.9) are left out and counted; a parameter unrelated to the outcome is free."""
    runs = pd.read_parquet(tactics / RUNS_FILE)
    failed = int((runs["status"] != "ok").sum())
    assert failed > 0
    found = discover(tactics, "loss_exchange_ratio > 8")
    assert (found.runs, found.failed) == (len(runs) - failed, failed)
    limits = {limit.parameter: limit for limit in found.box.limits}
    assert set(limits) == {"attacker.units[0].tactic", "count"}
    assert limits["attacker.units[0].tactic"].kept == ("human_wave",)
    assert limits["count"].low == pytest.approx(30, abs=PEEL_ALPHA * 50)
    assert found.box.density >= 0.9
    booleans = discover(tactics, "fortified == true and loss_exchange_ratio > 8")
    assert {limit.parameter: limit.kept for limit in booleans.box.limits
            }["fortified"] == ("true",)


@pytest.mark.parametrize("where, problem", [
    ("attacker_pool_exhausted_day > 5000", "holds for none of the 400 ok runs"),
    ("not (attacker_pool_exhausted_day > 5000)", "holds for every one of the 400"),
])
def test_a_condition_true_for_no_run_or_every_run_is_refused(planted, where, problem):
    with pytest.raises(DiscoveryError) as refused:
        discover(planted, where)
    assert problem in str(refused.value) and "\n" not in str(refused.value)


def test_a_small_or_unfinished_sweep_and_a_wrong_coverage_are_refused(tmp_path, planted):
    small = _sweep(tmp_path / "small", {"x1": UNIT, "x2": UNIT},
                   ["attacker_pool_exhausted_day"], PlantedBox(), samples=MIN_RUNS - 1)
    with pytest.raises(DiscoveryError, match=f"{MIN_RUNS - 1} ok runs; allowed: a sweep of "
                                             f"at least {MIN_RUNS} ok runs"):
        discover(small, "attacker_pool_exhausted_day <= 730")
    unfinished = tmp_path / "unfinished"
    shutil.copytree(planted, unfinished)
    (unfinished / RUNS_FILE).unlink()
    with pytest.raises(DiscoveryError, match="unfinished.*allowed: a complete sweep folder"):
        discover(unfinished, "attacker_pool_exhausted_day <= 730")
    for coverage in (0, 1.5, float("nan"), True):
        with pytest.raises(DiscoveryError, match="min_coverage"):
            discover(planted, "attacker_pool_exhausted_day <= 730", min_coverage=coverage)
    with pytest.raises(WhereError, match="unknown name x4"):
        discover(planted, "x4 > 0.5")


def test_written_whole_inside_the_sweep_with_user_text_escaped(tactics, found, planted):
    """The folder lies inside the sweep, holds the five files (JSON valid, without NaN),
    escapes the tactic's Markdown; writing the same condition again replaces it, and a
    condition's text never leads out of the sweep."""
    where = "attacker.units.0.tactic == 'a|b $x$ [c](d)'"
    discovery = discover(tactics, where)
    out = write_discovery(tactics, discovery)
    assert out.parent == tactics and out.name.startswith("discover-attacker.units_0_.tactic")
    assert sorted(p.name for p in out.iterdir()) == [
        "box.png", "discovery.json", "discovery.md", "feature_scores.png", "peeling.png"]
    text = (out / "discovery.md").read_text()
    assert "a\\|b \\$x\\$ \\[c\\]\\(d\\)" in text and "[c](d)" not in text
    assert "A comparison with a missing value" in text
    data = json.loads((out / "discovery.json").read_text(),
                      parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert data["condition"] == 'attacker.units[0].tactic == "a|b $x$ [c](d)"'
    assert data["prim"]["chosen"] == discovery.chosen
    assert len(data["boxes"]) == len(discovery.trajectory)
    assert write_discovery(tactics, discovery) == out
    assert len([p for p in tactics.iterdir() if p.name.startswith("discover-")]) == 1
    # Operators become words and a hash keeps conditions apart: > and < differ; a
    # condition's text never leads out of the sweep.
    names = {condition: discovery_folder(planted, replace(found, condition=condition))
             for condition in ("day <= 730", "day > 730", "day < 730",
                               "`../../../etc/passwd` < 1", "`/` == '" + "x" * 900 + "'")}
    assert len(set(names.values())) == len(names)
    assert "_le_730" in names["day <= 730"].name and "_gt_730" in names["day > 730"].name
    assert all(p.resolve().parent == planted.resolve() for p in names.values())
    assert all(len(p.name.encode()) <= 80 for p in names.values())


def test_attrition_discover_prints_the_box_and_refuses_bad_input_in_one_line(
        planted, capsys):
    """The command is a thin layer over discover(): the box it prints is the API's, and
    a bad condition, coverage or sweep is one line with exit status 2."""
    from sim.cli import main

    where = "attacker_pool_exhausted_day <= 730"
    assert main(["discover", str(planted), "--where", where]) == 0
    out = capsys.readouterr().out
    box = discover(planted, where).box
    assert f"coverage {box.coverage:.3f}, density {box.density:.3f}" in out
    assert all(limit.text() in out for limit in box.limits)
    assert "Discovery in " in out
    for argv in (["--where", "x1 > __import__('os')"], ["--where", "nope > 1"],
                 ["--where", where, "--min-coverage", "0"]):
        with pytest.raises(SystemExit) if "--min-coverage" in argv else _nothing():
            assert main(["discover", str(planted), *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "allowed" in err, err
    assert main(["discover", str(planted / "missing"), "--where", where]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@contextlib.contextmanager
def _nothing():
    yield


def test_missing_values_are_counted_and_make_comparisons_false(found, planted):
    runs = pd.read_parquet(planted / RUNS_FILE)
    never = int(runs["attacker_pool_exhausted_day"].isna().sum())
    assert found.missing == {"attacker_pool_exhausted_day": never} and never > 100
    kinds = {"attacker_pool_exhausted_day": "number"}
    later = parse("attacker_pool_exhausted_day > 730", kinds).truth(runs)
    not_sooner = parse("not (attacker_pool_exhausted_day <= 730)", kinds).truth(runs)
    assert int(not_sooner.sum()) - int(later.sum()) == never


class _PrimBoxDouble:
    """EMA Workbench's PrimBox as _drop_chance_limits uses it: quasi-p values per box,
    densities along the trajectory, and drop_restriction adding a box whose density is
    set by the test (``after``: parameter -> density of the box without it)."""

    def __init__(self, qp, density, after):
        self.qp, self.after = [{}, qp], after
        self.box_lims = [None, None]
        self.peeling_trajectory = pd.DataFrame({"density": [0.1, density]})

    def drop_restriction(self, name, i):
        self.qp.append({k: v for k, v in self.qp[i].items() if k != name})
        self.box_lims.append(None)
        self.peeling_trajectory = pd.concat(
            [self.peeling_trajectory, pd.DataFrame({"density": [self.after[name]]})],
            ignore_index=True)


def test_a_limit_that_may_be_chance_is_dropped_only_where_that_keeps_the_density():
    """The rule: candidates (every side's quasi-p above 0.05; -1 is EMA's "no limit on
    that side") are tried least significant first; a drop that loses more than
    MAX_DENSITY_LOSS of the density is not adopted and the limit kept; one that loses
    less is adopted and the next try starts from it."""
    qp = {"a": [0.3, -1], "b": [0.001, -1], "c": [-1, 0.2], "d": [0.5, 0.01]}
    density = 0.6
    found = _PrimBoxDouble(qp, density, after={
        "a": density * (1 - 3 * MAX_DENSITY_LOSS),     # costly: kept
        "c": density * (1 - MAX_DENSITY_LOSS / 3)})    # nearly free: dropped
    drops = discover_module._drop_chance_limits(found, 1)
    assert drops == {2: (1, "a", False), 3: (1, "c", True)}
    # With the costly one cheap too, both go, the second from the first's box.
    found = _PrimBoxDouble(qp, density, after={"a": density, "c": density})
    assert discover_module._drop_chance_limits(found, 1) == {2: (1, "a", True),
                                                             3: (2, "c", True)}


def _with_candidate(found, adopted: bool, density_after: float):
    """``found`` with a box made from its reported box by dropping x2's limit."""
    source = found.box
    limits = tuple(lim for lim in source.limits if lim.parameter != "x2")
    derived = Box(len(found.trajectory), source.coverage, density_after, source.mass * 1.3,
                  source.runs, source.cases, limits, derived_from=source.step,
                  dropped="x2", adopted=adopted)
    return replace(found, trajectory=(*found.trajectory, derived),
                   chosen=derived.step if adopted else found.chosen)


def test_the_box_says_where_it_comes_from_and_what_a_dropped_limit_costs(found):
    """The analyst's case: 'Box (peeling step 50)' for a box that is step 43 without a
    limit. The CLI's lines and discovery.md name the step of the peeling trajectory, the
    limit tried, its quasi-p value and the coverage and density with and without it."""
    plain_lines = found.summary_lines()
    assert plain_lines[1].startswith(f"Box (step {found.picked} of the peeling trajectory)")
    kept = _with_candidate(found, adopted=False, density_after=0.5)
    lines = kept.summary_lines()
    assert lines[1] == plain_lines[1]  # the box reported is the one picked
    x2 = next(lim for lim in found.box.limits if lim.parameter == "x2")
    note = lines[-1]
    assert f"The limit on x2 (quasi-p {x2.qp_low:.2g} at its lower limit" in note
    assert f"density from {found.box.density:.3f} to 0.500" in note and "kept" in note
    assert f"coverage goes from {found.box.coverage:.3f}" in note
    dropped = _with_candidate(found, adopted=True, density_after=found.box.density)
    assert dropped.summary_lines()[1].startswith(
        f"Box (step {found.picked} of the peeling trajectory, then the limit on x2 "
        f"dropped): coverage")
    assert "so it was dropped" in dropped.summary_lines()[-1]
    text = discover_module._markdown(kept)
    assert f"The box reported: step {found.picked} of the peeling trajectory." in text
    assert "density from" in text and "not adopted: the limit is kept" in text
    assert "reported" not in text.split(f"| {len(found.trajectory)} |")[1].split("\n")[0]


def test_discovery_md_reads_cleanly_and_shows_the_declared_ranges(found, tactics):
    """Declared ranges (the interval 0 to 1, not the runs' extremes), the quasi-p columns
    explained, and the missing-values rule in code spans (no escaped parentheses or
    entities in the program's own text)."""
    text = discover_module._markdown(found)
    rule = next(line for line in text.splitlines() if line.startswith("Missing values"))
    assert "`not (day <= 730)`" in rule and "\\(" not in rule and "&lt;" not in rule
    assert '"low" is the quasi-p value of the box\'s lower limit' in text
    for limit in found.box.limits:
        assert (limit.declared_low, limit.declared_high) == (0.0, 1.0)
        assert limit.sampled_low > 0 and limit.sampled_high < 1  # what the runs took
    assert "| 0 to 1 |" in text
    limits = {lim.parameter: lim for lim in discover(tactics, "loss_exchange_ratio > 8")
              .box.limits}
    tactic = limits["attacker.units[0].tactic"]
    assert tactic.declared_values == ("human_wave", "infiltration", "a|b $x$ [c](d)")
    assert (limits["count"].declared_low, limits["count"].declared_high) == (0, 50)
    assert discover_module._declared(tactic) == "{human_wave, infiltration, a|b $x$ [c](d)}"


def test_box_figure_draws_categories_as_cells_and_keeps_labels_clear(tactics, monkeypatch):
    """A category set is a cell per declared category (the kept one blue); no text of
    the figure overlaps a parameter's name on the left (the analyst saw "0.002587" on
    the axis line beside it)."""
    figures = []
    monkeypatch.setattr(discover_module, "_save", lambda fig, path: figures.append(fig))
    discover_module._box_plot(discover(tactics, "loss_exchange_ratio > 8"), None)
    fig = figures[0]
    ax = fig.axes[0]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [t.get_text() for t in ax.texts]
    assert {"human_wave", "infiltration"} <= set(texts)
    names = [label.get_window_extent(renderer) for label in ax.get_yticklabels()]
    others = [t.get_window_extent(renderer) for t in ax.texts if t.get_text()]
    assert names and others
    assert not any(n.overlaps(o) for n in names for o in others)
    assert not ax.get_xticks().size  # no "lowest/highest sampled" axis
    import matplotlib.pyplot as plt
    plt.close(fig)


# ----------------------------------------------------------------- the language
KINDS = {"a": "number", "b": "number", "c": "number", "days": "number",
         "attacker.units[0].tactic": "text", "attacker.units[*].training_days": "number",
         "flag": "boolean", "attacker.contingents.my force.pool": "number"}


def _combinations() -> pd.DataFrame:
    bits = np.array([[i >> k & 1 for k in range(3)] for i in range(8)], dtype=float)
    return pd.DataFrame(bits * 2, columns=["a", "b", "c"])  # 0 or 2: "> 1" is the bit


@pytest.mark.parametrize("text, meaning", [
    ("a > 1 or b > 1 and c > 1", lambda a, b, c: a | (b & c)),
    ("(a > 1 or b > 1) and c > 1", lambda a, b, c: (a | b) & c),
    ("not a > 1 and b > 1", lambda a, b, c: ~a & b),
    ("not (a > 1 and b > 1)", lambda a, b, c: ~(a & b)),
    ("a > 1 and not not b > 1 or not c > 1", lambda a, b, c: (a & b) | ~c),
    ("a > 1 and (b > 1 and c > 1)", lambda a, b, c: a & b & c),
    ("1 < a and 1 >= b", lambda a, b, c: a & ~b),
])
def test_precedence_and_parentheses_follow_python(text, meaning):
    frame = _combinations()
    bits = [frame[n].to_numpy() > 1 for n in "abc"]
    condition = parse(text, KINDS)
    assert condition.truth(frame).tolist() == meaning(*bits).tolist()
    assert parse(str(condition), KINDS) == condition  # the canonical form reads back


def test_the_tree_is_plain_data():
    condition = parse("a > 1 or b > 1 and not c == 2", KINDS)
    assert isinstance(condition, Or) and isinstance(condition.operands[1], And)
    assert isinstance(condition.operands[1].operands[1], Not)
    assert str(condition) == "a > 1 or b > 1 and not (c == 2)"


def test_texts_key_paths_and_booleans():
    frame = pd.DataFrame({"attacker.units[0].tactic": ["human_wave", "infiltration", None],
                          "flag": [True, False, None],
                          "attacker.contingents.my force.pool": [5.0, 50.0, 500.0],
                          "attacker.units[*].training_days": [14, 90, 365]})
    truth = {
        "attacker.units[0].tactic == 'human_wave'": [True, False, False],
        'attacker.units.0.tactic != "human_wave"': [False, True, False],
        "flag == true": [True, False, False],
        "flag != True": [False, True, False],
        "`attacker.contingents.my force.pool` >= 50": [False, True, True],
        "attacker.units[*].training_days < 1e2": [True, True, False],
        "-1.5e1 < attacker.units[*].training_days": [True, True, True],
    }
    for text, expected in truth.items():
        assert parse(text, KINDS).truth(frame).tolist() == expected, text
    assert str(parse("attacker.units.0.tactic == 'say \"no\"'", KINDS)) == \
        "attacker.units[0].tactic == 'say \"no\"'"


def test_a_comparison_with_a_missing_value_is_false():
    frame = pd.DataFrame({"days": [100.0, np.nan, 900.0], "flag": [True, None, False]})
    assert parse("days <= 730", KINDS).truth(frame).tolist() == [True, False, False]
    assert parse("days > 730", KINDS).truth(frame).tolist() == [False, False, True]
    assert parse("days != 100", KINDS).truth(frame).tolist() == [False, False, True]
    assert parse("not (days <= 730)", KINDS).truth(frame).tolist() == [False, True, True]
    assert parse("flag != true", KINDS).truth(frame).tolist() == [False, False, True]
    empty = pd.DataFrame({"days": [None, None]})
    assert parse("days < 1", {"days": "empty"}).truth(empty).tolist() == [False, False]


@pytest.mark.parametrize("text, where", [
    ("__import__('os')", "unknown name __import__"),
    ("__import__('os').system('ls')", "'.' is not part of a condition"),
    ("1; import os", "';' is not part of a condition"),
    ("days < 5; import os", "';' is not part of a condition"),
    ("days.__class__ > 1", "unknown name days.__class__"),
    ("lambda > 1", "unknown name lambda"),
    ("lambda: 1", "':' is not part of a condition"),
    ("dayz < 5", "unknown name dayz (did you mean days?)"),
    ("tactic == 'human_wave'", "did you mean attacker.units[0].tactic?"),
    ("days < inf", "inf is not a finite number"),
    ("days > -inf", "'-' is not part of a condition"),
    ("days < nan", "nan is not a finite number"),
    ("days < 1e999", "1e999 is not a finite number"),
    ("(" * (MAX_DEPTH + 1) + "days < 5" + ")" * (MAX_DEPTH + 1), f"nested more than {MAX_DEPTH}"),
    ("not " * (MAX_DEPTH + 1) + "days < 5", f"nested more than {MAX_DEPTH}"),
    ("days < 5 and " * 100 + "days < 5", f"characters; allowed: at most {MAX_CHARS:,}"),
    ("days \u2264 5", "U+2264"),                       # a look-alike of <=
    ("days < \uff15", "U+FF15"),                       # a full-width 5
    ("d\u0430ys < 5", "U+0430"),                       # a Cyrillic a
    ("days\u200b < 5", "U+200B"),                      # a zero-width space
    ("days < 5 \u202e", "U+202E"),                     # a right-to-left override
    ("attacker.units[0].tactic == 'a\u202eb'", "U+202E in a quoted text"),
    ("attacker.units[0].tactic == 'a\\'b'", "in a quoted text"),
    ("days = 5", "'=' is not an operator"),
    ("days < 5 && a > 1", "allowed: and"),
    ("days < 5 || a > 1", "allowed: or"),
    ("!(days < 5)", "allowed: not"),
    ("days < 5 and", "the end where a comparison should start"),
    ("days <", "where a value should follow days <"),
    ("(days < 5", "should be closed"),
    ("days < 5)", "a ) without its ("),
    ("days < 5 5", "'5' after a complete comparison"),
    ("days < a", "where a value should follow"),
    ("5 < 6", "where a name should be compared with 5"),
    ("days", "the end after days"),
    ("attacker.units[0].tactic > 'a'", "> does not order text"),
    ("attacker.units[0].tactic == human_wave", 'text in quotes: "human_wave"'),
    ("attacker.units[0].tactic == 5", "holds text, not numbers"),
    ("days == 'x'", "holds numbers, not text"),
    ("flag < true", "< does not order true/false"),
    ("flag == 1", "holds true/false, not numbers"),
    ("days > 'unclosed", "never closed"),
    ("`days", "never closed"),
    ("", "the end where a comparison should start"),
])
def test_hostile_conditions_are_refused_in_one_line(text, where):
    with pytest.raises(WhereError) as refused:
        parse(text, KINDS)
    message = str(refused.value)
    assert where in message and "allowed: " in message, message
    assert "\n" not in message and message.isprintable() and len(message) < 1200
    assert message.startswith("where ")


def test_an_unknown_name_lists_every_name_allowed():
    message = str(pytest.raises(WhereError, parse, "x > 1", KINDS).value)
    for name in ("a", "days", "attacker.units[0].tactic", "flag",
                 "`attacker.contingents.my force.pool`"):
        assert name in message
    assert "at character 1 ('x')" in message


def test_tokens_are_data():
    assert [(t.kind, t.text) for t in tokens("days<=-5 or not(flag==true)")] == [
        ("name", "days"), ("op", "<="), ("number", "-5"), ("keyword", "or"),
        ("keyword", "not"), ("(", "("), ("name", "flag"), ("op", "=="),
        ("boolean", "true"), (")", ")"), ("end", "")]


PIECES = ["days", "a", "flag", "attacker.units.0.tactic", "`attacker.contingents.my force.pool`",
          "<", "<=", ">", ">=", "==", "!=", "=", "and", "or", "not", "(", ")", "5", "-1.5e3",
          "1e999", "'human_wave'", '"x', "true", "inf", " ", ";", "__import__", "\u2264",
          "\u202e", "[", "]", "*", ".", "`", "\\"]
_PROPERTY = settings(max_examples=3000 if EXHAUSTIVE else 300, deadline=None,
                     derandomize=not EXHAUSTIVE, suppress_health_check=[HealthCheck.too_slow])


@_PROPERTY
@given(st.one_of(st.text(max_size=60),
                 st.lists(st.sampled_from(PIECES), max_size=30).map(" ".join),
                 st.lists(st.sampled_from(PIECES), max_size=30).map("".join)))
def test_the_parser_raises_nothing_but_its_own_error(text):
    try:
        condition = parse(text, KINDS)
    except WhereError as err:
        assert "\n" not in str(err)
        return
    assert parse(str(condition), KINDS) == condition
