"""The grammar of the ``attrition`` command: its subcommands, options, defaults and help
(``attrition --help``). :mod:`sim.cli` runs what this parses.

Light on purpose: ``attrition --help`` imports this and nothing heavy (no numpy, pandas,
pydantic, matplotlib or the compiled model), so the constants the parser shows are
copied here from the modules that own them (tests/test_cli.py checks they agree), and
a parser that needs a heavy module imports it when it parses.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from sim import __version__
from sim.publish import printable, shown
from sim.sides import SIDES

DEFAULT_SCENARIO = "human_wave_foreign_contingent"
DEMO_SCENARIO = "recruit_pool_exhaustion"  # sim.classroom.DEMO_SCENARIO, without Solara
CLASS_THEATRE = "classroom_war"  # sim.wargame.CLASS_THEATRE, without the model
# Law names of `attrition calibrate` ("log" is short for the logarithmic law).
LAW_CHOICES = ("square", "linear", "mixed", "log", "power", "helmbold", "fatigue", "phases")


#: Seeds are stored as 64-bit integers (summary.json, Parquet).
MAX_SEED = 2**63 - 1
#: More local workers than cores only queue for them; far more would exhaust memory
#: (each holds an interpreter and a model, a few hundred MB).
MAX_WORKERS = 4 * (os.cpu_count() or 1)
#: Replicates of a run or a calibration's evaluation: far more than any interval needs
#: (its width falls as 1/sqrt(N)); every replicate's daily record is kept in memory.
MAX_REPLICATES = 10_000
#: Bayesian calibration (sim.bayes's bounds, without importing pyABC for --help).
MAX_POPULATION, MAX_GENERATIONS, MAX_ABC_RUNS = 10_000, 100, 1_000_000
#: Days of a run, as the scenario's max_days (sim.fields.MAX_DAYS).
MAX_DAYS = 36_500
#: Formats of a run's daily record and event log (sim.outputs.FORMATS).
RUN_FORMATS = ("csv", "parquet")
#: Formats of a sweep's results: Parquet is always the store; csv adds runs.csv and
#: series.csv beside it.
SWEEP_FORMATS = ("parquet", "csv")
#: Animation frames (sim.animation's FRAMES_PER_SECOND, MIN_FPS, MAX_FPS, SIZE,
#: MIN_SIZE and MAX_SIZE).
FRAMES_PER_SECOND, MIN_FPS, MAX_FPS = 6, 1, 30
SIZE, MIN_SIZE, MAX_SIZE = (1920, 1080), (320, 180), (3840, 2160)
#: Replicates of `attrition validate` (sim.validation.DEFAULT_REPLICATES).
VALIDATE_REPLICATES = 20
#: A sweep's design points at most, and replicates at most (sim.experiments.MAX_POINTS,
#: MAX_VALUES); the experiment's own checks apply to the flags' values as well.
MAX_POINTS, MAX_SWEEP_REPLICATES = 1_000_000, 10_000


#: Numbers as typed: ASCII digits only (Python's int() and float() would also take
#: "1_000", " +3" and other scripts' digits, such as an Arabic-Indic 3).
_WHOLE = re.compile(r"-?[0-9]+", re.ASCII)
_DECIMAL = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?", re.ASCII)


def _number(text: str, pattern: re.Pattern, what: str) -> str:
    """``text`` if it is a number written as ``pattern`` allows, else the parser error."""
    if len(text) > 30:  # int() of a huge string is slow; no allowed value is that long
        raise argparse.ArgumentTypeError(f"'{printable(text[:20])}...' is too long a number")
    if not pattern.fullmatch(text):
        raise argparse.ArgumentTypeError(f"'{printable(text)}' is not {what} (digits 0-9)")
    return text


def _int_at_least(minimum: int, maximum: int | None = None):
    def parse(text: str) -> int:
        value = int(_number(text, _WHOLE, "a whole number"))
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is too small; allowed: {minimum} or more")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"{value} is too large; allowed: {minimum} to "
                                             f"{maximum}")
        return value

    return parse


def _positive_finite(allowed: str):
    """A parser of a number above 0 and finite; ``allowed`` says what it stands for."""
    def parse(text: str) -> float:
        value = float(_number(text, _DECIMAL, "a number"))
        if not 0 < value < float("inf"):
            raise argparse.ArgumentTypeError(f"{text[:20]} is not a positive finite number; "
                                             f"allowed: {allowed}")
        return value

    return parse


def _share(text: str) -> float:
    """A share above 0 and at most 1."""
    value = float(_number(text, _DECIMAL, "a share above 0 and at most 1"))
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text[:20]} is not above 0 and at most 1; "
                                         f"allowed: a share such as 0.8")
    return value


def _add_memory_option(command: argparse.ArgumentParser) -> None:
    """--max-memory: the limit on a run's estimated memory (sim.model.memory)."""
    command.add_argument("--max-memory", type=_positive_finite("GiB above 0"), default=None,
                         metavar="GIB",
                         help="refuse, before it starts, a run estimated to need more "
                              "memory than this, in GiB (default: the environment's "
                              "ATTRITION_MAX_MEMORY, else 4); the estimate counts the "
                              "sector's cells, the most units the run can have and its "
                              "daily records")


