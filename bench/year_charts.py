"""The simulated year's charts (PNG, drawn with matplotlib): waiting days by tier, the estimate's calibration,
idle seat-days month by month — Kezek beside the status quo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: files only

import matplotlib.pyplot as plt

TIERS = ("EXTRAORDINARY", "PRIMARY", "GENERAL")
WITH_A_CANDIDATE = ("CANDIDATE_WAITING", "OFFER_WINDOW", "CONTRACT_WINDOW")


def draw(results: dict[str, Any], folder: Path, prefix: str) -> dict[str, str]:
    """Writes the three charts into `folder`; returns their file names by title."""
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "waiting days by tier": _waiting(results, folder / f"{prefix}-waiting.png"),
        "calibration of the waiting estimate": _calibration(results, folder / f"{prefix}-calibration.png"),
        "idle seat-days over the year": _idle(results, folder / f"{prefix}-idle.png"),
    }


def _save(fig: Any, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def _weighted(report: dict[str, Any], tier: str, key: str) -> float:
    rows = [w for w in report["waitingDays"] if w["tier"] == tier]
    n = sum(w["offers"] for w in rows)
    return sum(w[key] * w["offers"] for w in rows) / n if n else 0.0


def _waiting(results: dict[str, Any], path: Path) -> str:
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.2
    for i, (world, label) in enumerate((("kezek", "Kezek"), ("status_quo", "status quo"))):
        report = results[world]["report"]
        xs = [t + (i - 0.5) * 2 * width for t in range(len(TIERS))]
        ax.bar(xs, [_weighted(report, t, "median") for t in TIERS], width, label=f"{label}: median")
        ax.bar([x + width for x in xs], [_weighted(report, t, "p90") for t in TIERS], width, label=f"{label}: p90")
    ax.set_xticks(range(len(TIERS)), [t.lower() for t in TIERS])
    ax.set_ylabel("days from eligible to offer")
    ax.set_title("Waiting days by tier (birth years weighted by offers)")
    ax.legend(fontsize=8)
    return _save(fig, path)


def _calibration(results: dict[str, Any], path: Path) -> str:
    c = results["calibration"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4))
    left.bar(
        ["earlier", "inside 10–90%", "later"], [c["early"], c["inside"], c["late"]], color=["#999", "#2a7", "#999"]
    )
    left.set_title("Offers against the estimate read before")
    left.set_ylabel("estimates")
    buckets = [b for b in results["calibration_by_month"] if b["judged"]]
    labels = [
        f"{b['ahead_days'][0]}+" if b["ahead_days"][1] >= 100000 else "–".join(map(str, b["ahead_days"]))
        for b in buckets
    ]
    right.bar(labels, [b["share"] * 100 for b in buckets], color="#2a7")
    right.axhspan(70, 90, color="#cfc", alpha=0.5, label="goal 70–90%")
    right.set_ylim(0, 100)
    right.set_xlabel("days ahead (the range's middle, when read)")
    right.set_ylabel("% inside the range")
    right.legend(fontsize=8)
    return _save(fig, path)


def _idle(results: dict[str, Any], path: Path) -> str:
    fig, ax = plt.subplots(figsize=(8, 4))
    for world, label in (("kezek", "Kezek"), ("status_quo", "status quo")):
        months = results[world]["months"]
        ax.plot(
            [m["month"] for m in months],
            [sum(m["idle"].get(c, 0) for c in WITH_A_CANDIDATE) for m in months],
            marker="o",
            label=label,
        )
    ax.set_ylabel("idle seat-days while a candidate waited")
    ax.set_title("Idle seat-days by month (candidate waiting, offer and contract windows)")
    ax.tick_params(axis="x", rotation=45)
    ax.legend()
    return _save(fig, path)
