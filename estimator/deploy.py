"""Deployment handoff: the engine launch command and the Kubernetes manifests for a capacity plan.

A :class:`~estimator.capacity.CapacityPlan` fixes what one replica runs (model, accelerator, tensor and
pipeline parallel degrees, weight and KV-cache formats, the largest batch) and how many replicas the
traffic needs hour by hour. This module turns that into what an operator runs:

- **the launch command** of the scenario's engine: vLLM ``vllm serve``, SGLang
  ``python -m sglang.launch_server`` or TensorRT-LLM ``trtllm-serve``. Every flag it emits is checked
  against the dated list of that engine version's command-line options in
  ``data/engine_cli_options.csv`` (read from each engine's own argument parser), values against the
  option's choices, so a command the engine would refuse is an error here, not at deploy time;
- **Kubernetes manifests**: a Deployment (the command as container args, accelerator requests,
  node selector, health probes on the engine's health endpoint), a Service and an
  ``autoscaling/v2`` HorizontalPodAutoscaler between the plan's fewest and most replicas, plus a
  ConfigMap when TensorRT-LLM needs an ``--extra_llm_api_options`` file.

Images, ports and health paths come from ``data/engine_images.csv``, the accelerator's extended
resource name from ``data/k8s_resources.csv``, Hugging Face repositories from ``data/hf_repos.csv``
(an imported model is served under its own name). Speculative decoding comes from the scenario
(:func:`speculative_for`) or the ``speculative`` argument of :func:`bundle` (:class:`SpeculativeSettings`).
"""

from __future__ import annotations

import io
import json
import math
import re
import shlex
import zipfile
from functools import lru_cache
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from estimator import catalog, engines, imported, memory
from estimator.capacity import CapacityPlan
from estimator.engines import Engine
from estimator.errors import InvalidInputError
from estimator.scenario import Scenario
from estimator.specs import Architecture, HardwareSpec, ModelSpec

__all__ = [
    "SpeculativeSettings",
    "LaunchCommand",
    "Manifest",
    "DeployBundle",
    "hf_repo",
    "max_model_len_tokens",
    "speculative_for",
    "cli_options",
    "check_flags",
    "launch_command",
    "manifests",
    "bundle",
    "files",
    "zip_bytes",
    "manifests_name",
    "REQUESTS_METRIC",
]

CLI_COLUMNS = {"engine": "VARCHAR", "version": "VARCHAR", "flag": "VARCHAR", "takes_value": "BOOLEAN",
               "choices": "VARCHAR", "assumed": "BOOLEAN", "source": "VARCHAR", "url": "VARCHAR", "as_of": "DATE",
               "notes": "VARCHAR"}
HF_COLUMNS = {"model_id": "VARCHAR", "hf_repo": "VARCHAR", "assumed": "BOOLEAN", "source": "VARCHAR",
              "as_of": "DATE", "notes": "VARCHAR"}
IMAGE_COLUMNS = {"engine": "VARCHAR", "version": "VARCHAR", "vendor": "VARCHAR", "image": "VARCHAR", "tag": "VARCHAR",
                 "port": "INTEGER", "health_path": "VARCHAR", "assumed": "BOOLEAN", "source": "VARCHAR",
                 "url": "VARCHAR", "as_of": "DATE", "notes": "VARCHAR"}
RESOURCE_COLUMNS = {"vendor": "VARCHAR", "kind": "VARCHAR", "resource": "VARCHAR", "assumed": "BOOLEAN",
                    "source": "VARCHAR", "url": "VARCHAR", "as_of": "DATE", "notes": "VARCHAR"}

REQUESTS_METRIC = "llm_requests_per_second"
"""Per-pod request rate the HorizontalPodAutoscaler scales on (a Pods metric: the cluster's metrics
adapter, e.g. prometheus-adapter, must serve it from the engine's request counter)."""

INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
"""Kubernetes well-known node label set by the cloud provider to the machine type
(kubernetes.io/docs/reference/labels-annotations-taints/#nodekubernetesioinstance-type)."""

LABEL_CLOUDS = frozenset({"aws", "gcp", "azure"})
"""Clouds whose managed Kubernetes (EKS, GKE, AKS) label nodes with the same instance type names as
their price lists (and so as ``data/instances.csv``)."""

