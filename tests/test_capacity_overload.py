"""Issue #11: a fleet that cannot keep up at its maximum replicas gives a plan with a clear warning, not a crash."""

from __future__ import annotations

import json
import math

import pytest

from estimator import capacity, report
from estimator.errors import EstimatorError
from estimator.scenario import Autoscaling, Scenario, Traffic, from_query_params


def _max_replicas_2() -> Scenario:
    return Scenario().replace(autoscaling=Autoscaling(max_replicas=2))


def _hundred_million_a_day() -> Scenario:
    return Scenario().replace(traffic=Traffic(requests_per_day=1e8))


def _small_model_on_a10g() -> Scenario:
    s, ignored = from_query_params({"m": "llama-3.1-8b", "rpd": "10000000", "hw": "a10g"})
    assert not ignored
    return s


def _ten_million_peak_rps() -> Scenario:
    return Scenario().replace(traffic=Traffic(volume="peak_rps", peak_rps=1e7))


REPRODUCERS = {
    "max-replicas-2": _max_replicas_2,
    "1e8-requests-per-day": _hundred_million_a_day,
    "8b-a10g-1e7-per-day": _small_model_on_a10g,
    "peak-1e7-rps": _ten_million_peak_rps,
}


def _finite(x: float) -> bool:
    return isinstance(x, float) and math.isfinite(x)


@pytest.mark.parametrize("name", list(REPRODUCERS))
def test_overload_gives_a_plan_that_says_the_goal_cannot_be_met(name: str) -> None:
    s = REPRODUCERS[name]()
    p = capacity.plan(s)
    assert p.peak_replicas == s.autoscaling.max_replicas
    assert p.dropped_requests_per_week > 0
    # the headline latencies are those of the requests served (finite), and the plan is valid JSON
    assert _finite(p.ttft_p95_s) and _finite(p.e2e_p95_s)
    assert all(math.isnan(x) or math.isfinite(x) for x in p.ttft_p95_by_hour_s + p.e2e_p95_by_hour_s)
    capacity.CapacityPlan.model_validate(p.model_dump())
    warning = next(w for w in p.warnings if "cannot be met" in w)
    assert f"at most {s.autoscaling.max_replicas:,} replicas" in warning
    assert "late" in warning and "dropped" in warning and "%" in warning
    assert "replicas at the peak" in warning  # what would meet it
    realtime = p.mode_check("realtime")
    assert not realtime.meets_slo and any("cannot keep up" in r for r in realtime.reasons)
    assert p.recommended_mode != capacity.InferenceMode.REALTIME
    doc = json.loads(report.to_json(report.build_report(s, "capacity")))
    assert doc["page"] == "capacity"


def test_the_warning_names_the_replicas_that_would_meet_the_slo() -> None:
    p = capacity.plan(_max_replicas_2())
    warning = next(w for w in p.warnings if "cannot be met" in w)
    needed = math.ceil(max(p.fleet_rps) / p.slo_rps_per_replica - 1e-9)
    assert f"takes {needed:,} replicas at the peak" in warning
    fixed = capacity.plan(Scenario().replace(autoscaling=Autoscaling(max_replicas=needed + 4)))
    assert fixed.dropped_requests_per_week == 0
    assert not any("cannot be met" in w for w in fixed.warnings)


def test_beyond_the_replica_ceiling_the_warning_says_to_split_the_traffic() -> None:
    warning = next(w for w in capacity.plan(_ten_million_peak_rps()).warnings if "cannot be met" in w)
    assert "split the traffic" in warning


def test_plan_raises_only_estimator_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_a: object, **_k: object) -> None:
        raise FloatingPointError("overflow")

    monkeypatch.setattr(capacity, "_costs", broken)
    with pytest.raises(EstimatorError, match="could not be computed"):
        capacity.plan(Scenario())


def test_a_failing_progress_callback_raises_its_own_exception() -> None:
    class Stop(RuntimeError):
        pass

    def progress(_frac: float, _text: str) -> None:
        raise Stop("user cancelled")

    with pytest.raises(Stop, match="user cancelled"):
        capacity.plan(Scenario(), progress=progress)
