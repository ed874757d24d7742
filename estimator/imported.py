"""Imported models (a Hugging Face ``config.json``, or a derived shape) as first-class scenario models.

A model that is not in ``data/models.csv`` travels *inside* the scenario (``ModelChoice.custom``):
in saved scenarios and JSON reports as its full ``ModelSpec``, and in page links as one compact
query parameter (``mc``: the fields that differ from ``ModelSpec``'s defaults, JSON, zlib,
base64url). Its id is content-addressed (``imported-<name>-<hash>``), so the same architecture always
gets the same id and two different ones never share it; :func:`register` then lets every
catalog lookup (``catalog.get_model``) find it, in any session, without ever shadowing a catalog id.

Bounds: an imported spec must stay within what any published model uses, times a margin
(:data:`LIMITS`), so that a hand-made link cannot push the estimator into overflow.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import zlib
from typing import Any

from pydantic import ValidationError

from estimator.errors import InvalidInputError
from estimator.specs import ModelSpec

__all__ = ["LIMITS", "PREFIX", "canonical", "content_id", "decode_link", "encode_link", "is_imported_id"]

PREFIX = "imported-"
"""Every imported model's id starts with this; no catalog id does (``tests/test_imported.py``)."""

LIMITS: dict[str, float] = {
    "params_total": 1e14,
    "n_layers": 1000,
    "n_encoder_layers": 1000,
    "d_model": 1 << 17,
    "n_heads": 4096,
    "head_dim": 4096,
    "d_ff": 1 << 20,
    "d_ff_expert": 1 << 20,
    "vocab_size": 1 << 24,
    "max_context": 100_000_000,
    "n_experts": 65_536,
    "n_shared_experts": 1024,
    "sliding_window": 100_000_000,
    "kv_lora_rank": 1 << 17,
    "qk_rope_head_dim": 4096,
}
"""Largest value an imported model may give each field (the largest published models are
1-2 orders of magnitude below: Llama 3.1 405B has d_model 16,384, 126 layers, 128k vocabulary)."""

_TEXT_LIMITS = {"name": 120, "family": 80, "source": 400, "notes": 2000, "released": 20}
MAX_LINK_CHARS = 2000
"""Longest ``mc`` link value accepted (``scenario.MAX_QUERY_VALUE_CHARS``)."""
_MAX_JSON_BYTES = 16_384


def _check_bounds(spec: ModelSpec) -> None:
    for field, limit in LIMITS.items():
        value = getattr(spec, field)
        if value > limit:
            raise InvalidInputError(f"imported model: {field} = {value:,} is implausibly large (at most {limit:,.0f})")
    for field, limit in _TEXT_LIMITS.items():
        if len(getattr(spec, field)) > limit:
            raise InvalidInputError(f"imported model: {field} is longer than {limit} characters")


def _fingerprint(spec: ModelSpec) -> str:
    """SHA-256 of the architecture (every field but the id and the free text), first 10 hex digits."""
    data = spec.model_dump(mode="json", exclude={"model_id", "source", "notes", "as_of", "assumed", "released"})
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def content_id(spec: ModelSpec) -> str:
    """The content-addressed id of ``spec``: ``imported-<slug of its name>-<10 hex digits>``.

    >>> from estimator.catalog import get_model
    >>> content_id(get_model("llama-2-7b")).startswith("imported-llama-2-7b-")
    True
    """
    slug = re.sub(r"[^a-z0-9.]+", "-", spec.name.lower()).strip("-.")[:40].strip("-.") or "model"
    return f"{PREFIX}{slug}-{_fingerprint(spec)}"


def is_imported_id(model_id: str) -> bool:
    """Whether ``model_id`` names an imported (not catalog) model."""
    return model_id.startswith(PREFIX)


def canonical(spec: ModelSpec | dict[str, Any]) -> ModelSpec:
    """``spec`` validated, within :data:`LIMITS`, under its content id; ``InvalidInputError`` otherwise."""
    try:
        parsed = spec if isinstance(spec, ModelSpec) else ModelSpec.model_validate(spec)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "model"
        raise InvalidInputError(f"imported model: {where}: {err.get('msg', 'invalid')}") from None
    _check_bounds(parsed)
    wanted = content_id(parsed)
    return parsed if parsed.model_id == wanted else parsed.model_copy(update={"model_id": wanted})


def encode_link(spec: ModelSpec) -> str:
    """The compact link form of ``spec``: base64url(zlib(JSON of the non-default fields)).

    The id is left out (it is recomputed from the content on the way back).
    """
    data = spec.model_dump(mode="json", exclude_defaults=True, exclude={"model_id"})
    raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")


def decode_link(text: str) -> ModelSpec:
    """Inverse of :func:`encode_link`; ``InvalidInputError`` for anything that is not one.

    Decompression is capped (:data:`_MAX_JSON_BYTES`) so that a crafted link cannot expand into
    megabytes.
    """
    if not isinstance(text, str) or not 0 < len(text) <= MAX_LINK_CHARS:
        raise InvalidInputError("imported model: the link value is empty or too long")
    try:
        packed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        inflater = zlib.decompressobj()
        raw = inflater.decompress(packed, _MAX_JSON_BYTES)
        if inflater.unconsumed_tail:
            raise InvalidInputError("imported model: the link value expands too far")
        data = json.loads(raw)
    except (binascii.Error, ValueError, zlib.error, UnicodeDecodeError, RecursionError) as exc:
        if isinstance(exc, InvalidInputError):
            raise
        raise InvalidInputError("imported model: the link value is not an encoded model") from None
    if not isinstance(data, dict):
        raise InvalidInputError("imported model: the link value is not an encoded model")
    data["model_id"] = "imported-pending"
    return canonical(data)