MAX_STABILIZATION_S = 3600  # autoscaling/v2 HPAScalingRules.stabilizationWindowSeconds upper bound


class SpeculativeSettings(BaseModel):
    """Speculative decoding for the launch command: a drafting ``method``, its draft model (a Hugging
    Face repository; not used by ``ngram``) and the tokens drafted per step."""

    model_config = ConfigDict(frozen=True)

    method: Literal["eagle", "eagle3", "ngram", "draft_model", "mtp"]
    draft_model: str = Field(default="", max_length=200)
    num_tokens: int = Field(default=3, ge=1, le=16)


class LaunchCommand(BaseModel):
    """One replica's engine command: ``program`` then ``(flag, value)`` pairs (value ``None``: a switch),
    and for TensorRT-LLM the ``--extra_llm_api_options`` YAML content (``extra_options``)."""

    model_config = ConfigDict(frozen=True)

    engine: Engine
    version: str
    program: tuple[str, ...]
    args: tuple[tuple[str, str | None], ...]
    model_ref: str
    extra_options: dict[str, Any] = Field(default_factory=dict)
    extra_options_path: str = ""

    @property
    def flags(self) -> tuple[str, ...]:
        return tuple(f for f, _ in self.args)

    @property
    def argv(self) -> tuple[str, ...]:
        out = list(self.program)
        for flag, value in self.args:
            out.append(flag)
            if value is not None:
                out.append(value)
        return tuple(out)

    def value(self, flag: str) -> str | None:
        """The value given to ``flag`` (``KeyError`` when the command does not carry it)."""
        return dict(self.args)[flag]

    def shell(self) -> str:
        """The command as one shell command line, one flag per line, every word quoted."""
        head = " ".join(shlex.quote(p) for p in self.program)
        parts = [head] + [shlex.quote(f) + ("" if v is None else " " + shlex.quote(v)) for f, v in self.args]
        return " \\\n  ".join(parts)


class Manifest(BaseModel):
    """One Kubernetes object: its kind, name and body (the object as the API takes it)."""

    model_config = ConfigDict(frozen=True)

    kind: str
    name: str
    body: dict[str, Any]


class DeployBundle(BaseModel):
    """What :func:`bundle` returns: the launch command, the manifests and what the operator must check."""

    model_config = ConfigDict(frozen=True)

    command: LaunchCommand
    manifests: tuple[Manifest, ...]
    image: str
    port: int
    health_path: str
    min_replicas: int
    max_replicas: int
    warnings: tuple[str, ...] = ()

    def manifest(self, kind: str) -> Manifest:
        for m in self.manifests:
            if m.kind == kind:
                return m
        raise InvalidInputError(f"the bundle has no {kind}")


# ------------------------------------------------------------------------------------------ data


@lru_cache(maxsize=4)
def _table(file_name: str, columns: tuple[tuple[str, str], ...]) -> tuple[dict[str, Any], ...]:
    frame = catalog.read_csv_typed(catalog.data_dir() / file_name, dict(columns))
    return tuple({k: (None if _missing(v) else v) for k, v in row.items()} for row in frame.to_dict("records"))


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _rows(file_name: str, columns: dict[str, str]) -> tuple[dict[str, Any], ...]:
    return _table(file_name, tuple(columns.items()))


def cli_options(engine: Engine | str, version: str) -> dict[str, tuple[bool, tuple[str, ...]]]:
    """``flag -> (takes a value, allowed values)`` for ``engine`` at ``version`` (``data/engine_cli_options.csv``)."""
    e = Engine(engine)
    out = {str(r["flag"]): (bool(r["takes_value"]), tuple(c for c in str(r["choices"] or "").split(";") if c))
           for r in _rows("engine_cli_options.csv", CLI_COLUMNS) if r["engine"] == e.value and r["version"] == version}
    if not out:
        raise InvalidInputError(f"data/engine_cli_options.csv has no command-line options for "
                                f"{engines.LABELS[e]} {version}; add that version's list before deploying with it")
    return out


