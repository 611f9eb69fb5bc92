"""The import directions of the architecture, checked on every `make test`.

(a) The apps import downward only: the contracts in pyproject.toml ([tool.importlinter]), run by import-linter.
(b) No import cycle among the project's modules, imports inside functions included: a cycle means two modules
    that can only be understood (and imported) together, and usually a rule living on the wrong side.
Dotted paths named as strings in settings (INBOUND_HANDLERS, DUE_WORK…) are not imports and are not counted.
"""

from pathlib import Path

import grimp
from django.apps import apps
from importlinter import configuration
from importlinter.application import use_cases

ROOT = Path(__file__).resolve().parent.parent


def test_apps_import_only_downward(capsys):
    # use_cases rather than importlinter.cli: the command line's version replaces the logging configuration.
    configuration.configure()
    kept = use_cases.lint_imports(config_filename=str(ROOT / "pyproject.toml"), cache_dir=None, no_logo=True)
    assert kept, capsys.readouterr().out


def test_no_module_takes_part_in_an_import_cycle():
    graph = grimp.build_graph("config", *_project_apps(), cache_dir=None)
    modules = {module for module in graph.modules if ".migrations" not in module}
    imports = {module: graph.find_modules_directly_imported_by(module) & modules for module in modules}
    cycles = sorted(sorted(component) for component in _strongly_connected(imports) if len(component) > 1)
    assert not cycles, "import cycles:\n" + "\n".join(_describe(graph, cycle) for cycle in cycles)


def _project_apps() -> list[str]:
    """The installed apps that live in this repository (a new app is checked without a change here)."""
    return sorted(config.name for config in apps.get_app_configs() if Path(config.path).parent == ROOT)


def _strongly_connected(imports: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, without recursion: the groups of modules that reach each other through imports."""
    index: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for start in sorted(imports):
        if start in index:
            continue
        work = [(start, iter(sorted(imports[start])))]
        index[start] = lowest[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            module, targets = work[-1]
            target = next(targets, None)
            if target is None:
                work.pop()
                if work:
                    parent = work[-1][0]
                    lowest[parent] = min(lowest[parent], lowest[module])
                if lowest[module] == index[module]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == module:
                            break
                    components.append(component)
            elif target not in index:
                index[target] = lowest[target] = len(index)
                stack.append(target)
                on_stack.add(target)
                work.append((target, iter(sorted(imports[target]))))
            elif target in on_stack:
                lowest[module] = min(lowest[module], index[target])
    return components


def _describe(graph, cycle: list[str]) -> str:
    """The modules of one cycle and each import between them, with its line."""
    lines = [f"  {', '.join(cycle)}:"]
    for importer in cycle:
        for imported in sorted(graph.find_modules_directly_imported_by(importer) & set(cycle)):
            details = graph.get_import_details(importer=importer, imported=imported)
            where = ", ".join(f"line {detail['line_number']}" for detail in details)
            lines.append(f"    {importer} -> {imported} ({where})")
    return "\n".join(lines)


def test_the_cycle_finder_finds_cycles():
    imports = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}, "f": set()}
    found = sorted(sorted(component) for component in _strongly_connected(imports) if len(component) > 1)
    assert found == [["a", "b", "c"]]
