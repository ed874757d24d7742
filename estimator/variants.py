"""Variant explorer: accuracy against cost and latency across model variants.

One vectorized sweep evaluates every chosen *variant* (a catalog model, a compressed what-if, an
elastic sub-network) on every accelerator, weight format, tensor-parallel degree and batch; one
sort (numpy) then picks the best configuration per variant, the accuracy axis is joined on, and
:func:`pareto_front` marks the non-dominated points. :func:`explore_for_scenario` is the Compare
variants page's one entry point: it returns everything the page draws in one :class:`Exploration`.

Figures per configuration (one replica of ``tp`` devices, static batch ``B``, ``I`` input and ``O``
output tokens per request; the roofline of :mod:`estimator.performance`)::

    tokens/s          = B O / e2e                   (encoder-only models: B I / TTFT)
    cost per 1M tok   = p_dev t / (tokens/s x 3600) x 1e6                       [USD]
    cost per 1k req   = p_dev t / (B / e2e x 3600) x 1e3                        [USD]
    tokens per USD    = tokens/s x 3600 / (p_dev t)
    energy per 1M tok = (P(u) + h P_TDP) t x PUE / (tokens/s) x 1e6 / 3.6e6     [kWh]

with ``p_dev`` the cheapest catalog price per accelerator-hour (:func:`estimator.pricing.
cheapest_instance`) and the power model of :mod:`estimator.carbon`.

Accuracy (0-100) comes from ``data/accuracy.csv`` (published scores, each with its source and a
status: P read in the primary, S in copies, UNVERIFIED recalled), from scores the user enters, or,
for models without a score, from a labelled **proxy**: the Chinchilla loss
``L(N, D) = E + A/N^a + B/D^b`` (Hoffmann et al. 2022, eq. 2) mapped to the benchmark through a
logistic link fitted on the catalog models that have both (``logit((s - chance)/(100 - chance)) =
c0 + c1 L``; downstream accuracy as a saturating function of loss, Gadre et al. 2024
arXiv:2403.08540 §4). Compression what-ifs scale a base score by a published *retention*
(compressed / uncompressed score) from ``data/compression.csv``, taking the evidence measured on
the model closest in size.

Nothing here imports Streamlit; every function is pure apart from the cached CSV reads.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from estimator import carbon, catalog, memory, performance, pricing, scaling
from estimator.errors import CatalogError, EstimatorError, InvalidInputError
from estimator.specs import Architecture, HardwareSpec, ModelSpec
from estimator.units import HOURS_PER_MONTH, SECONDS_PER_HOUR, DType

if TYPE_CHECKING:
    from estimator.scenario import Scenario

__all__ = [
    "ACCURACY_COLUMNS",
    "COMPRESSION_COLUMNS",
    "BENCHMARKS",
    "Benchmark",
    "TRAINING_TOKENS",
    "SPARSE_2OF4_HARDWARE",
    "ROUTER_HIDDEN",
    "FLEXTRON_TOKEN_FRACTION",
    "VariantKind",
    "Variant",
    "SweepSpec",
    "SweepResult",
    "sweep_spec",
    "ProxyFit",
    "UserScore",
    "RouterOverhead",
    "load_accuracy",
    "load_compression",
    "validate_user_scores",
    "training_tokens",
    "loss_proxy",
    "fit_proxy",
    "quantization_retention",
    "quantization_retentions",
    "QuantRetention",
    "pruning_retention",
    "distillation_retention",
    "pareto_front",
    "base_variant",
    "pruned_variant",
    "distilled_variant",
    "subnetwork_spec",
    "router_overhead",
    "elastic_family",
    "sweep",
    "best_configs",
    "score_table",
    "attach_scores",
    "frontier",
    "select_subnetwork",
    "elastic_vs_separate",
    "long_context",
    "build_variants",
    "spec_for_scenario",
    "sweep_key",
    "sweep_for_scenario",
    "ELASTIC_CONTEXT_TOKENS",
    "ENCODER_INPUT_TOKENS",
    "compression_table",
    "ElasticSection",
    "elastic_section",
    "LongContextSection",
    "long_context_section",
    "encoder_comparison",
    "ReferenceTables",
    "reference_tables",
    "Exploration",
    "explore_for_scenario",
]

FloatArray = npt.NDArray[np.float64]

# ---------------------------------------------------------------- reference tables

ACCURACY_COLUMNS: dict[str, str] = catalog.TABLES["accuracy"][1]
"""``data/accuracy.csv``: one published score (0-100) per (model, benchmark, context length).
``status`` is P (read in the primary source), S (found in copies of it), D (derived) or
UNVERIFIED (recalled); ``context_tokens`` is the input length the score was measured at (empty:
the benchmark's usual length). The schema lives in ``catalog.TABLES``."""
"""``data/accuracy.csv``: one published score (0-100) per (model, benchmark, context length).
``status`` is P (read in the primary source), S (found in copies of it), D (derived) or
UNVERIFIED (recalled); ``context_tokens`` is the input length the score was measured at (empty:
the benchmark's usual length)."""

COMPRESSION_COLUMNS: dict[str, str] = catalog.TABLES["compression"][1]
"""``data/compression.csv``: one published before/after figure per row. ``kind`` is
quantization, pruning or distillation; ``memory_factor`` is the weight bytes relative to the
16-bit model; rows with ``used_for_whatif`` feed the what-if points, the others are evidence
shown beside them (perplexities, speed claims, other recipes)."""

_STATUSES = frozenset({"P", "S", "D", "UNVERIFIED"})
_KINDS = frozenset({"quantization", "pruning", "distillation"})


@dataclass(frozen=True)
class Benchmark:
    """A benchmark's name, its random-guess score (multiple choice) and what it measures."""

    name: str
    chance: float | None
    description: str


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark("MMLU", 25.0, "57-subject multiple choice, 4 options (Hendrycks et al. 2021)"),
        Benchmark("HellaSwag", 25.0, "commonsense sentence completion, 4 options (Zellers et al. 2019)"),
        Benchmark("ARC-Challenge", 25.0, "grade-school science, hard set, 4 options (Clark et al. 2018)"),
        Benchmark("ARC-Easy", 25.0, "grade-school science, easy set, 4 options (Clark et al. 2018)"),
        Benchmark("WinoGrande", 50.0, "pronoun resolution, 2 options (Sakaguchi et al. 2020)"),
        Benchmark("SQuAD", None, "reading comprehension, exact match (generative, few-shot)"),
        Benchmark("GLUE", None, "9 sentence-understanding tasks, macro score (Wang et al. 2018)"),
        Benchmark("SQuAD v1.1 F1", None, "extractive QA F1 (fine-tuned encoders)"),
        Benchmark("SCROLLS", None, "7 long-document tasks, average (Shaham et al. 2022)"),
        Benchmark("GovReport ROUGE-1", None, "long report summarization (SCROLLS)"),
        Benchmark("Qasper F1", None, "QA over research papers (SCROLLS)"),
        Benchmark("arXiv ROUGE-1", None, "arXiv paper summarization (Cohan et al. 2018)"),
    )
}
"""Benchmarks the accuracy table uses. A Chinchilla-loss proxy exists only for multiple-choice
benchmarks (those with a chance score): the logistic link needs a floor."""


def _data_path(name: str, path: str | Path | None) -> Path:
    return Path(path) if path is not None else catalog.data_dir() / name


def _read_csv(path: Path, columns: Mapping[str, str]) -> pd.DataFrame:
    """Read ``path`` like the catalog does (DuckDB, explicit types, checked header and
    provenance), then check the ``status`` column."""
    df = catalog.read_csv_typed(path, dict(columns))
    bad_status = ~df["status"].isin(_STATUSES)
    if bad_status.any():
        raise CatalogError(f"{path.name}: status must be one of {sorted(_STATUSES)} "
                           f"(rows {[int(i) + 2 for i in np.flatnonzero(bad_status)]})")
    for col, typ in columns.items():
        if typ == "VARCHAR":
            df[col] = df[col].fillna("").astype(str)
    df["assumed"] = df["assumed"].fillna(False).astype(bool)
    return df


@lru_cache(maxsize=8)
def _accuracy_cached(path: str, mtime: float) -> pd.DataFrame:
    df = _read_csv(Path(path), ACCURACY_COLUMNS)
    out_of_range = ~df["score"].between(0.0, 100.0)
    if out_of_range.any():
        rows = [int(i) + 2 for i in np.flatnonzero(out_of_range)]
        raise CatalogError(f"{Path(path).name}: scores must be 0-100 (rows {rows})")
    key = df["context_tokens"].fillna(0)
    dup = df.assign(_k=key).duplicated(["model_id", "benchmark", "_k"], keep=False)
    if dup.any():
        raise CatalogError(f"{Path(path).name}: duplicate (model, benchmark, context) rows "
                           f"{[int(i) + 2 for i in np.flatnonzero(dup)]}")
    return df


def load_accuracy(path: str | Path | None = None) -> pd.DataFrame:
    """Published benchmark scores (``data/accuracy.csv``, schema :data:`ACCURACY_COLUMNS`).

    Raises ``CatalogError`` for a malformed file, a score outside 0-100 or a duplicate
    (model, benchmark, context) row. The frame is cached per file modification time; copy it
    before changing it.
    """
    p = _data_path("accuracy.csv", path)
    return _accuracy_cached(str(p), p.stat().st_mtime if p.exists() else 0.0)


@lru_cache(maxsize=8)
def _compression_cached(path: str, mtime: float) -> pd.DataFrame:
    df = _read_csv(Path(path), COMPRESSION_COLUMNS)
    bad_kind = ~df["kind"].isin(_KINDS)
    if bad_kind.any():
        raise CatalogError(f"{Path(path).name}: kind must be one of {sorted(_KINDS)} "
                           f"(rows {[int(i) + 2 for i in np.flatnonzero(bad_kind)]})")
    acc = df["higher_is_better"].fillna(False).astype(bool)
    scored = acc & df["baseline_value"].notna()
    bad = scored & ~(df["baseline_value"].between(0, 100) & df["compressed_value"].between(0, 100))
    if bad.any():
        raise CatalogError(f"{Path(path).name}: accuracy values must be 0-100 "
                           f"(rows {[int(i) + 2 for i in np.flatnonzero(bad)]})")
    df["higher_is_better"] = acc
    df["used_for_whatif"] = df["used_for_whatif"].fillna(False).astype(bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        df["retention"] = np.where(scored, df["compressed_value"] / df["baseline_value"], np.nan)
    if (df["used_for_whatif"] & ~np.isfinite(df["retention"])).any():
        raise CatalogError(f"{Path(path).name}: rows used for what-ifs need an accuracy before/after pair")
    return df


def load_compression(path: str | Path | None = None) -> pd.DataFrame:
    """Published compression results (``data/compression.csv``, :data:`COMPRESSION_COLUMNS`).

    Adds ``retention = compressed / baseline`` for accuracy rows (``higher_is_better``);
    perplexity rows keep NaN there and serve as evidence only.
    """
    p = _data_path("compression.csv", path)
    return _compression_cached(str(p), p.stat().st_mtime if p.exists() else 0.0)


# ---------------------------------------------------------------- user scores


class UserScore(BaseModel):
    """A score the user enters on the page (replaces or adds to the published ones)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    model_id: str = Field(min_length=1, max_length=80)
    benchmark: str = Field(min_length=1, max_length=60)
    score: float = Field(ge=0.0, le=100.0, allow_inf_nan=False)
    note: str = Field(default="", max_length=300)


def validate_user_scores(rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Check user-entered scores; return them as a frame (``model_id, benchmark, score, note``).

    Blank rows (no model and no score) are dropped. Any other bad row raises
    ``InvalidInputError`` naming the row (1-based) and the problem, e.g. a score outside 0-100
    or a model id not in the catalog.
    """
    records: list[dict[str, Any]] = (
        [{str(k): v for k, v in r.items()} for r in rows.to_dict("records")] if isinstance(rows, pd.DataFrame)
        else [dict(r) for r in rows])
    known = {m.model_id for m in catalog.list_models()}
    out: list[dict[str, Any]] = []
    problems: list[str] = []
    for n, rec in enumerate(records, start=1):
        rec = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in rec.items()}
        if not rec.get("model_id") and rec.get("score") is None:
            continue
        try:
            s = UserScore.model_validate({k: v for k, v in rec.items() if v is not None})
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(x) for x in err["loc"])
            if field == "score" and rec.get("score") is not None:
                problems.append(f"row {n}: score {rec.get('score')!r} is outside 0-100")
            else:
                problems.append(f"row {n}: {field} {err['msg'].lower()}")
            continue
        if s.model_id not in known:
            problems.append(f"row {n}: {s.model_id!r} is not a catalog model id")
            continue
        out.append(s.model_dump())
    if problems:
        raise InvalidInputError("Entered scores need fixing: " + "; ".join(problems[:5]))
    return pd.DataFrame(out, columns=["model_id", "benchmark", "score", "note"])


# ---------------------------------------------------------------- Chinchilla-loss proxy