def check_flags(engine: Engine | str, version: str, args: tuple[tuple[str, str | None], ...]) -> None:
    """Raise :class:`InvalidInputError` unless every flag is one of the engine version's options, given a
    value exactly when it takes one, and a value among its choices where it has choices."""
    known = cli_options(engine, version)
    for flag, value in args:
        if flag not in known:
            raise InvalidInputError(f"{flag} is not a command-line option of {engines.LABELS[Engine(engine)]} {version}")
        takes, choices = known[flag]
        if takes != (value is not None):
            raise InvalidInputError(f"{flag} {'takes a value' if takes else 'is a switch without a value'}")
        if choices and value not in choices:
            raise InvalidInputError(f"{flag} {value!r} is not one of its choices ({', '.join(choices)})")


def hf_repo(model: ModelSpec) -> str | None:
    """The Hugging Face repository to serve ``model`` from: ``data/hf_repos.csv`` for a catalog model, the
    model's own name for an imported one, ``None`` when there is no public checkpoint."""
    if imported.is_imported_id(model.model_id):
        return model.name
    for r in _rows("hf_repos.csv", HF_COLUMNS):
        if r["model_id"] == model.model_id:
            return str(r["hf_repo"])
    return None


def _image(engine: Engine, version: str, vendor: str) -> dict[str, Any]:
    for r in _rows("engine_images.csv", IMAGE_COLUMNS):
        if r["engine"] == engine.value and r["version"] == version and r["vendor"] == vendor:
            return r
    raise InvalidInputError(f"data/engine_images.csv has no {engines.LABELS[engine]} {version} image for "
                            f"{vendor or 'this'} accelerators")


def _resource(hw: HardwareSpec) -> str:
    for r in _rows("k8s_resources.csv", RESOURCE_COLUMNS):
        if r["vendor"] == hw.vendor and r["kind"] == hw.kind.value:
            return str(r["resource"])
    raise InvalidInputError(f"no Kubernetes device resource is known for {hw.name} (data/k8s_resources.csv)")


# -------------------------------------------------------------------------------- launch command


_DTYPE_NAMES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
"""Weight formats the engines load unquantized, as their ``--dtype`` choices spell them."""

_ONLINE_QUANT = {Engine.VLLM: {"fp8": "fp8"}, Engine.SGLANG: {"fp8": "fp8"}}
"""Weight formats an engine quantizes at load time from a 16-bit checkpoint (``--quantization``):
vLLM ``fp8`` (dynamic FP8, vLLM docs 'FP8 W8A8'), SGLang ``fp8`` (server_args.py choices). Other
formats (INT8/INT4/NVFP4/MXFP4/GGUF) need a checkpoint quantized in that format, whose config the
engine reads; the bundle then warns to point the command at one."""

_KV_FP8 = {Engine.VLLM: "fp8", Engine.SGLANG: "fp8_e4m3", Engine.TRTLLM: "fp8"}
"""FP8 KV cache per engine: vLLM ``--kv-cache-dtype fp8`` (= fp8_e4m3), SGLang ``fp8_e4m3`` (its
choices have no plain ``fp8``), TensorRT-LLM ``kv_cache_config.dtype: fp8`` in the extra options."""

_FLAGS: dict[Engine, dict[str, str]] = {
    Engine.VLLM: {"tp": "--tensor-parallel-size", "pp": "--pipeline-parallel-size", "seqs": "--max-num-seqs",
                  "len": "--max-model-len", "mem": "--gpu-memory-utilization", "chunk": "--max-num-batched-tokens",
                  "block": "--block-size", "quant": "--quantization", "kv": "--kv-cache-dtype", "dtype": "--dtype"},
    Engine.SGLANG: {"tp": "--tp-size", "pp": "--pp-size", "seqs": "--max-running-requests", "len": "--context-length",
                    "mem": "--mem-fraction-static", "chunk": "--chunked-prefill-size", "block": "--page-size",
                    "quant": "--quantization", "kv": "--kv-cache-dtype", "dtype": "--dtype", "ep": "--ep-size"},
    Engine.TRTLLM: {"tp": "--tp_size", "pp": "--pp_size", "seqs": "--max_batch_size", "len": "--max_seq_len",
                    "mem": "--kv_cache_free_gpu_memory_fraction", "chunk": "--max_num_tokens", "ep": "--ep_size"},
}
"""Which flag carries each setting, per engine (names as in ``data/engine_cli_options.csv``)."""


