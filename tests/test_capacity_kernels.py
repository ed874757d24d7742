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


def test_two_weight_quantiles_match_the_weighted_quantile() -> None:
    rng = np.random.default_rng(3)
    qs = (np.arange(64) + 0.5) / 64
    for ties in (True, False):  # rounding makes ties, within and across classes
        a = np.sort(rng.exponential(1.0, (6, 300)), axis=1)
        b = np.sort(rng.exponential(1.0, (6, 900)), axis=1)
        if ties:
            a, b = np.round(a, 2), np.round(b, 2)
        w_a, w_b = rng.uniform(0.1, 1.0, 6), rng.uniform(0.001, 0.1, 6)
        v, in_a = capacity._sort_tagged(a.copy(), b.copy())
        assert np.all(np.diff(v, axis=1) >= 0) and np.array_equal(in_a.sum(axis=1), np.full(6, 300))
        np.testing.assert_allclose(v[in_a].reshape(6, -1), a, rtol=3e-16, atol=0)  # one ulp at most
        np.testing.assert_allclose(v[~in_a].reshape(6, -1), b, rtol=3e-16, atol=0)
        fast = capacity._two_weight_quantiles(v, in_a, w_a, w_b, qs)
        weights = np.where(in_a, w_a[:, None], w_b[:, None])
        np.testing.assert_allclose(fast, capacity._sorted_weighted_quantile(v, weights, qs), rtol=1e-12, atol=1e-15)
        if not ties:  # without ties the order is unique: the quantiles of the original values
            weights = np.concatenate([np.repeat(w_a[:, None], 300, 1), np.repeat(w_b[:, None], 900, 1)], axis=1)
            slow = capacity._weighted_quantile(np.concatenate([a, b], axis=1), weights, qs)
            np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-15)


def _plain_bisection(kern: object) -> float:
    """The saturation search before issue #10: a bisection evaluating the whole batch grid at every step."""
    replica, mix = kern.replica, kern.mix  # type: ignore[attr-defined]
    t1 = float(np.asarray(replica.prefill_alone_s(mix.pref.mean()))) + mix.decode_iters * float(
        capacity._decode_step(kern, 1.0))
    hi, lo = max(1.0, 4.0 * replica.max_batch / max(t1, 1e-9)), 0.0
    full = np.arange(kern.grid.size)  # type: ignore[attr-defined]
    for _ in range(48):
        mid = 0.5 * (lo + hi)
        b = capacity._first_root(kern.grid, capacity._little_excess(kern, np.array([mid]), full))[0]  # type: ignore
        lo, hi = (mid, hi) if np.isfinite(b) and b < replica.max_batch else (lo, mid)
        if hi - lo < 1e-4 * hi:
            break
    return lo


@pytest.mark.parametrize("prefix", [0.0, 0.6])
def test_saturation_and_operating_batch_match_the_whole_grid(replica_and_workload: tuple, prefix: float) -> None:
    r, w = replica_and_workload
    w = w.model_copy(update={"prefix_cache_hit_rate": prefix})
    kern = capacity._Kernel.of(r, capacity._Mix.of(w, r.window))
    sat = capacity._saturation_rps(kern)
    assert sat == _plain_bisection(kern)  # the same bisection, most steps decided by the threshold's bracket
    lam = np.concatenate([[0.0], np.linspace(0.001, 1.2, 60) * sat])
    full = capacity._first_root(kern.grid, capacity._little_excess(kern, lam, np.arange(kern.grid.size)))
    np.testing.assert_array_equal(capacity._operating_batch(kern, lam), full)


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


def test_ttft_quantiles_are_those_of_every_combination_of_the_points(replica_and_workload: tuple,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    r, w = replica_and_workload
    kern = capacity._Kernel.of(r, capacity._Mix.of(w, r.window))
    lam = np.array([0.05, 0.4, 0.8]) * capacity._saturation_rps(kern)
    b = capacity._operating_batch(kern, lam)
    st = capacity._state(kern, lam[:, None], b[:, None]).squeezed()
    pts = capacity._ttft_points(kern, lam, b, st)
    # the straightforward quadrature: every wait x (idle episode | every residual x episode), weighted
    x = np.concatenate([pts.own_idle, pts.busy], axis=1)
    x_w = np.concatenate([np.repeat(pts.idle[:, None], pts.own_idle.shape[1], 1),
                          np.repeat(((1.0 - pts.idle) / pts.busy.shape[1] * pts.own_idle.shape[1])[:, None],
                                    pts.busy.shape[1], 1)], axis=1)
    values = (pts.wait[:, :, None] + x[:, None, :]).reshape(lam.size, -1) + r.request_overhead_s
    weights = np.broadcast_to(x_w[:, None, :], (lam.size, pts.wait.shape[1], x.shape[1])).reshape(lam.size, -1)
    qs = (np.arange(capacity._N_TTFT_QUANTILES) + 0.5) / capacity._N_TTFT_QUANTILES
    monkeypatch.setattr(capacity, "_BUSY_GROUP", 1)
    quant, mean = capacity._ttft_quantiles(kern, lam, b, st)
    np.testing.assert_allclose(quant, capacity._weighted_quantile(values, weights, qs), rtol=1e-9)  # rounding
    np.testing.assert_allclose(mean, np.sum(values * weights, axis=1) / np.sum(weights, axis=1), rtol=1e-12)
    monkeypatch.setattr(capacity, "_BUSY_GROUP", 4)  # the planner's: groups of four busy points, 1e-12 mean
    grouped, grouped_mean = capacity._ttft_quantiles(kern, lam, b, st)
    np.testing.assert_allclose(grouped_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(grouped[:, -8:], quant[:, -8:], rtol=0.05)  # the tail, where the p95 is read
