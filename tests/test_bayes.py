"""Bayesian calibration by ABC (sim.bayes): exact ABC recovers a posterior known on a
grid, model choice prefers the model that made the data, the posterior of scenario keys
given a docking record contains the keys' true values, and the same seed gives the same
posterior, bit for bit, on one worker and on two."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sim.bayes import SeededSampler, abc_model, abc_smc, particle_state
from sim.calibration import FitKey, SeriesEvaluator, record_of
from sim.executors import executor_for
from sim.plots import plot_posterior, plot_posterior_predictive
from sim.replicates import band_label
from sim.scenarios import ScenarioError, read

NOISE_SD = 2.0  # persons: the Gaussian noise of the tiny decay records
TIMES = np.arange(10.0)
TRUE_RATE = 0.2


class Decay:
    """A deterministic model: 100 persons decaying at ``rate`` a day, whitened by the
    record's noise (so that observed - simulate is standard normal)."""

    name, priors = "exponential", {"rate": (0.01, 1.0)}

    def simulate(self, parameters, seed):
        return 100 * np.exp(-parameters["rate"] * TIMES) / NOISE_SD


class Linear:
    """The rival: 100 persons losing ``slope`` a day."""

    name, priors = "linear", {"slope": (0.1, 30.0)}

    def simulate(self, parameters, seed):
        return np.maximum(100 - parameters["slope"] * TIMES, 0.0) / NOISE_SD


class Noisy:
    """A stochastic model: six draws around ``level`` with spread ``scale``."""

    name, priors = "noisy", {"level": (-5.0, 5.0), "scale": (0.5, 4.0)}

    def simulate(self, parameters, seed):
        rng = np.random.default_rng(seed)
        return parameters["level"] + parameters["scale"] * rng.normal(size=6)


class Counting:
    """A model that counts its runs (in this process): none may run on bad input."""

    name, priors, runs = "counting", {"x": (0.0, 1.0)}, 0

    def simulate(self, parameters, seed):
        Counting.runs += 1
        return np.zeros(3)


def decay_record(seed: int = 1) -> np.ndarray:
    """Whitened observations of the decay at TRUE_RATE with unit noise."""
    return Decay().simulate({"rate": TRUE_RATE}, 0) + np.random.default_rng(seed).normal(
        0, 1, len(TIMES))


def grid_posterior(observed: np.ndarray) -> tuple[float, float]:
    """Posterior mean and sd of the rate under its log-uniform prior and the Gaussian
    likelihood, on a grid of 200,001 points in log rate."""
    log_rate = np.linspace(np.log(0.01), np.log(1.0), 200_001)
    rate = np.exp(log_rate)
    predicted = 100 * np.exp(-rate[:, None] * TIMES) / NOISE_SD
    log_likelihood = -0.5 * np.sum((observed - predicted) ** 2, axis=1)
    weight = np.exp(log_likelihood - log_likelihood.max())
    weight /= weight.sum()
    mean = float(np.sum(weight * rate))
    return mean, float(np.sqrt(np.sum(weight * (rate - mean) ** 2)))


def assert_same_posterior(a, b) -> None:
    """Bitwise: particles, weights, probabilities, predictive runs, diagnostics."""
    assert list(a.models) == list(b.models)
    for name in a.models:
        x, y = a.models[name], b.models[name]
        assert np.array_equal(x.particles, y.particles), name
        assert np.array_equal(x.weights, y.weights), name
        assert x.probability == y.probability, name
        assert (x.predictive is None) == (y.predictive is None)
        if x.predictive is not None:
            assert np.array_equal(x.predictive, y.predictive), name
    assert a.generations == b.generations
    assert a.runs == b.runs and a.verdict == b.verdict


def test_exact_abc_matches_the_posterior_on_a_grid():
    """Exact ABC (temperature 1) on a deterministic model with Gaussian noise gives the
    posterior the likelihood gives on a fine grid: the mean within 4 Monte-Carlo
    standard errors (posterior sd / sqrt(ESS); SMC particles are correlated, so the ESS
    of the weights flatters them), the sd within 4 of its own relative errors
    (1 / sqrt(2 ESS)), and the 95% credible interval covers the rate that made the data."""
    observed = decay_record()
    mean, sd = grid_posterior(observed)
    found = abc_smc([Decay()], observed, method="exact", population_size=200,
                    max_generations=8, predictive_runs=0, seed=2)
    summary, ess = found.best.summary["rate"], found.best.ess
    assert found.converged and found.stopped_by == "temperature", found.verdict
    assert found.generations[-1]["temperature"] == 1.0
    assert abs(summary["mean"] - mean) < 4 * sd / np.sqrt(ess), (summary, mean, ess)
    assert abs(summary["sd"] / sd - 1) < 4 / np.sqrt(2 * ess), (summary, sd, ess)
    assert summary["ci95_low"] < TRUE_RATE < summary["ci95_high"]
    assert found.runs_by_purpose["prior sample for the first temperature"] == 200


