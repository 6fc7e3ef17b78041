"""The dependency files agree: inputs, locks (every package pinned and hashed) and pyproject.

scripts/lock compiles requirements.in -> requirements.txt and requirements-dev.in ->
requirements-dev.txt; these tests catch a lock that was not recompiled after an input changed,
a hand-edited line without hashes, and test tools creeping into what production installs.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
TEST_TOOLS = {
    "pytest",
    "pytest-django",
    "hypothesis",
    "playwright",
    "aiosmtpd",
    "ruff",
    "pip-audit",
    "uv",
}


def read_lock(name: str) -> dict[str, tuple[str, list[str]]]:
    """{package: (pinned version, hashes)} from a lock file (continuation lines joined)."""
    text = (ROOT / name).read_text().replace("\\\n", " ")
    pins = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        requirement_text, *hashes = (part.strip() for part in line.split("--hash="))
        requirement = Requirement(requirement_text)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{name}: {line!r} is not pinned"
        pins[canonicalize_name(requirement.name)] = (specifier.version, hashes)
    return pins


def read_input(name: str) -> dict[str, Requirement]:
    """The requirements an input file asks for itself (not through -r or -c)."""
    found = {}
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            requirement = Requirement(line)
            found[canonicalize_name(requirement.name)] = requirement
    return found


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


@pytest.mark.parametrize("lock", ["requirements.txt", "requirements-dev.txt"])
def test_every_locked_package_is_pinned_with_its_hashes(lock):
    pins = read_lock(lock)

    assert pins
    unhashed = [name for name, (_, hashes) in pins.items() if not hashes]
    assert unhashed == []
    assert all(h.startswith("sha256:") for _, hashes in pins.values() for h in hashes)


def test_production_installs_no_test_tool():
    assert TEST_TOOLS & set(read_lock("requirements.txt")) == set()


@pytest.mark.parametrize(
    ("source", "lock"),
    [
        ("requirements.in", "requirements.txt"),
        ("requirements.in", "requirements-dev.txt"),
        ("requirements-dev.in", "requirements-dev.txt"),
    ],
)
def test_each_lock_holds_what_its_input_asks_for(source, lock):
    pins = read_lock(lock)

    for name, requirement in read_input(source).items():
        assert name in pins, f"{lock} lacks {name}: run scripts/lock"
        assert requirement.specifier.contains(pins[name][0], prereleases=True), (
            f"{lock} has {name}=={pins[name][0]}, {source} asks for {requirement}: run scripts/lock"
        )
        for extra in requirement.extras:  # psycopg[binary]: the extra's package is locked too
            assert canonicalize_name(f"{name}-{extra}") in pins


def test_development_runs_the_versions_production_runs():
    runtime = read_lock("requirements.txt")
    development = read_lock("requirements-dev.txt")

    assert {name: development.get(name, (None,))[0] for name in runtime} == {
        name: version for name, (version, _) in runtime.items()
    }


def test_pyproject_declares_the_inputs_within_its_bounds():
    project = pyproject()
    declared = {
        "requirements.in": project["dependencies"],
        "requirements-dev.in": project["optional-dependencies"]["dev"],
    }

    for source, specs in declared.items():
        bounds = {canonicalize_name(Requirement(s).name): Requirement(s) for s in specs}
        wanted = read_input(source)
        assert set(bounds) == set(wanted), source
        for name, requirement in wanted.items():
            assert bounds[name].extras == requirement.extras, name
            (pin,) = requirement.specifier
            assert bounds[name].specifier.contains(pin.version), f"{name} {pin} vs {bounds[name]}"
