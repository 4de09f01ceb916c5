"""The attrition model as subsystems, one module per submodel of ``docs/ODD.md``."""

from sim.model.model import AttritionModel
from sim.model.records import PROJECTION_WINDOW_DAYS, RECORD_COLUMNS, Event, FrontMap
from sim.model.sector import NEUTRAL
from sim.model.units import COLUMNS, SIDES, STATES, Unit

__all__ = ["COLUMNS", "NEUTRAL", "PROJECTION_WINDOW_DAYS", "RECORD_COLUMNS", "SIDES", "STATES",
           "AttritionModel", "Event", "FrontMap", "Unit"]
