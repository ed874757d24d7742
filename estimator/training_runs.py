"""Published training runs (``data/training_runs.csv``) and the efficiency fitted on them.

Each run gives parameters ``N`` (active, for a mixture of experts), tokens ``D``, sequence length
``s``, layers ``L``, attention width ``d_attn``, the accelerator and the GPU-hours ``T`` it took.
Its *utilization* is the time the training FLOPs take at the dense peak over the GPU-hours paid:

.. math:: u = \\frac{6 N D / F_{dtype} + 12 L s d_{attn} D / F_{bf16}}{T \\cdot 3600}

(:func:`estimator.training.train_flops_per_token`). ``F_dtype`` is the dense peak in the run's
``compute_dtype``, the format its source gives for the linear-layer GEMMs (bf16 where a source
says only "mixed precision": the A100/H100 BF16 and FP16 peaks are equal); the attention term
stays at the BF16 peak because FP8 recipes keep the attention operators in BF16 (DeepSeek-AI
2024, arXiv:2412.19437, sec. 3.3.1). For a 16-bit run this is ``C / (F_bf16 T 3600)`` with
``C = (6N + 12 L s d_attn) D``. ``u`` is MFU x goodput: MFU while training, goodput the share of
paid hours that trained (restarts, checkpointing, evaluation, stragglers).

The fit, per hardware generation ``g`` (Ampere: A100; Hopper: H100/H800), shrinks the mean of
``log u`` toward the mean over all runs (empirical Bayes, James and Stein; Efron and Morris 1975,
"Data analysis using Stein's estimator", JASA 70(350)):

.. math:: \\hat{m}_g = \\frac{n_g \\bar y_g + k \\bar y}{n_g + k}, \\quad
          k = \\frac{\\sigma_w^2}{\\tau^2}

with ``sigma_w^2`` the pooled within-generation variance of ``log u`` and ``tau^2`` the variance
of the generation means beyond what sampling explains. MFU is the mean of the MFUs the runs
report (the Llama papers); goodput is ``exp(m_g) / MFU``. Leave-one-out: each run predicted by a fit
without it; the ratio published / predicted GPU-hours gives the error and the range.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from estimator import catalog, training
from estimator.errors import InvalidInputError
from estimator.units import DType

__all__ = ["EfficiencyFit", "LooRow", "data_sha256", "fit", "fit_frame", "leave_one_out", "loo_summary",
           "published_table", "runs"]

MIN_TAU2: float = 1e-4
"""Floor of the between-generation variance of ``log u`` (a 1 % spread), so that ``k`` stays finite."""

RANGE_QUANTILES: tuple[float, float] = (0.10, 0.90)
"""Quantiles of the leave-one-out ratios that bound the range shown around a prediction (an 80 % range)."""

MIN_RUNS_FOR_OWN_RANGE: int = 5
"""A generation with fewer fitted runs takes its range from all runs' leave-one-out ratios."""


@dataclass(frozen=True, slots=True)
class EfficiencyFit:
    """Fitted ``log u`` per generation, the global mean and the shrinkage constant ``k``."""

    log_u: dict[str, float]
    global_log_u: float
    k: float
    mfu: dict[str, float]
    n_runs: dict[str, int]

    def utilization(self, generation: str) -> float:
        return math.exp(self.log_u.get(generation, self.global_log_u))

    def mfu_for(self, generation: str) -> float:
        return self.mfu.get(generation, self.mfu["global"])


@dataclass(frozen=True, slots=True)
class LooRow:
    """One run predicted by the fit without it."""

    run_id: str
    model: str
    generation: str
    hardware_id: str
    train_flops: float
    flops_6nd: float
    gpu_hours: float
    predicted_gpu_hours: float

    @property
    def ratio(self) -> float:
        """Published / predicted GPU-hours."""
        return self.gpu_hours / self.predicted_gpu_hours

    @property
    def error(self) -> float:
        """Predicted / published - 1 (positive: the model predicts too many hours)."""
        return self.predicted_gpu_hours / self.gpu_hours - 1.0