def _program(engine: Engine, model_ref: str) -> tuple[str, ...]:
    if engine is Engine.VLLM:
        return ("vllm", "serve", model_ref)
    if engine is Engine.SGLANG:
        return ("python3", "-m", "sglang.launch_server")
    return ("trtllm-serve", model_ref)


def max_model_len_tokens(scenario: Scenario, plan: CapacityPlan, model: ModelSpec, hw: HardwareSpec,
                         es: engines.EngineSettings) -> int:
    """The engine's maximum request length (tokens): the model's context window, the longest request the
    planner admits (``capacity._token_distributions`` clips lengths there), capped at the longest
    single sequence whose KV cache fits one replica under the engine's memory budget
    (``memory.max_context`` at batch 1 with ``engines.memory_utilization``): vLLM refuses to start
    when one ``--max-model-len`` sequence does not fit its KV cache (``vllm/v1/core/kv_cache_utils.py``
    ``check_enough_kv_cache_memory``)."""
    overhead = scenario.assumptions.runtime_overhead_gb * 1e9
    u = engines.memory_utilization(es, model, hw, plan.weight_dtype, plan.kv_dtype, tp=plan.tp, pp=plan.pp,
                                   runtime_overhead_bytes=overhead)
    fits = memory.max_context(model, hw, plan.weight_dtype, plan.kv_dtype, 1, tp=plan.tp, pp=plan.pp,
                              memory_utilization=u, runtime_overhead_bytes=overhead)
    return max(1, min(model.max_context, fits))


def _core_args(engine: Engine, plan: CapacityPlan, es: engines.EngineSettings, model: ModelSpec,
               port: int, max_len: int) -> list[tuple[str, str | None]]:
    """Host and port, parallelism, batch, length (:func:`max_model_len_tokens`), memory fraction,
    prefill chunk, and the KV block size when the user set it."""
    f = _FLAGS[engine]
    args: list[tuple[str, str | None]] = [("--host", "0.0.0.0"), ("--port", str(port)),  # noqa: S104 - in a pod
                                          (f["tp"], str(plan.tp))]
    if plan.pp > 1:
        args.append((f["pp"], str(plan.pp)))
    if model.n_experts > 1 and plan.tp > 1:  # MoE: experts split over the tensor-parallel group (EP = TP)
        args.append(("--enable-expert-parallel", None) if engine is Engine.VLLM else (f["ep"], str(plan.tp)))
    args += [(f["seqs"], str(plan.max_batch)), (f["len"], str(max_len)),
             (f["mem"], f"{es.memory_fraction:g}"), (f["chunk"], str(es.prefill_chunk_tokens))]
    if "kv_block_tokens" in es.overridden and "block" in f:
        args.append((f["block"], str(es.kv_block_tokens)))
    if engine is Engine.TRTLLM:
        args.insert(2, ("--backend", "pytorch"))
    return args


def _format_args(engine: Engine, weight_dtype: str, kv_dtype: str,
                 warnings: list[str]) -> tuple[list[tuple[str, str | None]], dict[str, Any]]:
    """Weight and KV-cache format flags (vLLM/SGLang) or extra options (TensorRT-LLM)."""
    args: list[tuple[str, str | None]] = []
    extra: dict[str, Any] = {}
    f = _FLAGS[engine]
    if weight_dtype in _DTYPE_NAMES and "dtype" in f:
        args.append((f["dtype"], _DTYPE_NAMES[weight_dtype]))
    elif weight_dtype in _ONLINE_QUANT.get(engine, {}):
        args.append((f["quant"], _ONLINE_QUANT[engine][weight_dtype]))
    elif weight_dtype not in _DTYPE_NAMES:
        warnings.append(f"{weight_dtype.upper()} weights: serve a checkpoint quantized to {weight_dtype.upper()} "
                        f"(the engine reads its format from the checkpoint's config); replace the model in the command")
    if kv_dtype == "fp8":
        if engine is Engine.TRTLLM:
            extra["kv_cache_config"] = {"dtype": _KV_FP8[engine]}
        else:
            args.append((f["kv"], _KV_FP8[engine]))
    elif kv_dtype not in _DTYPE_NAMES:
        warnings.append(f"{engines.LABELS[engine]} has no {kv_dtype.upper()} KV cache option; it keeps the model's "
                        f"format, so the replica holds fewer sequences than planned")
    return args, extra


