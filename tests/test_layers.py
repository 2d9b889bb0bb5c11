"""The shape of the code: imports of the project's own modules sit at the top of a module.

An import written inside a function hides a dependency from import-linter (which checks the
layers in CI) and usually hides a cycle between packages; the fix is the shape, not the import.
"""

from __future__ import annotations

import ast
from pathlib import Path

from config.settings import PROJECT_ROOT

PACKAGES = (
    "actions",
    "bench",
    "callback_line",
    "config",
    "db",
    "deliveries",
    "dialer",
    "evaluation",
    "ivr",
    "messaging",
    "participants",
    "prompts",
    "web",
)
OWN = set(PACKAGES) | {"app", "tests"}


def _modules() -> list[Path]:
    files = [PROJECT_ROOT / "app.py"]
    for package in PACKAGES:
        files += sorted((PROJECT_ROOT / package).rglob("*.py"))
    return files


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        return [node.module or ""] if node.level == 0 else ["(relative)"]
    return [alias.name for alias in node.names]


def _function_level_imports(path: Path, root: Path = PROJECT_ROOT) -> list[str]:
    found: list[str] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue  # annotations only, never executed
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if in_function and isinstance(child, ast.Import | ast.ImportFrom):
                for name in _imported(child):
                    if name.split(".")[0] in OWN or name == "(relative)":
                        found.append(f"{path.relative_to(root)}:{child.lineno} imports {name}")
            visit(child, inside)

    visit(ast.parse(path.read_text(), str(path)), False)
    return found


def test_no_project_module_is_imported_inside_a_function():
    offenders = [line for path in _modules() for line in _function_level_imports(path)]
    assert offenders == []


def test_the_check_finds_an_import_inside_a_function(tmp_path):
    source = tmp_path / "sample.py"
    source.write_text(
        "import os\nfrom typing import TYPE_CHECKING\n\n"
        "if TYPE_CHECKING:\n    from db.models import Action\n\n"
        "def late():\n    import json\n    from dialer.worker import DialerWorker\n"
    )
    assert _function_level_imports(source, tmp_path) == ["sample.py:9 imports dialer.worker"]
