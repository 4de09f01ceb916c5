"""The two sides of every battle, in the order every per-side array uses.

The one home for the sides: the model, the configuration, the records, calibration and
the CLI import them from here (a module with no imports, so that any module can)."""

SIDES = ("attacker", "defender")
ATTACKER, DEFENDER = 0, 1
