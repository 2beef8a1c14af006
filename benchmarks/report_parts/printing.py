"""The printed report: both sides' per-stage costs, rows/s and ratios, then their decisions.

It only sums, takes medians of and compares what the run measured, so every figure printed is
this run's.
"""

from __future__ import annotations

import statistics
import sys
import textwrap
from typing import Any

import numpy as np

from .data import CATEGORICAL, DRIFTS, FEATURE_KINDS, FEATURES, NUMERIC, PREDICTION
from .driftwatch_side import DriftwatchWindow, FleetResult

TARGET_RATIO = 20.0


def _mark(drift: bool | None) -> str:
    return "?" if drift is None else "X" if drift else "."


def _row(label: str, value: str) -> None:
    print(f"  {label:<48}{value}")


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} ms"


def _ours(window: DriftwatchWindow, column: str) -> bool | None:
    """Driftwatch's decision: True drift, False ok, None insufficient data."""
    status = window.decisions[column]["status"]
    return None if status == "insufficient" else status == "drift"


def _theirs(ev: dict[str, Any], window: str, column: str) -> bool:
    return bool(ev["windows"][window]["columns"][column]["drift"])


def print_rates(
    dw: dict[str, DriftwatchWindow],
    ev: dict[str, Any],
    build_seconds: float,
    fleet: FleetResult,
    plan: list[tuple[str, str | None]],
) -> None:
    """Per-stage costs and the rows/s of both sides, all from this run's timings."""
    names = [name for name, _ in plan]
    stable = [dw[n].evaluated for n, d in plan if d is None]
    drifted = [dw[n].evaluated for n, d in plan if d is not None]
    rows = sum(w.rows for w in dw.values())
    agg = sum(w.aggregate for w in dw.values())
    warm = sum(w.evaluated.warm for w in dw.values())
    cold = sum(w.evaluated.cold for w in dw.values())
    ev_seconds = [ev["windows"][n]["seconds"] for n in names]
    rates = {
        "warm (steady state)": rows / (agg + warm),
        "cold (first window of a reference)": rows / (agg + cold),
        "cold + profile rebuilt every window": rows / (agg + cold + build_seconds * len(names)),
    }
    ev_rate = rows / sum(ev_seconds)
    n_tests = len(FEATURES) + 1

    print(
        f"data: {len(FEATURES)} features ({len(NUMERIC)} numeric, {len(CATEGORICAL)} categorical)"
        f" + score; {len(names)} windows of {dw[names[0]].rows:,} rows "
        f"({len(stable)} stable, {len(drifted)} drifted)"
    )
    print(
        f"evidently {ev['evidently']} (pandas {ev['pandas']}); driftwatch side numpy "
        f"{np.__version__}, python {sys.version.split()[0]}"
    )
    fleet_cold = (
        f"{fleet.cold:.2f} s (per model: median {_ms(fleet.cold_per_model)}, "
        f"max {max(fleet.cold_per_model) * 1000:.0f} ms)"
    )
    print()
    print("(a) driftwatch, per stage")
    _row("reference profile, once per reference", f"{build_seconds * 1000:.0f} ms")
    _row("aggregation (WindowAggregator)", f"{rows / agg:,.0f} events/s")
    _row(
        f"evaluate one window ({n_tests} tests), cold",
        f"{_ms([e.cold for e in stable])} stable, {_ms([e.cold for e in drifted])} drifted",
    )
    _row(f"evaluate one window ({n_tests} tests), warm", _ms([e.warm for e in stable + drifted]))
    _row(f"{fleet.models} models x {n_tests} tests, cold", fleet_cold)
    _row(f"{fleet.models} models x {n_tests} tests, warm", f"{fleet.warm * 1000:.0f} ms")
    _row(f"{fleet.models} reference profiles (not in rows/s)", f"{fleet.build:.2f} s")
    _row(
        f"aggregation of the {fleet.models} windows",
        f"{fleet.rows / fleet.aggregate:,.0f} events/s",
    )
    print("(b) evidently DataDriftPreset")
    _row("one window (from_pandas + Report.run)", _ms(ev_seconds))
    _row("import (untimed)", f"{ev['import_seconds']:.1f} s")
    print()
    print(f"rows/s: {rows:,} current rows / time summed over {len(names)} windows")
    for label, rate in rates.items():
        _row(f"driftwatch, {label}", f"{rate:>10,.0f}")
    _row("evidently DataDriftPreset", f"{ev_rate:>10,.0f}")
    for label, rate in rates.items():
        ratio = rate / ev_rate
        verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
        _row(
            f"ratio, {label}",
            f"{ratio:>9,.1f}x  ({verdict} the {TARGET_RATIO:g}x target)",
        )