def _speculative_args(engine: Engine, spec: SpeculativeSettings | None,
                      ) -> tuple[list[tuple[str, str | None]], dict[str, Any]]:
    """Speculative decoding: vLLM ``--speculative-config`` JSON (``SpeculativeConfig``: method, model,
    num_speculative_tokens; vLLM 0.10 ``SpeculativeMethod``), SGLang ``--speculative-algorithm``
    EAGLE/EAGLE3/NEXTN with ``--speculative-num-steps k``, ``--speculative-eagle-topk 1`` and
    ``--speculative-num-draft-tokens k+1`` (a chain of k drafts plus the root, SGLang speculative
    decoding docs), TensorRT-LLM ``speculative_config`` (decoding_type, max_draft_len or, for MTP,
    num_nextn_predict_layers, speculative_model_dir) in the extra options."""
    if spec is None:
        return [], {}
    k = spec.num_tokens
    if engine is Engine.VLLM:
        method = "deepseek_mtp" if spec.method == "mtp" else spec.method
        conf: dict[str, Any] = {"method": method, "num_speculative_tokens": k}
        if spec.draft_model:
            conf["model"] = spec.draft_model
        return [("--speculative-config", json.dumps(conf, separators=(",", ":")))], {}
    if engine is Engine.SGLANG:
        algo = {"eagle": "EAGLE", "eagle3": "EAGLE3", "mtp": "NEXTN"}.get(spec.method)
        if algo is None:
            raise InvalidInputError(f"SGLang 0.4 has no {spec.method} speculative decoding (EAGLE, EAGLE3, NEXTN)")
        args: list[tuple[str, str | None]] = [("--speculative-algorithm", algo), ("--speculative-num-steps", str(k)),
                                              ("--speculative-eagle-topk", "1"),
                                              ("--speculative-num-draft-tokens", str(k + 1))]
        if spec.draft_model:
            args.append(("--speculative-draft-model-path", spec.draft_model))
        return args, {}
    kind = {"eagle": "Eagle", "eagle3": "Eagle", "mtp": "MTP", "ngram": "NGram", "draft_model": "DraftTarget"}
    depth = "num_nextn_predict_layers" if spec.method == "mtp" else "max_draft_len"
    sc: dict[str, Any] = {"decoding_type": kind[spec.method], depth: k}
    if spec.draft_model:
        sc["speculative_model_dir"] = spec.draft_model
    return [], {"speculative_config": sc}


def speculative_for(scenario: Scenario, model: ModelSpec, warnings: list[str] | None = None,
                    ) -> SpeculativeSettings | None:
    """The scenario's speculative decoding (``scenario.serving.speculative``: off, eagle3, mtp, draft) as
    launch settings. ``draft`` serves the drafter ``estimator.speculative.drafter_for`` picks (its
    Hugging Face repository); ``mtp`` uses the model's own multi-token-prediction module, which the
    engines load for DeepSeek-V3-family checkpoints only (vLLM ``deepseek_mtp``, SGLang ``NEXTN``)."""
    warn = warnings if warnings is not None else []
    serving = getattr(scenario, "serving", None)
    method = str(getattr(serving, "speculative", "off"))
    k = int(getattr(serving, "spec_tokens", 3))
    if method == "off":
        return None
    if method == "mtp" and "deepseek" not in f"{model.family} {model.model_id}".lower():
        warn.append(f"{model.name}: the engines load a multi-token-prediction module for DeepSeek-V3-family "
                    f"checkpoints only; the command runs without speculative decoding")
        return None
    if method == "draft":
        from estimator import speculative  # late: speculative imports the performance model

        drafter = speculative.drafter_for(model, "draft", scenario.model.weight_dtype, scenario.model.kv_dtype)
        return SpeculativeSettings(method="draft_model", draft_model=hf_repo(drafter.spec) or "", num_tokens=k)
    return SpeculativeSettings(method="eagle3" if method == "eagle3" else "mtp", num_tokens=k)


def _version(scenario: Scenario) -> str:
    return engines.defaults(scenario.engine.name, scenario.engine.version).version


