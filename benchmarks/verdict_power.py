"""What a performance verdict can see: the drop that warns, false alarms and detections, per n.

    .venv/bin/python benchmarks/verdict_power.py     # about 10 seconds, one core

A binary model (30 % positives, ROC AUC ≈ 0.90, accuracy ≈ 0.81) with a reference of
``--reference`` labelled pairs. For each window label count the script prints

- the drop of accuracy, ROC AUC and F1 at which a window warns (the verdict's threshold: the null
  quantile at Holm's first step, ``alpha / 3``, or the ``min_drop`` floor when larger);
- the share of ``--windows`` stable windows (same population) with any degraded metric: the
  false-alarm rate, which ``[performance] alpha`` bounds;
- the share of windows where 3 % of labels are inverted (a new concept: accuracy ≈ 2 points
  lower) that are flagged: the power.

The false-alarm share is conditional on one reference sample (``--seed``): a reference that
happens to score high makes stable windows look worse for all of them. Averaged over references
it stays under ``alpha`` (the tests check stable windows at several label counts).

The verdicts are computed by ``performance_verdict.judge`` on the same sums the daemon keeps.
"""

from __future__ import annotations

import argparse

import numpy as np

from monitor.config import ModelSettings, PerformanceSettings
from monitor.stats import performance
from monitor.stats.performance_verdict import PerformanceCalibrator, judge

MODEL = ModelSettings(name="m", owner="o", task="binary", features={"x": "numeric"})


def labelled(n: int, rng: np.random.Generator, flipped: float = 0.0) -> tuple[list, list, list]:
    """(decisions, scores, labels) of ``n`` pairs; ``flipped``: share of labels inverted."""
    y = (rng.random(n) < 0.3).astype(float)
    scores = np.where(y == 1, rng.beta(4, 2, size=n), rng.beta(2, 4, size=n))
    labels = np.where(rng.random(n) < flipped, 1 - y, y)
    return (scores >= 0.5).astype(float).tolist(), scores.tolist(), labels.tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference", type=int, default=10_000, help="labelled reference pairs")
    parser.add_argument("--windows", type=int, default=200, help="windows per label count")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    decisions, scores, labels = labelled(args.reference, rng)
    reference = performance.labelled_reference("binary", decisions, scores, labels, ())
    ref_metrics = performance.metrics_for("binary", reference.sums, ())
    settings = PerformanceSettings()
    calibrator = PerformanceCalibrator(draws=settings.bootstrap_draws)
    print(
        f"reference: {args.reference:,} labelled pairs, accuracy {ref_metrics['accuracy']:.3f}, "
        f"roc_auc {ref_metrics['roc_auc']:.3f}, f1 {ref_metrics['f1']:.3f}; "
        f"alpha {settings.alpha}, min_drop {settings.min_drop}"
    )
    print(
        f"{'labels':>7}  {'drop that warns: accuracy / roc_auc / f1':>42}  false alarms  detected"
    )
    for n in (200, 1000, 5000, 50_000):
        alarms = detected = 0
        drops = ""
        for i in range(args.windows):
            for flipped in (0.0, 0.03):
                d, s, y = labelled(n, rng, flipped)
                window = performance.binary_sums(s, d, y)
                verdicts = judge(MODEL, "ref", reference, window, 0, settings, calibrator)
                flagged = any(v.status == "degraded" for v in verdicts)
                if flipped:
                    detected += flagged
                else:
                    alarms += flagged
                if i == 0 and not flipped:
                    drops = " / ".join(
                        f"{ref_metrics[v.statistic] - v.threshold:.4f}" for v in verdicts
                    )
        print(
            f"{n:>7,}  {drops:>42}  {alarms / args.windows:>12.3f}  {detected / args.windows:>8.3f}"
        )
    example(reference, calibrator)


def example(reference: performance.LabelledReference, calibrator: PerformanceCalibrator) -> None:
    """One window judged, step by step (docs/statistics.md quotes it)."""
    rng = np.random.default_rng(1)
    d, s, y = labelled(2_000, rng, flipped=0.05)
    settings = PerformanceSettings()
    print("\nworked example: 2,000 labels, 5 % of them inverted")
    for v in judge(MODEL, "ref", reference, performance.binary_sums(s, d, y), 0, settings,
                   calibrator):  # fmt: skip
        print(
            f"  {v.statistic}: value {v.value:.4f}, warns below {v.threshold:.4f}, "
            f"p {v.p_value:.2g}, {v.status}/{v.severity}; {'; '.join(v.reasons)}"
        )


if __name__ == "__main__":
    main()