def print_decisions(
    dw: dict[str, DriftwatchWindow],
    ev: dict[str, Any],
    single_bin: list[str],
    plan: list[tuple[str, str | None]],
) -> None:
    """Both sides' decisions side by side, the agreement, and every disagreement explained."""
    names = [name for name, _ in plan]
    columns = [*FEATURE_KINDS, PREDICTION]
    print("named drifts (the score follows num_00, num_10, num_17 and cat_0)")
    for kind in sorted({d for _, d in plan if d}):
        print(f"  {kind}: " + "; ".join(f"{f} {what}" for f, (what, _) in DRIFTS[kind].items()))
    print()
    print("drift decisions per window, driftwatch | evidently (X drift, . ok, ? insufficient)")
    print(f"{'feature':<16}{'evidently test':<16}" + "".join(f"{n:>14}" for n in names))
    for column in columns:
        method = ev["windows"][names[0]]["columns"][column]["method"]
        short = method.split()[0].lower()  # "wasserstein", "jensen-shannon", ...
        cells = [f"{_mark(_ours(dw[n], column))} | {_mark(_theirs(ev, n, column))}" for n in names]
        print(f"{column:<16}{short:<16}" + "".join(f"{c:>14}" for c in cells))

    print()
    print("agreement")
    for drifted, label in ((True, "drifted windows"), (False, "stable windows")):
        group = [(n, d) for n, d in plan if (d is not None) is drifted]
        both, only_dw, only_ev = [], [], []
        for n, _ in group:
            for column in columns:
                ours, theirs = _ours(dw[n], column) is True, _theirs(ev, n, column)
                key = f"{n}/{column}"
                if ours and theirs:
                    both.append(key)
                elif ours:
                    only_dw.append(key)
                elif theirs:
                    only_ev.append(key)
        decisions = len(group) * len(columns)
        agree = decisions - len(only_dw) - len(only_ev)
        print(f"  {label}: {agree}/{decisions} decisions agree")
        named = [f"{n}/{f}" for n, d in group if d for f in DRIFTS[d]]
        if named:
            caught_dw = sum(k in both or k in only_dw for k in named)
            caught_ev = sum(k in both or k in only_ev for k in named)
            print(
                f"    named drifts caught: driftwatch {caught_dw}/{len(named)}, "
                f"evidently {caught_ev}/{len(named)}"
            )
        sides = {"both flag": both, "only driftwatch": only_dw, "only evidently": only_ev}
        for title, keys in sides.items():
            lines = textwrap.wrap(", ".join(keys) or "-", width=78)
            print(f"    {title + ':':<17}" + "\n                     ".join(lines))

    disagreements = [
        (n, c) for n in names for c in columns if _ours(dw[n], c) is not _theirs(ev, n, c)
    ]
    if disagreements:
        print()
        print("disagreements, with each side's statistic")
    for n, column in disagreements:
        d = dw[n].decisions[column]
        e = ev["windows"][n]["columns"][column]
        p = "n/a" if d["p"] is None else f"{d['p']:.2g}"
        print(
            f"  {n}/{column}: driftwatch {d['status']} (psi {d['psi']:.3f}, p {p}); "
            f"evidently {'drift' if e['drift'] else 'ok'} "
            f"({e['method']} {e['score']:.3f}, threshold {e['threshold']:g})"
        )
        if column in single_bin:
            print("    why: driftwatch's reference profile of this feature has one in-range bin")
        else:
            print("    why: different tests and thresholds (see --help)")
    if single_bin:
        print(
            f"note: {', '.join(single_bin)}: two distinct values in the reference, so one "
            "in-range quantile bin — driftwatch cannot see mass move between them"
        )
