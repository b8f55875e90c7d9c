"""The package's shape: no import loop, small modules, a core that needs NumPy alone.

docs/architecture.md draws the layers; these tests keep the drawing true.
Imports are read from the source (every ``import`` and ``from ... import``
statement, those inside functions included), so a lazy import cannot hide
a loop.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "ninestep"
#: The modules a learner reads for the maths, and what they stand on. They may import NumPy only.
CORE = ["activations", "losses", "layers", "network", "optimizers", "_fastpath", "callbacks", "training",
        "archive", "model_file", "checkpoint", "data", "scaling", "metrics", "_validation", "gradcheck"]
MAX_LINES = 520


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The ninestep modules that ``path`` imports, anywhere in its source."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "ninestep"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != "ninestep":
                continue
            found.add(module)
            # "from . import io" names a module, not an attribute
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for imported in _imports(path):
            # An import of a package's attribute counts as an import of that package.
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            # A package's __init__ importing its own submodules, and submodules importing
            # siblings through the package, is how packages work; a loop is between modules.
            if nxt == node.rpartition(".")[0] and node.startswith(nxt + "."):
                continue
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state.get(node) is None:
            found = visit(node)
            if found:
                return found
    return None


def test_the_import_walker_finds_a_loop():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_imports_another_in_a_loop():
    graph = _graph()
    assert "ninestep.network" in graph and "ninestep.training" in graph["ninestep.network"]
    cycle = _find_cycle({k: {v for v in vs if v != "ninestep"} for k, vs in graph.items() if k != "ninestep"})
    assert cycle is None, "import loop: " + " -> ".join(cycle)


def test_the_archive_layer_imports_nothing_from_ninestep():
    assert _graph()["ninestep.archive"] == set()


def test_no_source_file_is_much_over_500_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"split these modules: {long}"


@pytest.mark.parametrize("module", CORE)
def test_the_core_imports_numpy_alone(module):
    code = (f"import sys; import ninestep.{module}; "
            "bad = sorted(m for m in ('matplotlib', 'tqdm', 'sklearn', 'torch', 'scipy', 'pandas', 'onnx', "
            "'dask', 'starlette', 'uvicorn') if m in sys.modules); print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"ninestep.{module} pulls in {out}"
