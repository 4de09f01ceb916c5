"""The ``attrition`` command (also ``python -m sim``): a thin shell over :mod:`sim`.

    attrition list                                  # named scenarios
    attrition check scenarios/bakhmut_2022_2023.toml    # validate files
    attrition run bakhmut_2022_2023 --seed 1 --replicates 10 --set attacker.drones=40
    attrition demo                                  # the classroom page on 127.0.0.1:8765
    attrition calibrate battle.csv --law all        # fit Lanchester laws to a record
    attrition calibrate battle.csv --scenario fortified_defense --fit sector.cover
    attrition validate kursk_2024_2025 --replicates 20   # history as a test
    attrition score forecast.csv record_2025.csv   # a forecast beside what happened
    attrition sweep wave_vs_fortification --dry-run   # runs, design, estimated time
    attrition sweeps                                # the sweeps under sweeps/, by state
    attrition report latest                         # report.md of the newest sweep

Each command parses (:mod:`sim.cli_args`), calls the library, writes through
:mod:`sim.publish` and :mod:`sim.outputs`, and prints. Bad input gets one line on stderr
naming the file, the key and what is allowed, and exit status 2; ``run`` and
``calibrate`` write their results whole or not at all.

Each command imports what it needs when it runs: ``attrition --help`` and
``attrition --version`` import no numpy, pandas, pydantic, matplotlib or the model.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from sim.cli_args import DEFAULT_SCENARIO as DEFAULT_SCENARIO
from sim.cli_args import DEMO_SCENARIO, LAW_CHOICES, build_parser
from sim.publish import (
    OutputError,
    fresh_folder,
    printable,
    publishing,
    safe_name,
)
from sim.sides import SIDES

#: The environment variable of --max-memory (sim.model.memory.LIMIT_VARIABLE, without
#: importing the model).
LIMIT_VARIABLE = "ATTRITION_MAX_MEMORY"


class UsageError(Exception):
    """Bad input: printed as one line, exit status 2."""


# ------------------------------------------------------------------ commands
def _list() -> int:
    from sim import scenarios

    named = scenarios.available()
    width = max(map(len, named), default=0)
    for name, path in named.items():
        print(f"{name:<{width}}  {scenarios.description(path)}")
    return 0


def _check(files: list[str]) -> int:
    from sim import scenarios

    status = 0
    for file in files:
        try:
            scenario = scenarios.load(file)
        except scenarios.ScenarioError as err:
            print(f"attrition: error: {err}", file=sys.stderr)
            status = 2
            continue
        print(f"ok: {printable(file)} ({printable(scenario.name)}: {scenario.max_days} days, "
              f"{scenario.group_units('attacker')} attacking and "
              f"{scenario.group_units('defender')} defending units, waves included)")
    return status


def _run(args: argparse.Namespace) -> int:
    from sim import scenarios
    from sim.outputs import format_table, run_summary, to_json, write_run
    from sim.replicates import run_replicates

    _check_no_files(args)
    fmt = args.format or "csv"
    if _is_theatre_file(args.scenario):
        # A theatre (a wargame's export among them): run as `attrition theatre run`.
        from sim.theatre import files

        if args.animate is not None:
            raise UsageError("--animate: a theatre has no sector front to animate; allowed: "
                             "--animate with a sector scenario")
        if fmt != "csv":
            raise UsageError(f"--format {fmt}: a theatre's run writes CSV; allowed: "
                             f"--format csv with a theatre")
        args.workers, args.scheduler = 1, None
        return _theatre_run(args, files.load(args.scenario, args.overrides, days=args.days,
                                             replicates=args.replicates))
    scenario = scenarios.load(args.scenario, args.overrides, days=args.days,
                              replicates=args.replicates)
    if args.animate is not None:
        _check_animation_target(args.animate)
    if args.no_files:
        summary = run_summary(scenario, args.seed,
                              run_replicates(scenario, args.seed, args.replicates))
        print(to_json(summary) if args.json else format_table(summary))
        return 0
    out = args.out or fresh_folder(scenario.name)
    landed: list[Path] | None = None if args.out else []  # a name we chose may be taken
    with publishing(out, landed=landed) as folder:
        results = run_replicates(scenario, args.seed, args.replicates)
        summary = run_summary(scenario, args.seed, results)
        write_run(folder, scenario, results, summary, fmt)
        if args.animate is not None:
            first = summary.get("seeds", [args.seed])[0]
            _animate(scenario, first, args)
    out = landed[0] if landed else out
    if args.json:
        print(to_json(summary))
        _say_where(out, args.out)
        return 0
    print(format_table(summary))
    print(f"\nResults in {printable(out)}/ (daily.{fmt}, events.{fmt}, summary.json, "
          f"scenario.toml, *.png)")
    if args.animate is not None:
        print(f"Animation in {args.animate}")
    return 0


def _check_no_files(args: argparse.Namespace) -> None:
    """--no-files writes nothing, so it goes with no option that names what to write."""
    if not getattr(args, "no_files", False):
        return
    for flag, given in (("--out", args.out is not None),
                        ("--animate", getattr(args, "animate", None) is not None),
                        ("--format", getattr(args, "format", None) is not None)):
        if given:
            raise UsageError(f"{flag}: --no-files writes nothing; allowed: {flag} or "
                             f"--no-files, not both")


def _say_where(out: Path, given: Path | None) -> None:
    """With --json, stdout holds the JSON alone: the folder written is named on stderr,
    unless the user named it (``given``, their --out)."""
    if given is None:
        print(f"attrition: results in {printable(out)}/", file=sys.stderr)


def _is_theatre_file(name_or_path: str) -> bool:
    """Whether ``name_or_path`` is a theatre: a file whose ``sectors`` is a list of tables
    (a sector scenario's ``sector`` is one table), or a named theatre that is not also a
    named scenario."""
    from sim import scenarios

    path = Path(name_or_path)
    try:
        if not path.is_file():
            return (name_or_path in scenarios.available("theatres")
                    and name_or_path not in scenarios.available())
    except (OSError, ValueError):  # a name too long, a NUL byte: not a file
        return False
    return isinstance(scenarios.read_toml(path).get("sectors"), list)


def _animate(scenario, seed: int, args: argparse.Namespace) -> None:
    """The first replicate again, keeping its fronts: the same seed gives the same run,
    and the other replicates need not hold a front a day in memory. The file appears
    whole or not at all (sim.animation writes beside it, then moves)."""
    from sim import run
    from sim.animation import write_animation

    animated = run(scenario, seed=seed, front_every_days=args.animate_every)
    write_animation(animated, args.animate, title=f"{scenario.name}, seed {seed}",
                    fps=args.fps, size=args.size)


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
    began = time.perf_counter()
    from sim import scenarios, sweep
    from sim.experiments import SIZE_KEYS, load_experiment
    from sim.outputs import format_metrics
    from sim.publish import sweep_folder
    from sim.sweep_store import holder_note

    sizes = {key: getattr(args, key) for key in SIZE_KEYS if getattr(args, key) is not None}
    exp = load_experiment(args.experiment, args.vary, sizes)
    path = scenarios.find(args.experiment, kind="experiments")
    # The newest folder of this experiment's hash, so that the same command resumes it.
    out = args.out or sweep_folder(path.stem, exp.fingerprint())
    evaluate = sweep.scenario_evaluator(exp, path)  # base, set and metrics checked
    if args.dry_run:
        # What a worker pays before its first run: the imports, the model's first run.
        return _dry_run(args, exp, path, out, evaluate, time.perf_counter() - began)
    try:
        with _terminate_as_interrupt():
            result = sweep.run_sweep(exp, out, evaluate, workers=args.workers,
                                     scheduler=args.scheduler, experiment_file=str(path),
                                     progress=not args.no_progress,
                                     csv=args.format == "csv")
    except KeyboardInterrupt:
        stored = len(sweep.stored_runs(out))
        print(f"attrition: interrupted; {stored} runs stored in {printable(out)}/; the same "
              f"command resumes", file=sys.stderr)
        return 130
    note = holder_note(result.took_over)
    if note:
        print(note, file=sys.stderr)  # the holder's text is shown escaped (sweep_store)
    files = sweep.RUNS_FILE + (" and runs.csv" if args.format == "csv" else "")
    print(f"{result.total} runs: {result.ok} ok, {result.failed} failed, {result.skipped} "
          f"already stored; {result.seconds:.1f} s. Results in {printable(out)}/{files}; "
          f"attrition report {printable(out)}")
    metrics = format_metrics(sweep.read_runs(out), exp.metrics)
    if metrics:
        print(metrics)
    return 0


def _dry_run(args: argparse.Namespace, exp, path: Path, out: Path, evaluate,
             startup_s: float) -> int:
    """The design and its size, what is stored already, and an estimate of the time from
    a few of its runs timed here (sim.sweep.time_probe); nothing is written."""
    from sim import sweep
    from sim.experiments import design_points
    from sim.outputs import format_design
    from sim.sweep_store import StoreError

    points = design_points(exp)
    total = len(points) * exp.replicates
    print(f"{printable(path)}: {printable(exp.question)}")
    print(f"design {exp.design}: {len(points)} points x {exp.replicates} "
          f"replicate{'s' if exp.replicates != 1 else ''} = "
          f"{total} runs into {printable(out)}/")
    stored = 0
    if (out / sweep.MANIFEST_FILE).is_file():
        try:
            stored = len(sweep.stored_runs(out))
        except StoreError:
            pass  # the sweep itself names what is damaged
        print(f"{stored} of them already stored there: the same command without --dry-run "
              f"resumes")
    print(format_design(points))
    probe = sweep.time_probe(exp, points, evaluate)
    if probe.failed:
        print(printable(f"warning: {probe.failed} of the {probe.failed + probe.runs} probe "
                        f"runs failed; the first: {probe.first_error}"))
    print(_estimate(probe, total - stored, args.workers, args.scheduler, startup_s))
    return 0


def _estimate(probe, runs: int, workers: int, scheduler: str | None,
              startup_s: float) -> str:
    """The line of --dry-run that estimates a sweep's time from its probe."""
    from sim.sweep import PROBE_SECONDS

    if runs <= 0:
        return "estimated time: none, every run is stored"
    if probe.seconds_per_run is None and not probe.stopped:
        return "estimated time: unknown, as no probe run worked (see the warning above)"
    if probe.seconds_per_run is None:
        return (f"estimated time: at least {_duration(runs * PROBE_SECONDS / workers)} on "
                f"{workers} worker{'s' * (workers > 1)} (a probe run of this design did not "
                f"finish in {PROBE_SECONDS:g} s, and there are {runs:,} runs)")
    from_probe = (f"{probe.runs} probe run{'s' * (probe.runs > 1)} of points spread over "
                  f"the design, timed here at {probe.seconds_per_run:.3g} s each on "
                  f"average")
    if scheduler is not None:
        return (f"estimated time: {_duration(runs * probe.seconds_per_run)} of run time in "
                f"all, shared among the cluster's workers (an estimate from {from_probe}; "
                f"runs differ in length)")
    parallel = max(1, min(workers, runs))
    # Worker processes each start as this one did (imports, the model's first run).
    start = startup_s if workers > 1 else 0.0
    seconds = runs * probe.seconds_per_run / parallel + start
    return (f"estimated time: about {_duration(seconds)} on {workers} worker"
            f"{'s' * (workers > 1)} (an estimate from {from_probe}, for {runs:,} runs"
            + (f", plus {start:.0f} s to start the workers" if start >= 0.5 else "")
            + "; runs differ in length)")


def _duration(seconds: float) -> str:
    """``42 s``, ``7 min``, ``3.5 h``, ``2.1 days``.

    >>> _duration(42.2), _duration(420), _duration(12_600), _duration(181_440)
    ('42 s', '7 min', '3.5 h', '2.1 days')
    """
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _sweeps(root: Path) -> int:
    """``attrition sweeps``: each sweep under ``root``, newest first, one line each."""
    from sim.publish import shown
    from sim.sweep_store import describe_sweep, sweep_folders

    if root.exists() and not root.is_dir():
        raise UsageError(f"{shown(root)}: not a folder; allowed: a folder of sweeps, such "
                         f"as sweeps")
    infos = [describe_sweep(folder) for folder in sweep_folders(root)]
    if not infos:
        print(f"attrition: no sweeps under {shown(root)}/ (attrition sweep EXPERIMENT makes "
              f"one)", file=sys.stderr)
        return 0
    infos.sort(key=lambda i: (i["started"] is not None, i["started"] or 0), reverse=True)
    rows = [("SWEEP", "EXPERIMENT", "STARTED", "DESIGN", "RUNS", "STATE")]
    for info in infos:
        when = info["started"].astimezone().strftime("%Y-%m-%d %H:%M") if info[
            "started"] else "?"
        runs = (f"{info['stored'] if info['stored'] is not None else '?'}/"
                f"{info['total'] if info['total'] is not None else '?'}")
        rows.append((shown(info["name"], 70), shown(info["experiment"], 40), when,
                     info["design"], runs, info["state"]))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths,
                                                                  strict=False))
              + "  " + row[5])
    return 0


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM (a shutdown, ``kill``) stops a sweep, a validation or a calibration as
    Ctrl-C does: what a sweep finished is stored, its manifest says interrupted and the
    lock is released; a validation or a calibration leaves nothing."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _calibrate(args: argparse.Namespace) -> int:
    """Fit the chosen laws and/or scenario keys to the record, print the results, write
    the folder (whole or not at all)."""
    from sim import scenarios
    from sim.lawfit import compare_laws
    from sim.outputs import (
        POSTERIOR_FILES,
        format_fits,
        format_model_fit,
        format_posterior,
        to_json,
        write_estimates,
    )
    from sim.records import RecordError, read_record

    laws = _laws(args)
    try:
        record, notes = read_record(args.data, str(args.data), args.reinforcements,
                                    args.initial_attacker, args.initial_defender)
    except RecordError as err:
        raise UsageError(str(err)) from None
    if args.scenario is not None:
        scenarios.read(args.scenario)  # an unknown scenario is reported before any work
    out = args.out or fresh_folder(f"calibrate-{args.data.stem}")
    landed: list[Path] | None = None if args.out else []  # a name we chose may be taken
    _bayes_options(args)
    # SIGTERM as Ctrl-C: the workers stop, the staging folder is removed, one line.
    with _terminate_as_interrupt(), publishing(out, landed=landed) as folder:
        try:
            fits = compare_laws(record, laws) if laws else []
        except ValueError as err:
            raise UsageError(f"{args.data}: {err}") from None
        model_fit = _fit_model(args, record, notes) if args.scenario is not None else None
        posterior = _posterior(args, record, laws, fits) if args.bayes else None
        estimates = write_estimates(folder, str(args.data), record, fits, model_fit, notes,
                                    posterior)
    out = landed[0] if landed else out
    if args.json:
        print(to_json(estimates))
        _say_where(out, args.out)
        return 0
    for note in notes + (model_fit.notes if model_fit else []):
        print(f"note: {note}", file=sys.stderr)
    print("\n\n".join(([format_fits(fits)] if fits else [])
                      + ([format_model_fit(model_fit)] if model_fit else [])
                      + ([format_posterior(posterior)] if posterior else [])))
    written = ", ".join(f for f in ("estimates.json", "fit.png" if fits else "",
                                    "model_fit.png" if model_fit else "",
                                    *(POSTERIOR_FILES if posterior else ())) if f)
    print(f"\nResults in {out}/ ({written})")
    return 0


