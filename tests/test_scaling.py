"""Tests for estimator.scaling against the published tables.

Every oracle names its source. Primary papers:
- Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models", arXiv:2203.15556.
- Kaplan et al. 2020, "Scaling Laws for Neural Language Models", arXiv:2001.08361.
- Besiroglu et al. 2024, "Chinchilla Scaling: A replication attempt", arXiv:2404.10102.
- Brown et al. 2020, "Language Models are Few-Shot Learners", arXiv:2005.14165.
Derived spot values are from /work/shared/reference/facts.md §1-2 (arithmetic on the constants).
"""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import estimator.scaling as scaling
from estimator.errors import InvalidInputError
from estimator.scaling import (
    CHINCHILLA_APPROACHES,
    CHINCHILLA_FITS,
    KAPLAN_COMPUTE_EFFICIENT,
    KAPLAN_JOINT_FIT,
    KAPLAN_POWER_LAWS,
    PF_DAY_FLOPS,
    chinchilla_loss,
    chinchilla_optimal,
    chinchilla_tokens_rule_of_thumb,
    fit_params_coefficient,
    fits_disagreement,
    flops_to_pf_days,
    forward_flops_per_token,
    kaplan_critical_batch_tokens,
    kaplan_loss_c,
    kaplan_loss_c_min,
    kaplan_loss_d,
    kaplan_loss_n,
    kaplan_loss_nd,
    kaplan_optimal_params,
    kaplan_optimal_tokens,
    non_embedding_params,
    optimal_frontier,
    pf_days_to_flops,
    training_flops,
    training_flops_per_token_with_attention,
    undertrained_ratio,
)

# ---------------------------------------------------------------------------
# Oracles typed in from the papers (independent of the copies in the module)
# ---------------------------------------------------------------------------

# Hoffmann et al. 2022, Table 3 (Approach 1 projections): (params, FLOPs, tokens).
TABLE3 = [
    (400e6, 1.92e19, 8.0e9),
    (1e9, 1.21e20, 20.2e9),
    (10e9, 1.23e22, 205.1e9),
    (67e9, 5.76e23, 1.5e12),
    (175e9, 3.85e24, 3.7e12),
    (280e9, 9.90e24, 5.9e12),
    (520e9, 3.43e25, 11.0e12),
    (1e12, 1.27e26, 21.2e12),
    (10e12, 1.30e28, 216.2e12),
]

# Hoffmann et al. 2022, Table A3 (App. D.3), Approach 2 columns: (params, FLOPs, tokens).
TABLE_A3_APPROACH2 = [
    (400e6, 1.84e19, 7.7e9),
    (1e9, 1.20e20, 20.0e9),
    (10e9, 1.32e22, 219.5e9),
    (67e9, 6.88e23, 1.7e12),
    (175e9, 4.54e24, 4.3e12),
    (280e9, 1.18e25, 7.1e12),
    (520e9, 4.19e25, 13.4e12),
    (1e12, 1.59e26, 26.5e12),
    (10e12, 1.75e28, 292.0e12),
]

# Hoffmann et al. 2022, Table A3, Approach 3 columns: (params, FLOPs, tokens).
# The 175B FLOPs cell is printed as 1.26e+24, but 6 x 175e9 x 12.0e12 = 1.26e+25:
# a typo in the paper (facts.md §1.4 and §8 pitfall 4), so that row is left out.
TABLE_A3_APPROACH3 = [
    (400e6, 2.21e19, 9.2e9),
    (1e9, 1.62e20, 27.1e9),
    (10e9, 2.46e22, 410.1e9),
    (67e9, 1.71e24, 4.1e12),
    # (175e9, 1.26e24, 12.0e12),  typo cell, see above
    (280e9, 3.52e25, 20.1e12),
    (520e9, 1.36e26, 43.5e12),
    (1e12, 5.65e26, 94.1e12),
    (10e12, 8.55e28, 1425.5e12),
]


def rel_err(got: float, want: float) -> float:
    return abs(got / want - 1.0)


# ---------------------------------------------------------------------------
# Doctests
# ---------------------------------------------------------------------------


