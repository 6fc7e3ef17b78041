"""Audit the runtime lock for known vulnerabilities with pip-audit; scripts/test runs it.

A known vulnerability in a locked package fails (exit 1), everywhere. When the vulnerability
service cannot be reached, or knows none of the locked packages (a mirror that serves the
package index but not PyPI's JSON API answers 404 for every release), nothing was audited: that
is printed as a skip with its reason and does not fail, so the tests still run offline and CI
fails on a finding, never on the network. Any other pip-audit failure fails: an audit that
silently stopped working would look like a clean one.

Usage: python scripts/audit_dependencies.py [LOCK_FILE]   (default requirements.txt)
pip-audit's own variables apply, e.g. PIP_AUDIT_VULNERABILITY_SERVICE=osv.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

DEFAULT_LOCK = "requirements.txt"
# pip-audit reports a connect timeout as "Could not connect ..." and an HTTP error from the
# service as ServiceError, but lets other requests errors (DNS, refused, proxy) escape as a
# traceback: each means the service did not answer.
UNREACHABLE = re.compile(
    r"^(requests\.exceptions\.\w+|\S*ServiceError\b|.*Could not connect)", re.MULTILINE
)


def run_pip_audit(lock: str) -> subprocess.CompletedProcess[str]:
    # --disable-pip with --require-hashes audits the lock as written: no virtualenv is built
    # and nothing is downloaded, only the service is asked about each pinned release.
    command = [
        sys.executable,
        "-m",
        "pip_audit",
        "--requirement",
        lock,
        "--require-hashes",
        "--disable-pip",
        "--progress-spinner",
        "off",
        "--timeout",
        "10",
        "--format",
        "json",
    ]
    return subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 (a fixed command)


def report_findings(vulnerable: list[dict], lock: str) -> None:
    count = sum(len(d["vulns"]) for d in vulnerable)
    print(f"error: {count} known vulnerabilities in {lock}:", file=sys.stderr)
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed release yet"
            aliases = ", ".join(vuln.get("aliases") or [])
            print(
                f"  {dependency['name']} {dependency['version']}: {vuln['id']}"
                + (f" ({aliases})" if aliases else "")
                + f"; fixed in: {fixed}",
                file=sys.stderr,
            )
    print("Update the package (scripts/lock --upgrade-package NAME) and rerun.", file=sys.stderr)


def judge(run: subprocess.CompletedProcess[str], lock: str) -> int:
    """Print what the audit found and return the exit status (0: clean or skipped)."""
    try:
        report = json.loads(run.stdout)
    except ValueError:
        report = None
    if report is None:
        if UNREACHABLE.search(run.stderr):
            reason = run.stderr.strip().splitlines()[-1]
            print(f"Dependency audit SKIPPED: the vulnerability service is unreachable ({reason})")
            return 0
        print(f"error: pip-audit failed on {lock}:\n{run.stderr}", file=sys.stderr)
        return 1
    dependencies = report["dependencies"]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    if vulnerable:
        report_findings(vulnerable, lock)
        return 1
    skipped = [d for d in dependencies if "skip_reason" in d]
    if dependencies and len(skipped) == len(dependencies):
        print(
            "Dependency audit SKIPPED: the vulnerability service knows none of the "
            f"{len(dependencies)} packages in {lock}, so none was audited "
            f"(first answer: {skipped[0]['skip_reason']})"
        )
        return 0
    for dependency in skipped:
        print(f"warning: not audited: {dependency['name']}: {dependency['skip_reason']}")
    audited = len(dependencies) - len(skipped)
    print(f"Dependency audit: no known vulnerabilities in the {audited} audited packages of {lock}")
    return 0


def main(argv: list[str]) -> int:
    lock = argv[1] if len(argv) > 1 else DEFAULT_LOCK
    return judge(run_pip_audit(lock), lock)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
