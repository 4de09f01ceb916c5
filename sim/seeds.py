"""The seed scheme: the one place that says which seed each run of a set gets.

A single run uses its seed as given: ``run(scenario, seed=s)`` and ``attrition run
--seed s`` (one replicate) run seed ``s`` itself. A set of runs under one master seed
``s`` (a sweep's design points times replicates, a scenario's replicates, a
calibration's common random numbers) gives run ``(point, replicate)`` the seed
:func:`run_seed` draws from ``numpy.random.SeedSequence(s, spawn_key=(point,
replicate))``: the seeds are independent of one another and of the master, do not
depend on the executor, the worker count or the order in which runs finish, and each is
stored, so that ``attrition run --seed`` reproduces any run alone. Replicates of one
scenario are point 0: replicate ``i`` has seed ``run_seed(s, 0, i)``.

Replicates used the consecutive seeds ``s, s + 1, ...`` until this scheme became the
one for every set of runs (issue 15): their numbers changed then; single runs did not.
"""

from __future__ import annotations

import numpy as np


def run_seed(master_seed: int, point: int, replicate: int) -> int:
    """The seed of one run of a set: 63 bits drawn from
    ``SeedSequence(master_seed, spawn_key=(point, replicate))``.

    >>> run_seed(7, 0, 0) == run_seed(7, 0, 0) != run_seed(7, 0, 1)
    True
    """
    state = np.random.SeedSequence(master_seed, spawn_key=(point, replicate))
    return int(state.generate_state(1, np.uint64)[0] >> np.uint64(1))


def replicate_seeds(seed: int, replicates: int) -> list[int]:
    """The seeds of ``replicates`` runs of one scenario under master seed ``seed``:
    ``run_seed(seed, 0, i)`` for replicate ``i``; one replicate is a single run, of
    ``seed`` itself.

    >>> replicate_seeds(5, 1)
    [5]
    >>> replicate_seeds(5, 3) == [run_seed(5, 0, i) for i in range(3)]
    True
    """
    if replicates == 1:
        return [seed]
    return [run_seed(seed, 0, i) for i in range(replicates)]