def _bayes_options(args: argparse.Namespace) -> None:
    """--population, --generations and --max-runs go with --bayes."""
    if args.bayes:
        return
    for flag in ("generations", "max_runs"):
        if getattr(args, flag) is not None:
            raise UsageError(f"--{flag.replace('_', '-')}: needs --bayes; allowed: "
                             f"--bayes --{flag.replace('_', '-')} N")
    if args.population != 200:
        raise UsageError("--population: needs --bayes; allowed: --bayes --population N")


def _posterior(args: argparse.Namespace, record, laws: tuple[str, ...], fits: list):
    """The Bayesian calibration (sim.bayes): of the laws fitted, or of the scenario's
    keys, with a progress bar of runs."""
    from tqdm import tqdm

    from sim import bayes, scenarios

    settings = {"population_size": args.population, "seed": args.seed,
                "workers": args.workers, "scheduler": args.scheduler}
    if args.generations is not None:
        settings["max_generations"] = args.generations
    if args.max_runs is not None:
        settings["max_runs"] = args.max_runs
    with tqdm(unit="run", desc="ABC runs", file=sys.stderr, dynamic_ncols=True,
              disable=args.no_progress) as bar:
        try:
            if args.scenario is not None:
                return bayes.abc_model(record, args.scenario, args.fit, progress=bar.update,
                                       **settings)
            # The laws the least-squares verdict does not reject: a rejected law would
            # hold no particle, and each law costs its own runs.
            from sim.lawfit import BIC_DECISIVE
            kept = [f.law for f in fits if f.bic - fits[0].bic < BIC_DECISIVE]
            return bayes.abc_laws(record, kept, fits=fits, progress=bar.update, **settings)
        except scenarios.ScenarioError:
            raise
        except ValueError as err:
            raise UsageError(f"{args.data}: {err}") from None


