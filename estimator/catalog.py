"""Reference catalogs: ``data/*.csv`` loaded into an embedded, in-memory DuckDB.

Each CSV is read with an explicit column list and types (no type sniffing), its header is
checked against the schema, and rows become pydantic specs (``ModelSpec``, ``HardwareSpec``,
``Instance``, ``Region``) in SI units. Queries are parameterized. DuckDB connections are not
safe to share between threads, so each thread takes its own ``cursor()`` of the one
process-wide connection (DuckDB Python API docs, "Using DuckDB in multiple threads").

The data directory defaults to ``data/`` beside the package; set ``LLMCP_DATA_DIR`` to use
another one.
"""

from __future__ import annotations

import csv
import difflib
import math
import os
import threading
from collections import OrderedDict
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from estimator.errors import CatalogError, InvalidInputError, UnknownIdError
from estimator.specs import HardwareSpec, Instance, ModelSpec, Region
from estimator.units import GB, TERA, DType

__all__ = [
    "TABLES",
    "data_dir",
    "cursor",
    "table_frame",
    "list_models",
    "get_model",
    "list_hardware",
    "get_hardware",
    "list_instances",
    "get_instance",
    "list_regions",
    "get_region",
    "find_region",
    "sources_frame",
    "read_csv_typed",
]

_PROVENANCE = {"assumed": "BOOLEAN", "source": "VARCHAR", "as_of": "DATE", "notes": "VARCHAR"}

_SOURCED_WITH_STATUS = {"status": "VARCHAR", "source": "VARCHAR", "url": "VARCHAR", "as_of": "DATE",
                        "assumed": "BOOLEAN", "notes": "VARCHAR"}
"""Provenance of the accuracy and compression tables: ``status`` is P (read in the primary
source), S (found in copies of it), D (derived) or UNVERIFIED (recalled)."""

_ACCURACY_COLUMNS: dict[str, str] = {
    "model_id": "VARCHAR",
    "benchmark": "VARCHAR",
    "score": "DOUBLE",
    "shots": "INTEGER",
    "metric": "VARCHAR",
    "context_tokens": "INTEGER",
    "setting": "VARCHAR",
    "evaluator": "VARCHAR",
    **_SOURCED_WITH_STATUS,
}

_COMPRESSION_COLUMNS: dict[str, str] = {
    "technique_id": "VARCHAR",
    "kind": "VARCHAR",
    "method": "VARCHAR",
    "weight_dtype": "VARCHAR",
    "activation_dtype": "VARCHAR",
    "sparsity": "DOUBLE",
    "pattern": "VARCHAR",
    "base_model": "VARCHAR",
    "base_model_id": "VARCHAR",
    "base_params": "DOUBLE",
    "student_model_id": "VARCHAR",
    "student_params": "DOUBLE",
    "benchmark": "VARCHAR",
    "metric": "VARCHAR",
    "baseline_value": "DOUBLE",
    "compressed_value": "DOUBLE",
    "higher_is_better": "BOOLEAN",
    "memory_factor": "DOUBLE",
    "speedup": "DOUBLE",
    "speedup_conditions": "VARCHAR",
    "hardware_requirement": "VARCHAR",
    "used_for_whatif": "BOOLEAN",
    **_SOURCED_WITH_STATUS,
}

TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "models": (
        "models.csv",
        {
            "model_id": "VARCHAR",
            "name": "VARCHAR",
            "family": "VARCHAR",
            "architecture": "VARCHAR",
            "params_total": "BIGINT",
            "params_active": "BIGINT",
            "n_layers": "INTEGER",
            "n_encoder_layers": "INTEGER",
            "d_model": "INTEGER",
            "n_heads": "INTEGER",
            "n_kv_heads": "INTEGER",
            "head_dim": "INTEGER",
            "d_ff": "INTEGER",
            "vocab_size": "INTEGER",
            "max_context": "INTEGER",
            "n_experts": "INTEGER",
            "n_experts_active": "INTEGER",
            "n_shared_experts": "INTEGER",
            "d_ff_expert": "INTEGER",
            "n_dense_layers": "INTEGER",
            "attention": "VARCHAR",
            "sliding_window": "INTEGER",
            "n_sliding_layers": "INTEGER",
            "kv_lora_rank": "INTEGER",
            "qk_rope_head_dim": "INTEGER",
            "gated_mlp": "BOOLEAN",
            "tied_embeddings": "BOOLEAN",
            "released": "VARCHAR",
            "assumed": "BOOLEAN",
            "source": "VARCHAR",
            "as_of": "DATE",
            "notes": "VARCHAR",
        },
    ),
    "hardware": (
        "hardware.csv",
        {
            "hardware_id": "VARCHAR",
            "name": "VARCHAR",
            "vendor": "VARCHAR",
            "kind": "VARCHAR",
            "memory_gb": "DOUBLE",
            "memory_reported_bytes": "DOUBLE",
            "memory_bandwidth_gbps": "DOUBLE",
            "peak_tflops_fp32": "DOUBLE",
            "peak_tflops_bf16": "DOUBLE",
            "peak_tflops_fp16": "DOUBLE",
            "peak_tflops_fp8": "DOUBLE",
            "peak_tflops_fp4": "DOUBLE",
            "peak_tops_int8": "DOUBLE",
            "peak_tops_int4": "DOUBLE",
            "tdp_w": "DOUBLE",
            "idle_w": "DOUBLE",
            "intra_node_link": "VARCHAR",
            "intra_node_gbps": "DOUBLE",
            "inter_node_gbps": "DOUBLE",
            "max_per_node": "INTEGER",
            "embodied_kgco2e": "DOUBLE",
            "released": "VARCHAR",
            "assumed": "BOOLEAN",
            "source": "VARCHAR",
            "as_of": "DATE",
            "notes": "VARCHAR",
        },
    ),
    "instances": (
        "instances.csv",
        {
            "instance_id": "VARCHAR",
            "provider": "VARCHAR",
            "instance_type": "VARCHAR",
            "hardware_id": "VARCHAR",
            "accelerator_count": "INTEGER",
            "vcpu": "INTEGER",
            "ram_gb": "DOUBLE",
            "price_on_demand_usd_per_h": "DOUBLE",
            "price_spot_usd_per_h": "DOUBLE",
            "price_1y_usd_per_h": "DOUBLE",
            "price_3y_usd_per_h": "DOUBLE",
            "price_region": "VARCHAR",
            "regions": "VARCHAR",
            "assumed": "BOOLEAN",
            "source": "VARCHAR",
            "as_of": "DATE",
            "notes": "VARCHAR",
        },
    ),
    "regions": (
        "regions.csv",
        {
            "provider": "VARCHAR",
            "region": "VARCHAR",
            "location": "VARCHAR",
            "country": "VARCHAR",
            "grid_gco2e_per_kwh": "DOUBLE",
            "pue": "DOUBLE",
            "assumed": "BOOLEAN",
            "source": "VARCHAR",
            "as_of": "DATE",
            "notes": "VARCHAR",
        },
    ),
    "measurements": (
        "measurements.csv",
        {
            "measurement_id": "VARCHAR",
            "model_id": "VARCHAR",
            "hardware_id": "VARCHAR",
            "dtype": "VARCHAR",
            "kv_dtype": "VARCHAR",
            "tp": "INTEGER",
            "pp": "INTEGER",
            "gpus": "INTEGER",
            "scenario": "VARCHAR",
            "batch": "DOUBLE",
            "input_tokens": "INTEGER",
            "output_tokens": "INTEGER",
            "metric": "VARCHAR",
            "value": "DOUBLE",
            "framework": "VARCHAR",
            "assumed": "BOOLEAN",
            "source": "VARCHAR",
            "url": "VARCHAR",
            "as_of": "DATE",
            "notes": "VARCHAR",
            "excluded_reason": "VARCHAR",
            "engine": "VARCHAR",
            "engine_version": "VARCHAR",
            "concurrency": "INTEGER",
            "attention_dp": "BOOLEAN",
        },
    ),
    "inference_modes": (
        "inference_modes.csv",
        {"mode": "VARCHAR", "limit": "VARCHAR", "value": "DOUBLE", "unit": "VARCHAR", "assumed": "BOOLEAN",
         "source": "VARCHAR", "as_of": "DATE", "notes": "VARCHAR"},
    ),
    "api_prices": (
        "api_prices.csv",
        {"provider": "VARCHAR", "model": "VARCHAR", "catalog_model_id": "VARCHAR", "input_usd_per_mtok": "DOUBLE",
         "output_usd_per_mtok": "DOUBLE", "assumed": "BOOLEAN", "source": "VARCHAR", "as_of": "DATE",
         "notes": "VARCHAR"},
    ),
    "microbenchmarks": (
        "microbenchmarks.csv",
        {"benchmark_id": "VARCHAR", "hardware_id": "VARCHAR", "metric": "VARCHAR", "value": "DOUBLE",
         "unit": "VARCHAR", "assumed": "BOOLEAN", "source": "VARCHAR", "as_of": "DATE", "notes": "VARCHAR"},
    ),
    "accuracy": ("accuracy.csv", _ACCURACY_COLUMNS),
    "compression": ("compression.csv", _COMPRESSION_COLUMNS),
    "engines": (
        "engines.csv",
        {"engine": "VARCHAR", "version": "VARCHAR", "setting": "VARCHAR", "value": "DOUBLE", "unit": "VARCHAR",
         "flag": "VARCHAR", "assumed": "BOOLEAN", "source": "VARCHAR", "url": "VARCHAR", "as_of": "DATE",
         "notes": "VARCHAR"},
    ),
    "training_runs": (
        "training_runs.csv",
        {"run_id": "VARCHAR", "model": "VARCHAR", "params": "DOUBLE", "params_total": "DOUBLE", "tokens": "DOUBLE",
         "seq_len": "INTEGER", "n_layers": "INTEGER", "d_attn": "INTEGER", "hardware_id": "VARCHAR",
         "compute_dtype": "VARCHAR", "gpus": "INTEGER",
         "gpu_hours": "DOUBLE", "gpu_hours_kind": "VARCHAR", "mfu_reported": "DOUBLE", "excluded_reason": "VARCHAR",
         "source": "VARCHAR", "url": "VARCHAR", "as_of": "DATE", "assumed": "BOOLEAN", "notes": "VARCHAR"},
    ),
    "training_fit": (
        "training_fit.csv",
        {"generation": "VARCHAR", "n_runs": "INTEGER", "utilization": "DOUBLE", "mfu": "DOUBLE", "goodput": "DOUBLE",
         "loo_median_abs_error": "DOUBLE", "loo_worst_ratio": "DOUBLE", "ratio_low": "DOUBLE", "ratio_high": "DOUBLE",
         "fit_date": "DATE", "data_sha256": "VARCHAR", "source": "VARCHAR", "as_of": "DATE", "assumed": "BOOLEAN",
         "notes": "VARCHAR"},
    ),
}
"""Table name -> (CSV file name, ordered column -> DuckDB type). Provenance columns
(``assumed``, ``source``, ``as_of``, ``notes``) are required in every table."""