def test_doctests_pass() -> None:
    result = doctest.testmod(scaling, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 20
    assert result.failed == 0


# ---------------------------------------------------------------------------
# Chinchilla Table 3 (Approach 1)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("params", "flops", "tokens"), TABLE3)
def test_table3_approach1_params(params: float, flops: float, tokens: float) -> None:
    # Hoffmann et al. 2022, Table 3: Approach-1 projection of the optimal model size.
    n, _ = chinchilla_optimal(flops, approach=1)
    assert rel_err(n, params) < 0.05


@pytest.mark.parametrize(("params", "flops", "tokens"), TABLE3)
def test_table3_approach1_tokens(params: float, flops: float, tokens: float) -> None:
    # Hoffmann et al. 2022, Table 3: Approach-1 projection of the training tokens.
    # The 67B row prints "1.5 Trillion", a rounding of 5.76e23 / (6 * 67e9) = 1.433e12;
    # a prediction that keeps 6ND = C cannot be within 5 % of both columns there
    # (ours: 1.416e12, 5.6 % below 1.5e12, 1.2 % below 1.433e12). Allow 6 % on that row
    # and check it against the unrounded value within 5 % as well.
    _, d = chinchilla_optimal(flops, approach=1)
    tol = 0.06 if params == 67e9 else 0.05
    assert rel_err(d, tokens) < tol
    assert rel_err(d, flops / (6 * params)) < 0.05


@pytest.mark.parametrize(("params", "flops", "tokens"), TABLE3)
def test_table3_six_nd_matches_flops(params: float, flops: float, tokens: float) -> None:
    # Hoffmann et al. 2022, Table 3: FLOPs column vs 6 N D from the params and tokens
    # columns; equal to the rounding of the tokens column (worst row 67B: +4.7 %).
    assert rel_err(training_flops(params, tokens), flops) < 0.05


def test_approach1_coefficient_is_the_table3_fit() -> None:
    # Hoffmann et al. 2022, Tables 2 and 3: k is the log-space least-squares fit of
    # N = k C^0.50 through Table 3; the stored constant must match a refit.
    n, c, _ = zip(*TABLE3, strict=True)
    k = fit_params_coefficient(c, n, 0.50)
    assert CHINCHILLA_APPROACHES[1].params_coefficient == pytest.approx(k, rel=1e-4)
    assert tuple(TABLE3) == scaling.CHINCHILLA_TABLE3_APPROACH1


def test_approach1_at_1e21_matches_appendix_d4() -> None:
    # Hoffmann et al. 2022, App. D.4: Approach 1 gives 2.86B params at 1e21 FLOPs.
    n, _ = chinchilla_optimal(1e21, approach=1)
    assert rel_err(n, 2.86e9) < 0.05


# ---------------------------------------------------------------------------
# Chinchilla Table A3 (Approaches 2 and 3)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("params", "flops", "tokens"), TABLE_A3_APPROACH2)
def test_table_a3_approach2(params: float, flops: float, tokens: float) -> None:
    # Hoffmann et al. 2022, Table A3 (App. D.3), Approach 2 columns.
    n, d = chinchilla_optimal(flops, approach=2)
    assert rel_err(n, params) < 0.05
    assert rel_err(d, tokens) < 0.05
    assert rel_err(training_flops(params, tokens), flops) < 0.05


def test_approach2_coefficient_is_the_table_a3_fit() -> None:
    # Hoffmann et al. 2022, Tables 2 and A3: k for N = k C^0.49 fitted to Table A3.
    n, c, _ = zip(*TABLE_A3_APPROACH2, strict=True)
    k = fit_params_coefficient(c, n, 0.49)
    assert CHINCHILLA_APPROACHES[2].params_coefficient == pytest.approx(k, rel=1e-4)
    assert tuple(TABLE_A3_APPROACH2) == scaling.CHINCHILLA_TABLE_A3_APPROACH2


@pytest.mark.parametrize(("params", "flops", "tokens"), TABLE_A3_APPROACH3)
def test_table_a3_approach3_needs_unrounded_constants(params: float, flops: float, tokens: float) -> None:
    # Hoffmann et al. 2022, Table A3, Approach 3 columns (175B row skipped: FLOPs typo).
    # The unrounded TeX constants (Besiroglu et al. 2024, Table 1) come within 8 % of the
    # published model sizes; the rounded eq. 2 constants are 18-30 % too small, which is
    # why the rounded fit should not be presented as "the" Approach 3 of the paper.
    n_tex, _ = chinchilla_optimal(flops, approach=3, fit="hoffmann2022_tex")
    n_rounded, _ = chinchilla_optimal(flops, approach=3, fit="hoffmann2022")
    assert rel_err(n_tex, params) < 0.08
    assert 0.15 < 1 - n_rounded / params < 0.31


# ---------------------------------------------------------------------------
# Chinchilla parametric loss and frontier (Approach 3)
# ---------------------------------------------------------------------------


def test_chinchilla_fit_constants() -> None:
    # Hoffmann et al. 2022, eq. 2 / App. D.2; TeX values and Epoch refit from
    # Besiroglu et al. 2024, Table 1.
    h = CHINCHILLA_FITS["hoffmann2022"]
    assert (h.e, h.a, h.b, h.alpha, h.beta) == (1.69, 406.4, 410.7, 0.34, 0.28)
    t = CHINCHILLA_FITS["hoffmann2022_tex"]
    assert (t.e, t.a, t.b, t.alpha, t.beta) == (1.6934, 406.4, 410.7, 0.3392, 0.2849)
    e = CHINCHILLA_FITS["epoch2024"]
    assert (e.e, e.a, e.b, e.alpha, e.beta) == (1.8172, 482.01, 2085.43, 0.3478, 0.3658)
    for fit in CHINCHILLA_FITS.values():
        assert "arXiv:" in fit.source


def test_chinchilla_table2_exponents() -> None:
    # Hoffmann et al. 2022, Table 2.
    assert (CHINCHILLA_APPROACHES[1].params_exponent, CHINCHILLA_APPROACHES[1].tokens_exponent) == (
        0.50,
        0.50,
    )
    assert (CHINCHILLA_APPROACHES[2].params_exponent, CHINCHILLA_APPROACHES[2].tokens_exponent) == (
        0.49,
        0.51,
    )
    assert (CHINCHILLA_APPROACHES[3].params_exponent, CHINCHILLA_APPROACHES[3].tokens_exponent) == (
        0.46,
        0.54,
    )


@pytest.mark.parametrize(
    ("params", "tokens", "fit", "want"),
    [
        # facts.md §1.3 (D), from Hoffmann et al. 2022 eq. 2 constants:
        (70e9, 1.4e12, "hoffmann2022", 1.9366),  # Chinchilla
        (280e9, 300e9, "hoffmann2022", 1.9933),  # Gopher
        (175e9, 300e9, "hoffmann2022", 2.0023),  # GPT-3
        (8e9, 160e9, "hoffmann2022", 2.1640),
        # facts.md §1.6 (D), from Besiroglu et al. 2024 Table 1:
        (70e9, 1.4e12, "epoch2024", 1.9739),
    ],
)
def test_chinchilla_loss_spot_values(params: float, tokens: float, fit: str, want: float) -> None:
    assert chinchilla_loss(params, tokens, fit=fit) == pytest.approx(want, abs=5e-5)


@pytest.mark.parametrize(
    ("fit", "compute", "want_n", "want_d"),
    [
        # facts.md §1.3 / §1.6 (D): eq. 4 frontier at Gopher's budget (Table 3: 5.76e23).
        ("hoffmann2022", 5.76e23, 3.219e10, 2.982e12),
        ("epoch2024", 5.76e23, 7.225e10, 1.329e12),
        ("hoffmann2022", 1e21, 1.824e9, 9.136e10),
        ("hoffmann2022", 3.85e24, 7.591e10, 8.453e12),
        ("epoch2024", 1e21, 2.778e9, 5.999e10),
        ("epoch2024", 3.85e24, 1.913e11, 3.354e12),
    ],
)
def test_approach3_frontier(fit: str, compute: float, want_n: float, want_d: float) -> None:
    n, d = chinchilla_optimal(compute, approach=3, fit=fit)
    assert rel_err(n, want_n) < 0.01
    assert rel_err(d, want_d) < 0.01


def test_approach3_frontier_exponents() -> None:
    # Hoffmann et al. 2022 eq. 4: a = beta/(alpha+beta); facts.md §1.3: a 0.4516, G 1.345;
    # §1.6: Epoch a 0.5126, G 0.1196.
    h = CHINCHILLA_FITS["hoffmann2022"]
    assert h.params_exponent == pytest.approx(0.4516, abs=1e-4)
    assert h.tokens_exponent == pytest.approx(0.5484, abs=1e-4)
    assert h.frontier_g == pytest.approx(1.345, abs=1e-3)
    e = CHINCHILLA_FITS["epoch2024"]
    assert e.params_exponent == pytest.approx(0.5126, abs=1e-4)
    assert e.frontier_g == pytest.approx(0.1196, abs=1e-4)


def test_approach3_default_fit_is_hoffmann2022() -> None:
    assert chinchilla_optimal(1e23, approach=3) == chinchilla_optimal(1e23, approach=3, fit="hoffmann2022")


def test_tokens_per_param_pitfall() -> None:
    # facts.md §8 pitfall 3: rounded Approach-3 constants give ~93 tokens/param at
    # 5.76e23 FLOPs, the Epoch refit ~18, Table 3 ~20.
    n, d = chinchilla_optimal(5.76e23, approach=3)
    assert d / n == pytest.approx(92.6, abs=0.5)
    n, d = chinchilla_optimal(5.76e23, approach=3, fit="epoch2024")
    assert d / n == pytest.approx(18.4, abs=0.2)
    n, d = chinchilla_optimal(5.76e23, approach=1)
    assert 19 < d / n < 22


def test_rule_of_thumb_and_undertrained_ratio() -> None:
    # Hoffmann et al. 2022 Table 3 (~20 tokens/param); Chinchilla 70B on 1.4T tokens.
    assert chinchilla_tokens_rule_of_thumb(70e9) == pytest.approx(1.4e12)
    assert chinchilla_tokens_rule_of_thumb(1e9, tokens_per_param=10) == pytest.approx(1e10)
    assert undertrained_ratio(70e9, 1.4e12) == pytest.approx(1.0)
    # GPT-3 (Brown et al. 2020 Table D.1: 175B, 300B tokens) is undertrained by ~12x.
    assert undertrained_ratio(175e9, 300e9) == pytest.approx(300 / 3500)
    assert undertrained_ratio(1e9, 40e9, tokens_per_param=40) == pytest.approx(1.0)


def test_optimal_frontier_shapes_and_values() -> None:
    c = np.logspace(19, 26, 8)
    for approach in (1, 2, 3):
        fr = optimal_frontier(c, approach)
        assert set(fr) == {"compute_flops", "params", "tokens", "tokens_per_param", "loss"}
        for v in fr.values():
            assert isinstance(v, np.ndarray)
            assert v.shape == c.shape
        np.testing.assert_allclose(6 * fr["params"] * fr["tokens"], c, rtol=1e-12)
        assert np.all(np.diff(fr["params"]) > 0)
        assert np.all(np.diff(fr["loss"]) < 0)
    # A scalar becomes a 1-element array.
    assert optimal_frontier(1e21, 3)["params"].shape == (1,)
    fr = optimal_frontier(np.array([5.76e23]), 3, fit="epoch2024")
    assert fr["params"][0] == pytest.approx(7.225e10, rel=0.01)
    # Loss at the optimum, facts.md §1.6 (D): 1.9744.
    assert fr["loss"][0] == pytest.approx(1.9744, abs=2e-4)


def test_fits_disagreement() -> None:
    out = fits_disagreement(5.76e23)
    recs = out["recommendations"]
    assert set(recs) == {
        "approach1",
        "approach2",
        "approach3_hoffmann2022",
        "approach3_hoffmann2022_tex",
        "approach3_epoch2024",
    }
    assert recs["approach3_hoffmann2022"]["params"] == pytest.approx(3.219e10, rel=0.01)
    assert recs["approach3_epoch2024"]["tokens"] == pytest.approx(1.329e12, rel=0.01)
    ns = [r["params"] for r in recs.values()]
    ds = [r["tokens"] for r in recs.values()]
    assert out["params_ratio"] == pytest.approx(max(ns) / min(ns))
    assert out["tokens_ratio"] == pytest.approx(max(ds) / min(ds))
    assert out["params_min"] == min(ns)
    assert out["tokens_max"] == max(ds)
    assert 2.0 < out["params_ratio"] < 2.5
    assert out["params_smallest_by"] == "approach3_hoffmann2022"
    assert "disagree" in out["summary"]
    assert isinstance(out["params_ratio"], float)

    arr = fits_disagreement(np.array([1e21, 1e24]))
    assert arr["params_ratio"].shape == (2,)
    assert arr["params_ratio"][1] == pytest.approx(fits_disagreement(1e24)["params_ratio"])


# ---------------------------------------------------------------------------
# Kaplan et al. 2020
# ---------------------------------------------------------------------------


def test_kaplan_constants() -> None:
    # Kaplan et al. 2020, Table 5 (App. A).
    k = KAPLAN_POWER_LAWS
    assert (k.alpha_n, k.n_c_params) == (0.076, 8.8e13)
    assert (k.alpha_d, k.d_c_tokens) == (0.095, 5.4e13)
    assert (k.alpha_c_min, k.c_c_min_pf_days) == (0.050, 3.1e8)
    assert (k.alpha_c, k.c_c_pf_days) == (0.057, 1.6e7)
    assert (k.b_star_tokens, k.alpha_b) == (2.1e8, 0.21)
    # Kaplan et al. 2020, eq. 1.5 / Table 2 joint fit.
    j = KAPLAN_JOINT_FIT
    assert (j.alpha_n, j.alpha_d, j.n_c_params, j.d_c_tokens) == (0.076, 0.103, 6.4e13, 1.8e13)
    # Kaplan et al. 2020, Table 6.
    e = KAPLAN_COMPUTE_EFFICIENT
    assert (e.n_e_params, e.p_n, e.d_e_tokens, e.p_d) == (1.3e9, 0.73, 2e10, 0.27)
    # Kaplan et al. 2020, §1.3: 1 PF-day = 8.64e19 FLOPs.
    assert PF_DAY_FLOPS == 8.64e19


def test_kaplan_spot_values() -> None:
    # facts.md §2.1 (D), from Kaplan et al. 2020 Table 5 constants.
    assert kaplan_loss_n(1e9) == pytest.approx(2.3756, abs=5e-5)
    assert kaplan_loss_d(1e10) == pytest.approx(2.2624, abs=5e-5)
    assert kaplan_loss_c_min(1.0) == pytest.approx(2.6581, abs=5e-5)
    # Fixed-batch law and B_crit (Kaplan Table 5): direct evaluation of the formulas.
    assert kaplan_loss_c(1.0) == pytest.approx(1.6e7**0.057)
    assert kaplan_critical_batch_tokens(2.0) == pytest.approx(2.1e8 / 2.0 ** (1 / 0.21))


def test_kaplan_joint_reduces_to_limits() -> None:
    # Kaplan et al. 2020 eq. 1.5: L(N, D->inf) = (N_c/N)^alpha_N with the eq. 1.5 N_c.
    assert kaplan_loss_nd(1e9, 1e29) == pytest.approx((6.4e13 / 1e9) ** 0.076, rel=1e-6)
    # L(N->inf, D) = (D_c/D)^alpha_D with the eq. 1.5 D_c and alpha_D.
    assert kaplan_loss_nd(1e29, 1e10) == pytest.approx((1.8e13 / 1e10) ** 0.103, rel=1e-6)


def test_kaplan_optimal_at_1e21_appendix_d4() -> None:
    # Hoffmann et al. 2022, App. D.4: "Kaplan" optimal size at 1e21 FLOPs is 4.68B.
    # Kaplan Table 6 (N = 1.3e9 C_min^0.73, PF-days) gives 4.68B only when C_min = C/2
    # (training at B = B_crit costs 2 C_min, Kaplan §5.1); with C_min = C it gives 7.77B.
    c_pf_days = flops_to_pf_days(1e21)
    assert rel_err(kaplan_optimal_params(c_pf_days / 2), 4.68e9) < 0.01
    assert rel_err(kaplan_optimal_params(c_pf_days), 7.77e9) < 0.01


def test_kaplan_optimal_tokens() -> None:
    # Kaplan et al. 2020, Table 6: D_opt = 2e10 C_min^0.27.
    assert kaplan_optimal_tokens(1.0) == pytest.approx(2e10)
    assert kaplan_optimal_tokens(100.0) == pytest.approx(2e10 * 100**0.27)


def test_pf_day_round_trip() -> None:
    # Kaplan et al. 2020 §1.3; GPT-3 Table D.1 (Brown et al. 2020): 3.64e3 PF-days = 3.14e23.
    assert pf_days_to_flops(3.64e3) == pytest.approx(3.14e23, rel=0.01)
    assert flops_to_pf_days(pf_days_to_flops(123.0)) == pytest.approx(123.0)


# ---------------------------------------------------------------------------
# FLOP counting
# ---------------------------------------------------------------------------


def test_gpt3_training_flops_table_d1() -> None:
    # Brown et al. 2020, Table D.1: GPT-3 175B, 300B tokens, 3.14e23 FLOPs (174.6B params).
    assert rel_err(training_flops(175e9, 300e9), 3.14e23) < 0.02
    assert rel_err(training_flops(174.6e9, 300e9), 3.14e23) < 0.01


def test_forward_flops_kaplan_table1() -> None:
    # Kaplan et al. 2020, Table 1: C_forward = 2N + 2 n_layer n_ctx d_attn.
    n, layers, ctx, attn = 174.6e9, 96, 2048, 12288
    assert forward_flops_per_token(n, layers, ctx, attn) == 2 * n + 2 * layers * ctx * attn
    assert training_flops_per_token_with_attention(n, layers, ctx, attn) == pytest.approx(
        6 * n + 6 * layers * ctx * attn
    )
    out = forward_flops_per_token(np.array([1e9, 2e9]), 24, 1024, 2048)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, 2 * np.array([1e9, 2e9]) + 2 * 24 * 1024 * 2048)