def _laws(args: argparse.Namespace) -> tuple[str, ...]:
    """The laws to fit: all unless only scenario keys are fitted; --fit and --scenario
    go together."""
    if args.fit and args.scenario is None:
        raise UsageError("--fit: needs --scenario; allowed: --scenario NAME --fit KEY")
    if args.scenario is not None and not args.fit:
        raise UsageError("--scenario: names no key to fit; allowed: one or more --fit KEY, "
                         "e.g. --fit defender.aimed_kills_per_shooter_per_day")
    law = "all" if args.law is None and args.scenario is None else args.law
    laws = () if law is None else LAW_CHOICES if law == "all" else (law,)
    return tuple("logarithmic" if name == "log" else name for name in laws)


def _fit_model(args: argparse.Namespace, record, notes: list[str]):
    """The scenario's keys fitted to the record, with a progress bar of model runs made
    on the first finished run (a bad key is reported without a bar)."""
    from tqdm import tqdm

    from sim import scenarios
    from sim.calibration import calibrate_model

    if record.reinforcements.any():
        notes.append(f"{args.data}: the reinforcements serve the law fits only; the "
                     f"scenario's force generation makes the model's arrivals")
    for side in SIDES:
        if getattr(args, f"initial_{side}") is not None:
            notes.append(f"--initial-{side} serves the law fits only; the scenario sets the "
                         f"model's initial strengths")
    bars: list = []

    def progress(runs: int) -> None:
        if not bars:
            bars.append(tqdm(unit="run", desc="model runs", file=sys.stderr,
                             dynamic_ncols=True, disable=args.no_progress))
        bars[0].update(runs)

    try:
        return calibrate_model(record, args.scenario, args.fit, replicates=args.replicates,
                               seed=args.seed, workers=args.workers,
                               scheduler=args.scheduler, progress=progress)
    except scenarios.ScenarioError:
        raise
    except ValueError as err:
        raise UsageError(f"{args.data}: {err}") from None
    finally:
        for bar in bars:
            bar.close()


