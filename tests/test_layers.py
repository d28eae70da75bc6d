"""The one-way data flow: a package imports only the packages to its left (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ORDER = ("config", "features", "models", "scoring", "api")
HTTP_LIBRARIES = ("fastapi", "starlette", "uvicorn", "httpx")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", ORDER)
def test_package_imports_only_lower_layers(package: str) -> None:
    higher = set(ORDER[ORDER.index(package) + 1:])
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & higher)
        for path in (ROOT / package).rglob("*.py")
        if _imports(path) & higher
    }
    assert offenders == {}


@pytest.mark.parametrize("package", ORDER[:-1])
def test_only_api_knows_http(package: str) -> None:
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / package).rglob("*.py")
                 if _imports(p) & set(HTTP_LIBRARIES)]
    assert offenders == []