def test_non_embedding_params() -> None:
    # facts.md §4.3: Llama-2-7B 6,738,415,616 params; untied 32000 x 4096 embeddings, RoPE.
    assert non_embedding_params(6_738_415_616, 32000, 4096, tied=False) == 6_738_415_616 - 2 * 32000 * 4096
    # GPT-2/3 style: tied embeddings plus learned positions (Kaplan Table 1 "Embed" row).
    assert non_embedding_params(1e9, 50257, 2048, n_ctx=1024) == 1e9 - (50257 + 1024) * 2048
    with pytest.raises(InvalidInputError, match="params_total"):
        non_embedding_params(1e6, 50257, 2048)
    with pytest.raises(InvalidInputError, match="tied"):
        non_embedding_params(1e9, 50257, 2048, tied="yes")  # type: ignore[call-overload]
    with pytest.raises(InvalidInputError, match="n_ctx"):
        non_embedding_params(1e9, 50257, 2048, n_ctx=-1)


# ---------------------------------------------------------------------------
# Return types
# ---------------------------------------------------------------------------


def test_scalar_in_float_out_array_in_array_out() -> None:
    assert type(training_flops(1e9, 2e10)) is float
    assert type(chinchilla_loss(1e9, 2e10)) is float
    n, d = chinchilla_optimal(1e22)
    assert type(n) is float and type(d) is float
    assert type(kaplan_loss_n(np.float64(1e9))) is float
    out = training_flops(np.array([1e9, 2e9]), 2e10)
    assert isinstance(out, np.ndarray) and out.shape == (2,)
    n_arr, d_arr = chinchilla_optimal([1e21, 1e22], approach=2)
    assert isinstance(n_arr, np.ndarray) and isinstance(d_arr, np.ndarray)
    grid = chinchilla_loss(np.array([[1e9], [1e10]]), np.array([1e10, 1e11, 1e12]))
    assert isinstance(grid, np.ndarray) and grid.shape == (2, 3)


