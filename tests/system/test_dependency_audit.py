"""scripts/audit_dependencies.py: a finding fails, an unreachable service skips with a reason.

The real pip-audit runs against the real runtime lock; only the vulnerability database is
replaced, by a local OSV-compatible server (pip-audit's --osv-url), so the tests run offline.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "audit_dependencies.py"
ADVISORY = {
    "schema_version": "1.6.0",
    "id": "GHSA-test-0000-0000",
    "aliases": ["CVE-2099-0001"],
    "summary": "Test advisory",
    "affected": [
        {
            "package": {"name": "requests", "ecosystem": "PyPI"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "99.0"}]}],
        }
    ],
}


class FakeOsv(BaseHTTPRequestHandler):
    """Answers OSV's /v1/query: the advisory for the packages in `vulnerable`, else nothing."""

    vulnerable: set[str] = set()

    def do_POST(self) -> None:
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        hit = query["package"]["name"] in self.vulnerable
        body = json.dumps({"vulns": [ADVISORY]} if hit else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def osv() -> Iterator[tuple[str, type[FakeOsv]]]:
    handler = type("Handler", (FakeOsv,), {"vulnerable": set()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/query", handler
    server.shutdown()
    server.server_close()


def audit(osv_url: str, lock: Path = ROOT / "requirements.txt", **env: str):
    environment = {
        **os.environ,
        "PIP_AUDIT_VULNERABILITY_SERVICE": "osv",
        "PIP_AUDIT_OSV_URL": osv_url,
        "NO_PROXY": "127.0.0.1",  # the fake service is local, whatever proxy CI sets
        "no_proxy": "127.0.0.1",
        **env,
    }
    return subprocess.run(  # noqa: S603 (the command is the repository's own script)
        [sys.executable, str(SCRIPT), str(lock)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_a_known_vulnerability_in_the_runtime_lock_fails_the_audit(osv):
    url, handler = osv
    handler.vulnerable = {"requests"}

    run = audit(url)

    assert run.returncode == 1, run.stdout + run.stderr
    assert "requests 2.34.2: CVE-2099-0001 (GHSA-test-0000-0000); fixed in: 99.0" in run.stderr


def test_a_clean_lock_passes_and_says_how_much_was_audited(osv):
    run = audit(osv[0])

    assert run.returncode == 0, run.stdout + run.stderr
    assert "no known vulnerabilities in the" in run.stdout


def test_an_unreachable_service_is_a_skip_with_its_reason_even_in_ci():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]

    run = audit(f"http://127.0.0.1:{closed}/v1/query", CI="true")

    assert run.returncode == 0, run.stdout + run.stderr
    assert "Dependency audit SKIPPED: the vulnerability service is unreachable" in run.stdout
    assert "Connection refused" in run.stdout


def test_an_audit_that_cannot_read_the_lock_fails(osv, tmp_path):
    lock = tmp_path / "requirements.txt"
    lock.write_text("requests==2.34.2\n")  # no hash: not a lock

    run = audit(osv[0], lock)

    assert run.returncode == 1
    assert "pip-audit failed" in run.stderr


def test_a_service_that_knows_none_of_the_packages_is_a_skip_not_a_pass(capsys):
    # What pip-audit answers here, where pypi.org is a mirror without the per-release JSON API.
    spec = importlib.util.spec_from_file_location("audit_dependencies", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    report = {
        "dependencies": [
            {"name": name, "skip_reason": f"Dependency not found on PyPI: {name}"}
            for name in ("asgiref", "django")
        ],
        "fixes": [],
    }
    run = subprocess.CompletedProcess([], 0, json.dumps(report), "No known vulnerabilities found")

    assert module.judge(run, "requirements.txt") == 0
    printed = capsys.readouterr().out
    assert "SKIPPED: the vulnerability service knows none of the 2 packages" in printed
    assert "no known vulnerabilities" not in printed