def test_model_choice_prefers_the_model_that_made_the_data():
    """Exponential decay against linear loss on a record of exponential decay: the
    exponential model takes nearly all the posterior probability, and each generation
    reports both models' probabilities."""
    found = abc_smc([Linear(), Decay()], decay_record(), method="exact",
                    population_size=60, max_generations=4, predictive_runs=0, seed=4)
    probabilities = {name: m.probability for name, m in found.models.items()}
    assert probabilities["exponential"] > 0.9, probabilities
    assert found.best.name == "exponential"
    assert sum(probabilities.values()) == pytest.approx(1.0)
    assert all(set(g["model_probabilities"]) == {"linear", "exponential"}
               for g in found.generations)
    low, high = found.intervals["rate"]
    assert low < TRUE_RATE < high


def test_the_seeded_sampler_takes_the_first_accepted_in_index_order():
    """Particle i of generation t runs with np.random seeded by particle_state(seed, t,
    i); the population is the first n accepted in index order, with the rejected ones
    before the n-th counted and recorded; every run of the batches is counted."""
    import pyabc

    def simulate_one():
        draw = np.random.uniform()  # noqa: NPY002 (pyABC's draws are from the global state)
        return pyabc.population.Particle(m=0, parameter=pyabc.Parameter(u=draw),
                                         weight=1.0, sum_stat={}, distance=draw,
                                         accepted=draw < 0.3)

    draws = []
    for i in range(1000):
        np.random.seed(particle_state(9, 3, i))  # noqa: NPY002
        draws.append(np.random.uniform())  # noqa: NPY002
    accepted_at = [i for i, u in enumerate(draws) if u < 0.3][:25]
    state = np.random.get_state()  # noqa: NPY002
    with executor_for(1) as (executor, slots):
        sampler = SeededSampler(executor, slots, master_seed=9, max_runs=10_000)
        sampler.sample_factory.record_rejected()
        sample = sampler.sample_until_n_accepted(25, simulate_one, 3)
    assert [p.parameter["u"] for p in sample.accepted_particles] == [
        draws[i] for i in accepted_at]
    assert len(sample.rejected_particles) == accepted_at[-1] + 1 - 25
    assert sampler.nr_evaluations_ == accepted_at[-1] + 1
    assert sampler.runs == sampler.generation_runs[3] >= sampler.nr_evaluations_
    after = np.random.get_state()  # noqa: NPY002
    assert all(np.array_equal(a, b) for a, b in zip(state, after, strict=True))


def test_deterministic_model_same_posterior_on_one_and_two_workers():
    """Exact ABC: the same seed gives bitwise the same particles, weights and posterior
    predictive on this process and on 2 worker processes; another seed gives others;
    the caller's np.random state is as it was."""
    np.random.seed(123)  # noqa: NPY002
    before = np.random.get_state()  # noqa: NPY002
    settings = dict(method="exact", population_size=40, max_generations=4,
                    predictive_runs=8, seed=5)
    one = abc_smc([Decay()], decay_record(), workers=1, **settings)
    after = np.random.get_state()  # noqa: NPY002
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    two = abc_smc([Decay()], decay_record(), workers=2, **settings)
    assert_same_posterior(one, two)
    other = abc_smc([Decay()], decay_record(), workers=1, **{**settings, "seed": 6})
    assert not np.array_equal(one.best.particles, other.best.particles)


def test_stochastic_model_same_posterior_whatever_the_callers_random_state():
    """ABC-SMC with a distance on a stochastic model: the same seed gives bitwise the
    same posterior whatever the caller's np.random state (on 2 workers too: the docking
    test below, on the agent-based model); another seed gives other particles."""
    observed = Noisy().simulate({"level": 1.0, "scale": 1.5}, 7)
    settings = dict(population_size=40, max_generations=3, predictive_runs=8, seed=5)
    np.random.seed(1)  # noqa: NPY002
    one = abc_smc([Noisy()], observed, **settings)
    np.random.seed(2)  # noqa: NPY002
    two = abc_smc([Noisy()], observed, **settings)
    assert_same_posterior(one, two)
    other = abc_smc([Noisy()], observed, **{**settings, "seed": 6})
    assert not np.array_equal(one.best.particles, other.best.particles)
    assert one.generations[0]["epsilon"] is None  # the first generation takes all
    assert one.generations[1]["epsilon"] > one.generations[2]["epsilon"] > 0
    json.dumps(one.as_dict(), allow_nan=False)


