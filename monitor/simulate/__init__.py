"""Traffic simulator: realistic prediction and outcome events with a fault schedule.

The demo, the tests and the benchmarks all drive Driftwatch with this package, so it is
deterministic: the same settings, seed, ``start``, rate and number of predictions give
byte-identical events in the same order.

- Every model gets a *profile* — feature distributions, category lists, label-function
  weights — derived from its name and feature names only, never from the seed. Runs with
  different seeds therefore sample the same populations, and a reference built from one run
  shows no drift against another.
- The truth is a fixed random linear function of the standardised features (skewed ones on a log
  scale): through a logistic for binary models, a softmax for multiclass, plus noise for
  regression. The model's own output is the same function with extra noise, so it is good but
  not perfect (binary AUC about 0.85).
- Predictions are generated in fixed-size chunks per model, vectorised with numpy. Each model
  samples from its own ``Generator`` (PCG64, seeded from a stable hash of seed and model name)
  and each fault from its own, so adding a fault changes only the events it targets, and a
  shorter run is a prefix of a longer one.
- Faults act on the simulated clock, ``start_seconds <= t - start < end_seconds``.
- Outcomes wait on a heap and are emitted when the simulated clock passes their due time; a
  bounded run flushes the rest at its end, so outcome counts are predictable.

Modules: :mod:`~monitor.simulate.profiles` (populations and label functions),
:mod:`~monitor.simulate.faults` (the fault syntax and what a fault targets),
:mod:`~monitor.simulate.generate` (:class:`Simulator`), :mod:`~monitor.simulate.produce` (to Kafka)
and :mod:`~monitor.simulate.command` (the ``driftwatch simulate`` command). Times on the command
line (``--start``, fault schedules) are parsed by :mod:`monitor.times`, shared with the CLI;
``parse_start`` stays among this package's public names (an API change otherwise).
"""

from monitor.simulate.command import run_command
from monitor.simulate.faults import parse_fault
from monitor.simulate.generate import SimEvent, Simulator
from monitor.simulate.produce import ProduceReport, produce
from monitor.simulate.profiles import UNSEEN_CATEGORIES
from monitor.times import parse_start

__all__ = [
    "UNSEEN_CATEGORIES",
    "ProduceReport",
    "SimEvent",
    "Simulator",
    "parse_fault",
    "parse_start",
    "produce",
    "run_command",
]
