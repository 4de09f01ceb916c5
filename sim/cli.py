"""The ``attrition`` command (also ``python -m sim``): a thin layer over :mod:`sim`.

    attrition run                    # the reference scenario, seed 0, summary on screen
    attrition run --seed 3 --days 20 --out results/
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
from pathlib import Path

from pydantic import ValidationError

from sim import Scenario, run


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


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """One line, not the usage block: what is wrong and where to look."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="attrition",
        description="Agent-based simulator of military attrition (one step = one day). "
                    "See docs/ODD.md for the model and every parameter's unit and default.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run_cmd = commands.add_parser(
        "run", help="run the reference scenario and print its summary",
        description="Run the reference scenario (docs/ODD.md section 5) and print the run "
                    "summary: casualties (persons), loss exchange ratio, ground gained (m).")
    run_cmd.add_argument("--seed", type=_int_at_least(0), default=0,
                         help="random seed (default: 0); the same seed gives the same numbers")
    run_cmd.add_argument("--days", type=_int_at_least(1), default=None,
                         help="days to simulate at most (default: the scenario's max_days, "
                              f"{Scenario.model_fields['max_days'].default})")
    run_cmd.add_argument("--json", action="store_true", help="print the summary as JSON")
    run_cmd.add_argument("--plot", type=Path, default=None, metavar="FILE",
                         help="save a figure of strengths and casualties by day (PNG, PDF or "
                              "SVG, by the file's suffix; default: no figure)")
    run_cmd.add_argument("--out", type=Path, default=None,
                         help="directory to write summary.json, daily.csv and events.csv "
                              "(default: write nothing)")
    return parser


def _format_summary(summary: dict) -> str:
    width = max(map(len, summary))
    lines = []
    for key, value in summary.items():
        if isinstance(value, float):
            value = f"{value:,.2f}" if math.isfinite(value) else str(value)
        lines.append(f"{key:<{width}}  {'n/a' if value is None else value}")
    return "\n".join(lines)


def _write_outputs(result, out: Path) -> None:
    """Write into a temporary directory beside ``out`` and rename, so that a failure
    never leaves half a result."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        (staging / "summary.json").write_text(json.dumps(result.summary, indent=2) + "\n")
        result.daily.to_csv(staging / "daily.csv", index=False)
        result.events.to_csv(staging / "events.csv", index=False)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    scenario = Scenario()
    try:
        if args.days is not None:
            scenario = scenario.with_overrides({"max_days": args.days})
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        print(f"attrition: error: {where}: {first['msg']}", file=sys.stderr)
        return 2
    result = run(scenario, seed=args.seed)
    if args.out is not None:
        try:
            _write_outputs(result, args.out)
        except OSError as err:
            print(f"attrition: error: cannot write to {args.out}: {err.strerror}",
                  file=sys.stderr)
            return 1
    if args.plot is not None:
        from sim.plots import plot_daily

        try:
            plot_daily(result.daily, args.plot, title=f"{scenario.name}, seed {args.seed}")
        except (OSError, ValueError) as err:
            print(f"attrition: error: cannot save figure {args.plot}: {err}", file=sys.stderr)
            return 1
    print(json.dumps(result.summary, indent=2) if args.json else _format_summary(result.summary))
    return 0
