"""The import statements each handler of app.py runs in its body, read from the source.

A handler imports its capability inside its body, so these statements are what a function
loads on its first call beyond ``import app``. tests/unit/test_handler_imports.py holds each
function to its modules with them; bench/bench_imports.py times them.
"""
from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app.py"


def handler_imports(app_source: Path = APP) -> dict[str, list[str]]:
    """Each decorated function of app.py (handlers and middleware) and the imports in its body."""
    tree = ast.parse(app_source.read_text())
    return {node.name: [ast.unparse(s) for s in node.body if isinstance(s, (ast.Import, ast.ImportFrom))]
            for node in tree.body if isinstance(node, ast.FunctionDef) and node.decorator_list}
