"""The import statements each handler of app.py runs in its body, read from the source.

A handler imports its capability inside its body, so these statements are what a function
loads on its first call beyond ``import app`` where nothing names the function (chalice local,
the tests); in Lambda, app.py's ``prepare`` loads the same in the function's init.
tests/unit/test_handler_imports.py holds each function to its modules with them, and each
function's init to them; bench/bench_imports.py times them, and each function's init.
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
