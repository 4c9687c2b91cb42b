"""The shape of the code, checked: imports run one way (domain → kernel; views → kernel +
domain; app → views), no circles, no module past ~500 lines — read from the source, so
a new import that breaks the shape fails here with the line that made it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("models", "views", "seeds")
MAX_LINES = 520


def modules() -> dict[str, Path]:
    found = {"app": ROOT / "app.py"}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> list[tuple[str, int]]:
    """The project modules ``name`` imports (at any depth of the file), with the line."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            candidates = [f"{target}.{alias.name}" for alias in node.names] + [target]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in known:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                out.append((candidate, node.lineno))
                break
    return out


def layer(name: str) -> str:
    if name == "app":
        return "app"
    if name.startswith("models.kernel"):
        return "kernel"
    if name.startswith("models"):
        return "domain"
    return name.split(".")[0]  # views, seeds


# which layers each layer may import
ALLOWED = {
    "kernel": {"kernel"},
    "domain": {"kernel", "domain"},
    "views": {"kernel", "domain", "views"},
    "seeds": {"kernel", "domain", "views", "seeds"},
    "app": {"kernel", "domain", "views", "seeds", "app"},
}


def graph() -> dict[str, list[tuple[str, int]]]:
    found = modules()
    known = set(found)
    return {name: imports_of(name, path, known) for name, path in found.items()}


def test_imports_run_one_way():
    wrong = [f"{name}:{line} imports {target} ({layer(name)} → {layer(target)})"
             for name, targets in graph().items() for target, line in targets
             if layer(target) not in ALLOWED[layer(name)]]
    assert not wrong, "\n".join(wrong)


def test_no_module_imports_itself_in_a_circle():
    edges = {name: {t for t, _ in targets if not name.startswith(t + ".") and t != name.rpartition(".")[0]}
             for name, targets in graph().items()}
    # a package's __init__ importing its own submodules is how packages are made, not a circle
    for name in edges:
        edges[name] = {t for t in edges[name] if not t.startswith(name + ".")}
    circles, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "open":
                circles.append(" → ".join(trail[trail.index(target):] + [target]) if target in trail
                               else f"{node} → {target}")
            elif target not in state:
                visit(target, trail + [target])
        state[node] = "done"

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])
    assert not circles, "\n".join(circles)


def test_no_module_is_too_long_to_read_in_one_sitting():
    long = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    # reference data transcribed from the seed text is data, not code to read
    too_long = {n: lines for n, lines in long.items() if lines > MAX_LINES and n != "seeds.reference_data"}
    assert not too_long, too_long


def test_the_kernel_names_no_domain_model():
    """Not in its code: the kernel learns the domain's places and roles from configure()."""
    domain_names = {"Estate", "Community", "Street", "RepairTicket", "OrgKind", "Role", "User"}
    found = []
    for name, path in modules().items():
        if layer(name) != "kernel":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            used = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
            if used in domain_names:
                found.append(f"{name}:{node.lineno}: {used}")
    assert not found, "\n".join(found)