# ---------------------------------------------------------------------------
# Property tests
# ---------------------------------------------------------------------------

params_st = st.floats(min_value=1e6, max_value=1e14)
tokens_st = st.floats(min_value=1e7, max_value=1e15)
compute_st = st.floats(min_value=1e15, max_value=1e29)
fit_st = st.sampled_from(sorted(CHINCHILLA_FITS))
approach_fit_st = st.sampled_from(
    [(1, None), (2, None), (3, "hoffmann2022"), (3, "hoffmann2022_tex"), (3, "epoch2024")]
)


@given(n=params_st, d=tokens_st, fit=fit_st)
def test_chinchilla_loss_decreases_in_n_and_d(n: float, d: float, fit: str) -> None:
    # Hoffmann et al. 2022 eq. 2: A, B, alpha, beta > 0, so L falls in N and in D.
    base = chinchilla_loss(n, d, fit=fit)
    assert chinchilla_loss(2 * n, d, fit=fit) < base
    assert chinchilla_loss(n, 2 * d, fit=fit) < base
    assert base > CHINCHILLA_FITS[fit].e


@given(n=params_st, d=tokens_st)
def test_kaplan_losses_decrease(n: float, d: float) -> None:
    # Kaplan et al. 2020 eqs. 1.1, 1.2, 1.5.
    assert kaplan_loss_n(2 * n) < kaplan_loss_n(n)
    assert kaplan_loss_d(2 * d) < kaplan_loss_d(d)
    assert kaplan_loss_nd(2 * n, d) < kaplan_loss_nd(n, d)
    assert kaplan_loss_nd(n, 2 * d) < kaplan_loss_nd(n, d)


