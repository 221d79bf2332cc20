"""The chain's services are layers: no import loop among them, and none imports the tasks.

The tasks call the services, so a service that imported chain.tasks would close a
loop; services queue work by task name through chain.task_queue instead. A module
that imports another inside a function hides a loop rather than removing it, so
imports of the chain's own modules are at the top of each file.
"""

import ast
from pathlib import Path

import chain

CHAIN_DIR = Path(chain.__file__).parent
SERVICES = "chain.services"


def module_name(path: Path) -> str:
    parts = path.relative_to(CHAIN_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules_under(package: str) -> dict[str, Path]:
    root = CHAIN_DIR.parent.joinpath(*package.split("."))
    return {module_name(path): path for path in sorted(root.rglob("*.py"))}


def imported_modules(node: ast.AST, known: set[str]) -> set[str]:
    """The modules ``node`` (an import statement) names: ``from p import m`` names p.m when
    that is a module, else p."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        named = {f"{node.module}.{alias.name}" for alias in node.names}
        return (named & known) | ({node.module} if named - known else set())
    return set()


def import_graph(package: str) -> dict[str, set[str]]:
    """Each module of ``package`` and the chain modules it imports, wherever in the file."""
    known = set(modules_under("chain"))
    graph = {}
    for name, path in modules_under(package).items():
        tree = ast.parse(path.read_text(), filename=str(path))
        graph[name] = {
            target
            for node in ast.walk(tree)
            for target in imported_modules(node, known)
            if target.split(".")[0] == "chain"
        }
    return graph


def import_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import loop among the modules of ``graph``, as the path that closes it; None if none."""
    done, path = set(), []

    def visit(module: str) -> list[str] | None:
        if module in path:
            return path[path.index(module) :] + [module]
        if module in done or module not in graph:
            return None
        path.append(module)
        for target in sorted(graph[module]):
            if cycle := visit(target):
                return cycle
        path.pop()
        done.add(module)
        return None

    return next((cycle for module in sorted(graph) if (cycle := visit(module))), None)


def internal_graph(package: str) -> dict[str, set[str]]:
    """The import graph among ``package``'s own modules. A package's modules each import the
    package first: that edge is Python's, not a layer's, and is left out."""
    graph = import_graph(package)
    return {
        m: {t for t in targets if t in graph and not m.startswith(t + ".")} for m, targets in graph.items()
    }


def test_the_services_import_each_other_without_a_loop():
    assert import_cycle(internal_graph(SERVICES)) is None


def test_the_chain_app_has_no_import_loop():
    assert import_cycle(internal_graph("chain")) is None


#: The chain app's layers, lowest first (docs/ARCHITECTURE.md, "The layers of the chain app");
#: a module in none of them is an entry point (tasks, the peer protocol, API, views, commands).
LAYERS = (
    (
        "core",
        ("chain.ledger", "chain.consensus.machine", "chain.consensus.messages", "chain.consensus.peer_auth"),
    ),
    (
        "infrastructure",
        (
            "chain.models",
            "chain.store",
            "chain.node",
            "chain.peers",
            "chain.consensus.transport",
            "chain.events",
            "chain.clock",
            "chain.task_queue",
            "chain.units",
            "chain.client_address",
        ),
    ),
    ("reads", ("chain.selectors",)),
    ("writes", ("chain.services",)),
)


def layer_of(module: str) -> int:
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    return len(LAYERS)


def test_each_layer_of_the_chain_app_imports_only_the_layers_below_it():
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in import_graph("chain").items()
        for target in targets
        if layer_of(target) > layer_of(module)
    )

    assert upward == []


def test_no_service_imports_the_tasks():
    importers = {m for m, targets in import_graph(SERVICES).items() if "chain.tasks" in targets}

    assert importers == set()


def test_the_services_import_the_chains_modules_at_the_top_of_the_file_only():
    nested = []
    for name, path in modules_under(SERVICES).items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                for node in ast.walk(function):
                    if any(m.split(".")[0] == "chain" for m in imported_modules(node, set())):
                        nested.append(f"{name}:{node.lineno}")

    assert nested == []


def test_the_cycle_finder_finds_a_loop():
    """The check above is only as good as this: a loop of three modules is found."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}

    assert import_cycle(graph) == ["a", "b", "c", "a"]
    assert import_cycle({"a": {"b"}, "b": set()}) is None


#: The apps. gridtokenx_site composes them (settings, URLs, ASGI, Celery) and localnet
#: launches sites of them, so an app importing either would point the dependency back up.
APPS = ("chain", "trading", "grid", "governance", "meters", "audit")
ABOVE_THE_APPS = {"gridtokenx_site", "localnet"}


def top_level_imports(path: Path) -> set[str]:
    """The top-level packages a file imports, wherever in the file (absolute imports)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    packages = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            packages |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            packages.add(node.module.split(".")[0])
    return packages


def test_no_app_imports_the_site_or_the_launcher():
    root = CHAIN_DIR.parent
    upward = sorted(
        f"{path.relative_to(root)} -> {package}"
        for app in APPS
        for path in (root / app).rglob("*.py")
        for package in top_level_imports(path) & ABOVE_THE_APPS
    )

    assert upward == []


def test_the_import_finder_sees_imports_inside_functions():
    """The check above is only as good as this: celery.py imports gc_tuning inside a function."""
    root = CHAIN_DIR.parent

    assert "gridtokenx_site" in top_level_imports(root / "gridtokenx_site" / "celery.py")
    assert {"chain", "localnet"} <= top_level_imports(
        root / "localnet" / "management" / "commands" / "start.py"
    )
