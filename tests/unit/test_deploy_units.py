"""The systemd units in deploy/ run what the Procfile runs and give a stopping worker its time."""

from __future__ import annotations

import configparser
import shlex

from django.conf import settings

from tests.support.cluster import ROOT


def _unit(name: str) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str
    unit.read(ROOT / "deploy" / name)
    return unit


def _procfile() -> dict[str, list[str]]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {kind: shlex.split(command) for kind, _, command in (ln.partition(": ") for ln in lines)}


def test_the_units_run_the_procfiles_commands():
    procfile = _procfile()
    for name, kind in (("portal-web.service", "web"), ("portal-worker.service", "worker")):
        command = shlex.split(_unit(name)["Service"]["ExecStart"])
        # The unit names its executable by path; the arguments are the Procfile's.
        assert command[0].endswith(f"/{procfile[kind][0]}"), name
        assert command[1:] == procfile[kind][1:], name


def test_only_the_main_process_is_asked_to_stop_and_a_worker_has_q_timeout_to_do_it():
    for name in ("portal-web.service", "portal-worker.service"):
        assert _unit(name)["Service"]["KillMode"] == "mixed", name
    worker = _unit("portal-worker.service")["Service"]
    assert int(worker["TimeoutStopSec"]) > settings.Q_CLUSTER["timeout"]
