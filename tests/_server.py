"""Start ``streamlit run`` on a free loopback port and wait for its health endpoint: shared by the
browser tests (``tests/browser/conftest.py``) and the browser benchmarks (``bench/_browser.py``).

``--server.address 127.0.0.1`` and ``--server.headless true`` keep Streamlit off the internet.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    """Poll ``URL/_stcore/health`` until it answers 200; raise if the server exits or the time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"streamlit did not become healthy within {timeout_s:.0f} s")


@contextmanager
def streamlit_server(script: str, home: Path, *, port: int | None = None, log_name: str | None = None,
                     env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Run ``streamlit run SCRIPT`` (relative to the repository root) on 127.0.0.1 with ``LLMCP_HOME=home``;
    yield its URL once healthy. The server is always stopped on exit; its log goes to ``home/log_name``."""
    port = port or free_port()
    log_path = home / (log_name or f"server-{port}.log")
    cmd = [sys.executable, "-m", "streamlit", "run", script, "--server.address", "127.0.0.1",
           "--server.headless", "true", "--server.port", str(port), "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "LLMCP_HOME": str(home), **(env or {})},
                                stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, proc)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