TRAINING_TOKENS: dict[str, tuple[float, str]] = {
    "llama-2-7b": (2.0e12, "Touvron et al. 2023 Table 1 (2.0T tokens)"),
    "llama-2-13b": (2.0e12, "Touvron et al. 2023 Table 1 (2.0T tokens)"),
    "llama-2-70b": (2.0e12, "Touvron et al. 2023 Table 1 (2.0T tokens)"),
    "llama-3.1-8b": (15e12, "Llama 3.1 model card: ~15 trillion tokens"),
    "llama-3.1-70b": (15e12, "Llama 3.1 model card: ~15 trillion tokens"),
    "llama-3.1-405b": (15e12, "Llama 3.1 model card: ~15 trillion tokens"),
    "llama-3.2-1b": (9e12, "Llama 3.2 model card: up to 9 trillion tokens"),
    "llama-3.2-3b": (9e12, "Llama 3.2 model card: up to 9 trillion tokens"),
    "deepseek-v3": (14.8e12, "DeepSeek-AI 2024 arXiv:2412.19437: 14.8T tokens"),
    "qwen2.5-72b": (18e12, "Qwen Team 2024 arXiv:2412.15115: 18 trillion tokens"),
    "qwen2.5-7b": (18e12, "Qwen Team 2024 arXiv:2412.15115: 18 trillion tokens"),
    "gemma-2-9b": (8e12, "Gemma Team 2024 arXiv:2408.00118: 8T tokens"),
    "gemma-2-27b": (13e12, "Gemma Team 2024 arXiv:2408.00118: 13T tokens"),
    "gpt-3-175b": (300e9, "Brown et al. 2020 §2.2: 300B tokens"),
    "gopher-280b": (300e9, "Rae et al. 2021: 300B tokens (Hoffmann et al. 2022 §1)"),
    "chinchilla-70b": (1.4e12, "Hoffmann et al. 2022: 1.4T tokens"),
}
"""Pre-training tokens of catalog models, for the loss proxy (each with its source). Models not
listed are assumed trained on 20 tokens per parameter (Hoffmann et al. 2022 rule of thumb)."""


def training_tokens(model: ModelSpec, tokens_per_param: float | None = None) -> tuple[float, str, bool]:
    """Pre-training tokens ``D`` of ``model``: ``(tokens, source, assumed)``.

    Published where :data:`TRAINING_TOKENS` has the model, else ``k N`` with ``k`` =
    ``tokens_per_param`` (default 20, the Chinchilla rule of thumb,
    :data:`estimator.scaling.CHINCHILLA_TOKENS_PER_PARAM`; recent small models are trained far
    longer, e.g. Llama 3.1 8B on ~1,900 tokens per parameter), labelled assumed.

    >>> from estimator.catalog import get_model
    >>> training_tokens(get_model("nlarge-m"))[0] / get_model("nlarge-m").params_total
    20.0
    """
    if model.model_id in TRAINING_TOKENS:
        tokens, src = TRAINING_TOKENS[model.model_id]
        return tokens, src, False
    k = scaling.CHINCHILLA_TOKENS_PER_PARAM if tokens_per_param is None else float(tokens_per_param)
    if not (math.isfinite(k) and 0 < k <= 1e5):
        raise InvalidInputError(f"assumed training tokens per parameter must be in (0, 100000], got {k}")
    label = " (Chinchilla rule of thumb)" if tokens_per_param is None else ""
    return k * model.params_total, f"assumed {k:g} tokens per parameter{label}", True


def loss_proxy(model: ModelSpec, tokens: float | None = None) -> float:
    """Chinchilla loss of ``model`` (nats/token): ``L = E + A/N^alpha + B/D^beta``.

    ``N`` is the parameters used per token (``params_active``: for a mixture of experts this
    understates its quality, the fit being for dense models), ``D`` the training tokens
    (:func:`training_tokens` unless given). Constants: Hoffmann et al. 2022 eq. 2 via
    :func:`estimator.scaling.chinchilla_loss`.

    >>> from estimator.catalog import get_model
    >>> round(loss_proxy(get_model("chinchilla-70b")), 4)
    1.9366
    """
    d = tokens if tokens is not None else training_tokens(model)[0]
    return float(scaling.chinchilla_loss(model.params_active, d))


@dataclass(frozen=True)
class ProxyFit:
    """Logistic link from Chinchilla loss to a benchmark score, fitted on catalog models.

    ``score(L) = chance + (100 - chance) / (1 + exp(-(c0 + c1 L)))`` (c1 < 0: lower loss, higher
    score). ``r2`` is the coefficient of determination in logit space over ``n`` models.
    """

    benchmark: str
    chance: float
    c0: float
    c1: float
    n: int
    r2: float
    models: tuple[str, ...]

    def predict(self, loss: npt.ArrayLike) -> Any:
        """Score (0-100) the link gives a loss (nats/token); arrays broadcast."""
        z = self.c0 + self.c1 * np.asarray(loss, dtype=float)
        return self.chance + (100.0 - self.chance) / (1.0 + np.exp(-z))

    def anchored(self, loss: npt.ArrayLike, anchor_loss: float, anchor_score: float) -> Any:
        """Score of a model related to an anchor with a published score (same family, e.g. a
        sub-network of it): the anchor's logit shifted by ``c1 (L - L_anchor)``."""
        p = np.clip((anchor_score - self.chance) / (100.0 - self.chance), 1e-3, 1 - 1e-3)
        z = math.log(p / (1 - p)) + self.c1 * (np.asarray(loss, dtype=float) - anchor_loss)
        return self.chance + (100.0 - self.chance) / (1.0 + np.exp(-z))

    @property
    def label(self) -> str:
        return (f"Chinchilla-loss proxy, logistic link fitted on {self.n} catalog models "
                f"(R² {self.r2:.2f} in logit space)")


@lru_cache(maxsize=32)
def _fit_proxy_cached(benchmark: str, key: tuple[tuple[str, float], ...]) -> ProxyFit:
    b = BENCHMARKS.get(benchmark)
    if b is None or b.chance is None:
        raise InvalidInputError(f"no loss proxy for {benchmark}: it needs a multiple-choice benchmark "
                                f"({', '.join(n for n, x in BENCHMARKS.items() if x.chance is not None)})")
    models = {m.model_id: m for m in catalog.list_models()}
    xs, ys, ids = [], [], []
    for mid, score in key:
        m = models.get(mid)
        if m is None or mid not in TRAINING_TOKENS:
            continue
        p = min(max((score - b.chance) / (100.0 - b.chance), 1e-3), 1 - 1e-3)
        xs.append(loss_proxy(m))
        ys.append(math.log(p / (1 - p)))
        ids.append(mid)
    if len(xs) < 4:
        raise InvalidInputError(f"too few models with both a published {benchmark} score and known training "
                                f"tokens ({len(xs)}) to fit the loss proxy; enter scores instead")
    x, y = np.asarray(xs), np.asarray(ys)
    c1, c0 = np.polyfit(x, y, 1)
    resid = y - (c0 + c1 * x)
    ss = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss if ss > 0 else 0.0
    return ProxyFit(benchmark, b.chance, float(c0), float(c1), len(xs), r2, tuple(ids))


def fit_proxy(benchmark: str, scores: pd.DataFrame | None = None) -> ProxyFit:
    """Fit the loss-to-score link for ``benchmark`` on models with a score and known tokens.

    Least squares of ``logit((s - chance)/(100 - chance))`` on ``L(N, D)`` (see the module notes).
    ``scores`` (``model_id, benchmark, score``) defaults to the published table at default
    context. Raises ``InvalidInputError`` for a benchmark without a chance score or with fewer
    than four usable models.
    """
    if scores is None:
        key = tuple(sorted((mid, score) for mid, score, _src, _status in _benchmark_scores(benchmark)))
        return _fit_proxy_cached(benchmark, key)
    sel = scores[(scores["benchmark"] == benchmark)]
    if "context_tokens" in sel:
        sel = sel[sel["context_tokens"].isna()]
    key = tuple(sorted(zip(sel["model_id"].astype(str).tolist(), sel["score"].astype(float).tolist(), strict=True)))
    return _fit_proxy_cached(benchmark, key)


@lru_cache(maxsize=64)
def _benchmark_scores_cached(path: str, mtime: float, benchmark: str) -> tuple[tuple[str, float, str, str], ...]:
    acc = _accuracy_cached(path, mtime)
    sel = acc[(acc["benchmark"] == benchmark) & acc["context_tokens"].isna()]
    return tuple(zip(sel["model_id"].astype(str).tolist(), sel["score"].astype(float).tolist(),
                     sel["source"].astype(str).tolist(), sel["status"].astype(str).tolist(), strict=True))


def _benchmark_scores(benchmark: str) -> tuple[tuple[str, float, str, str], ...]:
    """``(model_id, score, source, status)`` published on ``benchmark`` at its usual context length
    (``data/accuracy.csv``, cached per file modification time)."""
    p = _data_path("accuracy.csv", None)
    return _benchmark_scores_cached(str(p), p.stat().st_mtime if p.exists() else 0.0, benchmark)


# ---------------------------------------------------------------- compression evidence


def _nearest_index(sizes: npt.ArrayLike, targets: npt.ArrayLike) -> npt.NDArray[np.intp]:
    """Index of the size closest to each target in log distance (first on ties), for all targets
    at once: ``argmin_k |ln s_k - ln t|``."""
    t = np.asarray(targets, dtype=float).ravel()
    bad = ~(np.isfinite(t) & (t > 0))
    if bad.any():
        raise InvalidInputError(f"a positive size is needed to pick the nearest evidence, got {t[bad][0]}")
    dist = np.abs(np.log(np.asarray(sizes, dtype=float))[None, :] - np.log(t)[:, None])
    return np.argmin(dist, axis=1)


@dataclass(frozen=True)
class QuantRetention:
    """Published quantization retention looked up for many model sizes in one pass: per weight
    format, ``retention[i]``, ``technique_id[i]`` and ``source[i]`` of the evidence nearest to
    ``params[i]`` (see :func:`quantization_retention`)."""

    retention: FloatArray
    technique_id: tuple[str, ...]
    source: tuple[str, ...]


