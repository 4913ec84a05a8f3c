"""The import layers of graphreco, read from the source with ``ast``: every import
statement counts, at module level and inside functions alike."""

import ast
from pathlib import Path

import graphreco
import graphreco.detectors
import graphreco.kernels

ROOTS = {package.__name__: Path(package.__file__).parent
         for package in (graphreco, graphreco.detectors, graphreco.kernels)}
"""Import name -> folder: ``detectors/`` and ``kernels/`` are installed under ``graphreco``."""
EVALUATE = "graphreco.evaluate"
DETECTORS = "graphreco.detectors"
DETECTOR_CONTRACT = {DETECTORS, f"{DETECTORS}.base"}
"""What of ``graphreco.detectors`` the engine may import: the registry and the plug-in contract."""


def _modules() -> dict[str, Path]:
    """Every module of graphreco by import name (sub-folders of a root that is itself a
    root elsewhere are left to that root)."""
    modules = {}
    for package, folder in ROOTS.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            name = ".".join((package, *parts))
            if ROOTS.get(".".join(name.split(".")[:2]), folder) == folder:
                modules[name] = path
    return modules


def _imports(name: str, path: Path) -> set[str]:
    """Every module the file at ``path`` (module ``name``) imports (``from X import name``
    counts as ``X.name`` where that is a module of graphreco, else as ``X``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in MODULES else base)
    return found


MODULES = _modules()
GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycle(nodes: set[str]) -> list[str] | None:
    """An import cycle among ``nodes`` (as a path that returns to its start), or None."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for target in sorted(GRAPH[node] & nodes):
            if state.get(target) == "open":
                return path[path.index(target):] + [target]
            if target not in state and (found := visit(target, path + [target])):
                return found
        state[node] = "done"
        return None

    for start in sorted(nodes):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_the_import_graph_is_read():
    assert f"{EVALUATE}.metrics" in GRAPH[f"{EVALUATE}.particles"]
    assert f"{EVALUATE}.hits" in GRAPH[f"{EVALUATE}.kinds"]


def test_no_import_cycle_among_the_evaluate_modules():
    evaluate = {name for name in MODULES if name == EVALUATE or name.startswith(EVALUATE + ".")}
    assert len(evaluate) > 10
    assert _cycle(evaluate) is None, " -> ".join(_cycle(evaluate))


def test_no_evaluate_module_imports_a_detector_sub_package():
    offending = {name: sorted(target for target in targets
                              if target.startswith(DETECTORS + ".") and target not in DETECTOR_CONTRACT)
                 for name, targets in GRAPH.items() if name == EVALUATE or name.startswith(EVALUATE + ".")}
    assert not {name: targets for name, targets in offending.items() if targets}


ENGINE = {name for name, path in MODULES.items() if ROOTS["graphreco"] in path.parents}
"""The engine's modules: those in ``graphreco/``, not the kernels or the detectors."""


def test_no_import_cycle_in_the_engine():
    assert len(ENGINE) > 30
    assert _cycle(ENGINE) is None, " -> ".join(_cycle(ENGINE))


def test_no_engine_module_imports_a_detector_sub_package():
    offending = {name: sorted(target for target in GRAPH[name]
                              if target.startswith(DETECTORS + ".") and target not in DETECTOR_CONTRACT)
                 for name in ENGINE}
    assert not {name: targets for name, targets in offending.items() if targets}


def test_no_stage_imports_evaluation():
    stages = {name for name in ENGINE if name.startswith("graphreco.stages")}
    assert stages and not {name for name in stages if any(t.startswith(EVALUATE) for t in GRAPH[name])}


def _strings_outside_docstrings(path: Path) -> list[tuple[int, str]]:
    """String constants of a file that are not docstrings (module, class, function or attribute)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    documentation = {id(node.value) for node in ast.walk(tree)
                     if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in documentation]


def test_no_engine_module_names_a_detector():
    names = [name for name in graphreco.detectors.available()]
    assert names  # every detector the registry knows: the engine asks it, never a name
    offending = [f"{MODULES[module].name}:{line}: {text!r}" for module in sorted(ENGINE)
                 for line, text in _strings_outside_docstrings(MODULES[module])
                 if any(name in text or name.replace("-", "_") in text for name in names)]
    assert not offending
