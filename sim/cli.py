"""The ``attrition`` command (also ``python -m sim``): a thin layer over :mod:`sim`.

    attrition list                                  # named scenarios
    attrition check scenarios/convict_waves.toml    # validate files
    attrition run convict_waves --seed 1 --replicates 10 --set attacker.drones=40
    attrition demo                                  # the classroom page on 127.0.0.1:8765
    attrition calibrate battle.csv --law all        # fit Lanchester laws to a record
    attrition calibrate battle.csv --scenario fortified_defense --fit sector.cover

Bad input gets one line on stderr naming the file, the key and what is allowed, and
exit status 2; ``run`` writes its results whole or not at all.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import tomli_w

from sim import RunResult, Scenario, __version__, scenarios
from sim.replicates import replicate_seeds, run_replicates, summarise

DEFAULT_SCENARIO = "human_wave_foreign_contingent"
DEMO_SCENARIO = "recruit_pool_exhaustion"  # sim.classroom.DEMO_SCENARIO, without Solara
FORMATS = ("csv", "parquet")
# Law names of `attrition calibrate` ("log" is short for the logarithmic law).
LAW_CHOICES = ("square", "linear", "mixed", "log", "power")
_ROWS = (  # (label, summary key or {side}-template) of the terminal table
    ("killed", "{side}_killed"), ("wounded", "{side}_wounded"),
    ("lost for good (disabled)", "{side}_permanently_lost"),
    ("personnel at end", "{side}_personnel"),
    ("casualties to aimed fire", "{side}_casualties_aimed"),
    ("casualties to area fire", "{side}_casualties_area"),
    ("casualties to mines", "{side}_casualties_mines"),
    ("training days lost", "{side}_training_days_lost"),
    ("pool exhausted (day)", "{side}_pool_exhausted_day"),
    ("pool exhaustion, projected (day)", "{side}_projected_exhaustion_day"),
    ("recruits a day, mean", "{side}_mean_daily_recruits"),
    ("permanent losses a day, mean", "{side}_mean_daily_permanent_losses"),
)
_SINGLE = (("loss exchange ratio", "loss_exchange_ratio"),
           ("ground gained by attacker (m)", "ground_gained_m"),
           ("attacker casualties per km", "attacker_casualties_per_km"))


class UsageError(Exception):
    """Bad input: printed as one line, exit status 2."""


def _int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is too small; allowed: {minimum} or more")
        return value

    return parse


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not positive; allowed: persons > 0")
    return value


def _port(text: str) -> int:
    value = _int_at_least(0)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{value} is too large; allowed: 0 to 65535")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """One line, not the usage block: what is wrong and where to look."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_executor_options(command: argparse.ArgumentParser, what: str) -> None:
    """--workers and --scheduler: where a sweep's or a calibration's runs go
    (``sim.sweep.executor_for``); the numbers do not depend on them."""
    command.add_argument("--workers", type=_int_at_least(1), default=os.cpu_count() or 1,
                         metavar="N", help=f"local worker processes for {what} (default: the "
                                           f"number of cores, {os.cpu_count() or 1}); 1 runs "
                                           f"in this process; the numbers do not depend on it")
    command.add_argument("--scheduler", default=None, metavar="ADDRESS",
                         help=f"run {what} on an existing Dask distributed cluster instead, "
                              f"e.g. tcp://10.0.0.5:8786")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="attrition",
        description="Agent-based simulator of military attrition (one step = one day). "
                    "docs/ODD.md describes the model and every parameter's unit and default.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.add_parser("list", help="list the named scenarios with a line on each",
                        description="List the named scenarios (scenarios/*.toml): name and "
                                    "what each shows.")
    check = commands.add_parser(
        "check", help="validate scenario files",
        description="Validate scenario files (or names): every key known, every value of "
                    "the right type and in range, bases found. Prints one line per file; "
                    "exit status 2 if any is bad.")
    check.add_argument("files", nargs="+", metavar="FILE", help="scenario file or name")
    run_cmd = commands.add_parser(
        "run", help="run a scenario, write its results and print its summary",
        description="Run a named scenario or a scenario file. Writes the daily record, the "
                    "event log, summary.json, the resolved scenario and PNG plots into "
                    "--out, and prints a summary table (casualties in persons, ground in m).")
    run_cmd.add_argument("scenario", nargs="?", default=DEFAULT_SCENARIO, metavar="NAME|FILE",
                         help=f"scenario name (see attrition list) or TOML file (default: "
                              f"{DEFAULT_SCENARIO})")
    run_cmd.add_argument("--seed", type=_int_at_least(0), default=0,
                         help="random seed (default: 0); the same seed gives the same numbers")
    run_cmd.add_argument("--days", type=_int_at_least(1), default=None,
                         help="days to simulate at most (default: the scenario's max_days)")
    run_cmd.add_argument("--replicates", type=_int_at_least(1), default=1, metavar="N",
                         help="runs with seeds SEED, SEED+1, ..., SEED+N-1; the summary then "
                              "gives per key the mean and the 95%% confidence interval of "
                              "the mean (default: 1)")
    run_cmd.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                         dest="overrides",
                         help="override a scenario key, e.g. --set attacker.drones=40 or "
                              "--set 'attacker.units[0].tactic=infiltration'; the value is a "
                              "TOML literal (a bare word is a string); repeatable")
    run_cmd.add_argument("--out", type=Path, default=None, metavar="DIR",
                         help="new or empty directory for the results (default: a fresh "
                              "runs/NAME-TIMESTAMP)")
    run_cmd.add_argument("--format", choices=FORMATS, default="csv",
                         help="format of the daily record and event log (default: csv)")
    run_cmd.add_argument("--json", action="store_true",
                         help="print only the summary, as JSON, on stdout")
    run_cmd.add_argument("--animate", type=Path, default=None, metavar="FILE",
                         help="also write an animation of the front and the live charts "
                              "of the first replicate for slides: FILE.gif, or FILE.mp4 "
                              "where ffmpeg is installed; one frame per day (see "
                              "--animate-every)")
    run_cmd.add_argument("--animate-every", type=_int_at_least(1), default=1, metavar="DAYS",
                         help="days between frames of --animate; the first and last day are "
                              "always frames (default: 1)")
    sweep = commands.add_parser(
        "sweep", help="run an experiment: a design of parameter values with replicates",
        description="Run an experiment file (experiments/*.toml): every design point times "
                    "every replicate, each run seeded from the master seed, the point and "
                    "the replicate. Results stream to Parquet as runs finish; the same "
                    "command again resumes, skipping the runs already stored.")
    sweep.add_argument("experiment", metavar="EXPERIMENT",
                       help="experiment file, or a name in experiments/")
    _add_executor_options(sweep, "the sweep's runs")
    sweep.add_argument("--vary", action="append", default=[], metavar="KEY=SPEC",
                       help="add or replace a varied parameter, Hydra style: key=a,b,c, "
                            "key=range(start,stop[,step]) (stop excluded) or "
                            "key=interval(low,high); repeatable")
    sweep.add_argument("--out", type=Path, default=None, metavar="DIR",
                       help="folder for runs.parquet, series.parquet and manifest.json "
                            "(default: sweeps/EXPERIMENT-HASH, the same for the same "
                            "experiment, so that a rerun resumes)")
    sweep.add_argument("--dry-run", action="store_true",
                       help="print the number of runs and the design, run nothing")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    report = commands.add_parser(
        "report", help="plots and tables of a finished sweep",
        description="Write report.md and figures into a sweep's folder: each metric "
                    "against the varied parameters (mean and 95% interval over "
                    "replicates), heatmaps for two-parameter grids, and Sobol or Morris "
                    "sensitivity indices with their confidence bars.")
    report.add_argument("folder", type=Path, metavar="DIR", help="a sweep's output folder")
    calibrate = commands.add_parser(
        "calibrate", help="fit Lanchester laws or scenario keys to a battle record",
        description="Fit Lanchester laws to a CSV of daily observations by least squares "
                    "and compare them by AIC, or, with --scenario and --fit, fit scenario "
                    "keys so that the model's replicate mean matches the record (simulated "
                    "moments with common random numbers). The CSV has a 'day' column and "
                    "any of attacker_strength, defender_strength, attacker_casualties, "
                    "defender_casualties (cumulative), attacker_reinforcements, "
                    "defender_reinforcements (cumulative arrivals), in persons. Missing "
                    "days, falling cumulative counts and outliers are reported and left "
                    "out. Estimates come with 95% intervals; the folder gets "
                    "estimates.json and plots of observed against fitted, with residuals "
                    "(fit.png for laws, model_fit.png for the model).")
    calibrate.add_argument("data", type=Path, metavar="DATA.csv", help="the battle record")
    calibrate.add_argument("--law", choices=(*LAW_CHOICES, "all"), default=None,
                           help="law to fit (default: all, compared by AIC, unless "
                                "--scenario is given); the power law has a side lose "
                                "coefficient x enemy^p x own^q a day")
    calibrate.add_argument("--reinforcements", type=Path, default=None, metavar="FILE",
                           help="reinforcement schedule for the law fits, a CSV with day, "
                                "side (attacker or defender) and persons arriving that day")
    calibrate.add_argument("--initial-attacker", type=_positive_number, default=None,
                           metavar="PERSONS", help="the attacker's known strength on the "
                                                   "first day, for the law fits (default: "
                                                   "fitted)")
    calibrate.add_argument("--initial-defender", type=_positive_number, default=None,
                           metavar="PERSONS", help="the defender's known strength on the "
                                                   "first day, for the law fits (default: "
                                                   "fitted)")
    calibrate.add_argument("--scenario", default=None, metavar="NAME|FILE",
                           help="calibrate this scenario's keys (--fit) to the record: its "
                                "strength and casualty series against the model's "
                                "personnel and killed + wounded, day 0 on day 0, for as "
                                "many days as the record")
    calibrate.add_argument("--fit", action="append", default=[], metavar="KEY[=RANGE]",
                           help="a scenario key to fit, e.g. --fit "
                                "defender.aimed_kills_per_shooter_per_day, searched from "
                                "its value / 4 to x 4 within its limits, or --fit "
                                "'sector.fortification_level=interval(0.2,0.9)'; repeatable")
    calibrate.add_argument("--replicates", type=_int_at_least(3), default=10, metavar="N",
                           help="model runs per evaluation, with the same N seeds at every "
                                "evaluation (default: 10)")
    calibrate.add_argument("--seed", type=_int_at_least(0), default=0,
                           help="master seed of the replicates (default: 0)")
    _add_executor_options(calibrate, "the model runs")
    calibrate.add_argument("--no-progress", action="store_true", help="no progress bar")
    calibrate.add_argument("--out", type=Path, default=None, metavar="DIR",
                           help="new or empty directory for estimates.json and the plots "
                                "(default: a fresh runs/calibrate-NAME-TIMESTAMP)")
    calibrate.add_argument("--json", action="store_true",
                           help="print only the estimates, as JSON, on stdout")
    demo = commands.add_parser(
        "demo", help="serve the classroom page (works offline)",
        description="Serve the interactive classroom page (Mesa's SolaraViz): the front, "
                    "live charts, and controls for tactic, training, fortification, drones, "
                    "recruitment, training length and seed; Step, Play and Reset. Every "
                    "asset is served from this machine. Lesson notes are in docs/teaching/.")
    demo.add_argument("scenario", nargs="?", default=DEMO_SCENARIO, metavar="NAME|FILE",
                      help=f"scenario to start from (default: {DEMO_SCENARIO})")
    demo.add_argument("--port", type=_port, default=8765,
                      help="port to serve on; 0 picks a free one (default: 8765)")
    demo.add_argument("--host", default="127.0.0.1",
                      help="address to listen on; 0.0.0.0 lets other machines on the "
                           "network (a class) connect (default: 127.0.0.1, this machine only)")
    return parser