@dataclass(frozen=True)
class _Evidence:
    """The ``used_for_whatif`` rows of one compression kind as arrays, in table order."""

    retention: FloatArray
    base_params: FloatArray
    student_params: FloatArray
    technique_id: tuple[str, ...]
    source: tuple[str, ...]
    base_model: tuple[str, ...]
    student_model_id: tuple[str, ...]
    weight_dtype: tuple[str, ...]
    pattern: tuple[str, ...]

    def where(self, column: str, value: str) -> _Evidence:
        """The rows whose text ``column`` equals ``value``."""
        idx = [i for i, x in enumerate(getattr(self, column)) if x == value]

        def pick(xs: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(xs[i] for i in idx)

        return _Evidence(self.retention[idx], self.base_params[idx], self.student_params[idx], pick(self.technique_id),
                         pick(self.source), pick(self.base_model), pick(self.student_model_id),
                         pick(self.weight_dtype), pick(self.pattern))

    def label(self, i: int, student: bool = False) -> str:
        tail = f" -> {self.student_model_id[i]}" if student else ""
        return f"{self.source[i]} ({self.base_model[i]}{tail})"


def _evidence_of(df: pd.DataFrame, kind: str) -> _Evidence:
    rows = df[(df["kind"] == kind) & df["used_for_whatif"]]

    def text(col: str) -> tuple[str, ...]:
        return tuple(str(x) for x in rows[col].tolist())

    return _Evidence(rows["retention"].to_numpy(dtype=float), rows["base_params"].to_numpy(dtype=float),
                     rows["student_params"].to_numpy(dtype=float), text("technique_id"), text("source"),
                     text("base_model"), text("student_model_id"), text("weight_dtype"), text("pattern"))


@lru_cache(maxsize=8)
def _evidence_cached(path: str, mtime: float, kind: str) -> _Evidence:
    return _evidence_of(_compression_cached(path, mtime), kind)


def _evidence(kind: str, table: pd.DataFrame | None) -> _Evidence:
    """The what-if evidence of ``kind`` from ``table`` (default: ``data/compression.csv``, cached)."""
    if table is not None:
        return _evidence_of(table, kind)
    p = _data_path("compression.csv", None)
    return _evidence_cached(str(p), p.stat().st_mtime if p.exists() else 0.0, kind)


def quantization_retentions(dtype: DType | str, params: npt.ArrayLike,
                            table: pd.DataFrame | None = None) -> QuantRetention:
    """:func:`quantization_retention` for every size in ``params`` at once (one table pass).

    Same rule: ``r = score_quantized / score_16bit`` of the ``used_for_whatif`` row with that
    weight format nearest in log parameter count; 16- and 32-bit formats give ``r = 1``.
    """
    d = DType(dtype)
    p = np.asarray(params, dtype=float).ravel()
    if d in (DType.BF16, DType.FP16, DType.FP32):
        return QuantRetention(np.ones(p.size), ("",) * p.size, ("",) * p.size)
    ev = _evidence("quantization", table).where("weight_dtype", d.value)
    if ev.retention.size == 0:
        raise InvalidInputError(f"no published retention for {d.value} weights (no accuracy row in compression.csv)")
    k = _nearest_index(ev.base_params, p)
    return QuantRetention(ev.retention[k], tuple(ev.technique_id[i] for i in k), tuple(ev.label(i) for i in k))


def quantization_retention(dtype: DType | str, params: float,
                           table: pd.DataFrame | None = None) -> tuple[float, str, str]:
    """Published accuracy retention of storing weights in ``dtype``: ``(r, technique_id, source)``.

    ``r = score_quantized / score_16bit`` from the ``used_for_whatif`` quantization row with that
    weight format whose base model is closest in size (log-distance of parameter counts): 4-bit
    costs small models more (Llama-3.1-8B 0.975, 70B 0.998; Neural Magic w4a16 cards).
    16- and 32-bit formats return ``(1.0, "", "")``. :func:`quantization_retentions` looks up many
    sizes at once.
    """
    q = quantization_retentions(dtype, [params], table)
    return float(q.retention[0]), q.technique_id[0], q.source[0]


def pruning_retention(pattern: str, params: float, table: pd.DataFrame | None = None) -> tuple[float, str, str]:
    """Published retention of one-shot pruning with ``pattern`` (``"2:4"`` or ``"unstructured"``).

    Same nearest-size rule as :func:`quantization_retention`. The only accuracy rows are
    SparseGPT on OPT-175B (2:4: 69.11 / 70.29 = 0.983); at 7B the same recipe doubles perplexity
    (Wanda README), so what-ifs for small models are optimistic: the page says so.
    """
    ev = _evidence("pruning", table).where("pattern", pattern)
    if ev.retention.size == 0:
        raise InvalidInputError(f"no published accuracy evidence for {pattern} pruning in compression.csv")
    i = int(_nearest_index(ev.base_params, [params])[0])
    return float(ev.retention[i]), ev.technique_id[i], ev.label(i)


def distillation_retention(teacher_params: float, student_params: float,
                           table: pd.DataFrame | None = None) -> tuple[float, str, str]:
    """Published retention of distilling a student of ``student/teacher`` relative size.

    Uses the ``used_for_whatif`` distillation row with the closest size ratio: DistilBERT keeps
    97% of BERT-base's GLUE at 0.6 of its size (Sanh et al. 2019); Llama 3.2 3B keeps 87% of
    Llama 3.1 8B's MMLU at 0.4; Llama 3.2 1B 48% at 0.15 (Llama 3.2 model card).
    """
    if teacher_params <= 0 or student_params <= 0:
        raise InvalidInputError("teacher and student parameter counts must be positive")
    ev = _evidence("distillation", table)
    if ev.retention.size == 0:
        raise InvalidInputError("no published accuracy evidence for distillation in compression.csv")
    i = int(_nearest_index(ev.student_params / ev.base_params, [student_params / teacher_params])[0])
    return float(ev.retention[i]), ev.technique_id[i], ev.label(i, student=True)


# ---------------------------------------------------------------- Pareto frontier


def pareto_front(cost: npt.ArrayLike, quality: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Mask of the non-dominated points: lower ``cost`` and higher ``quality`` are better.

    A point is dominated when another is no worse on both axes and strictly better on one
    (Pareto 1906; the usual definition in multi-objective optimization). Identical points do
    not dominate each other. Points with a NaN or infinite coordinate are never on the front.
    ``O(n log n)``: sort by cost, keep each cost group's best quality when it beats every
    cheaper point.

    >>> pareto_front([1, 2, 3, 2], [10, 20, 15, 5]).tolist()
    [True, True, False, False]
    """
    c = np.asarray(cost, dtype=float).ravel()
    q = np.asarray(quality, dtype=float).ravel()
    if c.shape != q.shape:
        raise InvalidInputError(f"cost and quality differ in length ({c.size} vs {q.size})")
    mask = np.zeros(c.size, dtype=bool)
    idx = np.flatnonzero(np.isfinite(c) & np.isfinite(q))
    if idx.size == 0:
        return mask
    order = idx[np.lexsort((-q[idx], c[idx]))]
    cs, qs = c[order], q[order]
    starts = np.flatnonzero(np.r_[True, cs[1:] != cs[:-1]])
    group_best = np.maximum.reduceat(qs, starts)
    before = np.r_[-np.inf, np.maximum.accumulate(group_best)[:-1]]
    group = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, cs.size]))
    mask[order] = (qs == group_best[group]) & (qs > before[group])
    return mask


# ---------------------------------------------------------------- variants


class VariantKind(StrEnum):
    BASE = "base"
    PRUNED = "pruned"
    DISTILLED = "distilled"
    ELASTIC = "elastic"


class Variant(BaseModel):
    """One point family on the chart: a model spec plus how its accuracy is traced.

    ``anchor_model_id`` is the catalog model whose score the variant's accuracy derives from
    (itself, the dense parent, the teacher); ``retention`` multiplies that score (pruning,
    distillation); ``planner_model_id`` is what the capacity planner receives ('' when the
    variant is not a catalog model).
    """

    model_config = ConfigDict(frozen=True)

    variant_id: str = Field(min_length=1, max_length=120)
    label: str = Field(min_length=1)
    kind: VariantKind = VariantKind.BASE
    model: ModelSpec
    anchor_model_id: str
    planner_model_id: str = ""
    retention: float = Field(default=1.0, gt=0.0, le=1.5)
    retention_source: str = ""
    technique_id: str = ""
    sparse_2of4: bool = False
    dtypes: tuple[DType, ...] | None = Field(default=None, description="weight formats allowed (None: all)")
    extra_training_fraction: float = Field(default=0.0, ge=0.0, le=10.0,
                                           description="training tokens added to the anchor's (elastic training)")
    notes: str = ""


def base_variant(model: ModelSpec | str) -> Variant:
    """A catalog model as it is published."""
    m = catalog.get_model(model) if isinstance(model, str) else model
    return Variant(variant_id=m.model_id, label=m.name, model=m, anchor_model_id=m.model_id,
                   planner_model_id=m.model_id)


SPARSE_2OF4_HARDWARE: frozenset[str] = frozenset({
    "a10", "a10g", "l4", "l40s", "a100-40gb-sxm", "a100-80gb-sxm", "a100-40gb-pcie", "a100-80gb-pcie",
    "h100-sxm", "h100-pcie", "h100-nvl", "h200", "b200", "mi300x", "mi325x",
})
"""Accelerators whose matrix units run 2:4 structured sparsity at twice the dense rate: NVIDIA
Ampere and newer (Mishra et al. 2021, "Accelerating Sparse Deep Neural Networks",
arXiv:2104.08378; datasheets quote "with sparsity" figures at 2x dense, see hardware.csv notes)
and AMD CDNA3 (ROCm MI300 table: sparsity doubles FP8). Not V100, T4, TPUs, Trainium/Inferentia,
Gaudi 2 or CPUs."""

_META_BITS_2OF4 = 2.0
"""Index bits per kept value in NVIDIA's compressed 2:4 format (Mishra et al. 2021 §3)."""


def pruned_variant(model: ModelSpec | str, pattern: str = "2:4") -> Variant:
    """A one-shot pruned what-if of ``model`` (50% of the linear-layer weights removed).

    Notes
    -----
    ``2:4``: stored body weights ``(1/2)(1 + 2 bits / 16 bits) = 0.5625`` of the dense 16-bit
    bytes (half the values plus 2-bit indices), and the sparse tensor cores run the halved GEMM
    FLOPs at the dense rate, so the spec keeps ``P_active' = P_emb + P_body / 2`` and
    ``P_total' = P_emb + 0.5625 P_body`` (embeddings and LM head stay dense). Only 16-bit weights
    and only on :data:`SPARSE_2OF4_HARDWARE`.

    ``unstructured``: dense GPU kernels gain nothing from scattered zeros, so memory and speed are
    those of the dense model and only the accuracy changes (SparseGPT, Frantar & Alistarh 2023).
    Accuracy: :func:`pruning_retention`.
    """
    m = catalog.get_model(model) if isinstance(model, str) else model
    if pattern not in ("2:4", "unstructured"):
        raise InvalidInputError(f"pruning pattern must be '2:4' or 'unstructured', not {pattern!r}")
    r, tech, src = pruning_retention(pattern, m.params_total)
    if pattern == "unstructured":
        spec = m.model_copy(update={"model_id": f"{m.model_id}~sp50", "name": f"{m.name} 50% unstructured",
                                    "assumed": True})
        return Variant(variant_id=f"{m.model_id}~sp50", label=f"{m.name} · 50% unstructured", kind=VariantKind.PRUNED,
                       model=spec, anchor_model_id=m.model_id, planner_model_id=m.model_id, retention=r,
                       retention_source=src, technique_id=tech, dtypes=(DType.BF16, DType.FP16),
                       notes="no speed or memory gain with dense GPU kernels")
    emb = min(memory.embedding_params(m), m.params_total)
    stored = 0.5 * (1.0 + _META_BITS_2OF4 / 16.0)
    body_total = max(m.params_total - emb, 0.0)
    body_active = max(m.params_active - emb, 0.0)
    total = emb + stored * body_total
    active = min(emb + 0.5 * body_active, total)
    spec = m.model_copy(update={"model_id": f"{m.model_id}~2of4", "name": f"{m.name} 2:4 sparse",
                                "params_total": total, "params_active": active, "assumed": True})
    return Variant(variant_id=f"{m.model_id}~2of4", label=f"{m.name} · 2:4 sparse", kind=VariantKind.PRUNED,
                   model=spec, anchor_model_id=m.model_id, planner_model_id=m.model_id, retention=r,
                   retention_source=src, technique_id=tech, sparse_2of4=True, dtypes=(DType.BF16, DType.FP16),
                   notes=f"weights {stored:.4f} of dense (values + 2-bit indices); GEMM FLOPs halved")


def distilled_variant(teacher: ModelSpec | str, student: ModelSpec | str) -> Variant:
    """The ``student`` catalog model seen as a distillation of ``teacher``.

    Its cost and latency are the student's own. Its accuracy is the student's published score
    where there is one (the distilled model itself, e.g. DistilBERT), else the teacher's score x
    :func:`distillation_retention` (what-if, labelled).
    """
    t = catalog.get_model(teacher) if isinstance(teacher, str) else teacher
    s = catalog.get_model(student) if isinstance(student, str) else student
    if s.params_total >= t.params_total:
        raise InvalidInputError(f"a distilled student must be smaller than its teacher: {s.name} "
                                f"({s.params_total / 1e9:.3g}B) vs {t.name} ({t.params_total / 1e9:.3g}B)")
    r, tech, src = distillation_retention(t.params_total, s.params_total)
    return Variant(variant_id=f"{s.model_id}<{t.model_id}", label=f"{s.name} ← distilled from {t.name}",
                   kind=VariantKind.DISTILLED, model=s, anchor_model_id=t.model_id, planner_model_id=s.model_id,
                   retention=r, retention_source=src, technique_id=tech)


# ---------------------------------------------------------------- elastic sub-networks

ROUTER_HIDDEN: int = 256
"""Hidden width of each router MLP (assumed: Flextron trains small MLP routers per elastic layer;
the paper's exact width was not read here)."""

FLEXTRON_TOKEN_FRACTION: float = 0.0763
"""Tokens Flextron's elastic continued training consumes relative to the original pre-training:
7.63% (Cai et al. 2024, "Flextron: Many-in-One Flexible Large Language Model", ICML,
arXiv:2406.10260, abstract)."""


def _layer_parts(m: ModelSpec) -> tuple[float, float, float]:
    """(attention, MLP, other) parameters of one average layer of ``m``.

    Attention ``d h_d (2 n_h + 2 n_kv)`` (q, o; k, v), MLP ``(3 or 2) d f`` per dense MLP or
    expert (experts, shared experts and dense layers averaged over the stack), the rest (norms,
    biases, routers) by difference from the published total.
    """
    d, hd = float(m.d_model), float(m.head_dim)
    attn = d * hd * (2 * m.n_heads + 2 * m.n_kv_heads)
    mats = 3.0 if m.gated_mlp else 2.0
    layers = float(m.total_layers)
    if m.is_moe:
        fe = float(m.d_ff_expert or m.d_ff)
        moe_layers = max(m.n_layers - m.n_dense_layers, 0)
        mlp_total = moe_layers * mats * d * fe * (m.n_experts + m.n_shared_experts)
        mlp_total += m.n_dense_layers * mats * d * float(m.d_ff)
        mlp = mlp_total / layers
    else:
        mlp = mats * d * float(m.d_ff)
    emb = min(memory.embedding_params(m), m.params_total)
    other = max((m.params_total - emb) / layers - attn - mlp, 0.0)
    return attn, mlp, other


def subnetwork_spec(parent: ModelSpec, width: float, depth: float = 1.0, heads: float | None = None) -> ModelSpec:
    """A nested sub-network of ``parent``: a fraction of its heads, MLP width and layers.

    Notes
    -----
    Flextron-style elastic MHA and MLP (Cai et al. 2024): keep ``heads`` of the attention heads
    (in whole GQA groups, so ``n_kv' = max(1, round(n_kv f_h))`` and ``n_h' = n_kv' n_h / n_kv``)
    and ``width`` of the MLP neurons (rounded to 64; each expert for a mixture of experts), and
    ``depth`` of the layers (layer dropping; Flextron itself is width-elastic). ``d_model``, the
    vocabulary and the embeddings are shared. Parameters::

        P' = P_emb + L' (A f_h' + M f_m' + O)

    with ``A, M, O`` the attention, MLP and other parameters of one layer (:func:`_layer_parts`)
    and ``f'`` the realized fractions. Active parameters scale the same way.
    """
    for name, f in (("width", width), ("depth", depth), ("heads", width if heads is None else heads)):
        if not (0.0 < f <= 1.0) or not math.isfinite(f):
            raise InvalidInputError(f"sub-network {name} fraction must be in (0, 1], got {f}")
    fh = width if heads is None else heads
    group = max(parent.n_heads // parent.n_kv_heads, 1)
    kv = max(1, round(parent.n_kv_heads * fh))
    n_heads = min(kv * group, parent.n_heads)
    f_heads = n_heads / parent.n_heads
    layers = max(1, round(parent.n_layers * depth))
    enc_layers = round(parent.n_encoder_layers * depth)

    def narrow(f_ff: int) -> int:
        return max(64, round(f_ff * width / 64.0) * 64) if f_ff > 0 else 0

    d_ff = min(narrow(parent.d_ff), parent.d_ff) if parent.d_ff else 0
    d_ffe = min(narrow(parent.d_ff_expert), parent.d_ff_expert) if parent.d_ff_expert else 0
    f_mlp = (d_ffe / parent.d_ff_expert) if parent.is_moe and parent.d_ff_expert else (
        d_ff / parent.d_ff if parent.d_ff else 1.0)
    attn, mlp, other = _layer_parts(parent)
    emb = min(memory.embedding_params(parent), parent.params_total)
    per_layer_new = attn * f_heads + mlp * f_mlp + other
    per_layer_old = attn + mlp + other
    old_layers = parent.total_layers
    new_layers = layers + enc_layers
    total = emb + (parent.params_total - emb) * (new_layers / old_layers) * (per_layer_new / per_layer_old)
    active = emb + (parent.params_active - emb) * (new_layers / old_layers) * (per_layer_new / per_layer_old)
    tag = f"w{width:g}" + (f"h{fh:g}" if heads is not None else "") + (f"d{depth:g}" if depth != 1.0 else "")
    return parent.model_copy(update={
        "model_id": f"{parent.model_id}~{tag}"[:80],
        "name": f"{parent.name} sub-network {width:.0%} width" + (f", {depth:.0%} depth" if depth != 1.0 else ""),
        "n_heads": n_heads, "n_kv_heads": kv, "n_layers": layers, "n_encoder_layers": enc_layers,
        "d_ff": d_ff, "d_ff_expert": d_ffe, "params_total": float(total), "params_active": float(min(active, total)),
        "n_dense_layers": min(parent.n_dense_layers, layers), "assumed": True,
    })


class RouterOverhead(BaseModel):
    """Parameters and per-token FLOPs the sub-network routers add."""

    model_config = ConfigDict(frozen=True)

    routers: int = Field(ge=0, description="one per elastic MHA and one per elastic MLP layer")
    params: float = Field(ge=0)
    flops_per_token: float = Field(ge=0, description="2 x params when the routers see every token")
    fraction_of_flops: float = Field(ge=0, description="router FLOPs / parent forward FLOPs per token")


def router_overhead(parent: ModelSpec, choices: int, hidden: int = ROUTER_HIDDEN) -> RouterOverhead:
    """Cost of input-adaptive routers picking one of ``choices`` widths per layer.

    Notes
    -----
    Flextron places a router before each elastic MHA and MLP block; modelled as a two-layer MLP
    ``d -> hidden -> choices`` per block: ``P_r = 2 L (d h + h c)``, ``FLOPs = 2 P_r`` per token
    (Cai et al. 2024 §3; width assumed, :data:`ROUTER_HIDDEN`). A static router that maps a
    latency target to a sub-network once per request costs nothing per token.
    """
    if choices < 1 or hidden < 1:
        raise InvalidInputError("router choices and hidden width must be at least 1")
    routers = 2 * parent.total_layers
    params = routers * (parent.d_model * hidden + hidden * choices)
    flops = 2.0 * params
    return RouterOverhead(routers=routers, params=float(params), flops_per_token=flops,
                          fraction_of_flops=flops / (2.0 * parent.params_active))


def elastic_family(parent: ModelSpec | str, widths: Sequence[float] = (1.0, 0.75, 0.5, 0.25),
                   depths: Sequence[float] = (1.0,), hidden: int = ROUTER_HIDDEN) -> list[Variant]:
    """Nested sub-networks of ``parent`` at every (width, depth) pair, routers included.

    Each sub-network's spec comes from :func:`subnetwork_spec` plus the router parameters of
    :func:`router_overhead` (they run with every sub-network). Accuracy is anchored on the
    parent's score through the loss proxy (:meth:`ProxyFit.anchored`), with training tokens
    ``D_parent (1 + 7.63%)`` (:data:`FLEXTRON_TOKEN_FRACTION`).
    """
    p = catalog.get_model(parent) if isinstance(parent, str) else parent
    if not widths or not depths:
        raise InvalidInputError("choose at least one width and one depth fraction")
    pairs = sorted({(float(w), float(d)) for w in widths for d in depths}, reverse=True)
    ro = router_overhead(p, len(pairs), hidden)
    out = []
    for w, d in pairs:
        spec = subnetwork_spec(p, w, d)
        spec = spec.model_copy(update={"params_total": spec.params_total + ro.params,
                                       "params_active": spec.params_active + ro.params})
        tag = f"{w:.0%} width" + (f" · {d:.0%} depth" if d != 1.0 else "")
        out.append(Variant(
            variant_id=spec.model_id, label=f"{p.name} elastic · {tag}", kind=VariantKind.ELASTIC, model=spec,
            anchor_model_id=p.model_id, planner_model_id=p.model_id if (w, d) == (1.0, 1.0) else "",
            retention_source=f"anchored loss proxy; Flextron (Cai et al. 2024, arXiv:2406.10260) elastic "
                             f"training {FLEXTRON_TOKEN_FRACTION:.2%} extra tokens; routers {ro.params / 1e6:.2f}M params",
            extra_training_fraction=FLEXTRON_TOKEN_FRACTION, notes=f"width {w:g}, depth {d:g}; heads {spec.n_heads}/{p.n_heads}, "
                                      f"MLP {spec.d_ff_expert or spec.d_ff}/{p.d_ff_expert or p.d_ff}, "
                                      f"layers {spec.n_layers}/{p.n_layers}",
        ))
    return out


# ---------------------------------------------------------------- the sweep


class SweepSpec(BaseModel):
    """The grid a sweep covers (apart from the variants)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hardware_ids: tuple[str, ...] = Field(min_length=1)
    dtypes: tuple[DType, ...] = Field(default=(DType.BF16, DType.FP8, DType.INT8, DType.INT4), min_length=1)
    tps: tuple[int, ...] = Field(default=(1, 2, 4, 8), min_length=1)
    batches: tuple[int, ...] = Field(default=(1, 4, 16, 64, 256), min_length=1)
    input_tokens: int = Field(default=1000, ge=1, le=2_000_000)
    output_tokens: int = Field(default=250, ge=1, le=200_000)
    pricing_model: pricing.PricingModel = pricing.PricingModel.ON_DEMAND
    utilization: float = Field(default=carbon.DEFAULT_POWER_UTILIZATION, ge=0.0, le=1.0)
    host_overhead_fraction: float = Field(default=carbon.HOST_OVERHEAD_FRACTION, ge=0.0, le=3.0)
    pue: float = Field(default=1.0, ge=1.0, le=3.0)

    @field_validator("tps", "batches")
    @classmethod
    def _positive(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(x < 1 or x > 65_536 for x in v):
            raise ValueError("parallel degrees and batches must be whole numbers from 1 to 65,536")
        return tuple(sorted(set(v)))

    @model_validator(mode="after")
    def _known_hardware(self) -> SweepSpec:
        for h in self.hardware_ids:
            catalog.get_hardware(h)  # UnknownIdError with close matches
        return self


def sweep_spec(**fields: Any) -> SweepSpec:
    """Build a :class:`SweepSpec`, turning pydantic's errors into one ``InvalidInputError``."""
    try:
        return SweepSpec(**fields)
    except ValidationError as exc:
        parts = []
        for err in exc.errors()[:3]:
            where = ".".join(str(x) for x in err["loc"]) or "sweep"
            parts.append(f"{where}: {err['msg']}")
        raise InvalidInputError("Invalid sweep settings: " + "; ".join(parts)) from None


@dataclass(frozen=True)
class SweepResult:
    """All evaluated configurations and the combinations skipped, with the reason."""

    frame: pd.DataFrame
    skipped: tuple[str, ...]
    elapsed_s: float = 0.0


@dataclass(frozen=True)
class _Combo:
    variant: Variant
    dtype: DType
    kv: DType
    hardware: HardwareSpec
    compute: DType


def _encoder_surrogate(m: ModelSpec) -> ModelSpec:
    """An encoder-only model costed as the prefill of a decoder with its dimensions."""
    return m.model_copy(update={"architecture": Architecture.DECODER, "model_id": f"{m.model_id}~enc"})


def _features(v: Variant, d: DType, kv: DType) -> Any:
    m = v.model if v.model.generates else _encoder_surrogate(v.model)
    f = performance._model_features(m, d, kv)
    if not v.model.generates:  # no KV cache, no logits sampling in an encoder
        f = dataclasses.replace(f, kv_bytes_per_token=0.0, logits_bytes_per_token=0.0, head_flops_per_token=0.0)
    return f


def _stack(items: Sequence[Any], index: npt.NDArray[np.intp]) -> Any:
    """Stack dataclass feature records into one record of arrays, gathered by ``index``."""
    first = items[0]
    cols = {}
    for fld in dataclasses.fields(first):
        values = np.asarray([float(getattr(x, fld.name)) for x in items], dtype=float)
        cols[fld.name] = values[index]
    return type(first)(**cols)


_CHUNK = 131_072


def _evaluate(
    combos: Sequence[_Combo], rows: Mapping[str, npt.NDArray[Any]], eff: performance.Efficiency,
) -> dict[str, FloatArray]:
    """Roofline figures for every row: ``rows`` holds ``c`` (combo index), ``tp``, ``b``, ``i``, ``o``.

    Uses the vectorized core of :mod:`estimator.performance` with model and hardware features
    stacked across rows (one pass for the whole sweep).
    """
    mf_keys: dict[tuple[str, DType, DType], int] = {}
    mfeats: list[Any] = []
    hf_keys: dict[tuple[str, DType], int] = {}
    hfeats: list[Any] = []
    weights: list[float] = []
    c_m = np.empty(len(combos), dtype=np.intp)
    c_h = np.empty(len(combos), dtype=np.intp)
    for k, c in enumerate(combos):
        mk = (c.variant.variant_id, c.dtype, c.kv)
        if mk not in mf_keys:
            mf_keys[mk] = len(mfeats)
            mfeats.append(_features(c.variant, c.dtype, c.kv))
            weights.append(memory.weights_bytes(c.variant.model, c.dtype))
        hk = (c.hardware.hardware_id, c.compute)
        if hk not in hf_keys:
            hf_keys[hk] = len(hfeats)
            hfeats.append(performance._hardware_features(c.hardware, c.compute))
        c_m[k] = mf_keys[mk]
        c_h[k] = hf_keys[hk]
    ci = rows["c"]
    n = ci.size
    out: dict[str, FloatArray] = {}
    names = ("ttft_s", "tpot_s", "e2e_s", "output_tokens_per_s", "requests_per_s", "decode_bound", "prefill_bound")
    for name in (*names, "memory_per_device_bytes"):
        out[name] = np.empty(n, dtype=float)
    w_arr = np.asarray(weights, dtype=float)
    for start in range(0, n, _CHUNK):
        sl = slice(start, min(start + _CHUNK, n))
        mi = c_m[ci[sl]]
        hi = c_h[ci[sl]]
        f = _stack(mfeats, mi)
        hw = _stack(hfeats, hi)
        tp = rows["tp"][sl].astype(float)
        pp = np.ones_like(tp)
        b = rows["b"][sl].astype(float)
        i = rows["i"][sl].astype(float)
        o = rows["o"][sl].astype(float)
        r = performance._core(f, hw, eff, b, i, o, tp, pp)
        for name in names:
            out[name][sl] = np.asarray(r[name], dtype=float)
        kv = b * np.minimum(i + o, f.window) * f.kv_bytes_per_token * performance._kv_share(f, tp)
        out["memory_per_device_bytes"][sl] = w_arr[mi] / tp + kv + memory.RUNTIME_OVERHEAD_BYTES
    return out


def _evaluate_public(
    combos: Sequence[_Combo], rows: Mapping[str, npt.NDArray[Any]], eff: performance.Efficiency,
) -> dict[str, FloatArray]:
    """Slow path of :func:`_evaluate` through :func:`estimator.performance.estimate_arrays`, one call
    per (variant, format, accelerator); encoder-only models keep a KV-cache term here."""
    ci = rows["c"]
    n = ci.size
    names = ("ttft_s", "tpot_s", "e2e_s", "output_tokens_per_s", "requests_per_s", "decode_bound", "prefill_bound",
             "memory_per_device_bytes")
    out = {k: np.full(n, np.nan) for k in names}
    for k, c in enumerate(combos):
        sel = np.flatnonzero(ci == k)
        if sel.size == 0:
            continue
        m = c.variant.model if c.variant.model.generates else _encoder_surrogate(c.variant.model)
        r = performance.estimate_arrays(m, c.hardware, c.dtype, rows["b"][sel], rows["i"][sel], rows["o"][sel],
                                        rows["tp"][sel], 1, kv_dtype=c.kv, compute_dtype=c.compute, efficiency=eff)
        for name in names:
            out[name][sel] = np.asarray(r[name], dtype=float)
    return out


def _combos(variants: Sequence[Variant], hardware: Sequence[HardwareSpec], dtypes: Sequence[DType],
            skipped: list[str]) -> list[_Combo]:
    out: list[_Combo] = []
    for v in variants:
        for d in dtypes:
            if v.dtypes is not None and d not in v.dtypes:
                continue
            kv = performance.default_kv_dtype(d)
            for h in hardware:
                try:
                    memory.require_runnable(h, d)
                except InvalidInputError:
                    continue
                c = performance.default_compute_dtype(h, d)
                if not h.supports(c):
                    continue
                if v.sparse_2of4 and h.hardware_id not in SPARSE_2OF4_HARDWARE:
                    continue
                out.append(_Combo(v, d, kv, h, c))
    if not out:
        skipped.append("no variant can run in the chosen formats on the chosen accelerators")
    return out


def _rows_for(combos: Sequence[_Combo], tps: Sequence[int], batches: Sequence[int],
              workloads: Sequence[tuple[int, int]], skipped: list[str]) -> dict[str, npt.NDArray[Any]]:
    """Row index arrays: one row per (combo, tensor-parallel degree, workload, batch)."""
    tc: list[int] = []
    tt: list[int] = []
    ti: list[int] = []
    to: list[int] = []
    seen_ctx: set[tuple[str, int]] = set()
    for k, c in enumerate(combos):
        m = c.variant.model
        ok_tp = [t for t in tps if m.n_heads % t == 0 and t <= c.hardware.max_per_node]
        if not ok_tp:
            continue
        for inp, out in workloads:
            o_eff = out if m.generates else 1
            # Decoders hold prompt + output in one window; an encoder-decoder's window is its encoder
            # input (LED: 16,384 in, decoder up to 1,024 out); an encoder reads the input only.
            need = inp + out if m.architecture == Architecture.DECODER else inp
            if need > m.max_context:
                if (c.variant.variant_id, inp) not in seen_ctx:
                    seen_ctx.add((c.variant.variant_id, inp))
                    what = f"{inp:,} + {out:,} tokens" if m.architecture == Architecture.DECODER else f"{inp:,} input tokens"
                    skipped.append(f"{c.variant.label}: {what} exceed its context window of {m.max_context:,}")
                continue
            for t in ok_tp:
                tc.append(k)
                tt.append(t)
                ti.append(inp)
                to.append(o_eff)
    bs = np.asarray(batches, dtype=float)
    nb = bs.size
    return {
        "c": np.repeat(np.asarray(tc, dtype=np.intp), nb),
        "tp": np.repeat(np.asarray(tt, dtype=float), nb),
        "i": np.repeat(np.asarray(ti, dtype=float), nb),
        "o": np.repeat(np.asarray(to, dtype=float), nb),
        "b": np.tile(bs, len(tc)),
    }


def _hardware_columns(hardware: Sequence[HardwareSpec], spec: SweepSpec) -> dict[str, npt.NDArray[Any]]:
    """Per accelerator: name, cheapest instance and its price per device-hour (NaN without a price),
    power per device (:func:`estimator.carbon.power_per_accelerator_w`) and memory budget."""
    price, inst = [], []
    for h in hardware:
        try:
            q = pricing.cheapest_instance(h.hardware_id, spec.pricing_model)
            price.append(q.price_usd_per_accelerator_h)
            inst.append(q.instance_id)
        except EstimatorError:
            price.append(float("nan"))
            inst.append("")
    power = [float(carbon.power_per_accelerator_w(h.tdp_w, h.idle_w, spec.utilization, spec.host_overhead_fraction))
             for h in hardware]
    return {"hardware": np.asarray([h.name for h in hardware], dtype=object),
            "instance_id": np.asarray(inst, dtype=object), "price_usd_per_device_h": np.asarray(price, dtype=float),
            "power_w_per_device": np.asarray(power, dtype=float),
            "memory_budget_bytes": np.asarray([h.memory_bytes * memory.MEMORY_UTILIZATION for h in hardware], dtype=float)}


def _variant_columns(variants: Sequence[Variant]) -> dict[str, npt.NDArray[Any]]:
    """Per variant: the descriptive columns of the sweep frame."""
    text = {
        "label": [v.label for v in variants], "kind": [v.kind.value for v in variants],
        "model_id": [v.model.model_id for v in variants], "family": [v.model.family for v in variants],
        "anchor_model_id": [v.anchor_model_id for v in variants],
        "planner_model_id": [v.planner_model_id for v in variants],
        "architecture": [v.model.architecture.value for v in variants],
        "retention_source": [v.retention_source for v in variants], "technique_id": [v.technique_id for v in variants],
        "model_source": [v.model.source for v in variants], "variant_notes": [v.notes for v in variants],
    }
    out: dict[str, npt.NDArray[Any]] = {k: np.asarray(x, dtype=object) for k, x in text.items()}
    out["params_total"] = np.asarray([v.model.params_total for v in variants], dtype=float)
    out["params_active"] = np.asarray([v.model.params_active for v in variants], dtype=float)
    out["retention"] = np.asarray([v.retention for v in variants], dtype=float)
    out["generates"] = np.asarray([v.model.generates for v in variants], dtype=bool)
    out["model_assumed"] = np.asarray([v.model.assumed for v in variants], dtype=bool)
    return out


def _check_variants(variants: Sequence[Variant]) -> None:
    if not variants:
        raise InvalidInputError("choose at least one model or variant to compare")
    ids = [v.variant_id for v in variants]
    if len(set(ids)) != len(ids):
        raise InvalidInputError("variant ids must be unique")


def _run(variants: Sequence[Variant], spec: SweepSpec, workloads: Sequence[tuple[int, int]],
         efficiency: performance.Efficiency | None) -> SweepResult:
    t0 = time.perf_counter()
    _check_variants(variants)
    hardware = [catalog.get_hardware(h) for h in dict.fromkeys(spec.hardware_ids)]
    skipped: list[str] = []
    combos = _combos(variants, hardware, spec.dtypes, skipped)
    rows = _rows_for(combos, spec.tps, spec.batches, workloads, skipped)
    if rows["c"].size == 0:
        return SweepResult(pd.DataFrame(columns=_COLUMNS), tuple(skipped), time.perf_counter() - t0)
    eff = efficiency or performance.Efficiency()
    try:
        r = _evaluate(combos, rows, eff)
    except (AttributeError, TypeError):  # performance's private core changed shape: use the public API
        r = _evaluate_public(combos, rows, eff)
    frame = _sweep_frame(variants, hardware, combos, rows, r, spec)
    return SweepResult(frame, tuple(skipped), time.perf_counter() - t0)


def _sweep_frame(variants: Sequence[Variant], hardware: Sequence[HardwareSpec], combos: Sequence[_Combo],
                 rows: Mapping[str, npt.NDArray[Any]], r: Mapping[str, FloatArray], spec: SweepSpec) -> pd.DataFrame:
    """The sweep's rows as one frame (:data:`_COLUMNS`): configuration, roofline figures, the cost and
    energy equations of the module notes, and each row's variant and accelerator columns."""
    ci = rows["c"]
    v_at = {v.variant_id: k for k, v in enumerate(variants)}
    h_at = {h.hardware_id: k for k, h in enumerate(hardware)}
    rv = np.asarray([v_at[c.variant.variant_id] for c in combos], dtype=np.intp)[ci]
    rh = np.asarray([h_at[c.hardware.hardware_id] for c in combos], dtype=np.intp)[ci]
    cols: dict[str, npt.NDArray[Any]] = {k: x[rv] for k, x in _variant_columns(variants).items()}
    cols.update({k: x[rh] for k, x in _hardware_columns(hardware, spec).items()})
    cols["variant_id"] = np.asarray([v.variant_id for v in variants], dtype=object)[rv]
    cols["hardware_id"] = np.asarray([h.hardware_id for h in hardware], dtype=object)[rh]
    cols["dtype"] = np.asarray([c.dtype.value for c in combos], dtype=object)[ci]
    cols["weights_bytes"] = np.asarray([memory.weights_bytes(c.variant.model, c.dtype) for c in combos])[ci]
    for name, src in (("tp", "tp"), ("batch", "b"), ("input_tokens", "i"), ("output_tokens", "o")):
        cols[name] = rows[src].astype(int)
    cols.update(_figures(rows, r, cols, spec.pue))
    # text columns stay numpy object arrays: pandas' default pyarrow strings make every row
    # selection downstream (best configurations, joins, the page's tables) several times slower
    return pd.DataFrame({c: pd.Series(cols[c], dtype=object, copy=False) if cols[c].dtype == object else cols[c]
                         for c in _COLUMNS})


def _figures(rows: Mapping[str, npt.NDArray[Any]], r: Mapping[str, FloatArray], cols: Mapping[str, npt.NDArray[Any]],
             pue: float) -> dict[str, npt.NDArray[Any]]:
    """Latency, throughput, memory, cost and energy columns (the equations of the module notes);
    encoder-only rows count input tokens and have no TPOT or decode bound."""
    gen = cols["generates"]
    tp = rows["tp"]
    tokens_per_s = np.where(gen, r["output_tokens_per_s"], rows["b"] * rows["i"] / r["ttft_s"])
    requests_per_s = rows["b"] / r["e2e_s"]
    usd_per_s = cols["price_usd_per_device_h"] * tp / SECONDS_PER_HOUR
    bounds = np.asarray(performance.BOUNDS, dtype=object)
    return {
        "ttft_s": r["ttft_s"], "tpot_s": np.where(gen, r["tpot_s"], np.nan), "e2e_s": r["e2e_s"],
        "tokens_per_s": tokens_per_s, "tokens_per_s_per_device": tokens_per_s / tp, "requests_per_s": requests_per_s,
        "memory_per_device_bytes": r["memory_per_device_bytes"],
        "fits": r["memory_per_device_bytes"] <= cols["memory_budget_bytes"],
        "cost_usd_per_1m_tokens": usd_per_s / tokens_per_s * 1e6,
        "cost_usd_per_1k_requests": usd_per_s / requests_per_s * 1e3,
        "tokens_per_usd": tokens_per_s / usd_per_s,
        "energy_kwh_per_1m_tokens": cols["power_w_per_device"] * tp * pue / tokens_per_s * 1e6 / 3.6e6,
        "decode_bound": np.where(gen, bounds[r["decode_bound"].astype(int)], ""),
        "prefill_bound": bounds[r["prefill_bound"].astype(int)],
    }


_COLUMNS = [
    "variant_id", "label", "kind", "model_id", "family", "anchor_model_id", "planner_model_id", "architecture",
    "dtype", "hardware_id", "hardware", "instance_id", "tp", "batch", "input_tokens", "output_tokens",
    "params_total", "params_active", "weights_bytes", "memory_per_device_bytes", "memory_budget_bytes", "fits",
    "ttft_s", "tpot_s", "e2e_s", "tokens_per_s", "tokens_per_s_per_device", "requests_per_s",
    "price_usd_per_device_h", "cost_usd_per_1m_tokens", "cost_usd_per_1k_requests", "tokens_per_usd",
    "energy_kwh_per_1m_tokens", "decode_bound", "prefill_bound", "retention", "retention_source",
    "technique_id", "model_source", "model_assumed", "variant_notes", "generates",
]


def sweep(variants: Sequence[Variant], spec: SweepSpec,
          efficiency: performance.Efficiency | None = None) -> SweepResult:
    """Every variant x accelerator x weight format x tensor-parallel degree x batch, vectorized.

    One row per configuration (one replica, static batch; :func:`estimator.performance.estimate`
    physics) with TTFT, TPOT, end-to-end latency, throughput, memory per device and whether it
    fits, cost per 1M tokens and per 1k requests, tokens per USD and energy per 1M tokens (see
    the module notes for the equations). Encoder-only models are costed as one forward pass
    over the input (throughput in input tokens; TPOT empty). Combinations that cannot run (a
    format the accelerator lacks, 2:4 sparsity without sparse tensor cores, a TP degree that does
    not divide the heads or exceeds one node) are left out; a context longer than a model's
    window is listed in ``skipped``. Rows that do not fit in memory are kept with ``fits``
    False.

    Raises ``InvalidInputError`` for an empty variant list.
    """
    return _run(variants, spec, [(spec.input_tokens, spec.output_tokens)], efficiency)


def best_configs(frame: pd.DataFrame, objective: str = "cost_usd_per_1m_tokens",
                 by: Sequence[str] = ("variant_id", "dtype"), *, max_ttft_s: float | None = None,
                 max_tpot_s: float | None = None, max_e2e_s: float | None = None,
                 hardware_ids: Sequence[str] | None = None, fits_only: bool = True) -> pd.DataFrame:
    """The configuration minimizing ``objective`` in each group ``by``, within the limits.

    ``objective`` is a lower-is-better column (cost, latency or energy). Rows that do not fit,
    break a latency limit (a missing latency, such as an encoder's TPOT, counts as 0) or have no
    price (when the objective is a cost) are dropped first; ties go to the higher throughput, then
    the accelerator id. Result sorted by ``objective`` (ties in group order). An empty result means
    nothing qualifies. One lexicographic sort (numpy), the same rows as the DuckDB window query
    ``row_number() OVER (PARTITION BY by ORDER BY objective, tokens_per_s DESC, hardware_id) = 1``
    it replaced (tests/test_variants.py checks both).
    """
    if objective not in _OBJECTIVES:
        raise InvalidInputError(f"objective must be one of {sorted(_OBJECTIVES)}, not {objective!r}")
    bad = [c for c in by if c not in frame.columns]
    if bad:
        raise InvalidInputError(f"cannot group by unknown columns {bad}")
    if hardware_ids is not None and not hardware_ids:
        return frame.iloc[0:0]
    keep = _qualifying(frame, objective, fits_only, {"ttft_s": max_ttft_s, "tpot_s": max_tpot_s, "e2e_s": max_e2e_s},
                       hardware_ids)
    rows = np.flatnonzero(keep)
    if rows.size == 0:
        return frame.iloc[0:0].reset_index(drop=True)
    sub = frame.iloc[rows]
    group = sub.groupby(list(by), sort=False, dropna=False).ngroup().to_numpy()
    obj = sub[objective].to_numpy(dtype=float)
    hw = pd.factorize(sub["hardware_id"].astype(str), sort=True)[0]
    # first by group, then objective ascending, throughput descending (NaN last), hardware id
    order = np.lexsort((hw, -sub["tokens_per_s"].to_numpy(dtype=float), obj, group))
    first = order[np.r_[True, group[order][1:] != group[order][:-1]]]
    first = first[np.argsort(obj[first], kind="stable")]
    return sub.iloc[first].reset_index(drop=True)


_OBJECTIVES = frozenset({"cost_usd_per_1m_tokens", "cost_usd_per_1k_requests", "ttft_s", "tpot_s", "e2e_s",
                         "energy_kwh_per_1m_tokens", "memory_per_device_bytes"})


def _qualifying(frame: pd.DataFrame, objective: str, fits_only: bool, limits: Mapping[str, float | None],
                hardware_ids: Sequence[str] | None) -> npt.NDArray[np.bool_]:
    """Rows with a finite ``objective`` that fit (when asked), meet every latency limit (a missing
    latency, e.g. an encoder's TPOT, counts as 0) and run on one of ``hardware_ids`` (None: any)."""
    keep = np.isfinite(frame[objective].to_numpy(dtype=float))
    if fits_only:
        keep &= frame["fits"].to_numpy(dtype=bool)
    for col, lim in limits.items():
        if lim is None:
            continue
        if not (math.isfinite(lim) and lim > 0):
            raise InvalidInputError(f"the {col[:-2].upper()} limit must be a positive number of seconds")
        keep &= np.nan_to_num(frame[col].to_numpy(dtype=float), nan=0.0) <= float(lim)
    if hardware_ids is not None:
        keep &= frame["hardware_id"].isin(list(hardware_ids)).to_numpy(dtype=bool)
    return keep


# ---------------------------------------------------------------- the accuracy axis


def _published_scores(benchmark: str, user: pd.DataFrame | None) -> dict[str, dict[str, Any]]:
    """Scores on ``benchmark`` by model id: published ones, replaced or added to by the user's
    (the last entered per model wins); each with ``score, kind, source, status``."""
    out: dict[str, dict[str, Any]] = {
        mid: {"model_id": mid, "score": score, "kind": "published", "source": f"{src} [{status}]", "status": status}
        for mid, score, src, status in _benchmark_scores(benchmark)}
    if user is None or user.empty:
        return out
    u = user[user["benchmark"] == benchmark]
    entered: dict[str, dict[str, Any]] = {}
    for mid, score, note in zip(u["model_id"].astype(str), u["score"].astype(float), u["note"].astype(str),
                                strict=True):
        entered[mid] = {"model_id": mid, "score": float(score), "kind": "user",
                        "source": "entered by you" + (f": {note}" if note != "" else ""), "status": "user"}
    return {**{k: r for k, r in out.items() if k not in entered}, **entered}


def _floor(benchmark: str) -> float:
    b = BENCHMARKS.get(benchmark)
    return b.chance if b is not None and b.chance is not None else 0.0


def _anchor_score(v: Variant, scores: Mapping[str, Mapping[str, Any]], fit: ProxyFit | None, anchor: ModelSpec | None,
                  tpp: float | None) -> tuple[float, str, str]:
    """(score, source, status) of the variant's anchor: its own/published score, else the proxy."""
    if v.anchor_model_id in scores:
        rec = scores[v.anchor_model_id]
        return float(rec["score"]), str(rec["source"]), str(rec["status"])
    if fit is not None and anchor is not None:
        tok = training_tokens(anchor, tpp)[0]
        return float(fit.predict(loss_proxy(anchor, tok))), fit.label, "proxy"
    return float("nan"), "", ""


def _resolve(v: Variant, benchmark: str, scores: Mapping[str, Mapping[str, Any]], fit: ProxyFit | None,
             models: Mapping[str, ModelSpec], proxy: bool, tpp: float | None) -> tuple[float, str, str, str]:
    """Score of a variant in 16-bit weights: ``(score, kind, source, status)``; NaN score if none."""
    own = v.model.model_id
    if own in scores and v.kind in (VariantKind.BASE, VariantKind.DISTILLED):
        rec = scores[own]
        src = str(rec["source"]) + (" (the distilled model's own score)" if v.kind == VariantKind.DISTILLED else "")
        return float(rec["score"]), str(rec["kind"]), src, str(rec["status"])
    anchor = models.get(v.anchor_model_id)
    if v.kind == VariantKind.BASE:
        if not (proxy and fit is not None):
            return float("nan"), "none", f"no {benchmark} score for {v.label}" + ("" if proxy else " (proxy off)"), ""
        tok, tsrc, _ = training_tokens(v.model, tpp)
        loss = loss_proxy(v.model, tok)
        return (float(fit.predict(loss)), "proxy",
                f"{fit.label}; L = {loss:.3f} nats/token with N = {v.model.params_active / 1e9:.3g}B active, "
                f"D = {tok / 1e12:.3g}T tokens ({tsrc})", "proxy")
    a_score, a_src, a_status = _anchor_score(v, scores, fit if proxy else None, anchor, tpp)
    if not math.isfinite(a_score) or anchor is None:
        return float("nan"), "none", f"no {benchmark} score for {v.anchor_model_id} to derive {v.label} from", ""
    if v.kind == VariantKind.ELASTIC:
        if fit is None:
            return float("nan"), "none", f"no {benchmark} loss link to place the sub-network on", ""
        d_parent = training_tokens(anchor, tpp)[0]
        l_parent = loss_proxy(anchor, d_parent)
        l_sub = loss_proxy(v.model, d_parent * (1.0 + v.extra_training_fraction))
        s = float(fit.anchored(l_sub, l_parent, a_score))
        return (s, "proxy (anchored)",
                f"{anchor.name} {a_score:.1f} ({a_src}) moved along the {benchmark} loss link by "
                f"L {l_parent:.3f} -> {l_sub:.3f} nats (slope {fit.c1:.2f}/nat, {fit.n} models); {v.retention_source}",
                "proxy")
    keep = min(v.retention, 1.0)
    capped = " (capped at 1: within measurement noise)" if v.retention > 1.0 else ""
    s = max(a_score * keep, min(a_score, _floor(benchmark)))
    return (s, "what-if", f"{anchor.name} {a_score:.1f} ({a_src}) × retention {v.retention:.3f}{capped} "
            f"[{v.retention_source}]", a_status)


def score_table(variants: Sequence[Variant], dtypes: Iterable[DType | str], benchmark: str,
                user_scores: pd.DataFrame | None = None, *, proxy: bool = True,
                tokens_per_param: float | None = None) -> pd.DataFrame:
    """Accuracy (0-100) of each variant in each weight format on ``benchmark``, with its trace.

    Resolution, first that applies:

    1. the variant's own model has a score (entered by the user, else published);
    2. an elastic sub-network: its parent's score moved along the proxy link by the loss change
       (:meth:`ProxyFit.anchored`), with the parent's training tokens plus the elastic training;
    3. a pruned or distilled what-if: the anchor's score x the published ``retention`` (capped
       at 1, never below the benchmark's chance score);
    4. the Chinchilla-loss proxy (:func:`fit_proxy`), labelled as such (only with ``proxy``;
       ``tokens_per_param`` is the training-data assumption for models without a published
       token count, see :func:`training_tokens`).

    Then weights below 16 bits multiply by :func:`quantization_retention` (capped at 1). Columns:
    ``variant_id, dtype, score, score_kind, score_source, score_status``; a variant with no
    route to a score gets NaN and says why.
    """
    base = _base_scores(variants, benchmark, user_scores, proxy, tokens_per_param)
    formats = [DType(d) for d in dtypes]
    pairs = [(k, d) for k, v in enumerate(variants) for d in formats if v.dtypes is None or d in v.dtypes]
    cols: dict[str, list[Any]] = {"score": [base[k][0] for k, _ in pairs], "score_kind": [base[k][1] for k, _ in pairs],
            "score_source": [base[k][2] for k, _ in pairs]}
    _apply_quantization(cols, [(variants[k], d) for k, d in pairs], _floor(benchmark))
    score = np.asarray(cols["score"], dtype=float)
    if not pairs:
        return pd.DataFrame(columns=_SCORE_COLUMNS)
    text = {  # object columns, as the sweep's (joined onto it by attach_scores)
        "variant_id": [variants[k].variant_id for k, _ in pairs], "dtype": [d.value for _, d in pairs],
        "score_kind": cols["score_kind"], "score_source": cols["score_source"],
        "score_status": [base[k][3] for k, _ in pairs],
    }
    return pd.DataFrame({**{c: pd.Series(x, dtype=object) for c, x in text.items()},
                         "score": np.where(np.isfinite(score), np.clip(score, 0.0, 100.0), np.nan)},
                        columns=_SCORE_COLUMNS)


_SCORE_COLUMNS = ["variant_id", "dtype", "score", "score_kind", "score_source", "score_status"]


def _base_scores(variants: Sequence[Variant], benchmark: str, user_scores: pd.DataFrame | None, proxy: bool,
                 tpp: float | None) -> list[tuple[float, str, str, str]]:
    """Each variant's 16-bit score and trace (:func:`_resolve`), the proxy's failure appended where
    it left a variant without a score."""
    scores = _published_scores(benchmark, user_scores)
    fit: ProxyFit | None = None
    fit_error = ""
    try:
        fit = fit_proxy(benchmark, load_accuracy() if user_scores is None or user_scores.empty
                        else _with_user(user_scores))
    except InvalidInputError as exc:
        fit_error = str(exc)
    models = {m.model_id: m for m in catalog.list_models()}
    out = []
    for v in variants:
        s0, kind0, src0, status = _resolve(v, benchmark, scores, fit, models, proxy, tpp)
        if kind0 == "none" and fit_error and proxy:
            src0 = f"{src0}; {fit_error}"
        out.append((s0, kind0, src0, status))
    return out


def _apply_quantization(cols: dict[str, list[Any]], pairs: Sequence[tuple[Variant, DType]], floor: float) -> None:
    """Multiply the scores of weights below 16 bits by the published retention, in place.

    ``s' = max(s min(q, 1), min(s, floor))`` with ``q`` from :func:`quantization_retentions`
    (one lookup per weight format for all variants); a format without evidence leaves NaN and why.
    """
    by_dtype: dict[DType, list[int]] = {}
    for j, (_v, d) in enumerate(pairs):
        if d not in (DType.BF16, DType.FP16, DType.FP32) and math.isfinite(cols["score"][j]):
            by_dtype.setdefault(d, []).append(j)
    for d, js in by_dtype.items():
        try:
            q = quantization_retentions(d, [pairs[j][0].model.params_total for j in js])
        except InvalidInputError as exc:
            for j in js:
                cols["score"][j], cols["score_kind"][j], cols["score_source"][j] = float("nan"), "none", str(exc)
            continue
        for n, j in enumerate(js):
            r, s, kind = float(q.retention[n]), cols["score"][j], cols["score_kind"][j]
            capped = " (capped at 1)" if r > 1.0 else ""
            cols["score"][j] = max(s * min(r, 1.0), min(s, floor))
            cols["score_source"][j] = f"{cols['score_source'][j]}; × {d.value} retention {r:.3f}{capped} [{q.source[n]}]"
            cols["score_kind"][j] = kind if kind.endswith("what-if") else f"{kind} + {d.value} what-if"


def _with_user(user: pd.DataFrame) -> pd.DataFrame:
    acc = load_accuracy()[["model_id", "benchmark", "score", "context_tokens"]]
    u = user[["model_id", "benchmark", "score"]].assign(context_tokens=np.nan)
    merged = pd.concat([acc[~acc.set_index(["model_id", "benchmark"]).index.isin(
        u.set_index(["model_id", "benchmark"]).index)], u], ignore_index=True)
    return merged


def attach_scores(frame: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Left-join a :func:`score_table` onto sweep rows by (variant, dtype), keeping the rows' order."""
    cols = ["variant_id", "dtype", "score", "score_kind", "score_source", "score_status"]
    right = scores[cols].drop_duplicates(["variant_id", "dtype"], keep="first")
    return frame.merge(right, on=["variant_id", "dtype"], how="left", sort=False, validate="many_to_one")


def frontier(points: pd.DataFrame, x: str = "cost_usd_per_1m_tokens", y: str = "score") -> pd.DataFrame:
    """``points`` with ``on_frontier`` (lower ``x``, higher ``y``), sorted by ``x``."""
    if x not in points.columns or y not in points.columns:
        raise InvalidInputError(f"frontier needs columns {x!r} and {y!r}")
    out = points.copy()
    out["on_frontier"] = pareto_front(out[x].to_numpy(float), out[y].to_numpy(float))
    return out.sort_values(x, kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------- elastic deployments


def select_subnetwork(points: pd.DataFrame, *, latency_budget_s: float | None = None,
                      latency_metric: str = "tpot_s", cost_budget_usd_per_1m: float | None = None,
                      quality: str = "score") -> pd.Series:
    """The sub-network a router would pick: the most accurate one within the budgets.

    ``points`` are one row per sub-network (e.g. :func:`best_configs` grouped by variant), with
    ``quality`` (higher is better; ``params_active`` when no score is known). Raises
    ``InvalidInputError`` naming the fastest/cheapest option when none meets the budget.
    """
    if points.empty:
        raise InvalidInputError("no sub-network configurations to choose from")
    if latency_metric not in ("tpot_s", "ttft_s", "e2e_s"):
        raise InvalidInputError("latency metric must be tpot_s, ttft_s or e2e_s")
    ok = np.ones(len(points), dtype=bool)
    if latency_budget_s is not None:
        if not (math.isfinite(latency_budget_s) and latency_budget_s > 0):
            raise InvalidInputError("the latency budget must be a positive number of seconds")
        ok &= points[latency_metric].to_numpy(float) <= latency_budget_s
    if cost_budget_usd_per_1m is not None:
        if not (math.isfinite(cost_budget_usd_per_1m) and cost_budget_usd_per_1m > 0):
            raise InvalidInputError("the cost budget must be a positive number of USD")
        ok &= points["cost_usd_per_1m_tokens"].to_numpy(float) <= cost_budget_usd_per_1m
    if not ok.any():
        fastest = points.iloc[int(np.nanargmin(points[latency_metric].to_numpy(dtype=float)))]
        cheapest = points.iloc[int(np.nanargmin(points["cost_usd_per_1m_tokens"].to_numpy(dtype=float)))]
        raise InvalidInputError(
            f"no sub-network meets the budget: the fastest ({fastest['label']}) has "
            f"{latency_metric.removesuffix('_s').upper()} {float(fastest[latency_metric]) * 1e3:,.1f} ms and the cheapest "
            f"({cheapest['label']}) costs ${float(cheapest['cost_usd_per_1m_tokens']):,.3f} per 1M tokens")
    cand = points[ok]
    key = quality if quality in cand and cand[quality].notna().any() else "params_active"
    return cand.iloc[int(np.nanargmax(cand[key].to_numpy(dtype=float)))]


def elastic_vs_separate(parent: ModelSpec | str, widths: Sequence[float], hardware_id: str,
                        dtype: DType | str = DType.BF16, *, context_tokens: int = 4096, batch: int = 16,
                        pricing_model: pricing.PricingModel | str = pricing.PricingModel.ON_DEMAND,
                        hidden: int = ROUTER_HIDDEN, replicas: int = 1) -> pd.DataFrame:
    """One elastic deployment serving every budget vs one deployment per sub-network.

    Notes
    -----
    Elastic: the parent's weights (all sub-networks are nested in them) plus routers, on the
    fewest accelerators that hold them with ``batch`` sequences of ``context_tokens``
    (:func:`estimator.memory.min_accelerators`), ``replicas`` times. Separate: each sub-network
    as its own model on its own fewest accelerators, ``replicas`` times each. Cost per month
    ``= devices x price per device-hour x 730 h``. Memory is the weights held in total.
    Returns one row per deployment and a total row per approach.
    """
    p = catalog.get_model(parent) if isinstance(parent, str) else parent
    h = catalog.get_hardware(hardware_id)
    d = DType(dtype)
    kv = performance.default_kv_dtype(d)
    if replicas < 1:
        raise InvalidInputError("replicas must be at least 1")
    try:
        price = pricing.cheapest_instance(hardware_id, pricing_model).price_usd_per_accelerator_h
    except EstimatorError:
        price = float("nan")
    fam = elastic_family(p, widths, (1.0,), hidden)
    rows = []
    total_sep_w = total_sep_dev = 0.0
    for v in fam:
        spec = v.model
        fit = memory.min_accelerators(spec, h, d, kv, min(context_tokens, spec.max_context), batch)
        w = memory.weights_bytes(spec, d)
        devices = fit.devices * replicas if fit.fits else float("nan")
        rows.append({"approach": "separate models", "deployment": v.label, "weights_bytes": w * replicas,
                     "devices": devices, "fits": fit.fits, "layout": fit.message,
                     "cost_usd_per_month": devices * price * HOURS_PER_MONTH if fit.fits else float("nan")})
        total_sep_w += w * replicas
        total_sep_dev += devices
    top = fam[0].model  # widest (width 1.0 first after sorting), routers included
    fit = memory.min_accelerators(top, h, d, kv, min(context_tokens, top.max_context), batch)
    w_el = memory.weights_bytes(top, d)
    dev_el = fit.devices * replicas if fit.fits else float("nan")
    rows.append({"approach": "separate models", "deployment": "total", "weights_bytes": total_sep_w,
                 "devices": total_sep_dev, "fits": all(r["fits"] for r in rows),
                 "layout": f"{len(fam)} deployments",
                 "cost_usd_per_month": total_sep_dev * price * HOURS_PER_MONTH})
    rows.append({"approach": "one elastic model", "deployment": "total", "weights_bytes": w_el * replicas,
                 "devices": dev_el, "fits": fit.fits, "layout": fit.message,
                 "cost_usd_per_month": dev_el * price * HOURS_PER_MONTH})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- long context


def long_context(variants: Sequence[Variant], hardware_id: str, dtype: DType | str = DType.BF16,
                 seq_lengths: Sequence[int] = (1024, 2048, 4096, 8192, 16384, 32768),
                 output_tokens: int = 256, *, batches: Sequence[int] = (1, 4, 16),
                 tps: Sequence[int] = (1, 2, 4, 8), pue: float = 1.0, benchmark: str | None = None,
                 efficiency: performance.Efficiency | None = None) -> SweepResult:
    """Cost, latency and energy per request as the input grows, for each variant.

    For every variant and input length (up to its context window) the cheapest fitting
    configuration over ``tps`` x ``batches`` on ``hardware_id`` (:func:`best_configs`), with
    ``cost_usd_per_1k_requests``, ``e2e_s``, ``ttft_s`` and ``energy_kwh_per_1k_requests`` (=
    energy per 1M tokens x tokens per request / 1000), plus any score published at that length
    (``score``, ``benchmark``, ``score_source`` from ``data/accuracy.csv`` rows with
    ``context_tokens``; only ``benchmark`` when given, else one row per published benchmark at
    that length). Encoder-decoder models (LED, BigBird-Pegasus) use the performance
    module's encoder-decoder treatment; encoder-only ones one forward pass.
    """
    if not seq_lengths:
        raise InvalidInputError("choose at least one sequence length")
    if any(s < 1 for s in seq_lengths):
        raise InvalidInputError("sequence lengths must be positive")
    spec = sweep_spec(hardware_ids=(hardware_id,), dtypes=(DType(dtype),), tps=tuple(tps), batches=tuple(batches),
                      input_tokens=int(min(seq_lengths)), output_tokens=output_tokens, pue=pue)
    res = _run(variants, spec, [(int(s), int(output_tokens)) for s in sorted(set(seq_lengths))], efficiency)
    if res.frame.empty:
        return res
    best = best_configs(res.frame, "cost_usd_per_1k_requests", by=("variant_id", "input_tokens"))
    tokens_per_req = np.where(best["generates"].astype(bool), best["output_tokens"], best["input_tokens"])
    best["energy_kwh_per_1k_requests"] = best["energy_kwh_per_1m_tokens"] * tokens_per_req / 1000.0
    out = _join_long_context_scores(best, benchmark)
    fit_missing = sorted(set(res.frame["variant_id"]) - set(best["variant_id"]))
    extra = tuple(f"{v}: no length fits on {hardware_id} within tensor parallel {max(tps)}" for v in fit_missing)
    return SweepResult(out, res.skipped + extra, res.elapsed_s)



def _join_long_context_scores(best: pd.DataFrame, benchmark: str | None) -> pd.DataFrame:
    """Left-join the scores published at a given input length (``context_tokens``) onto the
    per-length best configurations, by model and length; sorted by variant and length."""
    acc = load_accuracy()
    acc = acc[acc["context_tokens"].notna()]
    if benchmark is not None:
        acc = acc[acc["benchmark"] == benchmark]
    acc = acc[["model_id", "context_tokens", "benchmark", "score", "source", "status"]]
    acc = acc.rename(columns={"context_tokens": "input_tokens", "source": "score_source", "status": "score_status"})
    acc["input_tokens"] = acc["input_tokens"].astype(int)
    out = best.merge(acc, on=["model_id", "input_tokens"], how="left", sort=False)
    return out.sort_values(["variant_id", "input_tokens"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------- the page's main result from a Scenario


def build_variants(model_ids: Sequence[str], prune_ids: Sequence[str] = (), distill_pairs: Sequence[str] = (),
                   elastic_parent: str = "none", widths: Sequence[float] = ()) -> tuple[list[Variant], list[str]]:
    """The chart's variants (catalog models plus what-ifs, each once) and notes on what could not
    be built. ``distill_pairs`` are ``"teacher>student"``; ``elastic_parent`` ``"none"`` adds no
    elastic family. An unknown catalog model among ``model_ids`` raises."""
    out: list[Variant] = [base_variant(m) for m in model_ids]
    notes: list[str] = []
    for m in prune_ids:
        for pattern in ("2:4", "unstructured"):
            try:
                out.append(pruned_variant(m, pattern))
            except EstimatorError as exc:
                notes.append(f"{m} {pattern}: {exc}")
    for pair in distill_pairs:
        t, _, st = pair.partition(">")
        try:
            out.append(distilled_variant(t, st))
        except EstimatorError as exc:
            notes.append(f"{pair}: {exc}")
    if elastic_parent != "none" and widths:
        try:
            out.extend(elastic_family(elastic_parent, widths))
        except EstimatorError as exc:
            notes.append(f"elastic {elastic_parent}: {exc}")
    seen: set[str] = set()
    uniq = []
    for v in out:
        if v.variant_id not in seen:
            seen.add(v.variant_id)
            uniq.append(v)
    return uniq, notes


def spec_for_scenario(scenario: Scenario) -> SweepSpec:
    """The sweep grid of the Compare variants page for ``scenario`` (``InvalidInputError`` if empty
    or invalid)."""
    v = scenario.variants
    try:
        dtypes = tuple(DType(d) for d in v.dtypes)
        tps = tuple(int(t) for t in v.tps)
        batches = tuple(int(b) for b in v.batches)
    except ValueError as exc:
        raise InvalidInputError(f"Invalid sweep settings: {exc}") from None
    return sweep_spec(hardware_ids=v.hardware_ids, dtypes=dtypes, tps=tps, batches=batches,
                      input_tokens=scenario.tokens.input_mean, output_tokens=scenario.tokens.output_mean,
                      pricing_model=scenario.deploy.pricing.value, pue=v.pue)


_SWEEP_FIELDS: dict[str, set[str]] = {
    "variants": {"model_ids", "hardware_ids", "dtypes", "prune_ids", "distill_pairs", "elastic_parent", "widths",
                 "tps", "batches", "pue"},
    "tokens": {"input_mean", "input_p95", "output_mean", "output_p95"},
    "deploy": {"pricing"},
    "model": {"model_id", "custom"},
}
"""Scenario fields the sweep reads (the model only when it is imported: it joins the compared models). The p95 lengths are not used but kept, so that the key is a
valid scenario whatever the means (issue #11: a mean above the default p95 failed to validate)."""


def sweep_key(scenario: Scenario) -> str:
    """JSON of the scenario fields the sweep depends on (a cache key); ``Scenario.model_validate_json``
    of it gives a scenario with the same sweep."""
    fields = _SWEEP_FIELDS if scenario.model.custom is not None else {
        k: v for k, v in _SWEEP_FIELDS.items() if k != "model"}
    return scenario.model_dump_json(include=fields)  # type: ignore[arg-type]


def sweep_for_scenario(scenario: Scenario) -> tuple[list[Variant], list[str], SweepSpec, SweepResult]:
    """The variants of ``scenario``, the notes on what-ifs that could not be built, the grid and the sweep."""
    variants, notes, spec, result = _sweep_cached(sweep_key(scenario))
    return list(variants), list(notes), spec, result


@lru_cache(maxsize=8)
def _sweep_cached(key: str) -> tuple[tuple[Variant, ...], tuple[str, ...], SweepSpec, SweepResult]:
    """The sweep of a :func:`sweep_key` (shared by every scenario that differs only in what the sweep
    does not read, e.g. the benchmark or the x-axis; callers must not modify the frame)."""
    from estimator.scenario import Scenario

    scenario = Scenario.model_validate_json(key)
    v = scenario.variants
    spec = spec_for_scenario(scenario)
    model_ids = tuple(v.model_ids)
    if scenario.model.custom is not None and scenario.model.model_id not in model_ids:
        model_ids = (*model_ids, scenario.model.model_id)  # an imported model is compared with the others
    variants, notes = build_variants(model_ids, v.prune_ids, v.distill_pairs, v.elastic_parent,
                                     tuple(int(w) / 100 for w in v.widths))
    return tuple(variants), tuple(notes), spec, sweep(variants, spec)


# ---------------------------------------------------------------- the page's sections

ELASTIC_CONTEXT_TOKENS: int = 4096
"""Context per sequence at which the page sizes one elastic deployment against separate ones."""

ENCODER_INPUT_TOKENS: int = 128
"""Input length of the DistilBERT vs BERT-base comparison (GLUE sentences are short)."""


def compression_table(points: pd.DataFrame, x: str) -> pd.DataFrame | None:
    """Each quantized, pruned or distilled point relative to its 16-bit reference (itself in 16-bit
    weights, the pruned model's base, the student's teacher): ``cost vs 16-bit base`` (ratio of
    ``x``), ``weights vs 16-bit base`` (ratio of weight bytes) and ``score change`` (points).

    None when no base model has a 16-bit point to compare with (bf16/fp16 not chosen).
    """
    kind = points["kind"].astype(str).to_numpy()
    vid = points["variant_id"].astype(str).to_numpy()
    anchor = points["anchor_model_id"].astype(str).to_numpy()
    is16 = (kind == "base") & np.isin(points["dtype"].astype(str).to_numpy(), ["bf16", "fp16"])
    if not is16.any():
        return None
    ref_at: dict[str, int] = {}
    for i in np.flatnonzero(is16):
        ref_at.setdefault(str(vid[i]), int(i))  # the cheaper 16-bit point when both bf16 and fp16 are chosen
    sel = [int(i) for i in np.flatnonzero(np.isin(kind, ["base", "pruned", "distilled"]) & ~is16)
           if anchor[i] in ref_at]
    ref = np.asarray([ref_at[str(anchor[i])] for i in sel], dtype=np.intp)
    tab = points.iloc[sel].copy()
    tab["ref"] = anchor[sel]
    for col, values in (("cost vs 16-bit base", x), ("weights vs 16-bit base", "weights_bytes")):
        v = points[values].to_numpy(float)
        tab[col] = v[sel] / v[ref]
    score = points["score"].to_numpy(float)
    tab["score change"] = score[sel] - score[ref]
    return tab.sort_values(["label", "dtype"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class ElasticSection:
    """One elastic model (Flextron-style) on the page: the nested sub-networks of ``parent`` with
    their routers, the sub-networks' chart points, the one a TPOT budget of ``budget_ms`` selects
    (:func:`select_subnetwork`; ``pick_error`` says why none), and one elastic deployment vs one per
    sub-network (:func:`elastic_vs_separate`) per weight format on ``hardware_id`` at
    ``context_tokens`` per sequence (``deployment_errors`` per format that failed)."""

    parent: ModelSpec
    widths: tuple[float, ...]
    family: tuple[Variant, ...]
    router: RouterOverhead
    specs: pd.DataFrame
    points: pd.DataFrame
    budget_ms: float
    pick: pd.Series | None
    pick_error: str
    hardware_id: str
    context_tokens: int
    deployments: Mapping[str, pd.DataFrame]
    deployment_errors: Mapping[str, str]


def _subnetwork_rows(family: Sequence[Variant]) -> pd.DataFrame:
    return pd.DataFrame([{"sub-network": v.label, "heads": v.model.n_heads, "KV heads": v.model.n_kv_heads,
                          "MLP width": v.model.d_ff_expert or v.model.d_ff, "layers": v.model.n_layers,
                          "parameters (B)": v.model.params_total / 1e9} for v in family])


def elastic_section(scenario: Scenario, points: pd.DataFrame, spec: SweepSpec) -> ElasticSection | None:
    """The elastic tab of ``scenario`` (None without an elastic parent or widths, or when the parent
    is not a catalog model: the sweep's notes say so)."""
    v = scenario.variants
    if v.elastic_parent == "none" or not v.widths:
        return None
    widths = [int(w) / 100 for w in v.widths]
    try:
        parent = catalog.get_model(v.elastic_parent)
        family = elastic_family(parent, widths)
    except EstimatorError:
        return None
    el = points[points["kind"] == "elastic"] if "kind" in points else points
    pick, pick_error = None, ""
    if not el.empty:
        try:
            pick = select_subnetwork(el, latency_budget_s=v.elastic_tpot_budget_ms / 1e3, latency_metric="tpot_s")
        except EstimatorError as exc:
            pick_error = str(exc)
    hw = v.elastic_hardware_id or spec.hardware_ids[0]
    deployments: dict[str, pd.DataFrame] = {}
    errors: dict[str, str] = {}
    for d in spec.dtypes:
        try:
            deployments[d.value] = elastic_vs_separate(parent, widths, hw, d, context_tokens=ELASTIC_CONTEXT_TOKENS,
                                                       pricing_model=spec.pricing_model)
        except EstimatorError as exc:
            errors[d.value] = str(exc)
    return ElasticSection(parent, tuple(widths), tuple(family), router_overhead(parent, len(family)), _subnetwork_rows(family), el,
                          v.elastic_tpot_budget_ms, pick, pick_error, hw, ELASTIC_CONTEXT_TOKENS, deployments, errors)


@dataclass(frozen=True)
class LongContextSection:
    """Cost, latency and energy as the input grows (:func:`long_context`) for the scenario's
    long-context models, and the points with a score published at their length: ``published``
    (sorted by benchmark, best score first) with ``within`` (cost per 1k requests within
    ``budget_usd_per_1k``: the scenario's, else 1.5 x the cheapest published point rounded up to
    $0.0001; NaN without published points). ``result`` is None when nothing was chosen
    (``error`` empty) or the settings were refused (``error`` says why)."""

    result: SweepResult | None
    error: str
    published: pd.DataFrame
    budget_usd_per_1k: float


@lru_cache(maxsize=16)
def _long_context_cached(model_ids: tuple[str, ...], hardware_id: str, dtype: str, lengths: tuple[int, ...],
                         output_tokens: int, pue: float) -> tuple[SweepResult | None, str]:
    try:
        res = long_context([base_variant(m) for m in model_ids], hardware_id, dtype, lengths, output_tokens, pue=pue)
    except EstimatorError as exc:
        return None, str(exc)
    return res, ""


def long_context_section(scenario: Scenario) -> LongContextSection:
    """The long-context tab of ``scenario`` (cached per its long-context fields: the same object for
    scenarios that differ elsewhere, so the page can reuse what it drew from it; callers must not
    modify its frames)."""
    v = scenario.variants
    return _long_context_section_cached(tuple(v.lc_model_ids), v.lc_hardware_id, v.lc_dtype,
                                        tuple(int(x) for x in v.lc_lengths), v.lc_output_tokens, v.pue,
                                        v.lc_budget_usd_per_1k)


@lru_cache(maxsize=16)
def _long_context_section_cached(model_ids: tuple[str, ...], hardware_id: str, dtype: str, lengths: tuple[int, ...],
                                 output_tokens: int, pue: float, budget_usd_per_1k: float | None) -> LongContextSection:
    empty = pd.DataFrame()
    if not model_ids or not lengths:
        return LongContextSection(None, "", empty, float("nan"))
    res, error = _long_context_cached(model_ids, hardware_id, dtype, lengths, output_tokens, pue)
    if res is None or res.frame.empty:
        return LongContextSection(res, error, empty, float("nan"))
    pub = res.frame[res.frame["score"].notna()]
    if pub.empty:
        return LongContextSection(res, "", pub, float("nan"))
    budget = (budget_usd_per_1k if budget_usd_per_1k is not None
              else float(np.ceil(1.5 * pub["cost_usd_per_1k_requests"].min() * 1e4) / 1e4))
    pub = pub.assign(within=pub["cost_usd_per_1k_requests"] <= budget)
    pub = pub.sort_values(["benchmark", "score"], ascending=[True, False], kind="stable").reset_index(drop=True)
    return LongContextSection(res, "", pub, budget)


@lru_cache(maxsize=8)
def _encoder_best_cached(spec_json: str) -> tuple[tuple[Variant, ...], pd.DataFrame]:
    spec = SweepSpec.model_validate_json(spec_json)
    pair = (base_variant("bert-base"), distilled_variant("bert-base", "distilbert-base"))
    enc = sweep(pair, spec.model_copy(update={"input_tokens": ENCODER_INPUT_TOKENS, "output_tokens": 1}))
    return pair, best_configs(enc.frame, "cost_usd_per_1m_tokens", by=("variant_id", "dtype"))


@lru_cache(maxsize=8)
def _encoder_table_cached(spec_json: str) -> pd.DataFrame:
    pair, best = _encoder_best_cached(spec_json)
    return attach_scores(best, score_table(pair, SweepSpec.model_validate_json(spec_json).dtypes, "GLUE", proxy=False))


def encoder_comparison(spec: SweepSpec, user_scores: pd.DataFrame | None = None) -> pd.DataFrame:
    """DistilBERT vs BERT-base on the sweep's accelerators and formats: the cheapest configuration
    per model and format at :data:`ENCODER_INPUT_TOKENS` input tokens, with its GLUE score
    (published or entered; no proxy for GLUE). Cached unless GLUE scores were entered; callers
    must not modify the frame."""
    glue = None if user_scores is None else user_scores[user_scores["benchmark"] == "GLUE"]
    # the encoder sweep fixes its own lengths, so the scenario's token counts are not part of the key
    key = spec.model_copy(update={"input_tokens": ENCODER_INPUT_TOKENS, "output_tokens": 1}).model_dump_json()
    if glue is None or glue.empty:
        return _encoder_table_cached(key)
    pair, best = _encoder_best_cached(key)
    return attach_scores(best, score_table(pair, spec.dtypes, "GLUE", glue, proxy=False))


def _nothing_to_show(result: SweepResult, best: pd.DataFrame, scenario: Scenario) -> str:
    """Why the chart is empty ('' when it is not): nothing could be evaluated, or nothing qualifies."""
    frame = result.frame
    if frame.empty:
        return ("Nothing to evaluate: none of the chosen models can run in the chosen formats on the chosen "
                "accelerators (or the context is longer than every model's window). " + " ".join(result.skipped[:3]))
    if not best.empty:
        return ""
    fits = int(frame["fits"].sum())
    tpot_ms = scenario.variants.tpot_limit_ms
    why = ("none fits in memory: add larger accelerators, higher tensor-parallel degrees or smaller formats"
           if fits == 0 else
           f"{fits:,} fit in memory but none meets the latency limits (TTFT ≤ {scenario.slo.ttft_p95_s:g} s"
           + (f", TPOT ≤ {tpot_ms:g} ms" if tpot_ms > 0 else "") + "): relax them or choose faster hardware")
    return f"No configuration qualifies out of {len(frame):,} evaluated: {why}."


@dataclass(frozen=True)
class ReferenceTables:
    """The published data behind the page: scores on ``benchmark`` (``accuracy``), the loss proxy
    fitted on them (``proxy_fit``, or ``proxy_error``), the compression evidence and where the
    chart's architectures come from (``model_sources``)."""

    accuracy: pd.DataFrame
    proxy_fit: ProxyFit | None
    proxy_error: str
    evidence: pd.DataFrame
    model_sources: pd.DataFrame


def reference_tables(benchmark: str, variants: Sequence[Variant]) -> ReferenceTables:
    """The :class:`ReferenceTables` for ``benchmark`` and the models of ``variants``."""
    acc = load_accuracy()
    fit, error = None, ""
    try:
        fit = fit_proxy(benchmark)
    except EstimatorError as exc:
        error = str(exc)
    known = {m.model_id for m in catalog.list_models()}
    ids = sorted({str(v.model.model_id) for v in variants} & known)
    sources = catalog.sources_frame("models", ids).rename(columns={"id": "item"})
    return ReferenceTables(acc[acc["benchmark"] == benchmark], fit, error, load_compression(), sources)


# ---------------------------------------------------------------- the page's one result


@dataclass(frozen=True)
class Exploration:
    """Everything the Compare variants page shows for one scenario (its one entry point's result).

    ``best``: the best qualifying configuration per variant and format (empty: nothing
    qualifies, ``problem`` says why); ``points``: ``best`` with scores and the frontier flag over
    all points, sorted by ``x``; ``scored``: the points with a score, ``on_frontier`` recomputed
    among them (the chart's frontier); ``unscored``: the points without a score on ``benchmark``.
    The tabs: ``compression`` (:func:`compression_table`), ``encoders``
    (:func:`encoder_comparison`, or ``encoders_error``), ``elastic`` (:func:`elastic_section`),
    ``long_context`` (:func:`long_context_section`) and ``reference`` (:func:`reference_tables`)."""

    variants: list[Variant]
    notes: list[str]
    spec: SweepSpec
    result: SweepResult
    benchmark: str
    x: str
    scores: pd.DataFrame
    best: pd.DataFrame
    points: pd.DataFrame
    scored: pd.DataFrame
    unscored: pd.DataFrame
    problem: str = ""
    compression: pd.DataFrame | None = None
    encoders: pd.DataFrame | None = None
    encoders_error: str = ""
    elastic: ElasticSection | None = None
    long_context: LongContextSection | None = None
    reference: ReferenceTables | None = None

    @property
    def frontier_points(self) -> pd.DataFrame:
        """The chart's Pareto frontier, cheapest (lowest ``x``) first."""
        return self.scored[self.scored["on_frontier"]].sort_values(self.x, kind="stable")


def _chart_points(best: pd.DataFrame, scores: pd.DataFrame, x: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(points, scored, unscored): ``best`` with scores and the frontier over all points; the scored
    points with the frontier recomputed among them; the points without a score."""
    if best.empty:
        empty = best.iloc[0:0].assign(score=pd.Series(dtype=float), on_frontier=pd.Series(dtype=bool))
        return empty, empty, empty
    points = frontier(attach_scores(best, scores), x=x)
    scored = points[points["score"].notna()].copy()
    scored["on_frontier"] = pareto_front(scored[x].to_numpy(float), scored["score"].to_numpy(float))
    return points, scored, points[points["score"].isna()]


def explore_for_scenario(scenario: Scenario, user_scores: pd.DataFrame | None = None) -> Exploration:
    """The Compare variants page for ``scenario``: sweep, scores, chart points, Pareto frontier and
    every tab's content, in one typed result (the page, its CSV/JSON report and the CLI render it).

    ``user_scores`` (validated, :func:`validate_user_scores`) live in the browser session only, so a
    report from the scenario alone has none. Raises ``EstimatorError`` for invalid settings; an
    empty ``result.frame`` or ``best`` means nothing could be evaluated or nothing qualifies
    (``problem`` says why). The sweep, the long-context sweep and the encoder sweep are cached per
    the scenario fields they read, so changing the benchmark or the x-axis does not re-sweep.
    """
    v = scenario.variants
    variants, notes, spec, result = sweep_for_scenario(scenario)
    scores = score_table(variants, spec.dtypes, v.benchmark, user_scores, proxy=v.proxy,
                         tokens_per_param=v.tokens_per_param)
    best = best_configs(result.frame, v.x_axis, max_ttft_s=scenario.slo.ttft_p95_s,
                        max_tpot_s=v.tpot_limit_ms / 1e3 if v.tpot_limit_ms > 0 else None)
    points, scored, unscored = _chart_points(best, scores, v.x_axis)
    encoders, encoders_error = None, ""
    try:
        encoders = encoder_comparison(spec, user_scores)
    except EstimatorError as exc:
        encoders_error = str(exc)
    return Exploration(
        variants, notes, spec, result, v.benchmark, v.x_axis, scores, best, points, scored, unscored,
        problem=_nothing_to_show(result, best, scenario),
        compression=compression_table(points, v.x_axis) if not points.empty else None,
        encoders=encoders, encoders_error=encoders_error,
        elastic=elastic_section(scenario, points, spec), long_context=long_context_section(scenario),
        reference=reference_tables(v.benchmark, variants))
