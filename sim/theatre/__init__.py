"""The theatre: a national front of many sectors, each side's force generation shared
across them (``docs/ODD.md``, the theatre section)."""

from sim.theatre.battalions import Battalion
from sim.theatre.config import TheatreScenario
from sim.theatre.model import TheatreModel

__all__ = ["Battalion", "TheatreModel", "TheatreScenario"]
