"""The attrition model as subsystems, one module per submodel of ``docs/ODD.md``."""

from sim.model.model import NEUTRAL, PROJECTION_WINDOW_DAYS, RECORD_COLUMNS, AttritionModel
from sim.model.units import SIDES, STATES, Unit

__all__ = ["NEUTRAL", "PROJECTION_WINDOW_DAYS", "RECORD_COLUMNS", "SIDES", "STATES",
           "AttritionModel", "Unit"]
