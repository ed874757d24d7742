"""Speed of ``performance.estimate`` and ``estimate_arrays`` against reference points (issue #10).

Run: ``.venv/bin/python bench/bench_estimate.py`` (``--quick`` for fewer repeats).

Prints, all measured in the same run (best of several repeats, since the machine may be shared):

1. calls per second of the scalar :func:`estimator.performance.estimate` and of llm-analysis
   0.2.2's ``LLMAnalysis.inference()`` on the same configurations (models, GPUs, batches, prompt
   and output lengths, tensor parallelism), their ratio and whether it is >= 1.0;
2. configurations per second of :func:`estimator.performance.estimate_arrays` and of a plain
   numpy roofline expression over the same arrays (per configuration: prefill time
   ``max(2 P I B / F, W / BW)``, decode step ``max(2 P B / F, (W + KV) / BW)``, end-to-end
   ``prefill + (O - 1) decode``, per tensor-parallel rank), their ratio and whether it is >= 0.30.
   Like for like, ``estimate_arrays`` returns the same three arrays (``outputs=("ttft_s", "tpot_s",
   "e2e_s")``, no memory check); the default call (all 28 results) is printed beside it.

llm-analysis is optional (it is not a dependency of the planner; ``pip install -e '.[bench]'``
brings it). Without it part 1 prints how to install it and is skipped. Its own dependencies
(transformers, huggingface-hub) are only needed to fetch configs from the Hugging Face Hub, which
this script does not do: ``.venv/bin/pip install --no-deps llm-analysis==0.2.2 'fire>=0.5,<0.6'
six termcolor`` is enough.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from estimator import catalog, memory, performance
from estimator.specs import ModelSpec

INSTALL_HINT = (
    "llm-analysis is not installed; install it with\n"
    "    .venv/bin/pip install llm-analysis==0.2.2\n"
    "(or, without transformers/huggingface-hub, which this benchmark does not use:\n"
    "    .venv/bin/pip install --no-deps llm-analysis==0.2.2 'fire>=0.5,<0.6' six termcolor)"
)

GPU_MAP = {"h100-sxm": "h100-sxm-80gb", "a100-80gb-sxm": "a100-sxm-80gb"}
"""Catalog accelerator -> the GPU config llm-analysis ships under that name."""

SCALAR_CONFIGS: tuple[tuple[str, str, int, int, int, int], ...] = (
    # model, gpu, batch, input tokens, output tokens, tensor parallel
    ("llama-2-7b", "h100-sxm", 1, 512, 128, 1),
    ("llama-2-7b", "a100-80gb-sxm", 8, 1024, 256, 1),
    ("llama-3.1-8b", "h100-sxm", 32, 2048, 256, 1),
    ("llama-2-13b", "a100-80gb-sxm", 4, 512, 512, 2),
    ("llama-2-70b", "h100-sxm", 16, 1000, 250, 4),
    ("llama-3.1-70b", "h100-sxm", 8, 2048, 128, 8),
)


def timings(fns: Sequence[Callable[[], Any]], repeats: int) -> list[list[float]]:
    """Wall times (seconds) of each of ``fns`` over ``repeats`` rounds, after one warm-up.

    The functions run in turn within each round, so a burst of load from other processes on a
    shared machine slows all of them alike and the ratios stay meaningful.
    """
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return times


def best_of(fns: Sequence[Callable[[], Any]], repeats: int) -> list[float]:
    """Smallest wall time (seconds) of each of ``fns`` over ``repeats`` alternating rounds (:func:`timings`)."""
    return [min(t) for t in timings(fns, repeats)]


def passes(calls: Sequence[Callable[[], Any]], loops: int) -> Callable[[], None]:
    """One timed unit: ``loops`` passes over ``calls``."""

    def run() -> None:
        for _ in range(loops):
            for c in calls:
                c()

    return run


# ---------------------------------------------------------------- scalar vs llm-analysis


def _llm_analysis_config(model: ModelSpec, gpu_id: str) -> Any:
    """An ``LLMAnalysis`` object for our catalog model on llm-analysis's own GPU config.

    The model config is built from the catalog spec (layers, heads, KV heads, widths, vocabulary),
    so both tools price the same architecture; the GPU config is the one llm-analysis ships.
    """
    from llm_analysis.config import DtypeConfig, ModelConfig, ParallelismConfig, get_gpu_config_by_name

    mc = ModelConfig(
        name=model.model_id, num_layers=model.n_layers, n_head=model.n_heads, hidden_dim=model.d_model,
        vocab_size=model.vocab_size, max_seq_len=model.max_context, num_key_value_heads=model.n_kv_heads,
        ffn_embed_dim=model.d_ff, expansion_ratio=model.d_ff / model.d_model, model_type="llama",
    )
    return mc, get_gpu_config_by_name(GPU_MAP[gpu_id]), DtypeConfig(), ParallelismConfig


def _llm_analysis_calls() -> list[Callable[[], Any]] | None:
    """``LLMAnalysis.inference`` on each of :data:`SCALAR_CONFIGS`, or None without llm-analysis."""
    logging.getLogger("__name__").setLevel(logging.ERROR)  # llm-analysis's logger: its per-call INFO/WARNING lines
    try:
        from llm_analysis.analysis import LLMAnalysis
    except ImportError:
        return None
    calls = []
    for m, g, b, i, o, t in SCALAR_CONFIGS:
        mc, gc, dc, par = _llm_analysis_config(catalog.get_model(m), g)
        analysis = LLMAnalysis(mc, gc, dc, par(tp_size=t), flops_efficiency=performance.COMPUTE_EFFICIENCY,
                               hbm_memory_efficiency=performance.MEMORY_EFFICIENCY)
        calls.append(lambda a=analysis, b=b, i=i, o=o: a.inference(
            batch_size_per_gpu=b, seq_len=i, num_tokens_to_generate=o))
    return calls


def bench_scalar(loops: int, repeats: int) -> float | None:
    print("== Scalar: performance.estimate vs llm-analysis 0.2.2 LLMAnalysis.inference() ==")
    print(f"configurations: {len(SCALAR_CONFIGS)} (model, GPU, batch, input, output, TP):")
    for c in SCALAR_CONFIGS:
        print(f"    {c}")
    ours = [
        (lambda m=m, g=g, b=b, i=i, o=o, t=t: performance.estimate(m, g, "fp16", b, i, o, t))
        for m, g, b, i, o, t in SCALAR_CONFIGS
    ]
    h100, l70 = catalog.get_hardware("h100-sxm"), catalog.get_model("llama-3.1-70b")
    mb = [lambda: memory.max_batch(l70, h100, "bf16", "bf16", 1250, tp=4)] * len(SCALAR_CONFIGS)
    theirs = _llm_analysis_calls()
    units = [passes(ours, loops), passes(mb, loops)] + ([passes(theirs, loops)] if theirs else [])
    times = best_of(units, repeats)
    n = len(SCALAR_CONFIGS) * loops
    print(f"performance.estimate          : {n / times[0]:10,.0f} calls/s ({times[0] / n * 1e6:7.1f} us/call)")
    print(f"memory.max_batch              : {n / times[1]:10,.0f} calls/s ({times[1] / n * 1e6:7.1f} us/call)")
    if theirs is None:
        print(INSTALL_HINT)
        print("(skipped the llm-analysis comparison)")
        return None
    ratio = times[2] / times[0]
    print(f"llm-analysis inference()      : {n / times[2]:10,.0f} calls/s ({times[2] / n * 1e6:7.1f} us/call; "
          "LLMAnalysis objects built once, outside the timing)")
    print(f"ratio estimate / llm-analysis : {ratio:.2f}x  (target >= 1.0: {'MET' if ratio >= 1.0 else 'NOT MET'})")
    return ratio


# ---------------------------------------------------------------- vectorized vs plain numpy


def numpy_roofline(
    params: float, weight_bytes: float, kv_bytes_per_token: float, flops_per_s: float, bytes_per_s: float,
    batch: Any, inp: Any, out: Any, tp: Any,
) -> tuple[Any, Any, Any]:
    """The plain roofline of one model on one accelerator, per configuration (seconds).

    ``prefill = max(2 P I B / F, W / BW) / t``, ``decode = max(2 P B / F, (W + KV) / BW) / t`` with
    ``KV = B (I + O) kv_per_token``, ``e2e = prefill + (O - 1) decode``.
    """
    prefill = np.maximum(2.0 * params * inp * batch / flops_per_s, weight_bytes / bytes_per_s) / tp
    decode = np.maximum(2.0 * params * batch / flops_per_s,
                        (weight_bytes + batch * (inp + out) * kv_bytes_per_token) / bytes_per_s) / tp
    return prefill, decode, prefill + (out - 1) * decode


def bench_vectorized(n: int, repeats: int) -> float:
    print("\n== Vectorized: estimate_arrays vs a plain numpy roofline over the same arrays ==")
    rng = np.random.default_rng(0)
    batch = rng.integers(1, 256, n)
    inp = rng.integers(1, 8192, n)
    out = rng.integers(1, 4096, n)
    tp = rng.choice([1, 2, 4, 8], n)
    model, gpu, dtype = "llama-3.1-8b", "h100-sxm", "bf16"
    m, h = catalog.get_model(model), catalog.get_hardware(gpu)
    consts = (m.params_active, memory.weights_bytes(m, dtype), memory.kv_cache_bytes_per_token(m, dtype),
              h.peak_flops_per_s(dtype) * performance.COMPUTE_EFFICIENCY,
              h.memory_bandwidth_bytes_per_s * performance.MEMORY_EFFICIENCY)
    latencies = ("ttft_s", "tpot_s", "e2e_s")
    runs = timings([
        lambda: numpy_roofline(*consts, batch, inp, out, tp),
        lambda: performance.estimate_arrays(model, gpu, dtype, batch, inp, out, tp, outputs=latencies,
                                            check_memory=False),
        lambda: performance.estimate_arrays(model, gpu, dtype, batch, inp, out, tp),
        lambda: performance.estimate_arrays(model, gpu, dtype, batch, inp, out, tp, check_memory=False),
    ], repeats)
    t_np, t_lat, t_all, t_nocheck = (min(t) for t in runs)
    medians = [float(np.median(t)) for t in runs]
    ratio = t_np / t_lat
    print(f"{n:,} configurations ({model}, {gpu}, {dtype}; int64 arrays of batch, input, output, TP); "
          f"best of {repeats} alternating runs")
    print(f"plain numpy roofline (prefill, decode, e2e)       : {n / t_np:12,.0f} configs/s ({t_np * 1e3:6.1f} ms)")
    print(f"estimate_arrays, outputs=ttft/tpot/e2e, no memory : {n / t_lat:12,.0f} configs/s ({t_lat * 1e3:6.1f} ms)"
          f"  ratio {ratio:.2f}")
    print(f"estimate_arrays, all 26 results, no memory check  : {n / t_nocheck:12,.0f} configs/s "
          f"({t_nocheck * 1e3:6.1f} ms)  ratio {t_np / t_nocheck:.2f}")
    print(f"estimate_arrays, default (26 results + fits/mem)  : {n / t_all:12,.0f} configs/s ({t_all * 1e3:6.1f} ms)"
          f"  ratio {t_np / t_all:.2f}")
    print(f"ratios of medians (same runs; roofline / candidate): latencies {medians[0] / medians[1]:.2f}, "
          f"26 results {medians[0] / medians[3]:.2f}, default {medians[0] / medians[2]:.2f}")
    print(f"ratio like for like (three latency arrays each)   : {ratio:.2f}  "
          f"(target >= 0.30: {'MET' if ratio >= 0.30 else 'NOT MET'}; aim 0.35: "
          f"{'reached' if ratio >= 0.35 else 'not reached'})")
    print("(the default call also fills 28 new arrays of n values: the fresh pages and the copies alone take about "
          "twice the numpy roofline's time, measured by leaving the copies out)")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="configurations per vectorized run")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--loops", type=int, default=50, help="passes over the scalar configurations per repeat")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and loops")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.loops = 3, 10
    scalar = bench_scalar(args.loops, args.repeats)
    vector = bench_vectorized(args.n, args.repeats)
    ok = (scalar is None or scalar >= 1.0) and vector >= 0.30
    print(f"\nissue #10 targets: {'MET' if ok else 'NOT MET'}"
          + (" (scalar comparison skipped: llm-analysis missing)" if scalar is None else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