def test_no_main_process_step_draws_from_the_random_state(monkeypatch):
    """pyABC's steps in this process (thresholds, temperatures, kernel fits, weights,
    model probabilities) are deterministic given the populations: seeding this process's
    np.random from another stream changes nothing, for both acceptance steps and for
    model choice. (It is seeded anyway, from the master seed, in case one does.)"""
    from sim import bayes

    observed = Noisy().simulate({"level": 1.0, "scale": 1.5}, 7)
    for arguments in (dict(models=[Noisy()], observed=observed),
                      dict(models=[Linear(), Decay()], observed=decay_record(),
                           method="exact")):
        found = []
        for stream in (bayes._MAIN, 77):
            monkeypatch.setattr(bayes, "_MAIN", stream)
            found.append(abc_smc(**arguments, population_size=20, max_generations=2,
                                 predictive_runs=0, seed=5))
        assert_same_posterior(*found)


def test_the_run_budget_stops_the_run_and_the_verdict_says_so():
    observed = Noisy().simulate({"level": 1.0, "scale": 1.5}, 7)
    found = abc_smc([Noisy()], observed, population_size=30, max_generations=10,
                    max_runs=120, predictive_runs=0, seed=1)
    assert found.stopped_by == "budget"
    assert "stopped by the run budget (max_runs 120)" in found.verdict
    assert found.runs == 120 and found.runs_by_purpose["unfinished generation"] > 0
    # Exact ABC: the prior sample fits in 2 x population_size, its first generation not.
    with pytest.raises(ValueError, match="no generation finished within max_runs 60"):
        abc_smc([Decay()], decay_record(), method="exact", population_size=30, max_runs=60,
                predictive_runs=0, seed=1)


@pytest.mark.parametrize(("changes", "message"), [
    ({"population_size": 1}, "population_size 1; allowed: a whole number from 2 to 10,000"),
    ({"population_size": 10_001}, "population_size 10001"),
    ({"population_size": 2.5}, "population_size 2.5"),
    ({"population_size": True}, "population_size True"),
    ({"max_generations": 0}, "max_generations 0"),
    ({"max_runs": 10**6 + 1}, "max_runs 1000001"),
    ({"max_runs": 50}, r"max_runs 50; allowed: .* \(at least population_size"),
    ({"method": "exact", "max_runs": 150}, "at least 2 x population_size"),
    ({"min_acceptance_rate": 1.0}, "min_acceptance_rate 1.0"),
    ({"min_acceptance_rate": -0.1}, "min_acceptance_rate -0.1"),
    ({"predictive_runs": -1}, "predictive_runs -1"),
    ({"seed": -1}, "seed -1"),
    ({"workers": 0}, "workers 0"),
    ({"method": "rejection"}, "method 'rejection'; allowed: distance, exact"),
    ({"observed": [np.nan] * 3}, "observed has no finite value"),
    ({"observed": ["a", "b", "c"]}, "observed: not numbers"),
    ({"weights": [1.0, -1.0, 1.0]}, "weights of shape"),
    ({"weights": [1.0, 1.0]}, "weights of shape"),
    ({"method": "exact", "weights": [1.0, 1.0, 1.0]}, "weights with method 'exact'"),
    ({"models": []}, "models: list; allowed: a list of 1 to 20"),
    ({"models": [Counting(), Counting()]}, "model name 'counting'; allowed: .*unique"),
    ({"population_size": 10_000, "max_runs": 10**6, "observed": np.zeros(10_000)},
     "population_size 10,000 x 10,000 observed elements"),
])
def test_bad_settings_are_refused_in_one_line_before_any_run(changes, message):
    Counting.runs = 0
    arguments = {"models": [Counting()], "observed": np.zeros(3), "population_size": 100,
                 "max_runs": 1000, **changes}
    models, observed = arguments.pop("models"), arguments.pop("observed")
    with pytest.raises(ValueError, match=message) as error:
        abc_smc(models, observed, **arguments)
    assert "\n" not in str(error.value)
    assert Counting.runs == 0


