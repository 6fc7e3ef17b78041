"""The outage table of docs/reliability.md, measured: the outage tests run against the real
servers, with the database unreachable for 30 seconds (the tests' own default is 5).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal .venv/bin/python bench/outages.py

Each fault is a test of tests/system/ (what it breaks is its own: a TCP proxy in front of
PostgreSQL, its own test database's connections, a redis-server on a port of its own); each
prints one row, collected here in OUTAGE_REPORT and printed at the end. `--seconds` sets the
outage's length, `--write` a file for the table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = [
    "tests/system/test_database_connections_cut.py",
    "tests/system/test_database_unreachable.py",
    "tests/system/test_redis_restart.py",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="database outage, seconds")
    parser.add_argument("--write", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("DATABASE_URL must name a PostgreSQL database (the outages are PostgreSQL's)")
        return 2
    with tempfile.NamedTemporaryFile("r", suffix=".md") as table:
        environment = {
            **os.environ,
            "DEBUG": "true",
            "OUTAGE_SECONDS": str(args.seconds),
            "OUTAGE_REPORT": table.name,
            "CI": "true",  # a missing service is a failure here, not a skip
        }
        pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:logging", "-m", "not once"]
        run = subprocess.run([*pytest, *TESTS], cwd=ROOT, env=environment, check=False)
        text = table.read()
    print(f"\n{text}")
    if args.write:
        args.write.write_text(text)
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
