"""The chain's services are layers: no import loop among them, and none imports the tasks.

The tasks call the services, so a service that imported chain.tasks would close a
loop; services queue work by task name through chain.task_queue instead. A module
that imports another inside a function hides a loop rather than removing it, so
imports of the chain's own modules are at the top of each file. And across the site, one
module signs and admits transactions, and one class says a request was refused.
"""

import ast
from pathlib import Path

import pytest

import chain

CHAIN_DIR = Path(chain.__file__).parent
SERVICES = "chain.services"


def module_name(path: Path) -> str:
    parts = path.relative_to(CHAIN_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules_under(package: str) -> dict[str, Path]:
    root = CHAIN_DIR.parent.joinpath(*package.split("."))
    return {module_name(path): path for path in sorted(root.rglob("*.py"))}


def imported_modules(
    node: ast.AST, known: set[str], importer: str = "", is_package: bool = False
) -> set[str]:
    """The modules ``node`` (an import statement in module ``importer``) names: ``from p import m``
    names p.m when that is a module, else p. Relative imports are resolved against ``importer``."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if not isinstance(node, ast.ImportFrom):
        return set()
    module = node.module
    if node.level:
        if not importer:
            return set()
        base = importer if is_package else importer.rpartition(".")[0]
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        module = f"{base}.{module}" if module else base
    if not module:
        return set()
    named = {f"{module}.{alias.name}" for alias in node.names}
    return (named & known) | ({module} if named - known else set())


def import_graph(package: str) -> dict[str, set[str]]:
    """Each module of ``package`` and the modules of its app and of chain it imports, wherever in the file."""
    app = package.split(".")[0]
    known = set(modules_under("chain")) | set(modules_under(app))
    graph = {}
    for name, path in modules_under(package).items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        graph[name] = {
            target
            for node in ast.walk(tree)
            for target in imported_modules(node, known, name, is_package)
            if target.split(".")[0] in {"chain", app}
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
        (
            "chain.ledger",
            "chain.consensus.machine",
            "chain.consensus.messages",
            "chain.consensus.peer_auth",
            "chain.sharding",
        ),
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
            "chain.caches",
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


# --- one way to sign and submit, one refusal ------------------------------------------------

REPO_DIR = CHAIN_DIR.parent
#: The site's own code: everything but the tests and the benchmarks, which sign as outside
#: clients do and post over HTTP (or call admission directly to measure it).
SITE_PACKAGES = (
    "audit",
    "chain",
    "governance",
    "grid",
    "gridtokenx_site",
    "meters",
    "protocol",
    "settlement",
    "trading",
    "treasury",
)


def site_modules() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(REPO_DIR)): ast.parse(path.read_text(), filename=str(path))
        for package in SITE_PACKAGES
        for path in sorted((REPO_DIR / package).rglob("*.py"))
    }


def called_names(tree: ast.Module) -> set[str]:
    """The names of what ``tree`` calls, as ``f(...)`` or ``module.f(...)``."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name):
                names.add(node.func.id)
            elif isinstance(node.func, ast.Attribute):
                names.add(node.func.attr)
    return names


def test_one_module_signs_transactions_and_admits_them():
    calls = {path: called_names(tree) for path, tree in site_modules().items()}
    signers = {path for path, names in calls.items() if "sign_transaction" in names}
    sign_and_submit = {path for path in signers if "transactions_submit" in calls[path]}

    assert sign_and_submit == {"chain/services/signing.py"}
    # The demo meters sign their readings as a meter would and publish them over MQTT.
    assert signers == {"chain/services/signing.py", "meters/simulator.py"}


def test_there_is_one_refusal_class():
    refusals = sorted(
        f"{path}:{node.name}"
        for path, tree in site_modules().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and node.name.endswith("Refused")
    )

    assert refusals == ["chain/ledger/errors.py:Refused"]


def is_exception_class(node: ast.ClassDef) -> bool:
    """Whether a class derives from something named like an exception (GraphQL's ``*Query`` types do not)."""
    bases = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases]
    return any(base.endswith(("Error", "Exception")) for base in bases)


def test_the_read_apis_share_one_bad_query_error():
    """A wrong query parameter is chain.api.errors.BadQuery (400 bad_query) in every app's API."""
    own_query_errors = sorted(
        f"{path}:{node.name}"
        for path, tree in site_modules().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and "Query" in node.name and is_exception_class(node)
    )

    assert own_query_errors == ["chain/api/errors.py:BadQuery"]


#: The project's apps and which others each may import, lowest first
#: (docs/ARCHITECTURE.md, "The apps and their dependencies"). Settlement sits
#: above the market and the meters so that those two never import each other;
#: the protocol module imports every ledger core and nothing imports it but the
#: composition root and the benchmarks.
APP_DEPENDENCIES = {
    "chain": set(),
    "trading": {"chain"},
    "meters": {"chain"},
    "governance": {"chain"},
    "grid": {"chain", "trading"},
    "settlement": {"chain", "trading", "meters", "grid", "treasury"},
    "treasury": {"chain", "meters"},
    "audit": {"chain", "trading", "treasury", "settlement"},
    "protocol": {"chain", "trading", "meters", "governance", "grid", "settlement", "treasury"},
}


def apps_imported(app: str) -> dict[str, set[str]]:
    """The other apps ``app``'s modules import (anywhere in a file), each with its importers.

    Migrations are left out: Django writes their dependencies, not the app's code."""
    root = CHAIN_DIR.parent / app
    found: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.relative_to(root).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            for module in imported_modules(node, set()):
                target = module.split(".")[0]
                if target in APP_DEPENDENCIES and target != app:
                    found.setdefault(target, set()).add(str(path.relative_to(root.parent)))
    return found


@pytest.mark.parametrize("app", sorted(APP_DEPENDENCIES))
def test_no_app_has_an_import_loop(app):
    assert import_cycle(internal_graph(app)) is None


@pytest.mark.parametrize("app", sorted(APP_DEPENDENCIES))
def test_each_app_imports_only_the_apps_below_it(app):
    imported = apps_imported(app)

    assert {
        target: importers for target, importers in imported.items() if target not in APP_DEPENDENCIES[app]
    } == {}


def test_the_market_and_the_meters_do_not_import_each_other():
    assert "meters" not in apps_imported("trading")
    assert "trading" not in apps_imported("meters")


def test_the_app_import_finder_finds_known_imports():
    """The checks above are only as good as this: settlement's core imports the meters' records."""
    assert "settlement/ledger/delivery.py" in apps_imported("settlement")["meters"]
    assert "protocol/__init__.py" in apps_imported("protocol")["settlement"]


#: The apps. gridtokenx_site composes them (settings, URLs, ASGI, Celery) and localnet
#: launches sites of them, so an app importing either would point the dependency back up.
APPS = ("chain", "trading", "grid", "governance", "meters", "audit", "settlement", "treasury", "protocol")
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