def data_sha256() -> str:
    """SHA-256 of ``data/training_runs.csv`` as stored (the fit records which data it saw)."""
    return hashlib.sha256((catalog.data_dir() / "training_runs.csv").read_bytes()).hexdigest()


def _peak_time_s(hardware_id: str, compute_dtype: str, flops_6nd: float, attention_flops: float) -> float:
    """Seconds at the dense peak: ``t = 6ND / F_dtype + A D / F_bf16`` (module docstring;
    FLOPs over FLOP/s; DeepSeek-AI 2024, arXiv:2412.19437, sec. 3.3.1 for what FP8 covers)."""
    hw = catalog.get_hardware(hardware_id)
    return flops_6nd / hw.peak_flops_per_s(DType(compute_dtype)) + attention_flops / hw.peak_flops_per_s(DType.BF16)


def runs(include_excluded: bool = False) -> pd.DataFrame:
    """The published runs with their generation, training FLOPs ``(6N + 12 L s d_attn) D``, ``6ND``,
    effective peak ``C / t`` (``t`` at the dense peaks of the run's compute dtype, :func:`_peak_time_s`),
    the compute dtype's dense peak and utilization ``u`` (module docstring); excluded rows only on request."""
    frame = catalog.table_frame("training_runs").copy()
    if not include_excluded:
        frame = frame[frame["excluded_reason"].fillna("").str.strip() == ""]
    frame["generation"] = [training.hardware_generation(h) for h in frame["hardware_id"]]
    attn = np.asarray([training.attention_flops_per_token(L, s, d)
                       for L, s, d in zip(frame["n_layers"], frame["seq_len"], frame["d_attn"], strict=True)])
    frame["flops_6nd"] = 6.0 * frame["params"] * frame["tokens"]
    frame["train_flops"] = frame["flops_6nd"] + attn * frame["tokens"]
    peak_s = [_peak_time_s(h, d, c6, a * t) for h, d, c6, a, t in zip(
        frame["hardware_id"], frame["compute_dtype"], frame["flops_6nd"], attn, frame["tokens"], strict=True)]
    frame["peak_flops_per_s"] = frame["train_flops"] / np.asarray(peak_s)
    frame["dtype_peak_flops_per_s"] = [catalog.get_hardware(h).peak_flops_per_s(DType(d))
                                       for h, d in zip(frame["hardware_id"], frame["compute_dtype"], strict=True)]
    frame["utilization"] = frame["train_flops"] / (frame["peak_flops_per_s"] * frame["gpu_hours"] * 3600.0)
    return frame.reset_index(drop=True)


def fit(frame: pd.DataFrame) -> EfficiencyFit:
    """Shrunken mean ``log u`` per generation and the reported-MFU mean (module docstring)."""
    if len(frame) < 2:
        raise InvalidInputError("the efficiency fit needs at least two runs")
    y = np.log(frame["utilization"].to_numpy(dtype=float))
    gens = frame["generation"].to_numpy()
    mu = float(y.mean())
    groups = {g: y[gens == g] for g in sorted(set(gens))}
    dof = sum(len(v) - 1 for v in groups.values())
    sigma_w2 = sum(float(((v - v.mean()) ** 2).sum()) for v in groups.values()) / max(dof, 1)
    means = np.array([v.mean() for v in groups.values()])
    sampling = float(np.mean([sigma_w2 / len(v) for v in groups.values()]))
    tau2 = max(float(means.var(ddof=1)) - sampling, MIN_TAU2) if len(means) > 1 else MIN_TAU2
    k = sigma_w2 / tau2
    log_u = {g: (len(v) * float(v.mean()) + k * mu) / (len(v) + k) for g, v in groups.items()}
    reported = frame.dropna(subset=["mfu_reported"])
    mfu = {str(g): float(v.mean()) for g, v in reported.groupby("generation")["mfu_reported"]}
    if reported.empty:
        raise InvalidInputError("no run reports an MFU; goodput cannot be separated from MFU")
    mfu["global"] = float(reported["mfu_reported"].mean())
    return EfficiencyFit(log_u=log_u, global_log_u=mu, k=k, mfu=mfu,
                         n_runs={g: len(v) for g, v in groups.items()} | {"global": len(y)})


