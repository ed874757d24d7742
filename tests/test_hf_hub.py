"""Import by Hub model id, offline: a loopback stand-in for the Hugging Face Hub serves the fixtures.

The stand-in answers the two requests ``huggingface_hub.hf_hub_download`` makes per file: a ``HEAD``
on ``/{repo}/resolve/{revision}/{filename}`` that must carry ``X-Repo-Commit``, ``ETag`` and
``Content-Length``, then a ``GET`` of the same URL; errors carry the Hub's ``X-Error-Code`` header
(``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``), as ``huggingface_hub.utils.hf_raise_for_status``
reads them. ``HF_ENDPOINT`` points at it and ``HF_HOME`` at a temporary folder.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote, urlparse

import pytest

from estimator import hf, memory
from estimator.errors import ConfigError
from estimator.units import DType

FIXTURES = Path(__file__).parent / "data" / "hf_configs"
HUB_FILES = Path(__file__).parent / "data" / "hf_hub"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
# transformers' save_pretrained writes metadata.total_parameters into model.safetensors.index.json
# (the value here is made up for the test: the import must take it over, not compute it).
SCOUT_INDEX = {"metadata": {"total_parameters": 108_641_793_536, "total_size": 217_283_587_072},
               "weight_map": {}}


def _repos() -> dict[str, dict[str, bytes]]:
    def fixture(name: str) -> bytes:
        return (FIXTURES / name).read_bytes()

    return {
        "openai/gpt-oss-20b": {"config.json": fixture("openai__gpt-oss-20b.json")},
        "meta-llama/Llama-4-Scout-17B-16E-Instruct": {
            "config.json": fixture("meta-llama__Llama-4-Scout-17B-16E-Instruct.json"),
            "model.safetensors.index.json": json.dumps(SCOUT_INDEX).encode(),
        },
        "tiiuae/falcon-7b-instruct": {"config.json": fixture("tiiuae__falcon-7b-instruct.json")},
        "broken/config": {"config.json": b'{"model_type": "llama", "hidden_size": '},
        "empty/repo": {"README.md": b"no config here"},
        "nvidia/DeepSeek-V3.1-NVFP4": {
            "config.json": fixture("nvidia__DeepSeek-V3.1-NVFP4.json"),
            # NVIDIA's hf_quant_config.json (copy from ai-dynamo/aiconfigurator, see tests/data/hf_hub/README.md)
            "hf_quant_config.json": (HUB_FILES / "nvidia__DeepSeek-V3.1-NVFP4.hf_quant_config.json").read_bytes(),
        },
    }


class _HubHandler(BaseHTTPRequestHandler):
    repos: ClassVar[dict[str, dict[str, bytes]]] = {}

    def log_message(self, format: str, *args: object) -> None:
        return

    def _resolve(self) -> tuple[int, dict[str, str], bytes]:
        parts = unquote(urlparse(self.path).path).lstrip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return 404, {"X-Error-Code": "RepoNotFound"}, b"not found"
        repo, revision, filename = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
        if repo not in self.repos:
            return 404, {"X-Error-Code": "RepoNotFound"}, b"Repository not found"
        if revision not in ("main", COMMIT):
            return 404, {"X-Error-Code": "RevisionNotFound"}, b"Revision not found"
        body = self.repos[repo].get(filename)
        if body is None:
            return 404, {"X-Error-Code": "EntryNotFound"}, b"Entry not found"
        etag = '"' + hashlib.sha256(body).hexdigest() + '"'
        return 200, {"X-Repo-Commit": COMMIT, "ETag": etag, "Content-Type": "application/json"}, body

    def _answer(self, with_body: bool) -> None:
        status, headers, body = self._resolve()
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def do_GET(self) -> None:
        self._answer(with_body=True)


@pytest.fixture()
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """A stand-in Hub on 127.0.0.1 (a free port), with HF_ENDPOINT and HF_HOME pointing at it."""
    handler = type("Handler", (_HubHandler,), {"repos": _repos()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()


def test_import_by_id_reads_config_and_quantization(hub: str) -> None:
    got = hf.import_from_hub("openai/gpt-oss-20b")
    # gpt-oss model card (arXiv:2508.10925 Table 1, quoted in public summaries): 20.9B parameters in all.
    assert got.spec.params_total == pytest.approx(20.91e9, rel=5e-4)
    assert got.weight_dtype == DType.MXFP4 and got.experts_only
    assert got.source == "Hugging Face Hub openai/gpt-oss-20b config.json"
    assert got.checkpoint_params is None  # this repo has no index file: the shape count stands
    assert got.spec.name == "openai/gpt-oss-20b"


def test_import_by_id_is_cached_under_hf_home(hub: str, tmp_path: Path) -> None:
    hf.import_from_hub("tiiuae/falcon-7b-instruct")
    cached = list((tmp_path / "hf-home" / "hub").glob("models--tiiuae--falcon-7b-instruct/snapshots/*/config.json"))
    assert len(cached) == 1
    assert json.loads(cached[0].read_text())["model_type"] == "RefinedWebModel"


def test_checkpoint_total_replaces_the_shape_count(hub: str) -> None:
    got = hf.import_from_hub("meta-llama/Llama-4-Scout-17B-16E-Instruct", revision=COMMIT)
    assert got.checkpoint_params == SCOUT_INDEX["metadata"]["total_parameters"]
    assert got.spec.params_total == SCOUT_INDEX["metadata"]["total_parameters"]
    # the text decoder's active count is kept (17.17B: Meta's "17B active")
    assert got.spec.params_active == pytest.approx(17e9, rel=0.02)
    assert any("checkpoint index" in note for note in got.assumptions)
    assert memory.weights_bytes(got.spec, "bf16") == 2 * SCOUT_INDEX["metadata"]["total_parameters"]


@pytest.mark.parametrize(
    ("repo", "revision", "message"),
    [
        ("nobody/nothing", None, "no model 'nobody/nothing'"),
        ("openai/gpt-oss-20b", "v9", "no such revision"),
        ("broken/config", None, "not valid JSON"),
        ("not a repo id", None, "not a Hugging Face model id"),
        ("openai/gpt-oss-20b", "../../etc", "not a revision"),
    ],
)
def test_hub_errors_are_config_errors(hub: str, repo: str, revision: str | None, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        hf.import_from_hub(repo, revision=revision)


def test_missing_config_file_is_named(hub: str) -> None:
    with pytest.raises(ConfigError, match=r"has no config\.json"):
        hf.import_from_hub("empty/repo")


def test_offline_without_cache_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on: connection refused, as when offline
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with pytest.raises(ConfigError, match="cannot reach"):
        hf.import_from_hub("openai/gpt-oss-20b", timeout_s=2.0)


def test_offline_after_a_first_import_uses_the_cache(hub: str, monkeypatch: pytest.MonkeyPatch) -> None:
    first = hf.import_from_hub("openai/gpt-oss-20b")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    again = hf.import_from_hub("openai/gpt-oss-20b", timeout_s=2.0)
    assert again.spec == first.spec


def test_modelopt_export_takes_its_format_from_hf_quant_config(hub: str) -> None:
    # nvidia/DeepSeek-V3.1-NVFP4: config.json has no quantization_config; hf_quant_config.json says
    # "quant_algo": "NVFP4", "kv_cache_quant_algo": "FP8" (TensorRT Model Optimizer export).
    got = hf.import_from_hub("nvidia/DeepSeek-V3.1-NVFP4")
    assert got.weight_dtype == DType.NVFP4
    assert any("hf_quant_config.json" in n for n in got.assumptions)
    assert any("FP8 KV cache" in n for n in got.assumptions)
    # the architecture is DeepSeek-V3's: 671B in the main model (DeepSeek-V3 report)
    assert got.spec.params_total == pytest.approx(671e9, rel=0.5 / 671)



def test_memory_page_imports_by_model_id(hub: str) -> None:
    # The memory page's "Hugging Face model id" box: gpt-oss-20b arrives with its MXFP4 weight format and
    # becomes the scenario's model (the link carries it).
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "pages" / "memory.py"), default_timeout=60)
    at.query_params["src"] = "config"
    at.run()
    at.text_input(key="cfg_hub").set_value("openai/gpt-oss-20b").run()
    assert not at.exception, [e.value for e in at.exception]
    assert str(at.query_params["m"]).startswith("imported-") and at.query_params["mc"]
    assert at.selectbox(key="wd").value == "mxfp4"


def test_cli_report_by_model_id(hub: str) -> None:
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "estimator", "report", "?rpd=1e6", "--hf-model", "openai/gpt-oss-20b",
                          "--page", "memory", "--format", "json"], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parent.parent, check=False)
    assert out.returncode == 0, out.stderr
    model = json.loads(out.stdout)["scenario"]["model"]
    assert model["weight_dtype"] == "mxfp4" and model["custom"]["n_experts"] == 32