def _frame_size(text: str) -> tuple[int, int]:
    """--size: WIDTHxHEIGHT within sim.animation's bounds."""
    from sim.animation import parse_size

    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _frame_rate(text: str) -> int:
    """--fps: a whole number within sim.animation's bounds."""
    from sim.animation import check_fps

    try:
        return check_fps(int(text) if _WHOLE.fullmatch(text) and len(text) <= 30 else text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text[:20]}' is not a frame rate; allowed: a "
                                         f"whole number of frames a second from {MIN_FPS} "
                                         f"to {MAX_FPS}") from None


def _port(text: str) -> int:
    value = _int_at_least(0)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{value} is too large; allowed: 0 to 65535")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """One line, not the usage block: what is wrong and where to look (a flag's
        value echoed with its control characters escaped, and cut if long)."""
        message = shown(message, 300)
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_executor_options(command: argparse.ArgumentParser, what: str) -> None:
    """--workers and --scheduler: where a sweep's or a calibration's runs go
    (``sim.executors.executor_for``); the numbers do not depend on them."""
    command.add_argument("--workers", type=_int_at_least(1, MAX_WORKERS),
                         default=os.cpu_count() or 1, metavar="N",
                         help=f"local worker processes for {what} (default: the number of "
                              f"cores, {os.cpu_count() or 1}; at most {MAX_WORKERS}); 1 runs "
                              f"in this process; the numbers do not depend on it")
    command.add_argument("--scheduler", default=None, metavar="ADDRESS",
                         help=f"run {what} on an existing Dask distributed cluster instead, "
                              f"e.g. tcp://10.0.0.5:8786")


SWEEP_HELP = ("one sweep: its folder; a folder's name under sweeps/ (as attrition sweeps "
              "lists them); an experiment's name or file, meaning its newest sweep; or "
              "latest, the newest sweep of all by the start time in its manifest "
              "(./latest for a folder of that name)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="attrition",
        description="Agent-based simulator of military attrition (one step = one day). "
                    "docs/ODD.md describes the model and every parameter's unit and default.")
    parser.add_argument("--version", action="version", version=f"attrition-sim {__version__}",
                        help="print the version (attrition-sim VERSION) and exit")
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
    _add_memory_option(check)
    run_cmd = commands.add_parser(
        "run", help="run a scenario, write its results and print its summary",
        description="Run a named scenario or a scenario file. Writes the daily record, the "
                    "event log, summary.json, the resolved scenario and PNG plots into "
                    "--out, and prints a summary table (casualties in persons, ground in m). "
                    "A theatre file (its sectors a list, such as a game exported from "
                    "attrition demo --class) runs as attrition theatre run does: daily.csv, "
                    "sectors.csv, monthly.csv and summary.json, replicate i seeded "
                    "run_seed(SEED, 0, i).")
    run_cmd.add_argument("scenario", nargs="?", default=DEFAULT_SCENARIO, metavar="NAME|FILE",
                         help=f"scenario name (see attrition list) or TOML file (default: "
                              f"{DEFAULT_SCENARIO})")
    run_cmd.add_argument("--seed", type=_int_at_least(0, MAX_SEED), default=0,
                         help="random seed (default: 0); the same seed gives the same numbers")
    run_cmd.add_argument("--days", type=_int_at_least(1, MAX_DAYS), default=None,
                         help="days to simulate at most (default: the scenario's max_days)")
    _add_memory_option(run_cmd)
    run_cmd.add_argument("--replicates", type=_int_at_least(1, MAX_REPLICATES), default=1,
                         metavar="N",
                         help="runs of the scenario; with N > 1, replicate i has the seed "
                              "run_seed(SEED, 0, i) drawn from SEED (sim.seeds; listed in "
                              "summary.json), and the summary gives per key the mean and the "
                              "95%% confidence interval of the mean (default: 1, a run of "
                              "SEED itself)")
    run_cmd.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                         dest="overrides",
                         help="override a scenario key, e.g. --set attacker.drones=40 or "
                              "--set 'attacker.units[0].tactic=infiltration'; the value is a "
                              "TOML literal (a bare word is a string); repeatable")
    run_cmd.add_argument("--out", type=Path, default=None, metavar="DIR",
                         help="new or empty directory for the results, made with any "
                              "missing parent folders (default: a fresh "
                              "runs/NAME-TIMESTAMP, NAME the scenario's name made safe: "
                              "letters, digits and ._-+=,@ kept, the rest '_')")
    run_cmd.add_argument("--format", choices=RUN_FORMATS, default=None,
                         help="format of the daily record and event log (default: csv); "
                              "both hold the same data")
    run_cmd.add_argument("--json", action="store_true",
                         help="print only the summary, as JSON, on stdout (the folder "
                              "written, unless given with --out, is named on stderr)")
    run_cmd.add_argument("--no-files", action="store_true",
                         help="write nothing (no results folder): print the summary only")
    run_cmd.add_argument("--animate", type=Path, default=None, metavar="FILE",
                         help="also write an animation of the front and the live charts "
                              "of the first replicate for slides: FILE.gif, or FILE.mp4 "
                              "where ffmpeg is installed; one frame per day (see "
                              "--animate-every), 1920x1080 with 20-pixel text (see --size)")
    run_cmd.add_argument("--animate-every", type=_int_at_least(1), default=1, metavar="DAYS",
                         help="days between frames of --animate; the first and last day are "
                              "always frames (default: 1)")
    run_cmd.add_argument("--size", type=_frame_size, default=SIZE,
                         metavar="WIDTHxHEIGHT",
                         help=f"pixels of each frame of --animate, from "
                              f"{MIN_SIZE[0]}x{MIN_SIZE[1]} to {MAX_SIZE[0]}x{MAX_SIZE[1]}; "
                              f"text scales with the frame (default: {SIZE[0]}x{SIZE[1]})")
    run_cmd.add_argument("--fps", type=_frame_rate, default=FRAMES_PER_SECOND, metavar="N",
                         help=f"frames a second of --animate, {MIN_FPS} to {MAX_FPS} (default: "
                              f"{FRAMES_PER_SECOND}); a GIF times frames in hundredths of a "
                              f"second, so 6 shows each frame for 0.17 s")
    sweep = commands.add_parser(
        "sweep", help="run an experiment: a design of parameter values with replicates",
        description="Run an experiment file (experiments/*.toml): every design point times "
                    "every replicate, each run seeded from the master seed, the point and "
                    "the replicate. Results stream to Parquet as runs finish, into "
                    "sweeps/EXPERIMENT-YYYYmmdd-HHMM-HASH/ (the start time, then the "
                    "experiment's hash); the same command again finds that folder and "
                    "resumes, skipping the runs already stored.")
    sweep.add_argument("experiment", metavar="EXPERIMENT",
                       help="experiment file, or a name in experiments/")
    sweep.add_argument("--replicates", type=_int_at_least(1, MAX_SWEEP_REPLICATES),
                       default=None, metavar="N",
                       help="runs per design point, instead of the file's replicates")
    sweep.add_argument("--samples", type=_int_at_least(1, MAX_POINTS), default=None,
                       metavar="N",
                       help="the design's size instead of the file's samples: points "
                            "(random, lhs), base samples (sobol: a power of 2 of at least "
                            "128, samples x (parameters + 2) points) or trajectories "
                            "(morris: at least 2, samples x (parameters + 1) points)")
    sweep.add_argument("--seed", type=_int_at_least(0, MAX_SEED), default=None,
                       help="master seed instead of the file's seed")
    _add_executor_options(sweep, "the sweep's runs")
    sweep.add_argument("--vary", action="append", default=[], metavar="KEY=SPEC",
                       help="add or replace a varied parameter, Hydra style: key=a,b,c, "
                            "key=range(start,stop[,step]) (stop excluded) or "
                            "key=interval(low,high); repeatable")
    sweep.add_argument("--out", type=Path, default=None, metavar="DIR",
                       help="folder for runs.parquet, series.parquet and manifest.json "
                            "(default: the newest sweeps/EXPERIMENT-*-HASH of this "
                            "experiment, so that a rerun resumes, else a new "
                            "sweeps/EXPERIMENT-YYYYmmdd-HHMM-HASH)")
    sweep.add_argument("--format", choices=SWEEP_FORMATS, default="parquet",
                       help="parquet (the store, always written) or csv: also runs.csv "
                            "and series.csv once the sweep is complete, with the same "
                            "data (a text cell starting with = + - @ gets a ' in front, "
                            "so that a spreadsheet does not run it); a complete folder "
                            "gets them if it lacks them (default: parquet)")
    sweep.add_argument("--dry-run", action="store_true",
                       help="print the number of runs, the design and an estimate of the "
                            "time (from a few of its runs, timed here for at most a few "
                            "seconds); write nothing")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_memory_option(sweep)
    sweeps = commands.add_parser(
        "sweeps", help="list the sweeps under sweeps/ and their state",
        description="List the sweep folders under ROOT, newest first, one line each: "
                    "the folder's name, the experiment, when it started (local time), "
                    "the design (points, or base samples and points, x replicates), the "
                    "runs stored of the total, and the state: complete, running (a sweep "
                    "holds its lock now), interrupted (stopped or killed before the end; "
                    "the same sweep command resumes it) or damaged (and why). Reads "
                    "only.")
    sweeps.add_argument("root", type=Path, nargs="?", default=Path("sweeps"),
                        metavar="ROOT", help="the folder of sweeps (default: sweeps)")
    report = commands.add_parser(
        "report", help="plots and tables of a finished sweep",
        usage="%(prog)s [-h] SWEEP",  # one: SWEEP [SWEEP ...] is refused, with why
        description="Write report.md and figures into a sweep's folder: for a grid, each "
                    "metric against each parameter at every level of the others, with its "
                    "main effect, the interaction of each pair, heatmaps and a table of "
                    "every cell (95%% intervals from the replicates, cut at 0 for "
                    "quantities that cannot be negative); for Sobol and Morris designs, "
                    "the indices with their convergence and a warning when the design is "
                    "too small; envelopes of the daily series kept; and the experiment's "
                    "[report] theory over the means. Axes carry each key's unit.")
    report.add_argument("sweep", nargs="+", metavar="SWEEP",
                        help=SWEEP_HELP)
    discover = commands.add_parser(
        "discover", help="under which conditions an outcome occurs (PRIM over a sweep)",
        description="Scenario discovery over a finished sweep: mark each ok run by whether "
                    "CONDITION holds, find PRIM's box (limits on a few varied parameters "
                    "within which it holds for most runs; its coverage, density and "
                    "quasi-p values) and each parameter's feature score (extra trees), and "
                    "write discovery.md, discovery.json, peeling.png, box.png and "
                    "feature_scores.png into SWEEP/discover-WORDS-HASH/. CONDITION "
                    "compares metrics or varied parameters (key paths) with finite "
                    "numbers, quoted text or true/false (< <= > >= == !=), joined by and, "
                    "or, not and parentheses; it is read as data, never run as code. A "
                    "comparison with a missing value (a pool never exhausted) is false. "
                    "Only ok runs enter.")
    discover.add_argument("sweep", metavar="SWEEP", help=SWEEP_HELP)
    discover.add_argument("--where", required=True, metavar="CONDITION",
                          help="e.g. 'attacker_pool_exhausted_day <= 730' or "
                               "'loss_exchange_ratio > 5 and days < 100'")
    discover.add_argument("--min-coverage", type=_share, default=0.8, metavar="SHARE",
                          help="the box reported is the densest on PRIM's peeling "
                               "trajectory that holds at least this share of the runs "
                               "where CONDITION holds (above 0, at most 1; default: 0.8)")
    verify = commands.add_parser(
        "verify", help="check a sweep's folder: every run once, series for every ok run",
        description="Check a sweep's folder without changing it: the manifest readable, "
                    "every run of the design stored exactly once with a status, and (if "
                    "the experiment keeps daily series) series for every ok run. Prints "
                    "'ok' or one line per problem; exit status 0 if sound, 1 if not. A "
                    "sweep checks its folder this way before it says 'complete'.")
    verify.add_argument("folders", nargs="+", metavar="SWEEP",
                        help="sweeps, each as report takes one: a folder, a folder's name "
                             "under sweeps/, an experiment's name or latest")
    calibrate = commands.add_parser(
        "calibrate", help="fit Lanchester laws or scenario keys to a battle record",
        description="Fit Lanchester laws to a CSV of daily observations by maximum "
                    "likelihood with errors that run in streaks (AR(1)), say which laws the "
                    "record supports (BIC: a gap under 2 is a tie) and which parameters it "
                    "cannot identify, or, with --scenario and --fit, fit scenario "
                    "keys so that the model's replicate mean matches the record (simulated "
                    "moments with common random numbers). The CSV has a 'day' column and "
                    "any of attacker_strength, defender_strength, attacker_casualties, "
                    "defender_casualties (cumulative), attacker_reinforcements, "
                    "defender_reinforcements (cumulative arrivals), in persons. Missing "
                    "days, one-day spikes and dips and outliers are reported and left "
                    "out; a casualty count that does not start at 0 began before the "
                    "record and the law fits take an offset. Estimates come with 95% "
                    "intervals; the folder gets "
                    "estimates.json and plots of observed against fitted, with residuals "
                    "(fit.png for laws, model_fit.png for the model).")
    calibrate.add_argument("data", type=Path, metavar="DATA.csv", help="the battle record")
    calibrate.add_argument("--law", choices=(*LAW_CHOICES, "all"), default=None,
                           help="law to fit (default: all, compared by BIC, unless "
                                "--scenario is given); the power law has a side lose "
                                "coefficient x enemy^p x own^q a day, Helmbold's "
                                "own^(1-W) x enemy^W; fatigue is the square law with "
                                "effectiveness decaying with time in action; phases the "
                                "square law whose coefficients switch on a fitted day")
    calibrate.add_argument("--reinforcements", type=Path, default=None, metavar="FILE",
                           help="reinforcement schedule for the law fits, a CSV with day, "
                                "side (attacker or defender) and persons arriving that day")
    for side in SIDES:
        calibrate.add_argument(f"--initial-{side}", type=_positive_finite("persons > 0"),
                               default=None, metavar="PERSONS",
                               help=f"the {side}'s known strength on the first day, for "
                                    f"the law fits (default: fitted)")
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
    _add_memory_option(calibrate)
    calibrate.add_argument("--replicates", type=_int_at_least(3, MAX_REPLICATES), default=10,
                           metavar="N",
                           help="model runs per evaluation, with the same N seeds at every "
                                "evaluation (default: 10)")
    calibrate.add_argument("--seed", type=_int_at_least(0, MAX_SEED), default=0,
                           help="master seed of the replicates (default: 0)")
    _add_executor_options(calibrate, "the model runs")
    calibrate.add_argument("--no-progress", action="store_true", help="no progress bar")
    calibrate.add_argument("--out", type=Path, default=None, metavar="DIR",
                           help="new or empty directory for estimates.json and the plots, "
                                "made with any missing parent folders (default: a fresh "
                                "runs/calibrate-NAME-TIMESTAMP, NAME the record's file name "
                                "made safe)")
    calibrate.add_argument("--json", action="store_true",
                           help="print only the estimates, as JSON, on stdout")
    calibrate.add_argument("--bayes", action="store_true",
                           help="also calibrate by approximate Bayesian computation (ABC-SMC, "
                                "pyABC): the posterior probabilities and credible "
                                "intervals of the laws the least-squares verdict does not "
                                "reject (exact ABC under the fits' noise model), or with "
                                "--scenario the keys' posterior from single "
                                "model runs; prints the convergence diagnostics and writes "
                                "posterior.png, posterior_predictive.png and "
                                "posterior_particles.csv; the same --seed gives the same "
                                "posterior on any --workers")
    calibrate.add_argument("--population", type=_int_at_least(2, MAX_POPULATION),
                           default=200, metavar="N",
                           help=f"with --bayes: particles per generation (default: 200; at "
                                f"most {MAX_POPULATION:,})")
    calibrate.add_argument("--generations", type=_int_at_least(1, MAX_GENERATIONS),
                           default=None, metavar="N",
                           help=f"with --bayes: at most this many generations (default: 10 "
                                f"for laws, 8 for the model; at most {MAX_GENERATIONS})")
    calibrate.add_argument("--max-runs", type=_int_at_least(1, MAX_ABC_RUNS), default=None,
                           metavar="N",
                           help=f"with --bayes: at most this many runs for the populations "
                                f"(default: 200,000 for laws, 20,000 for the model; at most "
                                f"{MAX_ABC_RUNS:,})")
    _add_validate(commands)
    _add_score(commands)
    _add_theatre(commands)
    demo = commands.add_parser(
        "demo", help="serve the classroom page (works offline)",
        description="Serve the interactive classroom page, laid out for a projector "
                    "(1920x1080; smaller windows zoom it whole): big monitors, the front, "
                    "four live charts, and controls for tactic, training, fortification, "
                    "drones, recruitment, training length and seed, each showing its value "
                    "(changes take effect on Reset); Step, Play (at a speed from slower to "
                    "faster) and Reset; each chart's data as CSV and the view as PNG; the "
                    "lesson notes of docs/teaching/ on its Lesson notes tab, whose things "
                    "to try set the controls. Every asset is served from this machine. "
                    "The address is printed once the page answers (on a machine's first "
                    "run, after the model is compiled, about a minute); Ctrl-C stops the "
                    "server (exit status 0, or 130 before the address is printed).")
    demo.add_argument("scenario", nargs="?", default=None, metavar="NAME|FILE",
                      help=f"scenario to start from (default: {DEMO_SCENARIO}); with "
                           f"--class, a theatre (default: {CLASS_THEATRE})")
    demo.add_argument("--class", dest="class_game", action="store_true",
                      help="serve the class's wargame instead (sim.wargame): student staffs "
                           "command each side's force generation on a theatre, a turn at a "
                           "time, from their own browsers. Prints the teacher's address "
                           "(with its key: keep it to yourself) and the students'; the "
                           "teacher's page opens the class with a join code, runs one or "
                           "several parallel games, sets the turn's length, pauses, "
                           "reveals the true numbers, and debriefs with both sides' "
                           "curves, their decisions and each game's export (a theatre "
                           "file that attrition run replays); see "
                           "docs/teaching/wargame.md")
    demo.add_argument("--port", type=_port, default=8765,
                      help="port to serve on; 0 picks a free one (default: 8765)")
    _add_memory_option(demo)
    demo.add_argument("--host", default="127.0.0.1",
                      help="address to listen on; 0.0.0.0 lets other machines on the "
                           "network (a class) connect (default: 127.0.0.1, this machine only)")
    return parser


def _add_validate(commands) -> None:
    """``attrition validate``: the historical scenarios beside their dated claims."""
    validate = commands.add_parser(
        "validate", help="set the historical scenarios beside the dated public claims",
        description="Run each historical scenario's replicates and set the model beside "
                    "every claim of seeds/claims.csv that has a target on it: killed, "
                    "wounded, persons on the line on a date, the day the run ended, and "
                    "so on. For each, the claim (and its range where the source gives "
                    "one), the model's mean and its 90% interval of single runs (5th to "
                    "95th percentiles over the replicates), whether the claim is inside "
                    "(a range: whether it overlaps the interval), and whether the scenario "
                    "was tuned to it or predicts it. Prints the table and writes "
                    "validation.md, validation.csv, validation.json and a figure per "
                    "scenario, validation-SCENARIO.png. Exit status 0 (a report) unless "
                    "--strict; 2 for bad input.")
    validate.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                          help="scenario names with targets in the claims file (default: "
                               "every one that has targets)")
    validate.add_argument("--replicates", type=_int_at_least(2, MAX_REPLICATES),
                          default=VALIDATE_REPLICATES, metavar="N",
                          help=f"runs of each scenario, replicate i under the seed "
                               f"run_seed(SEED, 0, i) as for attrition run (default: "
                               f"{VALIDATE_REPLICATES}; at least 2; more runs place the "
                               f"interval's ends more surely)")
    validate.add_argument("--seed", type=_int_at_least(0, MAX_SEED), default=0,
                          help="master seed of the replicates (default: 0)")
    validate.add_argument("--workers", type=_int_at_least(1, MAX_WORKERS),
                          default=os.cpu_count() or 1, metavar="N",
                          help=f"local worker processes for the runs (default: the number "
                               f"of cores, {os.cpu_count() or 1}; at most {MAX_WORKERS}); 1 "
                               f"runs in this process; the numbers do not depend on it")
    validate.add_argument("--claims", type=Path, default=None, metavar="FILE",
                          help="the claims table with the targets (default: "
                               "seeds/claims.csv; columns in seeds/README.md)")
    validate.add_argument("--out", type=Path, default=None, metavar="DIR",
                          help="new or empty directory for the files, made with any "
                               "missing parent folders (default: a fresh "
                               "runs/validate-TIMESTAMP)")
    validate.add_argument("--strict", action="store_true",
                          help="exit status 1 if any claim lies outside the model's 90%% "
                               "interval (default: 0 whatever the result, as a report)")
    validate.add_argument("--json", action="store_true",
                          help="print the results as JSON (validation.json) instead of "
                               "the table (the folder written, unless given with --out, "
                               "is named on stderr)")
    validate.add_argument("--no-files", action="store_true",
                          help="write nothing (no results folder): print the results only")
    validate.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_memory_option(validate)


def _add_score(commands) -> None:
    """``attrition score``: a forecast file set beside a later record."""
    score = commands.add_parser(
        "score", help="score a forecast file against a later record (coverage, errors)",
        description="Score a forecast file (one row per month, quantity and side: mean and "
                    "an interval of single runs; sim.forecast) against one or more records "
                    "of what happened. A record is a tidy CSV (month,quantity,who,value) or "
                    "a series as data/ has it, recognised by its header: the cumulative "
                    "daily claim of Russian losses (date,claimed_personnel_losses_"
                    "cumulative) scores the attacker's monthly claimed_losses; a named-dead "
                    "list (month,named_deaths[,named_missing]) the attacker's (Russian) or "
                    "the defender's (Ukrainian) named_dead. Per quantity and side, over the "
                    "months both have: the share of months inside the interval (coverage) "
                    "beside the nominal level, with its binomial 90% interval (a shortfall "
                    "inside it may be noise), the mean error (forecast mean minus the "
                    "record), the mean absolute and relative error, and the months missed; "
                    "months in one file but not the other are named. Exit status 0 (a "
                    "report); 2 for bad input, in one line naming the file, row and "
                    "column.")
    score.add_argument("forecast", type=Path, metavar="FORECAST",
                       help="the forecast file (CSV with its '# provenance' header)")
    score.add_argument("records", type=Path, nargs="+", metavar="RECORD",
                       help="records to score against; several are taken together, a "
                            "month of a quantity and side in at most one")
    score.add_argument("--json", action="store_true",
                       help="print the score as JSON (score.json) instead of the table")
    score.add_argument("--out", type=Path, default=None, metavar="DIR",
                       help="also write score.json and score.csv into this new or empty "
                            "directory, made with any missing parent folders, whole or not "
                            "at all (default: write nothing)")


DEFAULT_THEATRE = "theatre_2023_2024"
#: Policies of `attrition theatre sustain` (sim.theatre.sustainability.POLICIES).
POLICY_CHOICES = ("status_quo", "higher_tempo", "second_mobilisation", "drone_screen",
                  "foreign_contingent")


def _date(text: str):
    import datetime

    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text[:20]}' is not a date; allowed: YYYY-MM-DD"
                                         ) from None


def _month(text: str) -> str:
    import re

    if not re.fullmatch(r"[1-9][0-9]{3}-(0[1-9]|1[0-2])", text):
        raise argparse.ArgumentTypeError(f"'{text[:20]}' is not a month; allowed: YYYY-MM")
    return text


def _add_theatre(commands) -> None:
    """``attrition theatre``: the national theatre (sim.theatre) run, calibrated, asked
    whether the recruit pool sustains it, and made to forecast."""
    theatre = commands.add_parser(
        "theatre", help="the national theatre: run, calibrate, sustain, forecast",
        description="A front of many sectors fed by each side's national force generation "
                    "(sim.theatre; docs/ODD.md, the theatre). Theatres are TOML files in "
                    "theatres/ (by name) or anywhere (by path).")
    sub = theatre.add_subparsers(dest="theatre_command", metavar="ACTION", required=True,
                                 parser_class=_Parser)

    def common(command, replicates: int) -> None:
        command.add_argument("theatre", nargs="?", default=DEFAULT_THEATRE,
                             metavar="NAME|FILE",
                             help=f"a theatre file or name (default {DEFAULT_THEATRE})")
        command.add_argument("--seed", type=_int_at_least(0, MAX_SEED), default=0,
                             help="master seed; replicate r is seeded from it and r")
        command.add_argument("--replicates", type=_int_at_least(1, 1000), default=replicates,
                             metavar="N", help=f"runs (of each policy and variant, where "
                                               f"there are) (default {replicates})")
        _add_executor_options(command, "the runs")
        _add_memory_option(command)

    sub.add_parser("list", help="list the named theatres with a line on each",
                   description="The theatres in theatres/ (here, then the project's).")
    run = sub.add_parser("run", help="run a theatre and set it beside the record",
                         description="Run a theatre's replicates; write the daily records "
                                     "per force category (daily.csv), per sector "
                                     "(sectors.csv), the months (monthly.csv) and, over "
                                     "2023-2024, the fit to the record (fit.csv, fit.png) "
                                     "and the recruitment claims (recruitment.csv).")
    common(run, 4)
    run.add_argument("--set", dest="overrides", action="append", default=[],
                     metavar="KEY=VALUE", help="override a key, e.g. attacker.intensity=1.2")
    run.add_argument("--days", type=_int_at_least(1, MAX_DAYS), default=None,
                     help="days to run (replaces max_days)")
    run.add_argument("--out", type=Path, default=None, metavar="DIR",
                     help="results folder, new or empty (default: runs/NAME-<time>)")
    run.add_argument("--json", action="store_true",
                     help="print the summary as JSON (the folder written, unless given "
                          "with --out, is named on stderr)")
    run.add_argument("--no-files", action="store_true",
                     help="write nothing (no results folder): print the summary only")

    calibrate = sub.add_parser(
        "calibrate", help="fit theatre keys to the record of 2023-2024",
        description="Fit theatre keys so that the mean of the attacker's monthly "
                    "claimed-loss and named-dead equivalents (logs) matches the record of "
                    "January 2023 to December 2024, by the method of simulated moments "
                    "with common random numbers (sim.calibration's engine; "
                    "sim.theatre.calibration).")
    common(calibrate, 4)
    calibrate.add_argument("--fit", action="append", default=None, metavar="KEY",
                           help="a key to fit, as `attrition calibrate --fit` takes it "
                                "(repeatable; default attacker.intensity and "
                                "attacker.killed_fraction)")
    calibrate.add_argument("--claim-factor", type=_positive_finite("0.1 to 10"), default=1.0,
                           metavar="F", help="take the truth's killed and wounded as F "
                                             "times the claim (default 1: the claim at face "
                                             "value; 1.5: the claim understates them)")
    calibrate.add_argument("--out", type=Path, default=None, metavar="DIR",
                           help="also write estimates.json into this new or empty folder")
    calibrate.add_argument("--json", action="store_true", help="print the fit as JSON")

    sustain = sub.add_parser(
        "sustain", help="can the recruit pool sustain it? policies past 2024",
        description="Run the theatre and its variants past 2024 under named policies and "
                    "answer: the force in the line, the net daily change, break-even "
                    "recruitment, and when recruitment stops covering losses or the "
                    "contract pool runs dry (sim.theatre.sustainability); writes "
                    "answers.csv and sustainability.png.")
    common(sustain, 4)
    sustain.add_argument("--policy", action="append", choices=POLICY_CHOICES, default=None,
                         help="a policy (repeatable; default all): " + ", ".join(
                             POLICY_CHOICES))
    sustain.add_argument("--contract-pool", dest="pools", action="append",
                         type=_int_at_least(1, 10**9), default=None, metavar="PERSONS",
                         help="run under this size of the attacker's contract pool (an "
                              "assumption), its bonus re-derived so that 2023-2024's "
                              "claimed signings stay as claimed (repeatable; default: the "
                              "theatre's own)")
    sustain.add_argument("--until", type=_date, default=None, metavar="YYYY-MM-DD",
                         help="the horizon (default 2027-12-31)")
    sustain.add_argument("--out", type=Path, default=None, metavar="DIR",
                         help="results folder, new or empty (default: runs/NAME-sustain-"
                              "<time>)")
    sustain.add_argument("--json", action="store_true", help="print the answers as JSON")

    forecast = sub.add_parser(
        "forecast", help="write a monthly forecast file a later record can score",
        description="Run the calibrated theatre (and its variants) past its window and "
                    "write a forecast file (sim.forecast: per month, quantity and side, "
                    "the mean and the 5-95% of single runs); `attrition score` sets it "
                    "beside a later record.")
    common(forecast, 10)
    forecast.add_argument("--until", type=_month, default="2025-12", metavar="YYYY-MM",
                          help="the last month forecast (default 2025-12); the forecast "
                               "starts the month after the calibration window")
    forecast.add_argument("--out", type=Path, default=None, metavar="FILE",
                          help="the forecast file (default forecast-NAME-UNTIL.csv)")