def leave_one_out(frame: pd.DataFrame) -> list[LooRow]:
    """Each run's GPU-hours predicted by :func:`fit` on all the other runs:
    ``T_hat = C / (F_peak u_g 3600)``."""
    out = []
    for i, r in frame.iterrows():
        f = fit(frame.drop(index=i))
        pred = r["train_flops"] / (r["peak_flops_per_s"] * f.utilization(r["generation"]) * 3600.0)
        out.append(LooRow(run_id=r["run_id"], model=r["model"], generation=r["generation"],
                          hardware_id=r["hardware_id"], train_flops=float(r["train_flops"]),
                          flops_6nd=float(r["flops_6nd"]), gpu_hours=float(r["gpu_hours"]),
                          predicted_gpu_hours=float(pred)))
    return out


def loo_summary(rows: list[LooRow]) -> tuple[float, float, float, float]:
    """(median |error|, worst ratio max(r, 1/r), 10th and 90th percentile of the ratio
    published / predicted) of leave-one-out rows."""
    ratios = np.array([r.ratio for r in rows])
    errors = np.abs(1.0 / ratios - 1.0)
    lo, hi = np.quantile(ratios, RANGE_QUANTILES)
    return float(np.median(errors)), float(max(ratios.max(), 1.0 / ratios.min())), float(lo), float(hi)


def fit_frame(frame: pd.DataFrame, fit_date: str, sha: str) -> pd.DataFrame:
    """The rows of ``data/training_fit.csv``: per generation and global, the fitted utilization,
    MFU, goodput, leave-one-out error and range, with the fit date and the data's hash."""
    f = fit(frame)
    loo = leave_one_out(frame)
    out = []
    for gen in [*sorted(f.log_u), "global"]:
        mine = [r for r in loo if gen == "global" or r.generation == gen]
        med, worst, lo, hi = loo_summary(mine)
        if len(mine) < MIN_RUNS_FOR_OWN_RANGE:
            _, _, lo, hi = loo_summary(loo)
        u, mfu = f.utilization(gen), f.mfu_for(gen)
        out.append({
            "generation": gen, "n_runs": f.n_runs[gen], "utilization": round(u, 4), "mfu": round(mfu, 4),
            "goodput": round(u / mfu, 4), "loo_median_abs_error": round(med, 4), "loo_worst_ratio": round(worst, 4),
            "ratio_low": round(lo, 4), "ratio_high": round(hi, 4), "fit_date": fit_date, "data_sha256": sha,
            "source": "bench/fit_training.py on data/training_runs.csv (published runs; see that file's sources)",
            "as_of": fit_date, "assumed": False,
            "notes": (f"utilization = MFU x goodput, shrunk toward all runs (k = {f.k:.3g}); MFU = mean reported MFU "
                      f"of the generation's runs ({'own' if gen in f.mfu else 'global'}); range = leave-one-out "
                      f"ratio quantiles {RANGE_QUANTILES} "
                      f"({'own' if len(mine) >= MIN_RUNS_FOR_OWN_RANGE else 'all runs'})"),
        })
    return pd.DataFrame(out)


def published_table() -> pd.DataFrame:
    """The fitted runs with their leave-one-out prediction, for display: model, hardware, generation,
    parameters, tokens, sequence length, 6ND, training FLOPs, GPU-hours published and predicted,
    their ratio, utilization, source and address."""
    frame = runs()
    loo = leave_one_out(frame)
    out = frame[["run_id", "model", "hardware_id", "generation", "params", "tokens", "seq_len", "flops_6nd",
                 "train_flops", "gpu_hours", "utilization", "source", "url"]].copy()
    out["predicted_gpu_hours"] = [r.predicted_gpu_hours for r in loo]
    out["predicted_over_published"] = out["predicted_gpu_hours"] / out["gpu_hours"]
    return out
