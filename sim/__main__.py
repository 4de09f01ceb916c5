"""``python -m sim`` is the ``attrition`` command."""

from sim.cli import main

raise SystemExit(main())