for _name, (_file, _cols) in TABLES.items():
    missing = set(_PROVENANCE) - set(_cols)
    if missing:  # pragma: no cover - guards edits to the schema above
        raise CatalogError(f"schema of {_name} lacks provenance columns {sorted(missing)}")

_ID_COLUMN = {"models": "model_id", "hardware": "hardware_id", "instances": "instance_id",
              "measurements": "measurement_id", "microbenchmarks": "benchmark_id", "training_runs": "run_id"}

_lock = threading.Lock()
_connection: duckdb.DuckDBPyConnection | None = None
_local = threading.local()


_PACKAGE_DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def data_dir() -> Path:
    """Directory of the reference CSVs: ``$LLMCP_DATA_DIR`` or ``data/`` beside the package."""
    env = os.environ.get("LLMCP_DATA_DIR")
    return Path(env) if env else _PACKAGE_DATA_DIR


def read_csv_typed(path: Path, columns: dict[str, str]) -> pd.DataFrame:
    """Read one reference CSV with explicit column types and the catalog's checks (header equal
    to the schema, every row with a ``source`` and an ``as_of``), into a DataFrame."""
    con = duckdb.connect(":memory:")
    try:
        _load_file(con, "t", path, columns, id_col=None)
        return con.execute('SELECT * FROM "t"').df()
    finally:
        con.close()


