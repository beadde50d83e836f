"""The package's shape (docs/ARCHITECTURE.md): layers, no upward import, no cycle, small modules.

Imports are read with `ast`, so imports inside functions count as much as those at the top.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gaitlab"

# Lowest first. A module may import its own layer or lower ones, never a higher one.
LAYERS: list[tuple[str, set[str]]] = [
    ("base", {"constants", "errors", "files"}),
    ("pipeline", {"pipeline"}),
    ("kinematics", {"kinematics"}),
    ("model", {"model", "teacher_net", "text", "weights", "calibration", "consistency", "inference", "metrics"}),
    ("explain", {"explanations", "ablation", "figures", "cohort"}),
    ("build", {"training", "synth"}),
    ("front", {"app", "cli", "bench", "bench_sections", "bench_videos", "bench_kinematics", "demo", "__main__", "__init__"}),
]
RANK = {part: k for k, (_, parts) in enumerate(LAYERS) for part in parts}
MAX_LINES = 500
TOP = "gaitlab.__init__"  # `import gaitlab` / `from gaitlab import analyze`: the front layer


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 2 else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    """`gaitlab.pipeline.video` → the pipeline layer; `gaitlab` itself (the public API) is on top."""
    parts = module.split(".")
    return RANK["__init__"] if len(parts) == 1 else RANK[parts[1]]


def imported(module: str, path: Path, known: set[str]) -> set[str]:
    """The package modules `module` imports (resolved to the longest known module name)."""
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = module.split(".")[: None if is_package else -1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                stem = ".".join(anchor + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # `from package import module` imports that module; `from module import name`, the module.
            names = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in known else stem for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in known and name != "gaitlab":
                name = name.rpartition(".")[0]
            name = TOP if name == "gaitlab" else name  # the package itself: its public API, on top
            if name and name != module:
                out.add(name)
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {m: imported(m, p, set(mods)) for m, p in mods.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_layer():
    unknown = [m for m in modules() if len(m.split(".")) > 1 and m.split(".")[1] not in RANK]
    assert not unknown, f"modules in no layer (add them to LAYERS and docs/ARCHITECTURE.md): {unknown}"


def test_importing_the_package_itself_counts_as_the_front_layer(tmp_path):
    """A planted `from gaitlab import analyze` inside a pipeline module is an upward import."""
    planted = tmp_path / "video.py"
    planted.write_text("from gaitlab import analyze\nimport gaitlab\n", encoding="utf-8")
    targets = imported("gaitlab.pipeline.video", planted, set(modules()))
    assert targets == {TOP}
    assert layer_of(TOP) == RANK["__init__"] > layer_of("gaitlab.pipeline.video")


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_nothing_imports_a_higher_layer():
    upward = sorted(f"{m} ({LAYERS[layer_of(m)][0]}) imports {t} ({LAYERS[layer_of(t)][0]})"
                    for m, targets in graph().items() for t in targets if layer_of(t) > layer_of(m))
    assert upward == []


def test_no_module_over_500_lines():
    long = {m: n for m, p in modules().items() if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_only_the_cli_parses_arguments():
    """No other module imports argparse, reads `sys.argv` or has a `__main__` block (read with
    `ast`, so a command line inside a string, e.g. for a subprocess, does not count)."""
    for m, p in modules().items():
        if m in ("gaitlab.cli", "gaitlab.__main__"):
            continue
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) else [])
            assert "argparse" not in names, f"{m} imports argparse"
            assert not (isinstance(node, ast.Attribute) and node.attr == "argv"
                        and isinstance(node.value, ast.Name) and node.value.id == "sys"), f"{m} reads sys.argv"
            assert not (isinstance(node, ast.Compare) and isinstance(node.left, ast.Name)
                        and node.left.id == "__name__"), f"{m} has a __main__ block"


def test_code_cites_no_file_outside_the_repository():
    root = PACKAGE.parent
    for p in [*PACKAGE.rglob("*.py"), *root.glob("pages/*.py"), root / "streamlit_app.py"]:
        assert "DESIGN.md" not in p.read_text(encoding="utf-8"), f"{p.relative_to(root)} cites DESIGN.md"


@pytest.mark.parametrize("planted, expected", [
    ({"gaitlab.a": {"gaitlab.b"}, "gaitlab.b": {"gaitlab.a"}}, [["gaitlab.a", "gaitlab.b"]]),
    ({"gaitlab.a": {"gaitlab.b"}, "gaitlab.b": set()}, []),
])
def test_the_cycle_finder_finds_a_planted_cycle(planted, expected):
    assert cycles(planted) == expected


def test_the_layer_check_sees_a_planted_upward_import(tmp_path):
    source = "def f():\n    from gaitlab.training import train\n"
    (tmp_path / "video.py").write_text(source)
    known = {"gaitlab.pipeline.video", "gaitlab.training.train", "gaitlab.training"}
    targets = imported("gaitlab.pipeline.video", tmp_path / "video.py", known)
    assert targets == {"gaitlab.training.train"}
    assert layer_of("gaitlab.training.train") > layer_of("gaitlab.pipeline.video")