@given(n=params_st, d=tokens_st, k=st.floats(min_value=1e-3, max_value=1e3))
def test_training_flops_linear(n: float, d: float, k: float) -> None:
    # C = 6ND is linear in each argument.
    base = training_flops(n, d)
    assert training_flops(k * n, d) == pytest.approx(k * base, rel=1e-12)
    assert training_flops(n, k * d) == pytest.approx(k * base, rel=1e-12)
    assert training_flops(n + k * n, d) == pytest.approx(base + training_flops(k * n, d), rel=1e-12)


@given(c=compute_st, af=approach_fit_st)
def test_chinchilla_optimal_spends_the_budget(c: float, af: tuple[int, str | None]) -> None:
    # Hoffmann et al. 2022 §3: optimum under the constraint FLOPs(N, D) = 6ND = C.
    approach, fit = af
    n, d = chinchilla_optimal(c, approach=approach, fit=fit)
    assert 6 * n * d == pytest.approx(c, rel=1e-10)
    assert training_flops(n, d) == pytest.approx(c, rel=1e-10)


@given(c=compute_st, fit=fit_st)
def test_approach3_is_the_minimum_on_the_isoflop(c: float, fit: str) -> None:
    # Hoffmann et al. 2022 eq. 4 minimises eq. 2 subject to 6ND = C: moving N either way
    # along the iso-FLOP curve must not lower the loss.
    n, d = chinchilla_optimal(c, approach=3, fit=fit)
    best = chinchilla_loss(n, d, fit=fit)
    for f in (0.8, 1.25):
        assert chinchilla_loss(n * f, d / f, fit=fit) >= best - 1e-12


