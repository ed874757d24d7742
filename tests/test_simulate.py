"""The replica iteration model and the discrete-event simulation (estimator.simulate)."""

from __future__ import annotations

import numpy as np
import pytest

from estimator import catalog, performance
from estimator.errors import DoesNotFitError, InvalidInputError
from estimator.simulate import MAX_NUM_SEQS, replica_model, simulate
from estimator.traffic import TokenDistribution

IN = TokenDistribution.from_mean_p95(1000, 3000)
OUT = TokenDistribution.from_mean_p95(250, 800)


@pytest.fixture(scope="module")
def r70():
    return replica_model(catalog.get_model("llama-3.1-70b"), catalog.get_hardware("h100-sxm"), "bf16", tp=4,
                         context_tokens=1250)


@pytest.mark.parametrize("model, hw, dtype, tp", [
    ("llama-3.1-70b", "h100-sxm", "bf16", 4),
    ("llama-3.1-70b", "h100-sxm", "fp8", 2),
    ("llama-3.1-8b", "a10g", "bf16", 1),
    ("mixtral-8x7b", "h100-sxm", "bf16", 2),
    ("llama-3.2-1b", "l4", "int4", 1),
    ("mistral-7b", "l4", "fp8", 1),
])
def test_iteration_model_follows_the_roofline(model: str, hw: str, dtype: str, tp: int) -> None:
    r = replica_model(catalog.get_model(model), catalog.get_hardware(hw), dtype, tp=tp, context_tokens=1250)
    assert r.fit_max_rel_error < 0.10
    assert 1 <= r.max_batch <= MAX_NUM_SEQS


def test_decode_step_matches_performance_estimate(r70) -> None:
    e = performance.estimate("llama-3.1-70b", "h100-sxm", "bf16", 32, 1000, 1, tp=4)
    ctx = 1000.5
    assert float(r70.iteration_s(32, 32 * ctx, 32 * (ctx + 1))) == pytest.approx(e.tpot_s, rel=0.03)
    assert float(r70.prefill_alone_s(1000)) == pytest.approx(
        performance.estimate("llama-3.1-70b", "h100-sxm", "bf16", 1, 1000, 1, tp=4).ttft_s, rel=0.05)


def test_iteration_time_grows_with_work(r70) -> None:
    b = np.array([1.0, 16.0, 64.0, 256.0])
    t = r70.iteration_s(b, b * 1000, b * 1001)
    assert np.all(np.diff(t) > 0)
    assert float(r70.iteration_s(1, 1, 2)) < float(r70.iteration_s(1 + 4000, 4000 * 2000, 4001))


def test_simulation_is_reproducible_and_low_load_ttft_is_a_lone_prefill(r70) -> None:
    a = simulate(r70, 0.05, IN, OUT, n_requests=2000, seed=7)
    b = simulate(r70, 0.05, IN, OUT, n_requests=2000, seed=7)
    assert a == b and a.stable
    # almost every request finds the replica idle: its TTFT is its own prefill (median prompt ~760 tokens)
    median_prompt = float(IN.quantile(0.5))
    assert a.ttft_p50_s == pytest.approx(float(r70.prefill_alone_s(median_prompt)), rel=0.15)
    assert a.tpot_mean_s == pytest.approx(float(r70.iteration_s(1, 1100, 1101)), rel=0.1)


def test_littles_law_holds_in_the_simulation(r70) -> None:
    lam = 4.0
    s = simulate(r70, lam, IN, OUT, n_requests=8000, seed=3)
    mean_out = float(np.mean(OUT.sample(np.random.default_rng(3), 200_000)))
    # decoding sequences = arrival rate x decode iterations per request x time per iteration
    assert s.mean_decode_batch == pytest.approx(lam * (mean_out - 1) * s.tpot_mean_s, rel=0.1)
    assert s.throughput_rps == pytest.approx(lam, rel=0.05)


def test_overload_is_detected(r70) -> None:
    s = simulate(r70, 40.0, IN, OUT, n_requests=4000, seed=1)
    assert not s.stable


def test_prefix_cache_shortens_ttft(r70) -> None:
    a = simulate(r70, 3.0, IN, OUT, n_requests=4000, seed=2)
    b = simulate(r70, 3.0, IN, OUT, n_requests=4000, seed=2, prefix_cache_hit_rate=0.8)
    assert b.ttft_p95_s < a.ttft_p95_s


def test_bad_inputs(r70) -> None:
    with pytest.raises(InvalidInputError):
        simulate(r70, 0.0, IN, OUT)
    with pytest.raises(InvalidInputError):
        simulate(r70, 1.0, IN, OUT, prefix_cache_hit_rate=1.0)
    with pytest.raises(InvalidInputError):
        simulate(r70, 1.0, IN, OUT, n_requests=10)


def test_a_model_that_does_not_fit() -> None:
    with pytest.raises(DoesNotFitError, match="does not fit"):
        replica_model(catalog.get_model("llama-3.1-70b"), catalog.get_hardware("l4"), "bf16", tp=1,
                      context_tokens=1250)


# ---------------------------------------------------------------------------
# The steps of simulate(): draw -> replay -> summarize
# ---------------------------------------------------------------------------


def test_draw_requests_is_reproducible_and_respects_the_prefix_cache() -> None:
    from estimator.simulate import _draw_requests

    a = _draw_requests(2.0, IN, OUT, 0.5, 500, seed=4)
    b = _draw_requests(2.0, IN, OUT, 0.5, 500, seed=4)
    np.testing.assert_array_equal(a.arrival_s, b.arrival_s)
    assert a.count == 500 and np.all(np.diff(a.arrival_s) > 0)
    np.testing.assert_array_equal(a.prefill_tokens, np.maximum(np.rint(a.context_tokens * 0.5), 1.0))
    # the prefix-cache hit rate does not change the draws, only the prompt work
    c = _draw_requests(2.0, IN, OUT, 0.0, 500, seed=4)
    np.testing.assert_array_equal(a.context_tokens, c.context_tokens)
    np.testing.assert_array_equal(a.output_tokens, c.output_tokens)


def test_replay_accounts_for_every_request(r70) -> None:
    from estimator.simulate import _draw_requests, _Replay, _summarize

    req = _draw_requests(0.5, IN, OUT, 0.0, 600, seed=9)
    trace = _Replay(r70, req, max_queue=10_000).run()
    assert trace.completed == req.count and not trace.queue_overflowed
    assert np.all(np.isfinite(trace.finish_s)) and np.all(np.isfinite(trace.first_s))
    assert np.all(trace.first_s > req.arrival_s) and np.all(trace.finish_s >= trace.first_s)
    assert 0 < trace.busy_s <= trace.end_s and trace.iterations > 0
    res = _summarize(r70, 0.5, req, trace, 0.1)
    assert res == simulate(r70, 0.5, IN, OUT, n_requests=600, seed=9)
    assert res.mean_iteration_s == trace.busy_s / trace.iterations
    assert res.busy_fraction == trace.busy_s / trace.end_s


def test_prefill_token_weight_leaves_out_the_lm_head() -> None:
    from estimator.simulate import _prefill_token_weight

    m = catalog.get_model("llama-3.1-8b")
    head = m.vocab_size * m.d_model
    body = m.params_active - head * (1 if m.tied_embeddings else 2)
    assert _prefill_token_weight(m) == pytest.approx(body / (body + head))
    assert 0.9 < _prefill_token_weight(m) < 1.0