# ------------------------------------------------------------------ commands
def _list() -> int:
    named = scenarios.available()
    width = max(map(len, named), default=0)
    for name, path in named.items():
        print(f"{name:<{width}}  {scenarios.description(path)}")
    return 0


def _check(files: list[str]) -> int:
    status = 0
    for file in files:
        try:
            scenario = scenarios.load(file)
        except scenarios.ScenarioError as err:
            print(f"attrition: error: {err}", file=sys.stderr)
            status = 2
            continue
        print(f"ok: {file} ({scenario.name}: {scenario.max_days} days, "
              f"{sum(g.count for g in scenario.attacker.units)} attacking and "
              f"{sum(g.count for g in scenario.defender.units)} defending units)")
    return status


def _run(args: argparse.Namespace) -> int:
    scenario = scenarios.load(args.scenario, args.overrides, days=args.days)
    if args.animate is not None:
        _check_animation_target(args.animate)
    out = args.out if args.out is not None else _fresh_run_dir(scenario.name)
    staging = _stage(out)
    try:
        results = run_replicates(scenario, args.seed, args.replicates)
        summary = run_summary(scenario, args.seed, results)
        _write(staging, scenario, results, summary, args.format)
        if args.animate is not None:
            # The first replicate again, keeping its fronts: the same seed gives the same
            # run, and the other replicates need not hold a front a day in memory. The
            # file appears whole or not at all (sim.animation writes beside it, then moves).
            from sim import run
            from sim.animation import write_animation

            animated = run(scenario, seed=args.seed, front_every_days=args.animate_every)
            write_animation(animated, args.animate, title=f"{scenario.name}, seed {args.seed}")
        _publish(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_table(summary))
        print(f"\nResults in {out}/ (daily.{args.format}, events.{args.format}, "
              f"summary.json, scenario.toml, *.png)")
        if args.animate is not None:
            print(f"Animation in {args.animate}")
    return 0