_OPTIONAL_COLUMNS: dict[str, dict[str, str]] = {"models": {"n_sliding_layers": "0"}}
"""Columns a CSV may leave out, with the value they then take (``n_sliding_layers`` 0: a model's
``sliding_window``, if any, covers every layer)."""


def _load_table(con: duckdb.DuckDBPyConnection, name: str) -> None:
    file_name, columns = TABLES[name]
    _load_file(con, name, data_dir() / file_name, columns, _ID_COLUMN.get(name))


def _load_file(
    con: duckdb.DuckDBPyConnection, name: str, path: Path, columns: dict[str, str], id_col: str | None
) -> None:
    if not path.is_file():
        raise CatalogError(f"catalog file {path} is missing")
    with path.open(newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh), [])
    absent = {k: v for k, v in _OPTIONAL_COLUMNS.get(name, {}).items() if k not in header}
    present = {k: v for k, v in columns.items() if k not in absent}
    if header != list(present):
        raise CatalogError(
            f"{path.name}: header does not match the schema.\n  expected: {list(columns)}\n"
            f"  found:    {header}"
        )
    try:
        con.execute(
            f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM read_csv(?, header = true, '
            "auto_detect = false, columns = ?, quote = '\"', escape = '\"')",
            [str(path), present],
        )
        for col, default in absent.items():
            con.execute(f'ALTER TABLE "{name}" ADD COLUMN {col} {columns[col]} DEFAULT {default}')
    except duckdb.Error as exc:
        raise CatalogError(f"{path.name}: {exc}") from exc
    missing_source = con.execute(
        f'SELECT count(*) FROM "{name}" WHERE source IS NULL OR trim(source) = \'\' OR as_of IS NULL'
    ).fetchone()
    if missing_source and missing_source[0]:
        raise CatalogError(f"{path.name}: {missing_source[0]} rows lack a source or as_of date")
    if id_col:
        dup = con.execute(
            f'SELECT {id_col} FROM "{name}" GROUP BY {id_col} HAVING count(*) > 1'
        ).fetchall()
        if dup:
            raise CatalogError(f"{path.name}: duplicate ids {[d[0] for d in dup]}")


def _connection_or_load() -> duckdb.DuckDBPyConnection:
    global _connection
    with _lock:
        if _connection is None:
            con = duckdb.connect(":memory:")
            for name in TABLES:
                _load_table(con, name)
            _connection = con
        return _connection


def cursor() -> duckdb.DuckDBPyConnection:
    """A DuckDB cursor for the calling thread (created on first use, then reused)."""
    cur = getattr(_local, "cursor", None)
    con = _connection_or_load()
    if cur is None or getattr(_local, "owner", None) is not con:
        cur = con.cursor()
        _local.cursor = cur
        _local.owner = con
    return cur


def reload() -> None:
    """Drop the loaded catalogs so the next access re-reads ``data/`` (tests, data edits)."""
    global _connection
    with _lock:
        _connection = None
    for fn in (_models, _hardware, _instances, _regions, table_frame):
        fn.cache_clear()


@cache
def table_frame(name: str) -> pd.DataFrame:
    """The whole catalog table ``name`` as a DataFrame (display units, provenance included)."""
    if name not in TABLES:
        raise UnknownIdError("table", name, difflib.get_close_matches(name, list(TABLES), n=3))
    return cursor().execute(f'SELECT * FROM "{name}"').df()


def _rows(name: str, where: str = "", params: list[Any] | None = None) -> list[dict[str, Any]]:
    cur = cursor().execute(f'SELECT * FROM "{name}" {where}', params or [])
    cols = [d[0] for d in cur.description or []]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def _nz(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _model_from_row(row: dict[str, Any]) -> ModelSpec:
    data = {k: ("" if v is None and k in ("notes", "family", "released") else v) for k, v in row.items()}
    data["n_sliding_layers"] = data.get("n_sliding_layers") or 0  # empty cell: the window covers every layer
    return ModelSpec(**data)


_PEAK_COLUMNS: dict[str, tuple[DType, ...]] = {
    "peak_tflops_fp32": (DType.FP32,),
    "peak_tflops_bf16": (DType.BF16,),
    "peak_tflops_fp16": (DType.FP16,),
    "peak_tflops_fp8": (DType.FP8,),
    "peak_tops_int8": (DType.INT8,),
    "peak_tops_int4": (DType.INT4,),
    "peak_tflops_fp4": (DType.FP4,),  # dense FP4 (E2M1) tensor-core peak; nvfp4/mxfp4 weights compute in it
}


def _hardware_from_row(row: dict[str, Any]) -> HardwareSpec:
    peaks: dict[DType, float] = {}
    for col, dtypes in _PEAK_COLUMNS.items():
        value = _nz(row.get(col))
        if value is not None and value > 0:
            for d in dtypes:
                peaks[d] = float(value) * TERA
    inter = _nz(row["inter_node_gbps"])
    intra = _nz(row["intra_node_gbps"])
    return HardwareSpec(
        hardware_id=row["hardware_id"],
        name=row["name"],
        vendor=row["vendor"] or "",
        kind=row["kind"],
        # device memory as the device reports it (what engines allocate from), else the datasheet's GB
        memory_bytes=_nz(row.get("memory_reported_bytes")) or row["memory_gb"] * GB,
        memory_reported_bytes=_nz(row.get("memory_reported_bytes")),
        memory_datasheet_gb=row["memory_gb"],
        memory_bandwidth_bytes_per_s=row["memory_bandwidth_gbps"] * GB,
        peak_flops_per_s_by_dtype=peaks,
        tdp_w=row["tdp_w"],
        idle_w=_nz(row["idle_w"]) or 0.0,
        intra_node_link=row["intra_node_link"] or "none",
        intra_node_bandwidth_bytes_per_s=(intra or 0.0) * GB,
        inter_node_bandwidth_bytes_per_s=(inter or 0.0) * GB,
        max_per_node=row["max_per_node"] or 1,
        embodied_kgco2e=_nz(row["embodied_kgco2e"]),
        released=row["released"] or "",
        assumed=bool(row["assumed"]),
        source=row["source"],
        as_of=row["as_of"],
        notes=row["notes"] or "",
    )


def _instance_from_row(row: dict[str, Any]) -> Instance:
    data = {k: _nz(v) for k, v in row.items()}
    data["regions"] = tuple(r.strip() for r in (row["regions"] or "").split(";") if r.strip())
    data["notes"] = data["notes"] or ""
    data["price_region"] = data["price_region"] or ""
    data["vcpu"] = data["vcpu"] or 0
    data["ram_gb"] = data["ram_gb"] or 0.0
    return Instance(**data)


def _region_from_row(row: dict[str, Any]) -> Region:
    data = {k: ("" if v is None and k in ("notes", "location", "country") else v) for k, v in row.items()}
    return Region(**data)


@lru_cache(maxsize=1)
def _models() -> dict[str, ModelSpec]:
    try:
        return {r["model_id"]: _model_from_row(r) for r in _rows("models", "ORDER BY params_total")}
    except ValueError as exc:
        raise CatalogError(f"models.csv: {exc}") from exc


@lru_cache(maxsize=1)
def _hardware() -> dict[str, HardwareSpec]:
    try:
        return {r["hardware_id"]: _hardware_from_row(r) for r in _rows("hardware", "ORDER BY name")}
    except ValueError as exc:
        raise CatalogError(f"hardware.csv: {exc}") from exc


@lru_cache(maxsize=1)
def _instances() -> dict[str, Instance]:
    try:
        return {
            r["instance_id"]: _instance_from_row(r)
            for r in _rows("instances", "ORDER BY provider, price_on_demand_usd_per_h")
        }
    except ValueError as exc:
        raise CatalogError(f"instances.csv: {exc}") from exc


@lru_cache(maxsize=1)
def _regions() -> dict[str, Region]:
    try:
        regions = [_region_from_row(r) for r in _rows("regions", "ORDER BY provider, region")]
    except ValueError as exc:
        raise CatalogError(f"regions.csv: {exc}") from exc
    return {r.region_id: r for r in regions}


def _normalized_id(wanted: str) -> Any:
    """Catalog ids are lower case; surrounding blanks and capitals in user input are forgiven."""
    return wanted.strip().lower() if isinstance(wanted, str) else wanted


def _lookup(kind: str, table: dict[str, Any], wanted: str) -> Any:
    """``table[wanted]`` or ``UnknownIdError`` naming up to three close matches.

    The suggestions come from ``difflib.get_close_matches`` (Ratcliff/Obershelp similarity, a few
    hundred microseconds for a catalog of this size): only for errors a person reads. Code that
    probes for an id and falls back uses a ``find_*`` function instead.
    """
    key = _normalized_id(wanted)
    if key in table:
        return table[key]
    raise UnknownIdError(kind, str(wanted), difflib.get_close_matches(str(key), list(table), n=3, cutoff=0.5))


def list_models() -> list[ModelSpec]:
    """All catalog models, smallest first."""
    return list(_models().values())


def get_model(model_id: str) -> ModelSpec:
    """The catalog model ``model_id`` (e.g. ``"llama-2-7b"``), or an imported model registered with
    :func:`register_model`; unknown ids name close matches.

    >>> get_model("llama-2-7b").params_total
    6738415616.0
    """
    key = _normalized_id(model_id)
    if isinstance(key, str) and key.startswith(IMPORTED_PREFIX):
        with _imported_lock:
            spec = _imported.get(key)
        if spec is not None:
            return spec
        raise UnknownIdError("model", str(model_id), [])
    return _lookup("model", _models(), model_id)


IMPORTED_PREFIX = "imported-"
"""Ids of imported models (``estimator.imported.PREFIX``); no catalog row may use it."""
MAX_IMPORTED_MODELS = 4096
"""Imported models remembered per process (least recently registered are forgotten first)."""
_imported: OrderedDict[str, ModelSpec] = OrderedDict()
_imported_lock = threading.Lock()


def register_model(spec: ModelSpec) -> None:
    """Make an imported model findable by :func:`get_model` under its content-addressed id.

    Only ids starting with :data:`IMPORTED_PREFIX` are accepted (``estimator.imported.canonical``
    makes them), so an import can never shadow a catalog model; the same id always names the same
    architecture, which makes the registry safe to share between sessions.
    """
    if not spec.model_id.startswith(IMPORTED_PREFIX):
        raise InvalidInputError(f"imported model ids start with {IMPORTED_PREFIX!r}, got {spec.model_id!r}")
    with _imported_lock:
        _imported[spec.model_id] = spec
        _imported.move_to_end(spec.model_id)
        while len(_imported) > MAX_IMPORTED_MODELS:
            _imported.popitem(last=False)


def list_hardware() -> list[HardwareSpec]:
    """All catalog accelerators and CPU classes, by name."""
    return list(_hardware().values())


def get_hardware(hardware_id: str) -> HardwareSpec:
    """The catalog accelerator ``hardware_id`` (e.g. ``"h100-sxm"``)."""
    return _lookup("hardware", _hardware(), hardware_id)


def list_instances(provider: str | None = None, hardware_id: str | None = None) -> list[Instance]:
    """Cloud instances, optionally filtered by provider and accelerator."""
    return [
        i
        for i in _instances().values()
        if (provider is None or i.provider == provider)
        and (hardware_id is None or i.hardware_id == hardware_id)
    ]


def get_instance(instance_id: str) -> Instance:
    """The instance ``provider:type`` (e.g. ``"aws:p5.48xlarge"``)."""
    return _lookup("instance", _instances(), instance_id)


def list_regions(provider: str | None = None) -> list[Region]:
    """Cloud regions with grid intensity and PUE, optionally for one provider."""
    return [r for r in _regions().values() if provider is None or r.provider == provider]


def get_region(region_id: str) -> Region:
    """The region ``provider:region`` (e.g. ``"aws:us-east-1"``)."""
    return _lookup("region", _regions(), region_id)


def find_region(region_id: str) -> Region | None:
    """The region ``provider:region``, or ``None`` when the catalog lacks it.

    For code that tries a region and falls back (no exception, no "did you mean" suggestions);
    user input goes through :func:`get_region`, whose error names close matches.

    >>> find_region("aws:us-east-1") is get_region("aws:us-east-1"), find_region("aws:mars-1")
    (True, None)
    """
    return _regions().get(_normalized_id(region_id))


def default_region(provider: str, hardware_id: str | None = None) -> str:
    """The region a page preselects for ``provider``: where the catalog's list prices of that
    cloud's instances (with ``hardware_id``, when given and priced) come from most often (the
    region the cloud's own price list is quoted for), so switching to GCP does not land on
    ``asia-east1`` merely because it sorts first; the first region by name only when no price
    region is known. ``""`` when the catalog has no region for ``provider``.

    >>> default_region("gcp"), default_region("aws", "h100-sxm")
    ('us-central1', 'us-east-1')
    """
    names = [r.region for r in list_regions(provider)]
    if not names:
        return ""
    insts = list_instances(provider=provider)
    with_hw = [i for i in insts if hardware_id is None or i.hardware_id == hardware_id]
    counts: dict[str, int] = {}
    for inst in with_hw or insts:
        if inst.price_region in names:
            counts[inst.price_region] = counts.get(inst.price_region, 0) + 1
    if not counts:
        return names[0]
    return max(names, key=lambda n: (counts.get(n, 0), -names.index(n)))


def sources_frame(table: str, ids: list[str] | None = None) -> pd.DataFrame:
    """Id, ``source``, ``as_of`` and ``assumed`` of catalog rows, for the UI's source lists."""
    if table not in TABLES:
        raise UnknownIdError("table", table, difflib.get_close_matches(table, list(TABLES), n=3))
    id_col = _ID_COLUMN.get(table, "region")
    if ids:
        placeholders = ", ".join("?" for _ in ids)
        return (
            cursor()
            .execute(
                f'SELECT {id_col} AS id, source, as_of, assumed, notes FROM "{table}" '
                f"WHERE {id_col} IN ({placeholders})",
                ids,
            )
            .df()
        )
    return cursor().execute(f'SELECT {id_col} AS id, source, as_of, assumed, notes FROM "{table}"').df()