def launch_command(scenario: Scenario, plan: CapacityPlan, *, speculative: SpeculativeSettings | None = None,
                   warnings: list[str] | None = None) -> LaunchCommand:
    """The engine command one replica of ``plan`` runs, every flag checked by :func:`check_flags`.

    The settings are the plan's (tensor/pipeline parallel degrees, ``max_batch`` as the engine's
    sequence limit, weight and KV formats) and the engine's effective settings for the accelerator
    (``engines.for_scenario``: memory fraction, prefill chunk, user overrides).
    """
    warn = warnings if warnings is not None else []
    engine, version = scenario.engine.name, _version(scenario)
    model = catalog.get_model(plan.model_id)
    hw = catalog.get_hardware(plan.hardware_id)
    es = engines.for_scenario(scenario, hw, plan.tp)
    repo = hf_repo(model)
    if repo is None:
        repo = f"/models/{model.model_id}"
        warn.append(f"{model.name} has no public Hugging Face checkpoint: mount its weights at {repo}")
    elif imported.is_imported_id(model.model_id) and not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        warn.append(f"the imported model's name {repo!r} is not a Hugging Face repository id (owner/name): "
                    f"replace it in the command with its repository or a local path")
    port = int(_image(engine, version, hw.vendor)["port"])
    max_len = max_model_len_tokens(scenario, plan, model, hw, es)
    if max_len < model.max_context:
        warn.append(f"one replica's KV cache holds at most {max_len:,} tokens of one request, below "
                    f"{model.name}'s {model.max_context:,}-token context: longer requests are refused")
    args = _core_args(engine, plan, es, model, port, max_len)
    if engine is Engine.SGLANG:
        args.insert(0, ("--model-path", repo))
    fmt, extra = _format_args(engine, plan.weight_dtype, plan.kv_dtype, warn)
    spec = speculative if speculative is not None else speculative_for(scenario, model, warn)
    if spec is not None and spec.method in ("eagle", "eagle3", "draft_model") and not spec.draft_model:
        warn.append(f"speculative decoding ({spec.method}) needs its drafter's repository: add it to the command")
    try:
        spec_args, spec_extra = _speculative_args(engine, spec)
    except InvalidInputError as exc:
        if speculative is not None:  # asked for explicitly: refuse
            raise
        warn.append(f"{exc}; the command runs without speculative decoding")
        spec_args, spec_extra = [], {}
    args += fmt + spec_args
    extra.update(spec_extra)
    path = "/config/extra_llm_api_options.yaml" if extra else ""
    if extra:
        args.append(("--extra_llm_api_options", path))
    check_flags(engine, version, tuple(args))
    if model.architecture is not Architecture.DECODER:
        warn.append(f"{model.name} is an {model.architecture.value} model: the engines serve it for embeddings "
                    f"or not at all, not for chat completions")
    return LaunchCommand(engine=engine, version=version, program=_program(engine, repo), args=tuple(args),
                         model_ref=repo, extra_options=extra, extra_options_path=path)


# ------------------------------------------------------------------------------------- manifests


def _name(plan: CapacityPlan, engine: Engine) -> str:
    """A DNS-1035 label (Service names): lowercase letters, digits and '-', a letter first, <= 63 chars."""
    base = re.sub(r"[^a-z0-9-]+", "-", f"{plan.model_id}-{engine.value}".lower()).strip("-")
    base = base if base[:1].isalpha() else "m-" + base
    return base[:63].rstrip("-")


def _replica_bounds(scenario: Scenario, plan: CapacityPlan, warn: list[str]) -> tuple[int, int]:
    """HPA bounds: the fewest and most replicas the plan runs in any hour of the week (at least 1:
    ``minReplicas`` 0 needs the alpha HPAScaleToZero gate)."""
    lo = max(1, min(plan.replicas) if plan.replicas else scenario.autoscaling.min_replicas)
    hi = max(lo, plan.peak_replicas)
    if scenario.autoscaling.scale_to_zero or (plan.replicas and min(plan.replicas) == 0):
        warn.append("the plan scales to zero replicas; the HorizontalPodAutoscaler keeps at least one "
                    "(minReplicas 0 needs the HPAScaleToZero feature gate)")
    return lo, hi


