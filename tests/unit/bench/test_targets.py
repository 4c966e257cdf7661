# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bench's targets: how figures are judged, and docs/performance.md's "Targets" table kept equal to BENCH_TARGETS."""

from __future__ import annotations

import argparse
import os
import re

import pytest

import run_bench

PERFORMANCE_DOC = os.path.join(run_bench.bl.REPO, "docs", "performance.md")
TARGETS = {"speed_s": ("<=", 15, 6), "ratio": (">=", 20, 6), "rss_mb": ("<=", 250, 22)}


def test_judge_met_missed_and_not_measured():
    rows = run_bench.judge({"speed_s": 15, "ratio": 19.99, "other": 1.0}, TARGETS)
    assert rows == [("speed_s", "<=", 15, 15, "met", 6), ("ratio", ">=", 20, 19.99, "missed", 6),
                    ("rss_mb", "<=", 250, None, "not measured", 22)]


@pytest.mark.parametrize("measured, verdict", [(14.9, "met"), (15.01, "missed"), (True, "not measured"), ("12", "not measured")])
def test_judge_at_and_around_the_bound(measured, verdict):
    assert run_bench.judge({"speed_s": measured}, {"speed_s": ("<=", 15, 6)})[0][4] == verdict


def test_greater_or_equal_targets():
    assert run_bench.judge({"ratio": 20}, TARGETS)[1][4] == "met"
    assert run_bench.judge({"ratio": 62.0}, TARGETS)[1][4] == "met"


def test_target_entries_and_table():
    rows = run_bench.judge({"speed_s": 16.2, "ratio": 31}, TARGETS)
    assert run_bench.target_entries(rows) == {"speed_s_target": "missed (<= 15)", "ratio_target": "met (>= 20)",
                                              "rss_mb_target": "not measured (<= 250)"}
    lines = run_bench.targets_table(rows).splitlines()
    assert len(lines) == 4
    assert lines[1].split() == ["speed_s", "16.2", "<=", "15", "missed", "#6"]
    assert lines[3].split() == ["rss_mb", "-", "<=", "250", "not", "measured", "#22"]


def test_every_issue_22_target_is_judged():
    for key in ("audit_1m_floor_ratio", "audit_1m_peak_rss_mb", "multi_em_ratio", "latency_floor_ratio_1p", "latency_floor_ratio_10k",
                "latency_floor_ratio_100k", "fetch_100k_peak_rss_mb", "baseline_ratio_10k", "baseline_equal_ratio_10k"):
        assert key in run_bench.BENCH_TARGETS
    assert run_bench.BENCH_TARGETS["audit_1m_floor_ratio"] == ("<=", 1.5, 22)
    assert run_bench.BENCH_TARGETS["multi_em_ratio"] == ("<=", 1.3, 22)


def doc_targets():
    """The rows of docs/performance.md's table under "## Targets": figure -> (operator, value, issue)."""
    with open(PERFORMANCE_DOC, encoding="utf-8") as handle:
        text = handle.read()
    assert "\n## Targets\n" in text, "docs/performance.md has no Targets section"
    section = text.split("\n## Targets\n", 1)[1].split("\n## ", 1)[0]
    targets = {}
    for line in section.splitlines():
        match = re.match(r"\|\s*`([a-z0-9_]+)`\s*\|\s*(<=|>=)\s*([0-9.]+)[^|]*\|\s*#([0-9]+)\s*\|", line)
        if match:
            value = float(match.group(3))
            targets[match.group(1)] = (match.group(2), int(value) if value.is_integer() else value, int(match.group(4)))
    return targets


def test_docs_targets_table_equals_bench_targets():
    assert doc_targets() == run_bench.BENCH_TARGETS


class FakeBench:
    """Steps are only named here."""

    def __getattr__(self, name):
        def step():
            return {}
        step.__name__ = name
        return step


def step_names(**options):
    values = {"skip_profile": False, "skip_audit": False, "only": []}
    values.update(options)
    return [step.__name__ for step in run_bench._steps(FakeBench(), argparse.Namespace(**values))]  # pylint: disable=protected-access


def test_steps_in_order_and_skips():
    every = step_names()
    assert every[0] == "warm_up" and every[-2:] == ["audit_1m", "growth_sessions"]
    assert "stage_profile" in every and "growth_latency" in every
    assert "stage_profile" not in step_names(skip_profile=True)
    assert "audit_1m" not in step_names(skip_audit=True) and "growth_sessions" not in step_names(skip_audit=True)


def test_only_keeps_the_warm_up():
    assert step_names(only=["audit_1m", "latency"]) == ["warm_up", "latency", "audit_1m"]