def test_bad_model_objects_are_refused():
    class NoSimulate:
        name, priors = "none", {"x": (0.0, 1.0)}

    class BadPrior:
        name, priors = "bad", {"x": (1.0, 1.0)}
        simulate = Counting.simulate

    with pytest.raises(ValueError, match="model 'none' has no simulate"):
        abc_smc([NoSimulate()], np.zeros(3))
    with pytest.raises(ValueError, match=r"prior of 'x' \(1.0, 1.0\); allowed: .*low < high"):
        abc_smc([BadPrior()], np.zeros(3))


# ---------------------------------------------------------------------------------------
# Scenario keys of the agent-based model, on a docking record.

KEYS = ["defender.aimed_kills_per_shooter_per_day", "attacker.aimed_kills_per_shooter_per_day"]
TRUE_KILLS = 0.05
BOTH_STRENGTHS = ["attacker_strength", "defender_strength"]
DOCKING = dict(population_size=50, max_generations=4, min_acceptance_rate=0.1,
               predictive_runs=20, seed=1)


@pytest.fixture(scope="module")
def square_data() -> dict:
    """The square-law docking scenario with 4 fire substeps a day instead of 24."""
    _, data = read("lanchester_square")
    data["combat"]["substeps_per_day"] = 4
    return data


@pytest.fixture(scope="module")
def docking_record(square_data):
    """One 8-day run with both kill rates at 0.05, seed 99: the 'observed' battle."""
    evaluator = SeriesEvaluator(square_data, [FitKey(k, 0.02, 0.1) for k in KEYS],
                                BOTH_STRENGTHS, days=8)
    return record_of(evaluator([TRUE_KILLS, TRUE_KILLS], seed=99), BOTH_STRENGTHS)


@pytest.fixture(scope="module")
def docking_posterior(square_data, docking_record):
    """Both kill rates' posterior (priors 0.0125 to 0.2, log-uniform: the --fit default
    of the scenario's value / 4 to x 4), on 2 worker processes."""
    return abc_model(docking_record, square_data, KEYS, workers=2, **DOCKING)


@pytest.mark.slow
@pytest.mark.xdist_group("bayes")
def test_abc_posterior_on_a_docking_record_contains_the_true_keys(docking_posterior):
    """Acceptance: the 95% credible intervals of both kill rates contain 0.05, and span
    less than half the prior (a factor under 8 against its 16)."""
    for key in KEYS:
        low, high = docking_posterior.intervals[key]
        assert low < TRUE_KILLS < high, (key, low, high)
        assert high / low < 8, (key, low, high)
    assert docking_posterior.series == BOTH_STRENGTHS
    assert docking_posterior.scenario == "lanchester_square"
    assert docking_posterior.best.predictive.shape == (20, 2, 9)
    assert docking_posterior.runs_by_purpose["replicates weighing the series"] == 24
    assert len(docking_posterior.generations) == 4
    row = docking_posterior.generations[-1]
    assert set(row) == {"generation", "epsilon", "temperature", "acceptance_rate",
                        "effective_sample_size", "runs", "model_probabilities",
                        "mean_shift_sd"}
    assert set(row["mean_shift_sd"]["lanchester_square"]) == set(KEYS)
    text = json.dumps(docking_posterior.as_dict(), allow_nan=False)
    assert "verdict" in text and docking_posterior.verdict.startswith(
        ("converged", "not converged"))


@pytest.mark.slow
@pytest.mark.xdist_group("bayes")
def test_abc_posterior_on_a_docking_record_is_the_same_on_one_worker(
        square_data, docking_record, docking_posterior):
    """Acceptance: the same seeds give the same posterior on 1 and 2 workers."""
    one = abc_model(docking_record, square_data, KEYS, workers=1, **DOCKING)
    assert_same_posterior(one, docking_posterior)


@pytest.mark.slow
@pytest.mark.xdist_group("bayes")
def test_posterior_plots_are_written(tmp_path, docking_record, docking_posterior):
    marginals = plot_posterior(docking_posterior, tmp_path / "posterior.png",
                               truth=dict.fromkeys(KEYS, TRUE_KILLS))
    predictive = plot_posterior_predictive(docking_record, docking_posterior,
                                           tmp_path / "predictive.png")
    for path in (marginals, predictive):
        assert path.read_bytes()[:4] == b"\x89PNG"
    # The band's legend: percentiles of 20 runs or more, the range of fewer.
    assert band_label(20, "posterior predictive") == "posterior predictive, 5-95% of 20 runs"
    assert band_label(19, "posterior predictive") == "posterior predictive, range of 19 runs"


