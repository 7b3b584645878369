"""A bounded schemathesis run against /openapi.json: whatever it sends, no 5xx. The key has every scope,
`cases` included, and the run must have exercised every /v1/cases operation of the schema."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx

from service_helpers import PY, child_env


def test_schemathesis_finds_no_server_error(api, tmp_path):
    key = api.key("fuzzer", "submit", "match", "export", "admin", "cases", rate=1_000_000)
    spec = httpx.get(api.url + "/openapi.json", timeout=30).json()
    cases_ops = {f"{m.upper()} {p}" for p, ops in spec["paths"].items() if p.startswith("/v1/cases")
                 for m in ops if m in ("get", "post", "put", "patch", "delete")}
    assert len(cases_ops) >= 8, sorted(cases_ops)  # the cases API is in the schema
    exe = Path(PY).parent / "schemathesis"
    junit = tmp_path / "junit.xml"
    # One worker: hypothesis' lambda-source parsing is not thread-safe on CPython 3.11. 25 examples per
    # operation keep it bounded (about 20 s per database on 2 cores; it runs in `make test`).
    r = subprocess.run([str(exe), "run", api.url + "/openapi.json", "--checks", "not_a_server_error",
                        "--max-examples", "25", "--workers", "1",
                        "--no-color", "--seed", "1", "-H", f"Authorization: Bearer {key}",
                        "--report", "junit", "--report-junit-path", str(junit)],
                       cwd=tmp_path, env=child_env({"NO_COLOR": "1"}), capture_output=True, text=True, timeout=500)
    tail = r.stdout[-4000:] + r.stderr[-2000:]
    assert r.returncode == 0, tail
    assert "passed" in r.stdout and "Server error" not in r.stdout, tail
    tested = {tc.get("name") for tc in ET.parse(junit).getroot().iter("testcase")
              if not any(child.tag in ("skipped", "error", "failure") for child in tc)}
    assert cases_ops <= tested, (sorted(cases_ops - tested), sorted(tested)[:20])
    assert "Traceback" not in api.log_text(), api.log_text()
