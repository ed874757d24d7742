"""A model shape for any parameter count, interpolated from a published family's shapes.

To price serving a hypothetical model (the lifetime planner's "a 7.1B model trained on 2T
tokens"), memory, performance and capacity need an architecture, not just N. This module reads a
named family's published members from ``data/models.csv`` (Llama 3.x: 1B, 3B, 8B, 70B, 405B;
Qwen3 dense: 8B, 32B), interpolates the depth, the MLP and query widths relative to ``d_model``,
and the head size in log N between the two members around N (linear extrapolation in log-log
beyond the ends), rounds to hardware-friendly multiples and solves for the width so the Llama
parameter count hits N within 1 %.

Parameter count of a dense Llama-style decoder (Touvron et al. 2023; Llama 3 config.json;
reference facts §4.3, which reproduces the published totals exactly):

.. math:: N = L\\,(2 d\\,q + 2 d\\,k\\,h + 3 d f + 2d + n_{qk}) + V d\\,(1 + [\\mathrm{untied}]) + d

with ``q = n_heads h`` the query width, ``k`` KV heads of size ``h``, ``f`` the SwiGLU width,
``V`` the vocabulary and ``n_qk = 2h`` where the family normalises queries and keys (Qwen3).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from estimator import catalog
from estimator.errors import InvalidInputError
from estimator.specs import Architecture, AttentionKind, ModelSpec

__all__ = [
    "FAMILIES",
    "DEFAULT_FAMILY",
    "DerivedShape",
    "ShapeFamily",
    "derive_shape",
    "family_members",
    "llama_params",
]

MIN_PARAMS: float = 1e8
"""Smallest size derived (below it a 128k vocabulary alone is most of the model)."""

MAX_PARAMS: float = 1e13
"""Largest size derived."""

PARAMS_TOLERANCE: float = 0.01
"""Largest relative gap between the derived shape's parameter count and the size asked for."""

_FF_MULTIPLES: tuple[int, ...] = (1024, 512, 256, 128, 64)
"""MLP widths tried, coarsest first (Llama 3 rounds to 1024, ``multiple_of`` in llama-models)."""

_FF_ROUNDING_TOLERANCE: float = 0.005
"""The coarsest MLP multiple whose rounding moves N by at most this share is used."""


@dataclass(frozen=True)
class ShapeFamily:
    """A family whose published members anchor the interpolation.

    ``catalog_family`` matches the ``family`` column of ``data/models.csv`` by prefix; only dense
    decoder rows count. ``qk_norm`` adds the per-layer query/key RMSNorm weights (Qwen3).
    ``min_params`` is the smallest size derived for the family.
    """

    key: str
    label: str
    catalog_family: str
    qk_norm: bool
    source: str
    min_params: float = 1e8


FAMILIES: Mapping[str, ShapeFamily] = MappingProxyType(
    {
        "llama3": ShapeFamily(
            key="llama3", label="Llama 3", catalog_family="Llama 3", qk_norm=False,
            source="data/models.csv rows of Llama 3.1 8B/70B/405B and Llama 3.2 1B/3B (Hugging Face config.json)",
        ),
        "qwen3": ShapeFamily(
            key="qwen3", label="Qwen3", catalog_family="Qwen3", qk_norm=True,
            source="data/models.csv dense Qwen3 rows (Hugging Face config.json)",
            # below ~1B the untied 151,936-token vocabulary of Qwen3 8B/32B would be most of the model
            # (Qwen3's own sub-1B models tie their embeddings; they are not in the catalog)
            min_params=1e9,
        ),
    }
)
"""Families :func:`derive_shape` can interpolate, keyed by name."""

DEFAULT_FAMILY: str = "llama3"