def test_abc_model_refuses_bad_keys_and_records_before_any_run(square_data,
                                                               docking_record):
    with pytest.raises(ScenarioError, match="--fit defender.no_such_key"):
        abc_model(docking_record, square_data, ["defender.no_such_key"])
    with pytest.raises(ScenarioError, match="a key is named twice"):
        abc_model(docking_record, square_data, [KEYS[0], KEYS[0]])
    with pytest.raises(ScenarioError, match="no key"):
        abc_model(docking_record, square_data, [])
    empty = record_of(np.full((1, 9), np.nan), ["attacker_strength"])
    with pytest.raises(ValueError, match="0 observed series over 9 days"):
        abc_model(empty, square_data, KEYS)
    with pytest.raises(ValueError, match="population_size 0"):
        abc_model(docking_record, square_data, KEYS, population_size=0)
    with pytest.raises(ValueError, match="spread_replicates 1"):
        abc_model(docking_record, square_data, KEYS, spread_replicates=1)


# ---------------------------------------------------------------------------------------
# The laws, by exact ABC, and `attrition calibrate --bayes`.


def _law_record():
    from sim.lawfit import Record, trajectory

    path = trajectory("square", 0.02, 0.03, 2000, 1500, 25)
    return Record.from_trajectory(path, noise_sd=20.0, rng=np.random.default_rng(11),
                                  autocorrelation=0.4)


@pytest.mark.slow
@pytest.mark.xdist_group("bayes")
def test_abc_laws_chooses_the_law_and_holds_the_truth():
    """A square-law record (AR(1) errors): the square law is far more probable than the
    linear, and each side's true losses a day lie in their 95% credible intervals; the
    posterior predictive is in persons, a run per draw. (That exact ABC gives the same
    posterior on 1 and 2 workers is tested above on a model of its own.)"""
    from sim.bayes import abc_laws

    record = _law_record()
    posterior = abc_laws(record, ("square", "linear"), population_size=60,
                         max_generations=6, predictive_runs=20, seed=4)
    assert posterior.models["square"].probability > 0.9, posterior.verdict
    assert posterior.converged, posterior.verdict
    truth = {"attacker_losses_per_day": 0.03 * 1500, "defender_losses_per_day": 0.02 * 2000}
    for name, value in truth.items():
        low, high = posterior.intervals[name]
        assert low <= value <= high, (name, low, high)
    assert posterior.best.predictive.shape == (20, 2, 26)
    assert abs(np.mean(posterior.best.predictive[:, 0, 0]) - 2000) < 100


@pytest.mark.parametrize("flag", ["--population", "--generations", "--max-runs"])
def test_calibrate_bayes_flags_need_bayes(tmp_path, monkeypatch, capsys, flag):
    """--population, --generations and --max-runs without --bayes: one line, exit 2,
    nothing written."""
    from sim.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "b.csv").write_text("day,attacker_strength,defender_strength\n"
                                    + "".join(f"{d},{2000 - 40 * d},{1500 - 45 * d}\n"
                                              for d in range(12)))
    assert main(["calibrate", "b.csv", "--law", "square", flag, "50", "--out", "out"]) == 2
    err = capsys.readouterr().err
    assert f"{flag}: needs --bayes" in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_calibrate_bayes_writes_the_posterior(tmp_path, monkeypatch, capsys):
    """`attrition calibrate --law square --bayes` prints the verdict, the posterior and
    its convergence, and writes the posterior files beside estimates.json."""
    import pandas as pd

    from sim.cli import main

    monkeypatch.chdir(tmp_path)
    record = _law_record()
    pd.DataFrame({"day": range(26), **{k: v.round() for k, v in record.observed.items()}}
                 ).to_csv(tmp_path / "b.csv", index=False)
    assert main(["calibrate", "b.csv", "--law", "square", "--bayes", "--population", "30",
                 "--generations", "3", "--workers", "1", "--no-progress", "--out",
                 "out"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("The record supports the square law")
    assert "Bayesian calibration" in out and "temperature" in out
    for name in ("estimates.json", "posterior.png", "posterior_predictive.png",
                 "posterior_particles.csv"):
        assert (tmp_path / "out" / name).is_file(), name
    estimates = json.loads((tmp_path / "out" / "estimates.json").read_text())
    assert estimates["bayes"]["best_model"] == "square"
    assert estimates["verdict"].startswith("The record supports")
