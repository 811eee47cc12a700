"""The layering holds: the contracts of pyproject.toml's [tool.importlinter], checked by
`lint-imports`, and what they cannot see, checked here: app.py (a module, not a package)
imports no tools, and a pure module loads no AWS or HTTP client through the modules it imports."""
import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT

CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
(PURE,) = [contract for contract in CONTRACTS if contract["name"].startswith("Pure modules")]


def test_the_import_contracts_are_kept():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_app_imports_no_tools():
    tree = ast.parse((ROOT / "app.py").read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert sorted(name for name in imported if name.split(".")[0] == "tools") == []


@pytest.mark.parametrize("module", PURE["source_modules"])
def test_a_pure_module_loads_no_aws_or_http_client(module):
    # GIVEN a fresh interpreter  WHEN it imports the pure module alone
    code = f"import sys, {module}\nprint('\\n'.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    # THEN none of the forbidden packages was loaded, by it or by what it imports
    loaded = {name.split(".")[0] for name in done.stdout.split()}
    assert loaded & set(PURE["forbidden_modules"]) == set()