def _check_animation_target(path: Path) -> None:
    """Before the run: a format we can write, into a folder that exists."""
    from sim.animation import check_target

    try:
        check_target(path)
    except ValueError as err:
        raise UsageError(f"--animate {path}: {err}") from None
    if path.is_dir() or not path.resolve().parent.is_dir():
        raise UsageError(f"--animate {path}: not a file in an existing folder; allowed: a "
                         f"new or existing file such as slides/run.gif")


def _sweep(args: argparse.Namespace) -> int:
    from sim import sweep
    from sim.experiments import design_points, load_experiment

    exp = load_experiment(args.experiment, args.vary)
    path = scenarios.find(args.experiment, kind="experiments")
    out = args.out or Path("sweeps") / f"{path.stem}-{exp.fingerprint()[:8]}"
    if args.dry_run:
        points = design_points(exp)
        print(f"{path}: {exp.question}")
        print(f"design {exp.design}: {len(points)} points x {exp.replicates} replicates = "
              f"{len(points) * exp.replicates} runs into {out}/")
        frame = pd.DataFrame(points)
        print(frame.head(20).to_string())
        if len(points) > 20:
            print(f"... and {len(points) - 20} more points")
        return 0
    evaluate = sweep.scenario_evaluator(exp, path)
    try:
        result = sweep.run_sweep(exp, out, evaluate, workers=args.workers,
                                 scheduler=args.scheduler, experiment_file=str(path),
                                 progress=not args.no_progress)
    except KeyboardInterrupt:
        stored = len(sweep.stored_runs(out))
        print(f"attrition: interrupted; {stored} runs stored in {out}/; the same command "
              f"resumes", file=sys.stderr)
        return 130
    print(f"{result.total} runs: {result.ok} ok, {result.failed} failed, {result.skipped} "
          f"already stored; {result.seconds:.1f} s. Results in {out}/{sweep.RUNS_FILE}; "
          f"attrition report {out}")
    runs = sweep.read_runs(out)
    for metric in exp.metrics:
        values = pd.to_numeric(runs[metric], errors="coerce")
        if values.notna().any():
            print(f"  {metric}: mean {values.mean():,.4g}, from {values.min():,.4g} to "
                  f"{values.max():,.4g} over {int(values.notna().sum())} runs")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    """Fit the chosen laws and/or scenario keys to the record, print the results, write
    the folder (whole or not at all)."""
    from tqdm import tqdm

    from sim import plots
    from sim.calibration import calibrate_model
    from sim.lawfit import compare_laws
    from sim.records import RecordError, read_record

    if args.fit and args.scenario is None:
        raise UsageError("--fit: needs --scenario; allowed: --scenario NAME --fit KEY")
    if args.scenario is not None and not args.fit:
        raise UsageError("--scenario: names no key to fit; allowed: one or more --fit KEY, "
                         "e.g. --fit defender.aimed_kills_per_shooter_per_day")
    if args.law is None and args.scenario is None:
        args.law = "all"
    laws = () if args.law is None else LAW_CHOICES if args.law == "all" else (args.law,)
    laws = tuple("logarithmic" if law == "log" else law for law in laws)
    try:
        record, notes = read_record(args.data, str(args.data), args.reinforcements,
                                    args.initial_attacker, args.initial_defender)
    except RecordError as err:
        raise UsageError(str(err)) from None
    if args.scenario is not None:
        scenarios.read(args.scenario)  # an unknown scenario is reported before any work
    out = args.out if args.out is not None else _fresh_run_dir(f"calibrate-{args.data.stem}")
    staging = _stage(out)
    try:
        try:
            fits = compare_laws(record, laws) if laws else []
        except ValueError as err:
            raise UsageError(f"{args.data}: {err}") from None
        model_fit = None
        if args.scenario is not None:
            if record.reinforcements.any():
                notes.append(f"{args.data}: the reinforcements serve the law fits only; the "
                             f"scenario's force generation makes the model's arrivals")
            for side in ("attacker", "defender"):
                if getattr(args, f"initial_{side}") is not None:
                    notes.append(f"--initial-{side} serves the law fits only; the scenario "
                                 f"sets the model's initial strengths")
            bars: list = []

            def progress(runs: int) -> None:
                # Made on the first finished run: a bad key is reported without a bar.
                if not bars:
                    bars.append(tqdm(unit="run", desc="model runs", file=sys.stderr,
                                     dynamic_ncols=True, disable=args.no_progress))
                bars[0].update(runs)

            try:
                model_fit = calibrate_model(record, args.scenario, args.fit,
                                            replicates=args.replicates, seed=args.seed,
                                            workers=args.workers, scheduler=args.scheduler,
                                            progress=progress)
            except scenarios.ScenarioError:
                raise
            except ValueError as err:
                raise UsageError(f"{args.data}: {err}") from None
            finally:
                for bar in bars:
                    bar.close()
        estimates: dict[str, Any] = {"data": str(args.data), "notes": notes}
        if fits:
            estimates |= {"best": fits[0].law, "fits": [fit.as_dict() for fit in fits]}
            plots.plot_law_fits(record, fits, staging / "fit.png", title=str(args.data))
        if model_fit is not None:
            estimates["model"] = model_fit.as_dict()
            plots.plot_model_fit(record, model_fit, staging / "model_fit.png",
                                 title=str(args.data))
        estimates["package_version"] = __version__
        text = json.dumps(json_ready(estimates), indent=2, allow_nan=False)
        (staging / "estimates.json").write_text(text + "\n")
        _publish(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if args.json:
        print(text)
        return 0
    for note in notes + (model_fit.notes if model_fit else []):
        print(f"note: {note}", file=sys.stderr)
    if fits:
        print(format_fits(fits))
    if model_fit is not None:
        print(("\n" if fits else "") + format_model_fit(model_fit))
    written = ", ".join(f for f in ("estimates.json", "fit.png" if fits else "",
                                    "model_fit.png" if model_fit else "") if f)
    print(f"\nResults in {out}/ ({written})")
    return 0


def json_ready(value: Any) -> Any:
    """``value`` with every float that is not finite (an interval not found) as None,
    which JSON can hold."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def format_model_fit(fit) -> str:
    """The model calibration: each key's estimate, standard error, 95% interval and
    search range, and the replicate mean's fit to each observed series."""
    lines = [f"model {fit.scenario}: {fit.evaluations} evaluations x {fit.replicates} "
             f"replicates = {fit.runs} runs (common random numbers)"]
    for key, value in fit.estimates.items():
        low, high = fit.intervals[key]
        se = fit.standard_errors[key]
        spread = (f" (standard error {se:.3g}) [{low:.4g}, {high:.4g}]"
                  if math.isfinite(se) else " (not identified)")
        lines.append(f"    {key}  {value:.4g}{spread}, searched {fit.bounds[key][0]:.4g} to "
                     f"{fit.bounds[key][1]:.4g}")
    for series, m in fit.metrics.items():
        lines.append(f"    fit to {series:<19} RMSE {m['rmse']:.4g}, MAPE {m['mape']:.2f}%, "
                     f"R^2 {m['r2']:.4f}")
    lines.append(f"    {fit.runs_further:.0%} of the runs at the estimate are further from "
                 f"the model's mean than the record")
    return "\n".join(lines)


def format_fits(fits: list) -> str:
    """The comparison table: a row per law, best (lowest AIC) first, with each
    parameter's estimate and 95% interval, and the fit to each observed series."""
    def number(value: float) -> str:
        return "n/a" if value != value else f"{value:.4g}"

    best = fits[0].aic
    lines = []
    for fit in fits:
        lines.append(f"{fit.law}: AIC {fit.aic:.1f} (+{fit.aic - best:.1f}), BIC {fit.bic:.1f}, "
                     f"{fit.n} observations")
        for name, value in fit.estimates.items():
            low, high = fit.intervals[name]
            interval = "" if low != low else f" [{number(low)}, {number(high)}]"
            lines.append(f"    {name:<26} {number(value)}{interval}")
        for series, m in fit.metrics.items():
            lines.append(f"    fit to {series:<19} RMSE {m['rmse']:.4g}, MAPE "
                         f"{m['mape']:.2f}%, R^2 {m['r2']:.4f}")
    return "\n".join(lines)


def _demo(args: argparse.Namespace) -> int:
    """Check the scenario and the address, then serve sim.app with Solara until Ctrl-C."""
    path, _ = scenarios.read(args.scenario)
    scenario = scenarios.load(path)
    port = _free_port(args.host, args.port)
    env = os.environ | {
        "ATTRITION_DEMO_SCENARIO": str(path),
        # Solara reports usage to an outside host unless told not to: a classroom
        # network may block it, and the page must not wait on it.
        "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
        # Solara warns on every page load over plain http to an address other than
        # "localhost", which a class on 127.0.0.1 or the school network always is.
        "PYTHONWARNINGS": ",".join(filter(None, [
            os.environ.get("PYTHONWARNINGS"),
            "ignore:Cookies with samesite=none require https"])),
    }
    command = [sys.executable, "-m", "solara", "run", "sim.app", "--host", args.host,
               "--port", str(port), "--production", "--no-open", "--no-check-version",
               "--log-level", "warning"]
    where = f"http://{args.host}:{port}/"
    if args.host in ("0.0.0.0", "::"):
        where = (f"http://127.0.0.1:{port}/ here, and at this machine's network address, "
                 f"port {port}, for the class")
    print(f"attrition demo: {scenario.name} at {where} (Ctrl-C stops it)", flush=True)
    # The server takes this process's place, so that Ctrl-C and a kill reach it alone.
    os.execve(sys.executable, command, env)
    return 0  # not reached


def _free_port(host: str, port: int) -> int:
    """``port`` if it can be listened on at ``host`` (0: any free port), or UsageError."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise UsageError(f"--host {host}: unknown address ({err.strerror}); allowed: an "
                         f"address of this machine, e.g. 127.0.0.1 or 0.0.0.0") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(address)
        except OSError as err:
            raise UsageError(f"--port {port}: cannot listen on {host}:{port} "
                             f"({err.strerror}); allowed: a free port, or 0 for any") from None
        return probe.getsockname()[1]


def _report(folder: Path) -> int:
    from sim.report import write_report

    path = write_report(folder)
    print(f"Report in {path}")
    return 0


def run_summary(scenario: Scenario, seed: int, results: list[RunResult]) -> dict[str, Any]:
    """What ``summary.json`` holds: scenario, seed(s), package version, then the run
    summary's keys (per key mean and interval with more than one replicate)."""
    head: dict[str, Any] = {"scenario": scenario.name, "seed": seed,
                            "replicates": len(results), "package_version": __version__}
    if len(results) == 1:
        return head | results[0].summary
    head["seeds"] = replicate_seeds(seed, len(results))
    return head | summarise([r.summary for r in results])


# -------------------------------------------------------------------- output
def _fresh_run_dir(name: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out, k = Path("runs") / f"{name}-{stamp}", 1
    while out.exists():
        k += 1
        out = Path("runs") / f"{name}-{stamp}-{k}"
    return out


def _stage(out: Path) -> Path:
    """A staging directory beside ``out``, made before the run so that an unusable
    ``--out`` is reported at once; results move into ``out`` only when all are written."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"--out {out}: exists and is not an empty directory; allowed: a "
                         f"new or empty directory")
    try:
        out.resolve().parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.resolve().parent))
    except OSError as err:
        raise UsageError(f"--out {out}: cannot write there ({err.strerror or err}); "
                         f"allowed: a directory you can write") from None


def _publish(staging: Path, out: Path) -> None:
    if out.is_dir():
        out.rmdir()  # empty, checked before the run
    # mkdtemp makes the folder private; give it the mode a new folder would have.
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)
    os.replace(staging, out)


def _write(folder: Path, scenario: Scenario, results: list[RunResult], summary: dict,
           fmt: str) -> None:
    from sim import plots

    seed_list = summary.get("seeds", [summary["seed"]])
    daily = pd.concat([r.daily.assign(seed=s) for s, r in zip(seed_list, results, strict=True)],
                      ignore_index=True)
    events = pd.concat([r.events.assign(seed=s) for s, r in zip(seed_list, results,
                                                                  strict=True)],
                       ignore_index=True)
    daily = daily[["seed", *[c for c in daily.columns if c != "seed"]]]
    events = events[["seed", *[c for c in events.columns if c != "seed"]]]
    for frame, stem in ((daily, "daily"), (events, "events")):
        if fmt == "parquet":
            frame.to_parquet(folder / f"{stem}.parquet", index=False)
        else:
            frame.to_csv(folder / f"{stem}.csv", index=False)
    (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (folder / "scenario.toml").write_text(resolved_toml(scenario))
    title = f"{scenario.name}, seed {summary['seed']}"
    if len(results) > 1:
        title += f" to {seed_list[-1]}"
    plots.plot_strengths(daily, folder / "strengths.png", title)
    plots.plot_casualties(daily, folder / "casualties.png", title)
    plots.plot_force_generation(daily, folder / "force_generation.png", title)
    plots.plot_front_map(results[0].front, folder / "front_map.png",
                         f"{scenario.name}, seed {summary['seed']}")


def resolved_toml(scenario: Scenario) -> str:
    """The scenario with every value spelled out, as a TOML file that loads back to it."""
    header = (f"# {scenario.name}, resolved: every key, after bases and overrides "
              f"(attrition-sim {__version__}).\n")
    return header + tomli_w.dumps(scenario.model_dump(exclude_none=True))


def format_table(summary: dict[str, Any]) -> str:
    """The terminal's compact summary: a row per measure, a column per side."""
    def cell(value: Any) -> str:
        if isinstance(value, dict) and "mean" in value:
            if value["ci95_low"] is None:
                return cell(value["mean"])
            return f"{cell(value['mean'])} [{cell(value['ci95_low'])}, {cell(value['ci95_high'])}]"
        if isinstance(value, dict):
            return ", ".join(f"{k} x{v}" for k, v in value.items())
        if value is None:
            return "n/a"
        if isinstance(value, float):
            if not math.isfinite(value):
                return str(value)
            if abs(value) >= 100 or value.is_integer():
                return f"{value:,.0f}"
            return f"{value:,.2f}"
        return f"{value:,}" if isinstance(value, int) else str(value)

    n = summary["replicates"]
    seeds = f"seed {summary['seed']}" if n == 1 else \
        f"seeds {summary['seed']}-{summary['seed'] + n - 1} (mean [95% CI])"
    lines = [f"{summary['scenario']}, {seeds}: {cell(summary['days'])} days, "
             f"stop: {cell(summary['stop_reason'])}, winner: {cell(summary['winner'])}", ""]
    rows = [(label, cell(summary[key.format(side='attacker')]),
             cell(summary[key.format(side='defender')])) for label, key in _ROWS]
    width = max(len(label) for label, _ in _ROWS + _SINGLE)
    col = max(10, *(len(r[1]) for r in rows), *(len(r[2]) for r in rows))
    lines.append(f"{'':<{width}}  {'attacker':>{col}}  {'defender':>{col}}")
    lines += [f"{label:<{width}}  {a:>{col}}  {d:>{col}}" for label, a, d in rows]
    lines.append("")
    lines += [f"{label:<{width}}  {cell(summary[key]):>{col}}" for label, key in _SINGLE]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        if args.command == "list":
            return _list()
        if args.command == "check":
            return _check(args.files)
        if args.command == "sweep":
            return _sweep(args)
        if args.command == "report":
            return _report(args.folder)
        if args.command == "demo":
            return _demo(args)
        if args.command == "calibrate":
            return _calibrate(args)
        return _run(args)
    except (scenarios.ScenarioError, UsageError) as err:
        print(f"attrition: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader stopped (`attrition list | head`): not an error; keep Python quiet
        # when it flushes stdout on exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as err:
        print(f"attrition: error: {getattr(err, 'filename', '') or ''}: "
              f"{err.strerror or err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("attrition: interrupted; no results written", file=sys.stderr)
        return 130