@dataclass(frozen=True)
class DerivedShape:
    """A derived architecture and what it was derived from.

    ``anchors`` are the two members around N in log N (the nearest two at the ends), ``weight``
    the position between them (0 at the first, 1 at the second; outside [0, 1] when extrapolated),
    ``layers_raw`` and ``ff_ratio`` the interpolated depth and ``d_ff / d_model`` before rounding.
    """

    spec: ModelSpec
    family: str
    target_params: float
    anchors: tuple[str, str]
    weight: float
    layers_raw: float
    ff_ratio: float
    query_ratio: float
    params_error: float

    @property
    def notes(self) -> str:
        """One sentence for pages and reports."""
        return self.spec.notes


def llama_params(n_layers: int, d_model: int, n_heads: int, n_kv_heads: int, head_dim: int, d_ff: int,
                 vocab_size: int, tied: bool, qk_norm: bool = False) -> int:
    """Parameters of a dense Llama-style decoder (gated MLP, RMSNorm, no biases).

    Notes
    -----
    .. math:: N = L\\,(2 d\\,n_h h + 2 d\\,n_{kv} h + 3 d f + 2d + n_{qk}) + V d\\,(2 - [\\mathrm{tied}]) + d

    Reproduces the published totals of Llama 3.1 8B (8,030,261,248) and 70B (70,553,706,496)
    exactly (reference facts §4.3, from the Hugging Face safetensors totals).

    Examples
    --------
    >>> llama_params(32, 4096, 32, 8, 128, 14336, 128256, tied=False)
    8030261248
    """
    per_layer = (2 * d_model * n_heads * head_dim + 2 * d_model * n_kv_heads * head_dim + 3 * d_model * d_ff
                 + 2 * d_model + (2 * head_dim if qk_norm else 0))
    return n_layers * per_layer + vocab_size * d_model * (1 if tied else 2) + d_model


def family_members(family: str = DEFAULT_FAMILY) -> tuple[ModelSpec, ...]:
    """The family's dense decoder members in the catalog, smallest first (at least two)."""
    fam = _family(family)
    members = sorted(
        (m for m in catalog.list_models()
         if m.family.startswith(fam.catalog_family) and not m.is_moe and m.architecture == Architecture.DECODER),
        key=lambda m: m.params_total,
    )
    if len(members) < 2:
        raise InvalidInputError(f"the {fam.label} family needs at least two dense members in data/models.csv to "
                                f"interpolate; found {len(members)}")
    return tuple(members)


def _family(family: str) -> ShapeFamily:
    if family not in FAMILIES:
        raise InvalidInputError(f"unknown model family {family!r}; choose one of {', '.join(FAMILIES)}")
    return FAMILIES[family]


@dataclass(frozen=True)
class _Interpolated:
    """Continuous shape quantities at log N and the discrete ones taken from the nearest member."""

    anchors: tuple[ModelSpec, ModelSpec]
    weight: float
    layers_raw: float
    ff_ratio: float
    query_ratio: float
    nearest: ModelSpec


def _interpolate(members: tuple[ModelSpec, ...], params: float) -> _Interpolated:
    """Depth in log-log, ratios linearly in log N between the bracketing members (clamped ratios)."""
    logs = np.log([m.params_total for m in members])
    x = math.log(params)
    i = int(np.clip(np.searchsorted(logs, x) - 1, 0, len(members) - 2))
    lo, hi = members[i], members[i + 1]
    w = (x - logs[i]) / (logs[i + 1] - logs[i])
    layers = math.exp((1 - w) * math.log(lo.n_layers) + w * math.log(hi.n_layers))
    wc = min(max(w, 0.0), 1.0)  # widths relative to d_model are not extrapolated
    ff = (1 - wc) * lo.d_ff / lo.d_model + wc * hi.d_ff / hi.d_model
    qr = (1 - wc) * lo.n_heads * lo.head_dim / lo.d_model + wc * hi.n_heads * hi.head_dim / hi.d_model
    nearest = members[int(np.argmin(np.abs(logs - x)))]
    return _Interpolated(anchors=(lo, hi), weight=float(w), layers_raw=layers, ff_ratio=ff, query_ratio=qr,
                         nearest=nearest)


@dataclass(frozen=True)
class _Candidate:
    d_model: int
    n_heads: int
    n_kv_heads: int
    d_ff: int
    params: int


