"""The fast paths of estimator.capacity give the same numbers as the straightforward ones (issue #10)."""

from __future__ import annotations

import numpy as np
import pytest

from estimator import capacity, catalog
from estimator.capacity import Workload, queue_metrics, saturation_rps
from estimator.scenario import Autoscaling, Scenario, Traffic
from estimator.simulate import replica_model
from estimator.traffic import TokenDistribution


@pytest.fixture(scope="module")
def replica_and_workload() -> tuple[object, Workload]:
    r = replica_model(catalog.get_model("llama-3.1-8b"), catalog.get_hardware("l4"), "bf16", tp=1, context_tokens=700)
    w = Workload(prompt=TokenDistribution.from_mean_p95(500, 1500), output=TokenDistribution.from_mean_p95(200, 600))
    return r, w


def test_two_class_quantile_matches_the_argsort_path() -> None:
    rng = np.random.default_rng(3)
    values = np.round(rng.exponential(1.0, (6, 600)), 2)  # rounding makes ties, within and across classes
    values[1] = rng.exponential(1.0, 600)  # no ties at all
    in_a = np.zeros(600, dtype=bool)
    in_a[::7] = True
    w_a, w_b = rng.uniform(0.1, 1.0, 6), rng.uniform(0.1, 1.0, 6)
    weights = np.where(in_a[None, :], w_a[:, None], w_b[:, None])
    qs = (np.arange(64) + 0.5) / 64
    fast = capacity._two_class_weighted_quantile(values, in_a, w_a, w_b, qs)
    slow = capacity._weighted_quantile(values, weights, qs)
    np.testing.assert_array_equal(fast, slow)


def test_iteration_table_matches_the_replica_model(replica_and_workload: tuple) -> None:
    r, _ = replica_and_workload
    it = capacity._Iteration.of(r)
    rng = np.random.default_rng(5)
    tokens = rng.uniform(0.0, 2.0 * max(r.token_grid), (40, 30))  # some beyond the table: extrapolated
    pairs, kv = rng.uniform(0, 1e7, tokens.shape), rng.uniform(0, 1e5, tokens.shape)
    np.testing.assert_array_equal(it(tokens, pairs, kv), np.asarray(r.iteration_s(tokens, pairs, kv)))
    small = tokens[tokens < max(r.token_grid)]
    np.testing.assert_array_equal(it(small, small, small), np.asarray(r.iteration_s(small, small, small)))
    for t in (tokens, small):  # the in-place variant overwrites its pairs and KV arguments
        p_, k_ = rng.uniform(0, 1e7, t.shape), rng.uniform(0, 1e5, t.shape)
        expected = np.asarray(r.iteration_s(t, p_, k_))
        np.testing.assert_array_equal(it.into(t, p_.copy(), k_.copy()), expected)


def test_weighted_quantile_in_place_gives_the_same_numbers() -> None:
    rng = np.random.default_rng(11)
    v = np.sort(rng.exponential(1.0, (4, 300)), axis=-1)
    w = rng.uniform(0.0, 1.0, (4, 300))
    qs = np.linspace(0.01, 0.99, 17)
    expected = capacity._sorted_weighted_quantile(v, w, qs)
    np.testing.assert_array_equal(capacity._sorted_weighted_quantile(v, w.copy(), qs, overwrite=True), expected)


def test_queue_metrics_is_typed_and_reads_like_the_former_dict(replica_and_workload: tuple) -> None:
    r, w = replica_and_workload
    sat = saturation_rps(r, w)
    loads = np.array([0.1, 0.5, 0.9]) * sat
    given = queue_metrics(r, loads, w, saturation=sat)
    computed = queue_metrics(r, loads, w)
    assert computed.saturation_rps == given.saturation_rps == sat
    np.testing.assert_array_equal(given.ttft_p95_s, computed.ttft_p95_s)
    np.testing.assert_array_equal(given["e2e_p95_s"], given.e2e_p95_s)
    assert given["saturation_rps"] == sat
    with pytest.raises(KeyError):
        given["p99"]


def test_fleet_over_many_scales_matches_one_call_per_scale() -> None:
    rng = np.random.default_rng(7)
    mean = rng.uniform(0.0, 30.0, 168)
    mean[:10] = 0.0
    peak = mean * rng.uniform(1.0, 3.0, 168)
    frac = np.where(rng.uniform(size=168) < 0.2, rng.uniform(0.05, 1.0, 168), 0.0)
    auto = Autoscaling(max_replicas=40, min_replicas=0, scale_up_delay_s=30, cold_start_s=60)
    scales = np.array([0.01, 0.3, 1.0, 7.0])
    for burst_s, zero in ((600.0, False), (np.inf, True), (30.0, False)):
        many = capacity._fleet(mean * scales[:, None], peak * scales[:, None], frac, 2.0, 2.5, 4.0, auto, burst_s, 4,
                               8, zero, floor_one=True)
        for i, sc in enumerate(scales):
            one = capacity._fleet(mean * sc, peak * sc, frac, 2.0, 2.5, 4.0, auto, burst_s, 4, 8, zero, floor_one=True)
            for name in ("replicas", "replica_hours", "instance_hours", "late", "dropped", "utilization"):
                np.testing.assert_allclose(getattr(many, name)[i], getattr(one, name), rtol=1e-12, err_msg=name)


def test_the_layout_cache_gives_the_same_plan() -> None:
    s = Scenario().replace(traffic=Traffic(requests_per_day=700_000))
    capacity.clear_caches()
    cold = capacity.plan(s).model_dump(exclude={"elapsed_s"})
    warm = capacity.plan(s).model_dump(exclude={"elapsed_s"})
    assert warm == cold
    # other traffic and SLO reuse the layouts; the figures follow the new inputs
    other = s.replace(slo=s.slo.model_copy(update={"ttft_p95_s": 2.0}))
    capacity.clear_caches()
    fresh = capacity.plan(other).model_dump(exclude={"elapsed_s"})
    capacity.plan(s)
    assert capacity.plan(other).model_dump(exclude={"elapsed_s"}) == fresh