@settings(max_examples=50)
@given(cs=st.lists(compute_st, min_size=1, max_size=8), af=approach_fit_st)
def test_vectorized_equals_scalar(cs: list[float], af: tuple[int, str | None]) -> None:
    approach, fit = af
    arr = np.array(cs)
    n_vec, d_vec = chinchilla_optimal(arr, approach=approach, fit=fit)
    n_sc = [chinchilla_optimal(c, approach=approach, fit=fit)[0] for c in cs]
    d_sc = [chinchilla_optimal(c, approach=approach, fit=fit)[1] for c in cs]
    np.testing.assert_allclose(n_vec, n_sc, rtol=1e-13)
    np.testing.assert_allclose(d_vec, d_sc, rtol=1e-13)
    fr = optimal_frontier(arr, approach, fit)
    np.testing.assert_allclose(fr["params"], n_sc, rtol=1e-13)


@settings(max_examples=50)
@given(ns=st.lists(params_st, min_size=1, max_size=8), d=tokens_st, fit=fit_st)
def test_vectorized_losses_equal_scalar(ns: list[float], d: float, fit: str) -> None:
    arr = np.array(ns)
    for vec_fn, sc_fn in [
        (lambda x: chinchilla_loss(x, d, fit=fit), lambda x: chinchilla_loss(x, d, fit=fit)),
        (lambda x: training_flops(x, d), lambda x: training_flops(x, d)),
        (kaplan_loss_n, kaplan_loss_n),
        (lambda x: kaplan_loss_nd(x, d), lambda x: kaplan_loss_nd(x, d)),
        (kaplan_loss_d, kaplan_loss_d),
        (lambda x: undertrained_ratio(x, d), lambda x: undertrained_ratio(x, d)),
    ]:
        np.testing.assert_allclose(vec_fn(arr), [sc_fn(x) for x in ns], rtol=1e-13)


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------