def _probes(port_name: str, path: str, cold_start_s: float) -> dict[str, Any]:
    """Startup, readiness and liveness probes on the engine's health endpoint. The startup window is an
    allowance of twice the planned cold start (model download and load), so a slower load is not killed."""
    period = 10
    get = {"httpGet": {"path": path, "port": port_name}}
    return {
        "startupProbe": {**get, "periodSeconds": period,
                         "failureThreshold": max(30, math.ceil(2 * cold_start_s / period))},
        "readinessProbe": {**get, "periodSeconds": period, "failureThreshold": 3},
        "livenessProbe": {**get, "periodSeconds": 30, "failureThreshold": 3, "timeoutSeconds": 5},
    }


def _container(cmd: LaunchCommand, image: str, port: int, health: str, resource: str, devices: int,
               cold_start_s: float) -> dict[str, Any]:
    mounts: list[dict[str, Any]] = [{"name": "dshm", "mountPath": "/dev/shm"}]  # noqa: S108 - shared memory for TP
    if cmd.extra_options:
        mounts.append({"name": "engine-config", "mountPath": "/config", "readOnly": True})
    return {
        "name": "engine",
        "image": image,
        "command": [cmd.argv[0]],
        "args": list(cmd.argv[1:]),
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "env": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token",
                                                                    "optional": True}}}],
        "resources": {"requests": {resource: str(devices)}, "limits": {resource: str(devices)}},
        "volumeMounts": mounts,
        **_probes("http", health, cold_start_s),
    }


def _node_selector(plan: CapacityPlan, warn: list[str]) -> dict[str, str]:
    if plan.provider in LABEL_CLOUDS and plan.instance_type:
        return {INSTANCE_TYPE_LABEL: plan.instance_type}
    warn.append(f"{plan.provider}: no instance-type node label is known; add a node selector for "
                f"{plan.hardware_name} nodes")
    return {}


def _deployment(name: str, cmd: LaunchCommand, plan: CapacityPlan, scenario: Scenario, replicas: int,
                warn: list[str]) -> dict[str, Any]:
    hw = catalog.get_hardware(plan.hardware_id)
    resource = _resource(hw)
    img = _image(cmd.engine, cmd.version, hw.vendor)
    image = f"{img['image']}:{img['tag']}"
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "llm-server"}
    volumes: list[dict[str, Any]] = [{"name": "dshm", "emptyDir": {"medium": "Memory"}}]
    if cmd.extra_options:
        volumes.append({"name": "engine-config", "configMap": {"name": f"{name}-config"}})
    pod: dict[str, Any] = {
        "containers": [_container(cmd, image, int(img["port"]), str(img["health_path"]), resource,
                                  plan.devices_per_replica, scenario.autoscaling.cold_start_s)],
        "volumes": volumes,
        "tolerations": [{"key": resource, "operator": "Exists", "effect": "NoSchedule"}],
    }
    selector = _node_selector(plan, warn)
    if selector:
        pod["nodeSelector"] = selector
    if plan.devices_per_replica > plan.accelerators_per_instance:
        warn.append(f"one replica spans {math.ceil(plan.devices_per_replica / plan.accelerators_per_instance)} "
                    f"nodes ({plan.devices_per_replica} accelerators, {plan.accelerators_per_instance} per node): a "
                    f"Deployment pod cannot; use a multi-node launcher (e.g. LeaderWorkerSet)")
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                     "template": {"metadata": {"labels": labels}, "spec": pod}}}


def _service(name: str, port: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": {"app.kubernetes.io/name": name}},
            "spec": {"type": "ClusterIP", "selector": {"app.kubernetes.io/name": name},
                     "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}}


def _hpa(name: str, plan: CapacityPlan, scenario: Scenario, lo: int, hi: int) -> dict[str, Any]:
    """``autoscaling/v2`` HPA on the per-pod request rate with target ``lambda*`` (the plan's
    ``max_rps_per_replica``): the HPA's ``desired = ceil(current * metric / target)`` then equals the
    planner's ``n_h = ceil(lambda_h / lambda*)`` (Kubernetes HPA algorithm docs; ``capacity.plan`` step 3).
    Scale-up waits the scenario's scale-up delay (stabilization window)."""
    target = f"{max(plan.max_rps_per_replica, 0.001) * 1000:.0f}m"  # milli-requests per second
    up = min(MAX_STABILIZATION_S, int(scenario.autoscaling.scale_up_delay_s))
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": name},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                     "minReplicas": lo, "maxReplicas": hi,
                     "metrics": [{"type": "Pods", "pods": {"metric": {"name": REQUESTS_METRIC},
                                                           "target": {"type": "AverageValue", "averageValue": target}}}],
                     "behavior": {"scaleUp": {"stabilizationWindowSeconds": up}}}}