def _width_candidate(params: float, layers: int, d: int, ip: _Interpolated, qk_norm: bool) -> _Candidate | None:
    """Heads and KV heads for width ``d``; the MLP width that closes the parameter gap, rounded."""
    ref = ip.nearest
    h = ref.head_dim
    kv = ref.n_kv_heads
    heads = kv * max(1, round(ip.query_ratio * d / (h * kv)))  # whole KV groups: shards evenly over TP <= kv
    tied = ref.tied_embeddings
    without_ff = llama_params(layers, d, heads, kv, h, 0, ref.vocab_size, tied, qk_norm)
    ff_exact = (params - without_ff) / (3 * layers * d)
    if ff_exact < 64:
        return None
    for multiple in _FF_MULTIPLES:
        ff = max(multiple, multiple * round(ff_exact / multiple))
        n = llama_params(layers, d, heads, kv, h, ff, ref.vocab_size, tied, qk_norm)
        if abs(n / params - 1) <= _FF_ROUNDING_TOLERANCE or multiple == _FF_MULTIPLES[-1]:
            return _Candidate(d_model=d, n_heads=heads, n_kv_heads=kv, d_ff=ff, params=n)
    return None  # pragma: no cover - the loop always returns at the last multiple


def _width_raw(params: float, layers: int, ip: _Interpolated, qk_norm: bool) -> float:
    """Positive root of a d^2 + b d - N = 0 with the interpolated MLP and query ratios."""
    ref = ip.nearest
    emb = ref.vocab_size * (1 if ref.tied_embeddings else 2)
    a = layers * (2 * ip.query_ratio + 3 * ip.ff_ratio)
    b = layers * (2 * ref.n_kv_heads * ref.head_dim + 2 + (2 * ref.head_dim if qk_norm else 0)) + emb + 1
    return (-b + math.sqrt(b * b + 4 * a * params)) / (2 * a)


def _best_candidate(params: float, layers: int, ip: _Interpolated, qk_norm: bool) -> _Candidate | None:
    """Widths on a 128 grid (64 below 1024), four steps either side of the continuous root; the one whose
    MLP ratio is closest to the interpolated one wins (rounding the head count moves the root)."""
    d_raw = _width_raw(params, layers, ip, qk_norm)
    step = 128 if d_raw >= 1024 else 64
    base = max(step, step * math.floor(d_raw / step))
    found = [c for d in range(base - 4 * step, base + 5 * step, step) if d >= step
             for c in [_width_candidate(params, layers, d, ip, qk_norm)]
             if c is not None and abs(c.params / params - 1) <= PARAMS_TOLERANCE]
    if not found:
        return None
    return min(found, key=lambda c: (abs(math.log(c.d_ff / c.d_model / ip.ff_ratio)), abs(c.params - params)))


def _billions(params: float) -> str:
    """``7.1e9`` -> ``"7.1"``: a plain decimal with up to four significant places, no exponent."""
    digits = max(0, 3 - math.floor(math.log10(params / 1e9)))
    text = f"{params / 1e9:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _spec(params: float, fam: ShapeFamily, ip: _Interpolated, layers: int, c: _Candidate) -> ModelSpec:
    ref, (lo, hi) = ip.nearest, ip.anchors
    size = f"{params / 1e9:.3g}B"
    how = ("interpolated" if 0.0 <= ip.weight <= 1.0 else "extrapolated") + f" in log N between {lo.name} and {hi.name}"
    return ModelSpec(
        model_id=f"derived-{fam.key}-{_billions(params)}b",
        name=f"{fam.label}-shaped {size} (derived)",
        family=f"derived from {fam.label}",
        params_total=float(c.params), params_active=float(c.params),
        n_layers=layers, d_model=c.d_model, n_heads=c.n_heads, n_kv_heads=c.n_kv_heads, head_dim=ref.head_dim,
        d_ff=c.d_ff, vocab_size=ref.vocab_size, max_context=ref.max_context,
        attention=AttentionKind.GQA if c.n_kv_heads < c.n_heads else AttentionKind.MHA,
        gated_mlp=True, tied_embeddings=ref.tied_embeddings,
        assumed=True, source=f"derived by estimator.shapes from {fam.source}",
        notes=(f"Derived shape, not a published model: {how} (weight {ip.weight:.2f}); depth "
               f"{ip.layers_raw:.1f} -> {layers} layers, d_ff/d_model {ip.ff_ratio:.2f}, head size, KV heads, "
               f"vocabulary and embedding tying of {ref.name}; width solved so the Llama parameter formula gives "
               f"{c.params:,} parameters ({c.params / params - 1:+.2%} from {params:.4g})."),
    )