BAD_VALUES = [0, -1, math.nan, math.inf, -math.inf]


@pytest.mark.parametrize("bad", BAD_VALUES)
@pytest.mark.parametrize(
    ("call", "arg"),
    [
        (lambda v: training_flops(v, 1e12), "params"),
        (lambda v: training_flops(1e9, v), "tokens"),
        (lambda v: chinchilla_loss(v, 1e12), "params"),
        (lambda v: chinchilla_loss(1e9, v), "tokens"),
        (lambda v: chinchilla_optimal(v), "compute_flops"),
        (lambda v: chinchilla_optimal(v, approach=3), "compute_flops"),
        (lambda v: optimal_frontier(np.array([1e20, v]), 1), "compute_flops_array"),
        (lambda v: fits_disagreement(v), "compute_flops"),
        (lambda v: kaplan_loss_n(v), "params_non_embedding"),
        (lambda v: kaplan_loss_d(v), "tokens"),
        (lambda v: kaplan_loss_nd(1e9, v), "tokens"),
        (lambda v: kaplan_loss_c_min(v), "compute_pf_days"),
        (lambda v: kaplan_optimal_params(v), "compute_pf_days"),
        (lambda v: kaplan_optimal_tokens(v), "compute_pf_days"),
        (lambda v: flops_to_pf_days(v), "flops"),
        (lambda v: pf_days_to_flops(v), "pf_days"),
        (lambda v: forward_flops_per_token(1e9, v, 2048, 4096), "n_layer"),
        (lambda v: chinchilla_tokens_rule_of_thumb(1e9, tokens_per_param=v), "tokens_per_param"),
        (lambda v: undertrained_ratio(v, 1e12), "params"),
        (lambda v: non_embedding_params(1e9, v, 4096), "vocab_size"),
    ],
)
def test_bad_values_rejected(call, arg: str, bad: float) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError) as exc:
        call(bad)
    msg = str(exc.value)
    assert arg in msg
    assert repr(float(bad)) in msg
    assert isinstance(exc.value, ValueError)


