"""afsim: a discrete-event model of how the Afghan republic fell in 2021, district by district.

Three lines from a notebook::

    import sim
    result = sim.run("scenarios/baseline.toml", replicates=200, seed=1)
    result.plot_fan()

The pieces, one concept per module: :mod:`sim.geography` (the district graph),
:mod:`sim.parameters` (every parameter), :mod:`sim.timeline` (dated drivers),
:mod:`sim.hazard` (the surrender rule), :mod:`sim.engine` (SimPy reference engine),
:mod:`sim.batch` (many replicates at once), :mod:`sim.scenario` (TOML scenarios),
:mod:`sim.ensemble` (replicates and workers), :mod:`sim.results` (tables and the output
contract), :mod:`sim.plots` (figures). How they layer, and the test that keeps the imports
free of cycles: ``docs/architecture.md``.
"""

from .version import __version__  # noqa: F401  (re-exported)
from .errors import DataError, UserError  # noqa: E402
from .geography import load_geography  # noqa: E402
from .scenario import load_scenario  # noqa: E402
from .ensemble import ParameterSource, run  # noqa: E402
from .compare import Comparison, compare  # noqa: E402
from .calibrate import calibrate  # noqa: E402
from .sensitivity import sensitivity  # noqa: E402

# The names above are functions; their modules stay importable as sim.compare etc. through
# ``from sim.compare import ...``.

__all__ = ["__version__", "run", "compare", "Comparison", "calibrate", "sensitivity",
           "load_scenario", "load_geography", "ParameterSource", "UserError", "DataError"]
