"""Deployment handoff (``estimator.deploy``): launch commands per engine, every flag checked against the
engine version's own option list, Kubernetes manifests validated against the Kubernetes schemas, the
``deploy`` CLI and the capacity page's "Deploy this plan" section."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import stat
import zipfile
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from estimator import capacity, catalog, deploy, engines, memory
from estimator.__main__ import main
from estimator.errors import InvalidInputError
from estimator.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent
K8S_VERSION = "1.33"  # a Kubernetes minor release whose schemas kubernetes-validate ships offline


def _scenario(engine: str, model_id: str, **model: Any) -> Scenario:
    return Scenario().replace(model={"model_id": model_id, **model}, engine={"name": engine})


@pytest.fixture(scope="module")
def bundles() -> dict[str, tuple[Scenario, capacity.CapacityPlan, deploy.DeployBundle]]:
    """One dense and one mixture-of-experts plan per engine, with an FP8 KV cache."""
    out = {}
    for engine in ("vllm", "sglang", "trtllm"):
        for model_id in ("llama-3.1-70b", "mixtral-8x7b"):
            s = _scenario(engine, model_id, kv_dtype="fp8")
            p = capacity.plan(s)
            out[f"{engine}/{model_id}"] = (s, p, deploy.bundle(s, p))
    return out


def _csv_options() -> dict[tuple[str, str], dict[str, tuple[bool, list[str]]]]:
    """data/engine_cli_options.csv read with the csv module (independent of the code under test)."""
    out: dict[tuple[str, str], dict[str, tuple[bool, list[str]]]] = {}
    with (ROOT / "data" / "engine_cli_options.csv").open(newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            assert r["source"] and r["as_of"], r
            out.setdefault((r["engine"], r["version"]), {})[r["flag"]] = (
                r["takes_value"] == "true", [c for c in r["choices"].split(";") if c])
    return out


def test_every_emitted_flag_is_an_option_of_that_engine_version(bundles: dict[str, Any]) -> None:
    options = _csv_options()
    for key, (_, _, b) in bundles.items():
        cmd = b.command
        known = options[(cmd.engine.value, cmd.version)]
        assert cmd.flags, key
        for flag, value in cmd.args:
            assert flag in known, f"{key}: {flag} is not in data/engine_cli_options.csv"
            takes, choices = known[flag]
            assert takes == (value is not None), f"{key}: {flag}"
            assert not choices or value in choices, f"{key}: {flag} {value}"


def test_the_option_lists_hold_the_engines_own_flags() -> None:
    # vLLM 0.10.2 arg_utils.py / SGLang 0.4.10.post2 server_args.py / trtllm-serve docs; SGLang's KV-cache
    # choices are auto, fp8_e5m2, fp8_e4m3 (no plain fp8), vLLM's include fp8.
    vllm, sglang, trt = (deploy.cli_options(*k) for k in (("vllm", "0.10"), ("sglang", "0.4"), ("trtllm", "1.0")))
    assert vllm["--tensor-parallel-size"] == (True, ())
    assert vllm["--enable-expert-parallel"][0] is False
    assert "fp8" in vllm["--kv-cache-dtype"][1] and "fp8" in vllm["--quantization"][1]
    assert sglang["--kv-cache-dtype"] == (True, ("auto", "fp8_e5m2", "fp8_e4m3"))
    assert sglang["--speculative-algorithm"][1] == ("EAGLE", "EAGLE3", "NEXTN")
    assert trt["--kv_cache_free_gpu_memory_fraction"] == (True, ())
    assert trt["--trust_remote_code"] == (False, ())
    with pytest.raises(InvalidInputError, match="no command-line options"):
        deploy.cli_options("vllm", "0.99")


def test_check_flags_refuses_what_the_engine_would_refuse() -> None:
    with pytest.raises(InvalidInputError, match="not one of its choices"):
        deploy.check_flags("sglang", "0.4", (("--kv-cache-dtype", "fp8"),))
    with pytest.raises(InvalidInputError, match="not a command-line option"):
        deploy.check_flags("vllm", "0.10", (("--tp-size", "2"),))  # SGLang's spelling, not vLLM's
    with pytest.raises(InvalidInputError, match="switch"):
        deploy.check_flags("vllm", "0.10", (("--enable-expert-parallel", "true"),))
    deploy.check_flags("vllm", "0.10", (("--kv-cache-dtype", "fp8"), ("--enable-expert-parallel", None)))


def test_vllm_command_carries_the_plan(bundles: dict[str, Any]) -> None:
    s, p, b = bundles["vllm/llama-3.1-70b"]
    cmd = b.command
    assert cmd.program == ("vllm", "serve", "meta-llama/Llama-3.1-70B")  # data/hf_repos.csv
    assert cmd.value("--tensor-parallel-size") == str(p.tp)
    assert cmd.value("--max-num-seqs") == str(p.max_batch)
    assert cmd.value("--max-model-len") == str(catalog.get_model("llama-3.1-70b").max_context)
    # vLLM's --gpu-memory-utilization default 0.9 (data/engines.csv, vLLM CacheConfig)
    assert float(cmd.value("--gpu-memory-utilization") or 0) == pytest.approx(0.9)
    assert cmd.value("--kv-cache-dtype") == "fp8" and cmd.value("--dtype") == "bfloat16"
    assert "--enable-expert-parallel" not in cmd.flags  # a dense model
    es = engines.for_scenario(s, catalog.get_hardware(p.hardware_id), p.tp)
    assert cmd.value("--max-num-batched-tokens") == str(es.prefill_chunk_tokens)


def test_moe_models_split_experts_over_the_tensor_parallel_group(bundles: dict[str, Any]) -> None:
    for engine, flag in (("vllm", "--enable-expert-parallel"), ("sglang", "--ep-size"), ("trtllm", "--ep_size")):
        _, p, b = bundles[f"{engine}/mixtral-8x7b"]
        if p.tp > 1:
            assert flag in b.command.flags
            assert engine == "vllm" or b.command.value(flag) == str(p.tp)
        else:
            assert flag not in b.command.flags


def test_sglang_command_uses_its_own_spellings(bundles: dict[str, Any]) -> None:
    _, p, b = bundles["sglang/llama-3.1-70b"]
    cmd = b.command
    assert cmd.program == ("python3", "-m", "sglang.launch_server")
    assert cmd.value("--model-path") == "meta-llama/Llama-3.1-70B"
    assert cmd.value("--kv-cache-dtype") == "fp8_e4m3"
    assert cmd.value("--max-running-requests") == str(p.max_batch)
    # SGLang server_args.py: mem_fraction_static 0.88 at tp 1, 0.87 at tp 2, 0.85 at tp 4, 0.81 at tp 8
    expected = {1: 0.88, 2: 0.87, 4: 0.85, 8: 0.81}[p.tp]
    assert float(cmd.value("--mem-fraction-static") or 0) == pytest.approx(expected)
    assert b.port == 30000 and cmd.value("--port") == "30000" and cmd.value("--host") == "0.0.0.0"


def test_trtllm_kv_cache_format_goes_into_the_extra_options_file(bundles: dict[str, Any]) -> None:
    _, p, b = bundles["trtllm/llama-3.1-70b"]
    cmd = b.command
    assert cmd.program[0] == "trtllm-serve" and cmd.value("--tp_size") == str(p.tp)
    assert cmd.extra_options == {"kv_cache_config": {"dtype": "fp8"}}
    cm = b.manifest("ConfigMap").body
    assert yaml.safe_load(cm["data"]["extra_llm_api_options.yaml"]) == cmd.extra_options
    mounts = b.manifest("Deployment").body["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "engine-config", "mountPath": "/config", "readOnly": True} in mounts
    assert cmd.value("--extra_llm_api_options") == "/config/extra_llm_api_options.yaml"
    script = deploy.files(b)["launch.sh"]
    assert "cat > extra_llm_api_options.yaml <<'EOF'" in script and "--extra_llm_api_options extra_llm_api_options.yaml" in script


def test_a_tp8_plan_emits_tp8_and_requests_eight_gpus() -> None:
    s = Scenario().replace(model={"model_id": "llama-3.1-70b"}, deploy={"hardware_id": "h100-sxm", "tp": 8})
    p = capacity.plan(s)
    assert p.tp == 8
    b = deploy.bundle(s, p)
    assert b.command.value("--tensor-parallel-size") == "8"
    container = b.manifest("Deployment").body["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"] == {"nvidia.com/gpu": str(p.devices_per_replica)} == {"nvidia.com/gpu": "8"}
    assert container["args"][container["args"].index("--tensor-parallel-size") + 1] == "8"


def test_max_model_len_is_the_longest_request_one_replica_holds() -> None:
    # Llama 3.1 70B in BF16 on 2 x H100 80GB: ~70.5 GB of weights per GPU leave room for far fewer than
    # the 131,072-token context window (Llama 3.1 config.json max_position_embeddings), and vLLM refuses
    # to start when one --max-model-len sequence does not fit its KV cache.
    s = Scenario().replace(model={"model_id": "llama-3.1-70b"}, deploy={"hardware_id": "h100-sxm", "tp": 2})
    p = capacity.plan(s)
    b = deploy.bundle(s, p)
    n = int(b.command.value("--max-model-len") or 0)
    model, hw = catalog.get_model("llama-3.1-70b"), catalog.get_hardware("h100-sxm")
    u = engines.memory_utilization(engines.for_scenario(s, hw, 2), model, hw, "bf16", "bf16", tp=2)

    def fits(tokens: int) -> bool:
        return memory.inference_memory(model, "bf16", "bf16", tokens, 1, hardware=hw, tp=2, memory_utilization=u,
                                       runtime_overhead_bytes=s.assumptions.runtime_overhead_gb * 1e9).fits is True

    assert 0 < n < model.max_context == 131_072 and fits(n) and not fits(n + 1)
    assert any(f"{n:,} tokens" in w for w in b.warnings)
    # where the whole window fits, the window is the limit (the planner admits requests up to it)
    s8 = _scenario("vllm", "llama-3.1-8b")
    assert deploy.bundle(s8, capacity.plan(s8)).command.value("--max-model-len") == "131072"


def test_an_amd_plan_requests_amd_gpus_from_the_rocm_image() -> None:
    s = Scenario().replace(model={"model_id": "llama-3.1-70b"},
                           deploy={"hardware_id": "mi300x", "provider": "azure", "region": "eastus"})
    p = capacity.plan(s)
    b = deploy.bundle(s, p)
    pod = b.manifest("Deployment").body["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"] == {"amd.com/gpu": str(p.devices_per_replica)}
    assert b.image.startswith("rocm/vllm:") and "vllm_0.10" in b.image  # data/engine_images.csv
    assert pod["nodeSelector"] == {"node.kubernetes.io/instance-type": "Standard_ND96isr_MI300X_v5"}
    for m in b.manifests:
        kubernetes_validate.validate(m.body, K8S_VERSION, strict=True)
    trt = s.replace(engine={"name": "trtllm"})
    with pytest.raises(InvalidInputError, match=r"no TensorRT-LLM 1\.0 image for amd"):
        deploy.bundle(trt, capacity.plan(trt))


def test_manifests_validate_against_the_kubernetes_schemas(bundles: dict[str, Any]) -> None:
    for key, (_, _, b) in bundles.items():
        kinds = [m.kind for m in b.manifests]
        assert kinds[:3] == ["Deployment", "Service", "HorizontalPodAutoscaler"], key
        for m in b.manifests:
            assert kubernetes_validate.validate(m.body, K8S_VERSION, strict=True) == K8S_VERSION, (key, m.kind)
    # the validator is live: a manifest the API would refuse fails
    body = json.loads(json.dumps(bundles["vllm/llama-3.1-70b"][2].manifest("HorizontalPodAutoscaler").body))
    body["spec"]["minReplicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(body, K8S_VERSION, strict=True)


def test_the_schemas_are_read_without_network(monkeypatch: pytest.MonkeyPatch, bundles: dict[str, Any]) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("network use in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for m in bundles["sglang/mixtral-8x7b"][2].manifests:
        kubernetes_validate.validate(m.body, K8S_VERSION, strict=True)


def test_deployment_and_autoscaler_follow_the_plan(bundles: dict[str, Any]) -> None:
    s, p, b = bundles["vllm/llama-3.1-70b"]
    dep = b.manifest("Deployment").body
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert c["image"] == "vllm/vllm-openai:v0.10.2" == b.image  # data/engine_images.csv
    assert [c["command"][0], *c["args"]] == list(b.command.argv)
    assert c["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert pod["nodeSelector"] == {"node.kubernetes.io/instance-type": p.instance_type}
    hpa = b.manifest("HorizontalPodAutoscaler").body["spec"]
    assert hpa["minReplicas"] == max(1, min(p.replicas)) == dep["spec"]["replicas"]
    assert hpa["maxReplicas"] == p.peak_replicas
    assert hpa["maxReplicas"] > hpa["minReplicas"]  # the default diurnal week scales
    target = hpa["metrics"][0]["pods"]["target"]["averageValue"]
    assert float(target.rstrip("m")) / 1000 == pytest.approx(p.max_rps_per_replica, abs=1e-3)
    assert hpa["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == int(s.autoscaling.scale_up_delay_s)
    svc = b.manifest("Service").body
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]


def test_every_catalog_repository_row_names_a_catalog_model() -> None:
    known = {m.model_id for m in catalog.list_models()}
    with (ROOT / "data" / "hf_repos.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and all(r["model_id"] in known and "/" in r["hf_repo"] and r["source"] and r["as_of"] for r in rows)


def test_a_model_without_a_public_checkpoint_is_mounted_with_a_warning() -> None:
    s = _scenario("vllm", "nlarge-m")
    b = deploy.bundle(s, capacity.plan(s))
    assert b.command.program[2] == "/models/nlarge-m"
    assert any("no public Hugging Face checkpoint" in w for w in b.warnings)


def test_speculative_decoding_hook() -> None:
    s = _scenario("vllm", "llama-3.1-8b")
    p = capacity.plan(s)
    spec = deploy.SpeculativeSettings(method="eagle", draft_model="yuhuili/EAGLE-LLaMA3.1-Instruct-8B", num_tokens=3)
    conf = json.loads(deploy.bundle(s, p, speculative=spec).command.value("--speculative-config") or "")
    assert conf == {"method": "eagle", "num_speculative_tokens": 3, "model": "yuhuili/EAGLE-LLaMA3.1-Instruct-8B"}
    sg = _scenario("sglang", "llama-3.1-8b")
    cmd = deploy.bundle(sg, capacity.plan(sg), speculative=spec).command
    assert (cmd.value("--speculative-algorithm"), cmd.value("--speculative-num-draft-tokens")) == ("EAGLE", "4")
    with pytest.raises(InvalidInputError, match=r"SGLang 0\.4 has no ngram"):
        deploy.bundle(sg, capacity.plan(sg), speculative=deploy.SpeculativeSettings(method="ngram"))


def test_the_scenarios_speculative_decoding_reaches_the_command() -> None:
    from estimator import speculative

    s = _scenario("vllm", "llama-3.1-8b").replace(serving={"speculative": "draft", "spec_tokens": 4})
    conf = json.loads(deploy.bundle(s, capacity.plan(s)).command.value("--speculative-config") or "")
    drafter = speculative.drafter_for(catalog.get_model("llama-3.1-8b"), "draft", "bf16", "bf16")
    assert conf == {"method": "draft_model", "num_speculative_tokens": 4, "model": deploy.hf_repo(drafter.spec)}
    # SGLang 0.4's --speculative-algorithm has no draft-model choice: a warning, not a refused flag
    sg = s.replace(engine={"name": "sglang"})
    b = deploy.bundle(sg, capacity.plan(sg))
    assert not [f for f in b.command.flags if f.startswith("--speculative")]
    assert any("without speculative decoding" in w for w in b.warnings)
    off = _scenario("vllm", "llama-3.1-8b")
    assert "--speculative-config" not in deploy.bundle(off, capacity.plan(off)).command.flags


def test_zip_holds_the_files(bundles: dict[str, Any]) -> None:
    b = bundles["trtllm/mixtral-8x7b"][2]
    with zipfile.ZipFile(io.BytesIO(deploy.zip_bytes(b))) as zf:
        names = set(zf.namelist())
        assert names == {"launch.sh", "deployment.yaml", "service.yaml", "hpa.yaml", "configmap.yaml"}
        assert (zf.getinfo("launch.sh").external_attr >> 16) & stat.S_IXUSR
        assert yaml.safe_load(zf.read("hpa.yaml"))["kind"] == "HorizontalPodAutoscaler"


def test_cli_writes_the_files_and_prints_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "deploy"
    assert main(["deploy", "?m=llama-3.1-8b&eng=sglang&kd=fp8", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("python3 -m sglang.launch_server")
    assert sorted(os.listdir(out)) == ["deployment.yaml", "hpa.yaml", "launch.sh", "service.yaml"]
    assert os.access(out / "launch.sh", os.X_OK) and printed.strip() in (out / "launch.sh").read_text()
    for name in ("deployment.yaml", "service.yaml", "hpa.yaml"):
        kubernetes_validate.validate(yaml.safe_load((out / name).read_text()), K8S_VERSION, strict=True)
    assert main(["deploy", "?m=no-such-model"]) == 2
    assert "no-such-model" in capsys.readouterr().err


def test_cli_deploys_an_imported_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "OLMo-2-1124-7B" / "config.json"
    cfg.parent.mkdir()
    cfg.write_bytes((ROOT / "tests" / "data" / "hf_configs" / "allenai__OLMo-2-1124-7B.json").read_bytes())
    assert main(["deploy", "?rpd=1e6", "--model-config", str(cfg), "--output", str(tmp_path / "o")]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("vllm serve OLMo-2-1124-7B")  # an imported model is served under its name
    assert "not a Hugging Face repository id" in captured.err  # no owner/ part: the operator must say where
    dep = yaml.safe_load((tmp_path / "o" / "deployment.yaml").read_text())
    assert dep["metadata"]["name"].startswith("imported-olmo-2-1124-7b-")
    kubernetes_validate.validate(dep, K8S_VERSION, strict=True)


def test_capacity_page_shows_the_deploy_section() -> None:
    at = AppTest.from_file("../pages/capacity.py", default_timeout=30)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(md.value == "#### Deploy this plan" for md in at.markdown)
    s = Scenario()
    expected = deploy.bundle(s, capacity.plan(s)).command.shell()
    assert [c.value for c in at.code if c.value.startswith("vllm serve")] == [expected]
    assert any(d.proto.label.startswith("Launch script and Kubernetes manifests") for d in at.get("download_button"))