@pytest.mark.parametrize(
    ("call", "arg"),
    [
        (lambda: chinchilla_optimal(1e31), "compute_flops"),
        (lambda: chinchilla_optimal(np.array([1e20, 1e31]), approach=2), "compute_flops"),
        (lambda: optimal_frontier([1e31], 3), "compute_flops_array"),
        (lambda: fits_disagreement(1e31), "compute_flops"),
        (lambda: flops_to_pf_days(1e31), "flops"),
        (lambda: pf_days_to_flops(1e31 / 8.64e19), "pf_days"),
        (lambda: kaplan_optimal_params(1e31 / 8.64e19), "compute_pf_days"),
        (lambda: training_flops(1e31, 1.0), "params"),
    ],
)
def test_budget_above_1e30_rejected(call, arg: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError) as exc:
        call()
    msg = str(exc.value)
    assert arg in msg
    assert "exceeds" in msg
    assert "1e+30" in msg or "1.15741e+10" in msg


def test_1e30_itself_is_accepted() -> None:
    n, d = chinchilla_optimal(1e30)
    assert 6 * n * d == pytest.approx(1e30)


def test_array_error_names_index() -> None:
    with pytest.raises(
        InvalidInputError, match=r"compute_flops must be positive and finite, got nan at index 1"
    ):
        chinchilla_optimal([1e20, math.nan])


@pytest.mark.parametrize("bad", ["abc", None, True, [], 1j, [1e20, "x"]])
def test_non_numbers_rejected(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="compute_flops"):
        chinchilla_optimal(bad)  # type: ignore[call-overload]


def test_shape_mismatch_rejected() -> None:
    with pytest.raises(InvalidInputError, match="broadcast"):
        training_flops(np.ones(2) * 1e9, np.ones(3) * 1e12)


@pytest.mark.parametrize("approach", [0, 4, "1", 1.0, None, True])
def test_unknown_approach(approach: object) -> None:
    with pytest.raises(InvalidInputError, match="valid options are 1, 2, 3"):
        chinchilla_optimal(1e21, approach=approach)  # type: ignore[call-overload]
    with pytest.raises(InvalidInputError, match="approach"):
        optimal_frontier([1e21], approach)  # type: ignore[arg-type]


@pytest.mark.parametrize("fit", ["chinchilla", "Hoffmann2022", "", None])
def test_unknown_fit(fit: object) -> None:
    with pytest.raises(InvalidInputError) as exc:
        chinchilla_loss(1e9, 1e10, fit=fit)  # type: ignore[call-overload]
    for name in ("hoffmann2022", "hoffmann2022_tex", "epoch2024"):
        assert name in str(exc.value)
    if fit is not None:
        with pytest.raises(InvalidInputError, match="epoch2024"):
            chinchilla_optimal(1e21, approach=3, fit=fit)  # type: ignore[call-overload]


def test_fit_only_for_approach3() -> None:
    with pytest.raises(InvalidInputError, match="only applies to approach 3"):
        chinchilla_optimal(1e21, approach=1, fit="epoch2024")


# ---------------------------------------------------------------------------
# The scalar short path of input validation agrees with the array path
# ---------------------------------------------------------------------------


def _validated(value: object, **kw: object) -> tuple[str, object]:
    try:
        arr, scalar = scaling._as_array("x", value, **kw)  # type: ignore[arg-type]
    except InvalidInputError as exc:
        return "error", str(exc)
    return "ok", (arr.dtype, arr.shape, float(arr), scalar)


@pytest.mark.parametrize("value", [
    1, 7.5, 0, 0.0, -0.0, -1, -2.5, math.nan, math.inf, -math.inf, 1e40, scaling.MAX_COUNT,
    np.nextafter(scaling.MAX_COUNT, math.inf), 10**30, np.float64(2.5), np.float64(-1.0), True, np.float32(3.0),
])
@pytest.mark.parametrize("kw", [{}, {"allow_zero": True}, {"upper": None}, {"upper": 100.0, "unit": "FLOPs"}])
def test_scalar_short_path_matches_array_path(value: object, kw: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _validated(value, **kw)
    monkeypatch.setattr(scaling, "_PLAIN_SCALARS", frozenset())
    assert fast == _validated(value, **kw)


def test_fits_disagreement_helpers_match_the_table() -> None:
    out = scaling.fits_disagreement(np.array([1e20, 5.76e23, 1e25]))
    rec = scaling._method_recommendations(np.array([1e20, 5.76e23, 1e25]))
    assert rec.labels == tuple(out["recommendations"])
    for label, n in zip(rec.labels, rec.params, strict=True):
        np.testing.assert_array_equal(out["recommendations"][label]["params"], n)
    # the summary quotes the compute where the methods disagree most, and who recommends what there
    worst = int(np.argmax(out["params_ratio"]))
    assert f"{[1e20, 5.76e23, 1e25][worst]:.3g} FLOPs" in out["summary"]
    assert out["params_smallest_by"] in out["summary"] and out["params_largest_by"] in out["summary"]