def _demo(args: argparse.Namespace) -> int:
    """Check the scenario and the address, step the model through its first days
    (compiling it on a machine's first run), then serve sim.app with Solara until Ctrl-C
    (see sim.serve)."""
    from sim import scenarios, serve

    if args.class_game:
        return _class(args)
    path, _ = scenarios.read(args.scenario or DEMO_SCENARIO)
    scenario = scenarios.load(path)
    port = _free_port(args.host, args.port)
    env = _solara_env() | {"ATTRITION_DEMO_SCENARIO": str(path)}
    command = _solara_command("sim.app", args.host, port)
    where = serve.local_url(args.host, port)
    if args.host in ("0.0.0.0", "::"):
        where = (f"http://127.0.0.1:{port}/ here, and at this machine's network address, "
                 f"port {port}, for the class")
    # The model's compiled kernels are cached on disk the first time it steps: built
    # here, the server loads them instead of compiling on the class's first Step.
    return _serve_page(command, env, serve.local_url(args.host, port),
                       f"attrition demo: {scenario.name} at {where} (Ctrl-C stops it)",
                       warm=lambda: _first_days(scenario))


def _solara_command(module: str, host: str, port: int) -> list[str]:
    """The command that serves ``module`` 's page with Solara, quietly, for a class."""
    return [sys.executable, "-m", "solara", "run", module, "--host", host, "--port",
            str(port), "--production", "--no-open", "--no-check-version", "--log-level",
            "warning"]


