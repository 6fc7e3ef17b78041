"""Dependencies point one way and tasks are named once (README.md, Layout).

Static checks of the app's source: entry points (admin, web, tasks) use actions, actions never
import an entry point, no module imports another in a cycle, and a task's dotted path is
written only in the registry (calendars/queue.py).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "calendars"
# The layers below these never import them.
ENTRY_POINTS = ("calendars.admin", "calendars.web", "calendars.tasks", "calendars.templatetags")
LOWER_LAYERS = (
    "calendars.actions",
    "calendars.meetings",
    "calendars.limits",
    "calendars.queries",
    "calendars.models",
    "calendars.status",
    "calendars.problems",
    "calendars.meetingbaas",
    "calendars.lib",
    "calendars.queue",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def app_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for path in APP.rglob("*.py")
        if "migrations" not in path.parts and "management" not in path.parts
    }


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The app modules `path` imports, at module level or inside a function (a deferred import
    hides a cycle; it does not remove it).

    `from package import module` depends on the module, not the package; a module's own
    ancestors (run by Python before it anyway) are not dependencies.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names}
            found |= submodules & known
            if submodules - known:
                found.add(node.module)
    ancestors = {name.rsplit(".", depth)[0] for depth in range(1, name.count(".") + 1)}
    return {target for target in found if target in known} - ancestors - {name}


def graph() -> dict[str, set[str]]:
    modules = app_modules()
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def is_in(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in packages)


def test_no_app_module_imports_calendars_tasks():
    offenders = sorted(name for name, imported in graph().items() if "calendars.tasks" in imported)
    assert offenders == []


def test_lower_layers_never_import_entry_points():
    offenders = sorted(
        f"{name} -> {target}"
        for name, imported in graph().items()
        if is_in(name, LOWER_LAYERS)
        for target in imported
        if is_in(target, ENTRY_POINTS)
    )
    assert offenders == []


def test_templatetags_never_import_the_admin():
    """Two entry points: what both need (the fix buttons, the worklist's filter parameter) is
    below both, in calendars/queries."""
    offenders = sorted(
        f"{name} -> {target}"
        for name, imported in graph().items()
        if is_in(name, ("calendars.templatetags",))
        for target in imported
        if is_in(target, ("calendars.admin",))
    )
    assert offenders == []


def test_the_client_and_the_rules_never_touch_the_database_layer():
    pure = ("calendars.meetingbaas", "calendars.status", "calendars.problems")
    offenders = sorted(
        f"{name} -> {target}"
        for name, imported in graph().items()
        if is_in(name, pure)
        for target in imported
        if is_in(target, ("calendars.models", "calendars.actions", "calendars.queries"))
    )
    assert offenders == []


def test_queries_only_read():
    offenders = sorted(
        f"{name} -> {target}"
        for name, imported in graph().items()
        if is_in(name, ("calendars.queries",))
        for target in imported
        if is_in(target, ("calendars.actions", "calendars.queue"))
    )
    assert offenders == []


def cycles_in(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle, each found once (from its smallest module name)."""
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str], seen: set[str]) -> None:
        for target in sorted(edges.get(node, ())):
            if target == path[0]:
                cycles.append([*path, target])
            elif target not in seen and target > path[0]:
                seen.add(target)
                visit(target, [*path, target], seen)

    for start in sorted(edges):
        visit(start, [start], {start})
    return cycles


def test_no_import_cycle_between_app_modules():
    assert cycles_in(graph()) == []


def test_the_cycle_finder_finds_a_cycle_through_three_modules():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles_in(edges) == [["a", "b", "c", "a"]]


def test_imports_count_modules_not_their_packages_and_deferred_ones_too(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "from calendars.actions import refresh\n"
        "from calendars.models import Integration\n"
        "def later():\n    from calendars import tasks\n"
    )
    known = {
        "calendars.tasks",
        "calendars.actions",
        "calendars.actions.refresh",
        "calendars.models",
    }
    assert imports_of("calendars.x", source, known) == {
        "calendars.tasks",
        "calendars.actions.refresh",
        "calendars.models",
    }


def test_a_task_path_is_written_only_in_the_registry():
    offenders = [
        str(path.relative_to(ROOT))
        for path in [*APP.rglob("*.py"), *(ROOT / "bench").rglob("*.py")]
        if "calendars.tasks." in path.read_text() and path != APP / "queue.py"
    ]
    assert offenders == []


@pytest.mark.parametrize("package", ["actions", "queries", "web", "lib", "models"])
def test_the_packages_of_the_layout_exist(package):
    assert (APP / package / "__init__.py").is_file()


# Each models module may import only these others: accounts first, integrations on it, the
# rest on both (`calendars/models/__init__.py`).
MODELS_BELOW = {
    "calendars.models.choices": set(),
    "calendars.models.accounts": {"calendars.models.choices"},
    "calendars.models.integrations": {"calendars.models.choices", "calendars.models.accounts"},
}
MODELS_BASE = {
    "calendars.models.choices",
    "calendars.models.accounts",
    "calendars.models.integrations",
}


def test_the_models_modules_depend_one_way():
    offenders = sorted(
        f"{name} -> {target}"
        for name, imported in graph().items()
        if name.startswith("calendars.models.")
        for target in imported
        if target.startswith("calendars.models")
        and target not in MODELS_BELOW.get(name, MODELS_BASE)
    )
    assert offenders == []


def test_the_meetings_take_the_failures_they_expect_from_below_the_actions():
    offenders = sorted(
        f"{name} -> {target}"
        for name, imported in graph().items()
        if is_in(name, ("calendars.meetings",))
        for target in imported
        if target == "calendars.actions.audit"
    )
    assert offenders == []
