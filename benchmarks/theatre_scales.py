"""Benchmark: do the coarse and the fine version of one sector agree on loss rates?

The coarse version is a one-sector theatre (battalions in kilometre cells, a day a
step, the sector a well-mixed front: sim.theatre); the fine one the sector model
(companies on 100 m cells, 24 combat sub-steps a day: sim.model). For each sector of
sim.theatre.scales.CONFIGURATIONS, the procedure (sim.theatre.scales.compare):

1. measure the fine sector's structure on runs of its own (seeds 1000 on): each side's
   contact share (the share of its aimed fire whose shooters have an enemy within aimed
   range, sub-step by sub-step) and the cover the attackers stand on;
2. map the sector to a theatre (sim.theatre.scales.sector_as_theatre) with those: its
   one contact share the mean of the two sides';
3. run both models (fine seeds 0 on, theatre seeds 2000 on) and compare the loss rates
   per side and cause (casualties_by_cause in both; the theatre's in expectation), per
   day and per person in the line per day.

Nothing is fitted to the losses compared. A rate agrees when the ratio coarse / fine is
within MODEL_TOLERANCE (10%) of 1 plus --se-multiple standard errors of the ratio;
causes under 5% of a side's casualties are shown in brackets (n/c), not judged. The
last three sectors are limits of the coarse scale, shown to size them (agreement not
claimed). Exit status 1 if a claimed rate disagrees.

    python3 benchmarks/theatre_scales.py                         # 32 replicates a sector
    python3 benchmarks/theatre_scales.py --replicates 8 --only baseline deep_lines
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from sim.theatre.scales import (
    CONFIGURATIONS,
    MIN_CAUSE_SHARE,
    MODEL_TOLERANCE,
    SE_MULTIPLE,
    compare,
    table,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicates", type=int, default=32,
                        help="runs of each model per sector (default 32)")
    parser.add_argument("--structure-replicates", type=int, default=6,
                        help="fine runs that measure the structure (default 6)")
    parser.add_argument("--se-multiple", type=float, default=SE_MULTIPLE,
                        help=f"standard errors allowed beyond the tolerance (default "
                             f"{SE_MULTIPLE:g})")
    parser.add_argument("--only", nargs="+", metavar="SECTOR", choices=list(CONFIGURATIONS),
                        help="these sectors only: " + ", ".join(CONFIGURATIONS))
    args = parser.parse_args(argv)
    if args.replicates < 2 or args.structure_replicates < 1:
        parser.error("--replicates: at least 2 (a standard error needs two); "
                     "--structure-replicates: at least 1")
    names = args.only or list(CONFIGURATIONS)
    print(f"Coarse (theatre) against fine (sector model): {args.replicates} replicates of "
          f"each, structure measured on {args.structure_replicates} other fine runs.")
    print(f"Tolerance: |coarse / fine - 1| <= {MODEL_TOLERANCE:.0%} + {args.se_multiple:g} SE "
          f"of the ratio; causes under {MIN_CAUSE_SHARE:.0%} of a side's casualties not "
          f"judged (n/c).\n")
    head = (f"{'sector':14s} {'contact A':>9s} {'contact D':>9s} {'theatre':>7s} "
            f"{'cover A':>7s} {'(given)':>7s} {'line A fine/coarse':>19s} "
            f"{'line D fine/coarse':>19s} {'time':>6s}  description")
    print(head)
    print("-" * len(head))
    comparisons = []
    started = time.perf_counter()
    for name in names:
        configuration = CONFIGURATIONS[name]
        t0 = time.perf_counter()
        comparison = compare(configuration, args.replicates, args.structure_replicates)
        seconds = time.perf_counter() - t0
        comparisons.append(comparison)
        scenario = configuration.scenario()
        days = scenario.max_days
        lines = [np.mean([r.person_days for r in runs], axis=0) / days
                 for runs in (comparison.fine, comparison.coarse)]
        limit = f" [limit: {configuration.limit}]" if configuration.limit else ""
        print(f"{name:14s} {comparison.contact_shares[0]:9.3f} {comparison.contact_shares[1]:9.3f} "
              f"{comparison.contact_share:7.3f} {comparison.cover[0]:7.3f} "
              f"{scenario.sector.cover:7.2f} "
              f"{f'{lines[0][0]:.0f} / {lines[1][0]:.0f}':>19s} "
              f"{f'{lines[0][1]:.0f} / {lines[1][1]:.0f}':>19s} {seconds:5.1f}s  "
              f"{configuration.description}{limit}", flush=True)
    print()
    print(table(comparisons, args.se_multiple))
    claimed = [r for c in comparisons for r in c.rows() if r.compared and r.claimed]
    outside = [r for r in claimed if not r.within(args.se_multiple)]
    limits = [r for c in comparisons for r in c.rows() if r.compared and not r.claimed]
    print(f"\nClaimed: {len(claimed) - len(outside)} of {len(claimed)} rates within tolerance"
          + (": outside " + "; ".join(f"{r.configuration} {r.metric} {r.side} {r.cause} "
                                      f"{r.ratio:.3f}" for r in outside) if outside else "."))
    if limits:
        within = sum(r.within(args.se_multiple) for r in limits)
        print(f"Limits (not claimed): {within} of {len(limits)} rates within tolerance.")
    print(f"Total time {time.perf_counter() - started:.0f} s.")
    return 1 if outside else 0


if __name__ == "__main__":
    sys.exit(main())