def _serve_page(command: list[str], env: dict[str, str], url: str, ready: str,
                warm) -> int:
    """Run ``warm`` (saying that it compiles if it takes a while), then serve the page
    until Ctrl-C or SIGTERM (sim.serve): 0 once served, 130 if stopped before, 1 (one
    line) if the server dies."""
    from sim import serve

    try:
        serve.warm_up(warm, notice=lambda: print(serve.COMPILING, flush=True))
        return serve.serve(command, env, url, ready)
    except serve.ServerError as err:
        print(f"attrition demo: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("attrition demo: stopped", file=sys.stderr)
        return 130


def _class(args: argparse.Namespace) -> int:
    """``attrition demo --class``: the wargame's pages (sim.wargame_page) for a class, on
    a theatre; the teacher's address (with its key) and the students' printed once the
    pages answer."""
    import secrets

    from sim import scenarios, serve, wargame
    from sim.theatre import files

    name = args.scenario or wargame.CLASS_THEATRE
    path, data = files.read(name)
    if not isinstance(data.get("sectors"), list):
        raise scenarios.ScenarioError(path, "sectors", "not a theatre (a sector scenario?); "
                                      "allowed: with --class, a theatre: a file whose "
                                      "sectors is a list, or one of "
                                      + ", ".join(scenarios.available(files.KIND)))
    theatre = files.load(path)
    port = _free_port(args.host, args.port)
    key = secrets.token_urlsafe(12)
    students = serve.local_url(args.host, port)
    if args.host in ("0.0.0.0", "::"):
        students = serve.network_url(port)
    env = _solara_env() | {"ATTRITION_CLASS_THEATRE": str(path),
                           "ATTRITION_CLASS_KEY": key,
                           "ATTRITION_CLASS_ADDRESS": students}
    teacher = f"{serve.local_url(args.host, port)}teacher?key={key}"
    # One turn of a game: the theatre's kernels compile (and are cached) here.
    return _serve_page(_solara_command("sim.wargame_page", args.host, port), env,
                       serve.local_url(args.host, port),
                       f"attrition demo --class: {printable(theatre.name)}\n"
                       f"  teacher's page (keep this address to yourself): {teacher}\n"
                       f"  students join at: {students}\n"
                       f"Ctrl-C stops it.",
                       warm=lambda: wargame.Game(1, theatre, 0).resolve(
                           wargame.DEFAULT_TURN_DAYS))


def _solara_env() -> dict[str, str]:
    """The environment of a page's server (Solara's, quietened for a classroom)."""
    return os.environ | {
        # Solara reports usage to an outside host unless told not to: a classroom
        # network may block it, and the page must not wait on it.
        "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
        # No "This website runs on Solara" banner before the class; the tab's title.
        "SOLARA_THEME_SHOW_BANNER": "False",
        "SOLARA_THEME_TITLE": "attrition-sim",
        # Solara warns on every page load over plain http to an address other than
        # "localhost", which a class on 127.0.0.1 or the school network always is.
        "PYTHONWARNINGS": ",".join(filter(None, [
            os.environ.get("PYTHONWARNINGS"),
            "ignore:Cookies with samesite=none require https"])),
    }


def _first_days(scenario, days: int = 7) -> None:
    """A week of the page's model: its first days call every kernel the page's first
    Steps do (a few compile a second signature after day 1)."""
    from sim.classroom import ClassroomModel

    model = ClassroomModel(scenario)
    for _ in range(days):
        if not model.running:
            break
        model.step()


def _free_port(host: str, port: int) -> int:
    """``port`` if it can be listened on at ``host`` (0: any free port), or UsageError."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise UsageError(f"--host {host}: unknown address ({err.strerror}); allowed: an "
                         f"address of this machine, e.g. 127.0.0.1 or 0.0.0.0") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the server binds: a port whose last connections are closing (TIME_WAIT,
        # a minute after the previous demo stopped) is free to listen on.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as err:
            if err.errno == errno.EADDRNOTAVAIL:
                raise UsageError(f"--host {host}: not an address of this machine "
                                 f"({err.strerror}); allowed: an address of this machine, "
                                 f"e.g. 127.0.0.1 or 0.0.0.0") from None
            raise UsageError(f"--port {port}: cannot listen on {host}:{port} "
                             f"({err.strerror}); allowed: a free port, or 0 for any") from None
        return probe.getsockname()[1]


def _verify(texts: list[str]) -> int:
    """Each sweep's problems, one line each, or ok; exit 1 if any has one. A sweep is
    named as ``attrition report`` takes it (:func:`sim.sweep_store.find_sweep`)."""
    from sim.sweep_check import check
    from sim.sweep_store import find_sweep

    status = 0
    for folder in [find_sweep(text) for text in texts]:  # every name checked first
        problems = check(folder)
        for problem in problems:
            print(problem)
        if not problems:
            print(f"ok: {printable(folder)}")
        status = status or (1 if problems else 0)
    return status


def _report(texts: list[str]) -> int:
    """The report of a sound sweep, named by its folder, its folder's name, its
    experiment's name or ``latest``; a damaged or unfinished one is named, with its first
    problem (``attrition verify`` lists them all)."""
    from sim.publish import shown
    from sim.report import write_report
    from sim.sweep_check import check
    from sim.sweep_store import find_sweep

    if len(texts) > 1:
        # `attrition report sweeps/NAME-*/` once a second folder matches.
        given = ", ".join(shown(t, 60) for t in texts[:4]) + (", ..." if len(texts) > 4
                                                             else "")
        raise UsageError(f"{len(texts)} sweeps given ({given}); allowed: one: its folder, "
                         f"its folder's name, its experiment's name (the newest sweep of "
                         f"it) or latest (attrition sweeps lists them)")
    folder = find_sweep(texts[0])
    problems = check(folder)
    if problems:
        more = f" (and {len(problems) - 1} more: attrition verify {printable(folder)})" if len(
            problems) > 1 else ""
        raise UsageError(f"{problems[0]}{more}; allowed: a finished sweep's folder (run the "
                         f"same sweep command again to finish or repair it)")
    path = write_report(folder)
    print(f"Report in {printable(path)}")
    return 0


def _discover(args: argparse.Namespace) -> int:
    """Scenario discovery (sim.discover) over a finished sweep, named as report takes
    one; the box and where the files are, printed."""
    from sim.discover import DiscoveryError, discover, write_discovery
    from sim.sweep_store import find_sweep
    from sim.where import WhereError

    folder = find_sweep(args.sweep)
    try:
        found = discover(folder, args.where, min_coverage=args.min_coverage)
    except (DiscoveryError, WhereError) as err:
        raise UsageError(str(err)) from None
    out = write_discovery(folder, found)
    for line in found.summary_lines():
        print(printable(line))
    print(f"Discovery in {printable(out)}/")
    return 0


def _validate(args: argparse.Namespace) -> int:
    """The historical scenarios beside their claims: everything checked before a run,
    the folder written whole or not at all, the table (or JSON) printed; with
    --strict, exit 1 if a claim lies outside the model's interval."""
    from tqdm import tqdm

    from sim.claims import CLAIMS_FILE, ClaimsError
    from sim.outputs import to_json
    from sim.validation import (
        TargetError,
        execute,
        format_validation,
        prepare,
        write_validation,
    )

    try:
        plan = prepare(args.scenarios, args.replicates, args.claims or CLAIMS_FILE)
    except (ClaimsError, TargetError) as err:
        raise UsageError(str(err)) from None
    _check_no_files(args)
    runs = len(plan.scenarios) * args.replicates

    def validation():
        with tqdm(total=runs, unit="run", desc="validation runs", file=sys.stderr,
                  dynamic_ncols=True, disable=True if args.no_progress else None) as bar:
            return execute(plan, args.seed, args.workers, progress=bar.update)

    if args.no_files:
        with _terminate_as_interrupt():
            result, written = validation(), []
    else:
        out = args.out or fresh_folder("validate")
        landed: list[Path] | None = None if args.out else []  # a name we chose may be taken
        # SIGTERM as Ctrl-C: the workers stop, the staging folder is removed, one line.
        with _terminate_as_interrupt(), publishing(out, landed=landed) as folder:
            result = validation()
            written = write_validation(folder, result)
        out = landed[0] if landed else out
    if args.json:
        print(to_json(result.as_dict()))
        if not args.no_files:
            _say_where(out, args.out)
    else:
        print(format_validation(result))
        if not args.no_files:
            print(f"\nResults in {printable(out)}/ ({', '.join(p.name for p in written)})")
    if result.outside:
        note = (f"{len(result.outside)} of {len(result.rows)} claims outside the model's "
                f"90% interval: {', '.join(r.claim for r in result.outside)}")
        print(f"attrition: {note}" if args.strict else f"note: {note}", file=sys.stderr)
    return 1 if args.strict and result.outside else 0


def _score(args: argparse.Namespace) -> int:
    """A forecast file scored against records (sim.forecast): everything read and checked
    before anything is written; with --out, score.json and score.csv whole or not at
    all."""
    from sim.forecast import (
        combine_records,
        format_score,
        read_forecast,
        read_scoring_record,
        score,
        score_json,
        score_report,
        write_score,
    )
    from sim.observed import TableError

    try:
        forecast = read_forecast(args.forecast)
        records = [read_scoring_record(path) for path in args.records]
        report = score_report(forecast, records,
                              score(forecast, combine_records(records)))
    except TableError as err:
        raise UsageError(str(err)) from None
    if args.out is not None:
        with publishing(args.out) as folder:
            write_score(folder, report)
    print(score_json(report) if args.json else format_score(report))
    if args.out is not None and not args.json:
        print(f"\nResults in {printable(args.out)}/ (score.json, score.csv)")
    return 0


def _theatre(args: argparse.Namespace) -> int:
    """``attrition theatre ACTION``: thin over sim.theatre (files, runs, calibration,
    sustainability, forecasts); everything checked before any run, results written
    whole or not at all."""
    from sim import scenarios
    from sim.theatre import files

    action = args.theatre_command
    if action == "list":
        named = scenarios.available(files.KIND)
        width = max(map(len, named), default=0)
        for name, path in named.items():
            print(printable(f"{name:<{width}}  {files.description(path)}"))
        return 0
    if action == "run":
        _check_no_files(args)
        return _theatre_run(args, files.load(args.theatre, args.overrides, days=args.days,
                                             replicates=args.replicates))
    if action == "calibrate":
        return _theatre_calibrate(args)
    if action == "sustain":
        return _theatre_sustain(args)
    return _theatre_forecast(args)


def _theatre_run(args: argparse.Namespace, scenario) -> int:
    import json

    from sim.theatre.calibration import WINDOW
    from sim.theatre.outputs import fit_table, recruitment_table, run_theatre, write_frames
    from sim.theatre.plots import plot_fit

    def results(folder: Path | None) -> tuple[dict, dict]:
        """The runs' frames and summary, written into ``folder`` unless it is none."""
        runs = run_theatre(scenario, args.seed, args.replicates, args.workers, args.scheduler)
        frames = {name: _stacked(runs, name) for name in ("daily", "sectors", "monthly")}
        summary = _theatre_summary(scenario, runs)
        first, last = scenario.start_date.strftime("%Y-%m"), scenario.date_of(
            scenario.max_days).strftime("%Y-%m")
        if first <= WINDOW[0] and last >= WINDOW[1]:
            fit = fit_table(runs)
            frames["fit"] = fit.reset_index()
            frames["recruitment"] = recruitment_table(runs, scenario)
            if folder is not None:
                plot_fit(fit, folder / "fit.png", f"{scenario.name}: the attacker against "
                                                  f"the record ({args.replicates} runs)")
            summary["fit"] = {name: f"{int(fit[f'{name}_agrees'].sum())} of {len(fit)} "
                                    f"months" for name in ("claimed_losses", "named_dead")}
        if folder is not None:
            write_frames(folder, frames)
            (folder / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
        return frames, summary

    if getattr(args, "no_files", False):
        _, summary = results(None)
        print(json.dumps(summary, indent=2, default=str) if args.json
              else _theatre_text(summary))
        return 0
    out = args.out or fresh_folder(scenario.name)
    landed: list[Path] | None = None if args.out else []
    with publishing(out, landed=landed) as folder:
        frames, summary = results(folder)
    out = landed[0] if landed else out
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
        _say_where(out, args.out)
        return 0
    print(_theatre_text(summary))
    print(f"\nResults in {printable(out)}/ ({', '.join(f'{n}.csv' for n in frames)}, "
          f"summary.json{', fit.png' if 'fit' in frames else ''})")
    return 0


def _stacked(runs: list, name: str):
    import pandas as pd

    return pd.concat([r[name].assign(seed=r["seed"]) for r in runs], ignore_index=True)


def _theatre_summary(scenario, runs: list) -> dict:
    """Per side at the run's end: mean over runs of the line, the force, the killed,
    wounded and recruited, and the mean daily losses."""
    import numpy as np

    summary = {"theatre": scenario.name, "start": scenario.start_date,
               "end": scenario.date_of(scenario.max_days), "runs": len(runs),
               "seeds": [r["seed"] for r in runs], "sides": {}}
    for side in SIDES:
        ends = [r["daily"][(r["daily"]["side"] == side) & (r["daily"]["contingent"] == "all")]
                .iloc[-1] for r in runs]
        summary["sides"][side] = {
            name: float(np.mean([e[name] for e in ends]))
            for name in ("in_line", "in_rear", "reserve", "in_training", "pool", "killed",
                         "wounded", "recruited")}
        summary["sides"][side]["casualties_per_day"] = float(np.mean(
            [(e["killed"] + e["wounded"]) / max(1, scenario.max_days) for e in ends]))
    return summary


def _theatre_text(summary: dict) -> str:
    lines = [f"{printable(summary['theatre'])}: {summary['start']} to {summary['end']}, "
             f"mean of {summary['runs']} runs", ""]
    names = ("in_line", "in_rear", "reserve", "in_training", "pool", "killed", "wounded",
             "recruited", "casualties_per_day")
    lines.append(f"{'at the end (persons)':<26}" + "".join(f"{s:>14}" for s in SIDES))
    for name in names:
        lines.append(f"{name.replace('_', ' '):<26}" + "".join(
            f"{summary['sides'][s][name]:>14,.0f}" for s in SIDES))
    for name, agrees in summary.get("fit", {}).items():
        lines.append(f"record: {name.replace('_', ' ')} agrees in {agrees}")
    return "\n".join(lines)


def _theatre_calibrate(args: argparse.Namespace) -> int:
    import json

    from sim.theatre.calibration import DEFAULT_FIT, calibrate_theatre

    if args.out is not None:
        with publishing(args.out) as folder:  # checked (and made) before the runs
            fit = calibrate_theatre(args.theatre, args.fit or DEFAULT_FIT, args.claim_factor,
                                    args.replicates, args.seed, args.workers, args.scheduler)
            (folder / "estimates.json").write_text(json.dumps(fit.as_dict(), indent=2,
                                                              default=float))
    else:
        fit = calibrate_theatre(args.theatre, args.fit or DEFAULT_FIT, args.claim_factor,
                                args.replicates, args.seed, args.workers, args.scheduler)
    if args.json:
        print(json.dumps(fit.as_dict(), indent=2, default=float))
        return 0
    print(f"{printable(fit.scenario)}: the truth taken as {args.claim_factor:g} x the claim, "
          f"{fit.replicates} replicates, {fit.runs} runs")
    for key, value in fit.estimates.items():
        low, high = fit.intervals[key]
        print(f"  {key} = {value:.4g} (95% interval {low:.4g} to {high:.4g})")
    for note in fit.notes:
        print(f"  note: {printable(note)}")
    return 0


def _theatre_sustain(args: argparse.Namespace) -> int:
    import datetime

    from sim.theatre import files
    from sim.theatre.plots import plot_sustainability
    from sim.theatre.sustainability import POLICIES, answers, sustainability_runs

    until = args.until or datetime.date(2027, 12, 31)
    scenario = files.load(args.theatre)
    out = args.out or fresh_folder(f"{scenario.name}-sustain")
    landed: list[Path] | None = None if args.out else []
    policies = list(dict.fromkeys(args.policy or POLICIES))
    with publishing(out, landed=landed) as folder:
        results = sustainability_runs(args.theatre, policies, until, args.replicates,
                                      args.seed, args.workers, args.scheduler,
                                      pools=args.pools)
        table = answers(results, scenario.start_date)
        table.to_csv(folder / "answers.csv", index=False)
        plot_sustainability(results, table, scenario.start_date,
                            folder / "sustainability.png",
                            f"{scenario.name}: can the recruit pool sustain it? "
                            f"({len(results) // (len(policies) * len(set(args.pools or [0])))} "
                            f"runs a policy)")
    out = landed[0] if landed else out
    if args.json:
        print(table.to_json(orient="records", date_format="iso", indent=2))
        _say_where(out, args.out)
        return 0
    print(_answers_text(table, until))
    print(f"\nResults in {printable(out)}/ (answers.csv, sustainability.png)")
    return 0


def _answers_text(table, until) -> str:
    def when(row, name) -> str:
        if row.get(f"{name}_median") is None or row.get(f"{name}_share", 0) == 0:
            return f"not by {until}"
        median = row[f"{name}_median"] or f"after {until}"
        high = row[f"{name}_high"] or f"after {until}"
        return f"{median} ({row[f'{name}_low']} to {high}; {row[f'{name}_share']:.0%} of runs)"

    width = max(20, *(len(printable(p)) + 2 for p in table["policy"]))
    lines = [f"{'policy':<{width}}{'side':<10}{'line at the end':>17}{'net/day':>9}"
             f"{'break-even/day':>16}  recruitment stops covering losses"]
    for _, row in table.iterrows():
        lines.append(f"{printable(row['policy']):<{width}}{row['side']:<10}"
                     f"{row['in_line_end']:>17,.0f}"
                     f"{row['net_change_per_day_end']:>+9,.0f}"
                     f"{row['break_even_per_day_end']:>16,.0f}  {when(row, 'cover_ends')}")
        lines.append(f"{'':<{width + 10}}line below half its strength of 2025: "
                     f"{when(row, 'line_breaks')}")
        if row["side"] == "attacker":
            lines.append(f"{'':<{width + 10}}contract pool under 10%: "
                         f"{when(row, 'pool_dry')}")
    return "\n".join(lines)


def _theatre_forecast(args: argparse.Namespace) -> int:
    from sim.forecast import make_provenance, scenario_sha256, write_forecast
    from sim.observed import TableError
    from sim.theatre import files
    from sim.theatre.calibration import WINDOW
    from sim.theatre.outputs import (
        forecast_table,
        months_between,
        record_scatter,
        run_theatre,
    )
    from sim.theatre.sustainability import POLICY_START, _with_values, extended

    scenario = files.load(args.theatre)
    path, data = files.read(args.theatre)
    months = months_between(POLICY_START, args.until)
    if not months:
        raise UsageError(f"--until: {args.until} is before {POLICY_START:%Y-%m}; allowed: a "
                         f"month from {POLICY_START:%Y-%m} on")
    until = _month_end(args.until)
    out = args.out or Path(f"forecast-{safe_name(scenario.name)}-{args.until}.csv")
    # Checked before any run: a new file in a folder that exists (never over another file).
    if os.path.lexists(out):
        raise UsageError(f"--out: {printable(out)} exists; allowed: a new file (a forecast "
                         f"is never written over another file)")
    if not out.parent.resolve().is_dir() or not os.access(out.parent.resolve(), os.W_OK):
        raise UsageError(f"--out: {printable(out.parent)} is not a folder this can write in; "
                         f"allowed: a new file in a folder that exists")
    variants = {"record": ({}, 1.0)} | {name: (v.assign, v.claim_factor)
                                         for name, v in scenario.variants.items()}
    runs = {}
    for name, (values, factor) in variants.items():
        laid = files.validate(extended(_with_values(data, values), until), f"{path} ({name})")
        runs[name] = (factor, run_theatre(laid, args.seed, args.replicates, args.workers,
                                          args.scheduler))
    # The record's scatter about the theatre itself over the window, where its runs
    # cover it (a theatre that starts later has no record to stray from).
    covers = (scenario.start_date.strftime("%Y-%m") <= WINDOW[0]
              and scenario.date_of(scenario.max_days).strftime("%Y-%m") >= WINDOW[1])
    scatter = record_scatter(runs["record"][1]) if covers else None
    table = forecast_table(runs, months, scatter)
    window = (f"{WINDOW[0]}-01", _month_end(WINDOW[1]).isoformat())
    provenance = make_provenance(scenario.name, scenario_sha256(scenario), args.seed,
                                 args.replicates * len(variants), window,
                                 record_scatter_log=scatter,
                                 variants=list(variants), file=_shown_path(path))
    try:
        write_forecast(table, out, provenance)
    except TableError as err:
        raise UsageError(str(err)) from None
    print(f"Forecast of {months[0]} to {months[-1]} from {len(variants)} readings of the "
          f"record x {args.replicates} runs in {printable(out)}")
    return 0


def _shown_path(path: Path) -> str:
    """A theatre's file as a forecast names it: relative to the project when it is one
    of the project's (so that the file reads the same on every machine)."""
    from sim.scenarios import PROJECT_SCENARIOS

    try:
        return str(Path(path).resolve().relative_to(PROJECT_SCENARIOS.parent))
    except ValueError:
        return str(path)


def _month_end(month: str):
    import calendar
    import datetime

    year, number = int(month[:4]), int(month[5:])
    return datetime.date(year, number, calendar.monthrange(year, number)[1])


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    # --max-memory: through the environment, so that worker processes (and the demo's
    # server) apply the same limit (sim.model.memory); restored after the command.
    limit = getattr(args, "max_memory", None)
    saved = os.environ.get(LIMIT_VARIABLE)
    if limit is not None:
        os.environ[LIMIT_VARIABLE] = repr(limit)
    try:
        status = _command(args)
        _forget_unhandled_interrupt()  # the status returned is the process's
        return status
    finally:
        if limit is not None and saved is None:
            os.environ.pop(LIMIT_VARIABLE, None)
        elif limit is not None:
            os.environ[LIMIT_VARIABLE] = saved


@contextlib.contextmanager
def _interrupts_not_lost():
    """A Ctrl-C or SIGTERM landing where Python cannot raise it (a ``__del__``, a
    weakref callback) was printed as "Exception ignored" and dropped, and the command
    ran on: here it is raised again in the main thread as soon as that callback has
    returned. One landing as the command ends is dropped: the command has finished.
    Other unraisable errors go to the hook there was."""
    previous = sys.unraisablehook
    guard = threading.Lock()
    ended = False

    def interrupt_once_returned(hook_frame, main_thread: int) -> None:
        # Raised inside the hook, it would be dropped again: wait for it to return.
        import _thread

        while _on_stack(hook_frame, sys._current_frames().get(main_thread)):
            time.sleep(0.001)
        with guard:
            if not ended:
                _thread.interrupt_main()

    def hook(unraisable) -> None:
        if (issubclass(unraisable.exc_type, KeyboardInterrupt)
                and threading.current_thread() is threading.main_thread()):
            threading.Thread(target=interrupt_once_returned, daemon=True,
                             args=(sys._getframe(), threading.get_ident())).start()
        else:
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous
        with guard:
            ended = True


def _on_stack(frame, top) -> bool:
    """Whether ``frame`` is ``top`` or one of its callers."""
    while top is not None and top is not frame:
        top = top.f_back
    return top is not None


def _forget_unhandled_interrupt() -> None:
    """Let the status a command returned stand under ``python -m sim`` (130 once
    interrupted).

    CPython (3.11 and 3.12, as tested here) marks a KeyboardInterrupt that leaves a string
    ``exec``/``eval`` as unhandled even when a caller catches it, and at exit a process
    started with ``-m`` then kills itself with SIGINT (status -2) instead of returning
    ours. Code built by ``exec`` of a string runs inside pyABC, sqlalchemy, numba and
    dataclasses, so a SIGTERM landing there hit it. Each string ``exec`` clears the mark
    as it starts."""
    exec("pass", {})  # noqa: S102 (a constant: nothing of the user's is evaluated)


def _command(args: argparse.Namespace) -> int:
    try:
        with _interrupts_not_lost():
            return _dispatch(args)
    except (UsageError, OutputError) as err:
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
    except Exception as err:
        if isinstance(err, _one_line_errors()):
            print(f"attrition: error: {err}", file=sys.stderr)
            return 2
        # Ctrl-C landing as a compiled kernel returns surfaces as a SystemError whose
        # context is the KeyboardInterrupt, and one landing in pyABC's database write as
        # the error its cleanup then raises (sqlalchemy's PendingRollbackError): the same
        # interruption.
        cause = err.__context__
        while cause is not None and not isinstance(cause, KeyboardInterrupt):
            cause = cause.__context__
        if cause is not None:
            print("attrition: interrupted; no results written", file=sys.stderr)
            return 130
        raise


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "list":
        return _list()
    if args.command == "check":
        return _check(args.files)
    if args.command == "sweep":
        return _sweep(args)
    if args.command == "sweeps":
        return _sweeps(args.root)
    if args.command == "report":
        return _report(args.sweep)
    if args.command == "discover":
        return _discover(args)
    if args.command == "verify":
        return _verify(args.folders)
    if args.command == "demo":
        return _demo(args)
    if args.command == "calibrate":
        return _calibrate(args)
    if args.command == "validate":
        return _validate(args)
    if args.command == "score":
        return _score(args)
    if args.command == "theatre":
        return _theatre(args)
    return _run(args)


def _one_line_errors() -> tuple[type[BaseException], ...]:
    """The errors of bad input raised by the modules a command imported (a scenario, an
    experiment, a sweep folder): one line each, exit status 2. Looked up among the
    modules already loaded, so that no command imports one only to catch its error."""
    found: list[type[BaseException]] = [UsageError, OutputError]
    for module, name in (("sim.scenarios", "ScenarioError"), ("sim.sweep_store", "StoreError")):
        if module in sys.modules:
            found.append(getattr(sys.modules[module], name))
    return tuple(found)