def derive_shape(params: float, family: str = DEFAULT_FAMILY) -> DerivedShape:
    """A dense decoder architecture of about ``params`` parameters shaped like ``family``.

    Parameters
    ----------
    params : float
        Target parameter count N (embeddings included), 1e8 <= N <= 1e13.
    family : str, optional
        Key of :data:`FAMILIES` (default ``"llama3"``).

    Returns
    -------
    DerivedShape
        ``spec`` is a :class:`~estimator.specs.ModelSpec` (``assumed=True``, its ``notes`` say it is
        derived and from what) whose parameter count is within 1 % of N.

    Notes
    -----
    1. Members of the family sorted by N; the two around N (the end pair outside the range) give
       the weight ``w = (ln N - ln N_lo) / (ln N_hi - ln N_lo)``.
    2. Depth ``L = round(exp((1-w) ln L_lo + w ln L_hi))`` (log-log, extrapolated beyond the ends);
       ``f/d`` and ``n_h h / d`` linear in w, clamped to the members' values; head size, KV heads,
       vocabulary, tying and context from the member nearest in log N.
    3. Width from the quadratic ``a d^2 + b d = N`` (module docstring), rounded to multiples of 128
       (64 below 1024); query heads are whole groups of the family's KV heads (the query width may
       then differ from d, as in Qwen3 32B: 64 x 128 vs 5120); the MLP width is re-solved to
       close the gap and rounded to the coarsest of 1024/512/256/128/64 within 0.5 %.

    References
    ----------
    Llama 3 config.json files and meta-llama/llama-models ``sku_list.py`` (reference facts §4.1);
    Qwen3 config.json files. The rounding to ``multiple_of`` follows llama-models.

    Examples
    --------
    >>> s = derive_shape(8.030261248e9).spec
    >>> (s.n_layers, s.d_model, s.n_heads, s.n_kv_heads, s.head_dim, s.d_ff)
    (32, 4096, 32, 8, 128, 14336)
    """
    if not (isinstance(params, (int, float)) and math.isfinite(params) and MIN_PARAMS <= params <= MAX_PARAMS):
        raise InvalidInputError(f"a derived shape needs {MIN_PARAMS:.0e} <= parameters <= {MAX_PARAMS:.0e}, "
                                f"got {params!r}")
    fam = _family(family)
    if params < fam.min_params:
        raise InvalidInputError(f"{fam.label}-shaped models are derived from {fam.min_params:.0e} parameters up; "
                                f"got {params:.3g}")
    ip = _interpolate(family_members(family), float(params))
    base = max(2, round(ip.layers_raw))
    for layers in (base, base - 1, base + 1, base - 2):
        c = _best_candidate(float(params), layers, ip, fam.qk_norm) if layers >= 2 else None
        if c is not None:
            spec = _spec(float(params), fam, ip, layers, c)
            return DerivedShape(
                spec=spec, family=fam.key, target_params=float(params), anchors=(ip.anchors[0].model_id,
                                                                                   ip.anchors[1].model_id),
                weight=ip.weight, layers_raw=ip.layers_raw, ff_ratio=ip.ff_ratio, query_ratio=ip.query_ratio,
                params_error=c.params / params - 1,
            )
    raise InvalidInputError(f"no {fam.label}-shaped architecture of {params:.3g} parameters within "
                            f"{PARAMS_TOLERANCE:.0%} was found")