def manifests(scenario: Scenario, plan: CapacityPlan, cmd: LaunchCommand,
              warnings: list[str] | None = None) -> tuple[Manifest, ...]:
    """Deployment, Service, HorizontalPodAutoscaler (and ConfigMap for TensorRT-LLM extra options)."""
    warn = warnings if warnings is not None else []
    name = _name(plan, cmd.engine)
    lo, hi = _replica_bounds(scenario, plan, warn)
    port = int(cmd.value("--port") or 0)
    out = [Manifest(kind="Deployment", name=name, body=_deployment(name, cmd, plan, scenario, lo, warn)),
           Manifest(kind="Service", name=name, body=_service(name, port)),
           Manifest(kind="HorizontalPodAutoscaler", name=name, body=_hpa(name, plan, scenario, lo, hi))]
    if cmd.extra_options:
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{name}-config"},
                "data": {"extra_llm_api_options.yaml": yaml.safe_dump(cmd.extra_options, sort_keys=False)}}
        out.append(Manifest(kind="ConfigMap", name=f"{name}-config", body=body))
    return tuple(out)


def bundle(scenario: Scenario, plan: CapacityPlan, *, speculative: SpeculativeSettings | None = None) -> DeployBundle:
    """The launch command and manifests for ``plan`` (the result of ``capacity.plan(scenario)``)."""
    warn: list[str] = []
    cmd = launch_command(scenario, plan, speculative=speculative, warnings=warn)
    objs = manifests(scenario, plan, cmd, warn)
    hpa = next(m for m in objs if m.kind == "HorizontalPodAutoscaler").body["spec"]
    img = _image(cmd.engine, cmd.version, catalog.get_hardware(plan.hardware_id).vendor)
    return DeployBundle(command=cmd, manifests=objs, image=f"{img['image']}:{img['tag']}", port=int(img["port"]),
                        health_path=str(img["health_path"]), min_replicas=hpa["minReplicas"],
                        max_replicas=hpa["maxReplicas"], warnings=tuple(dict.fromkeys(warn)))


# ----------------------------------------------------------------------------------------- files


def _launch_script(b: DeployBundle) -> str:
    lines = ["#!/usr/bin/env bash", "# One replica of the plan; the manifests run it under Kubernetes.",
             f"# Image: {b.image}; health: http://localhost:{b.port}{b.health_path}", "set -euo pipefail"]
    lines += [f"# warning: {w}" for w in b.warnings]
    cmd = b.command
    if cmd.extra_options:
        local = "extra_llm_api_options.yaml"
        lines += [f"cat > {local} <<'EOF'", yaml.safe_dump(cmd.extra_options, sort_keys=False).rstrip(), "EOF"]
        args = tuple((f, local if f == "--extra_llm_api_options" else v) for f, v in cmd.args)
        cmd = cmd.model_copy(update={"args": args})
    return "\n".join([*lines, cmd.shell(), ""])


def files(b: DeployBundle) -> dict[str, str]:
    """``launch.sh`` and one YAML file per manifest (``deployment.yaml``, ``service.yaml``, ``hpa.yaml``,
    ``configmap.yaml``)."""
    names = {"Deployment": "deployment.yaml", "Service": "service.yaml", "HorizontalPodAutoscaler": "hpa.yaml",
             "ConfigMap": "configmap.yaml"}
    out = {"launch.sh": _launch_script(b)}
    for m in b.manifests:
        out[names[m.kind]] = yaml.safe_dump(m.body, sort_keys=False)
    return out


def manifests_name(b: DeployBundle) -> str:
    """The objects' name (the Deployment's), e.g. ``llama-3-1-8b-vllm``."""
    return b.manifest("Deployment").name


def zip_bytes(b: DeployBundle) -> bytes:
    """The files of :func:`files` in one zip archive (``launch.sh`` executable)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files(b).items():
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if name.endswith(".sh") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text)
    return buf.getvalue()
