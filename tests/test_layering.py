"""Layers point one way (issue 15): runtime (``pixelsprite/``) ← bridge (``bridge/``) ← entry points, and ``training``
imports the runtime, never the reverse.

Read from each module's syntax tree, so lazy imports inside functions count too (the way the rule used to be broken:
``pixelsprite/cli.py`` imported the bridge for ``serve``, ``pixelsprite/evaluation/data.py`` imported
``training.data.builders``); then every module is imported for real with the layers above it made unimportable.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# folder -> the top-level import names its modules must never import (bridge/ installs as ``pixelsprite_bridge``;
# its own modules import each other relatively, so neither name may appear in pixelsprite/)
FORBIDDEN = {
    "pixelsprite": ("bridge", "pixelsprite_bridge", "training"),
    "bridge": ("training",),
}
# entry points sit above every layer and nothing imports them: ``python -m pixelsprite`` runs the bridge's CLI
ENTRY_POINTS = {"pixelsprite/__main__.py"}


def _modules(folder: str) -> Iterator[Path]:
    for path in sorted((ROOT / folder).rglob("*.py")):
        if "__pycache__" not in path.parts and path.relative_to(ROOT).as_posix() not in ENTRY_POINTS:
            yield path


def imported_names(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) for every import in ``path``: ``import``, ``from``, relative imports resolved,
    and ``importlib.import_module("...")`` / ``__import__("...")`` with a literal name."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    package = parts if parts[-1] == "__init__" else parts[:-1]
    if package and package[-1] == "__init__":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                yield node.lineno, node.module or ""
            elif node.level > len(package):
                yield node.lineno, "<a relative import above the top-level package>"
            else:
                base = package[: len(package) - node.level + 1]
                yield node.lineno, ".".join([*base, *([node.module] if node.module else [])])
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value


def test_the_import_reader_resolves_relative_imports(tmp_path: Path) -> None:
    names = dict(imported_names(ROOT / "pixelsprite" / "evaluation" / "data.py"))
    assert "pixelsprite.datasets.builders" in names.values() and "pixelsprite.errors" in names.values()
    assert "pixelsprite.evaluation.suite" in names.values()
    init = dict(imported_names(ROOT / "pixelsprite" / "evaluation" / "__init__.py"))
    assert all(n.startswith("pixelsprite.evaluation") or "." not in n for n in init.values()), init


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_no_layer_imports_a_layer_above_it(folder: str) -> None:
    forbidden = FORBIDDEN[folder]
    wrong = [
        f"{path.relative_to(ROOT).as_posix()}:{line}: imports {name}"
        for path in _modules(folder)
        for line, name in imported_names(path)
        if name.split(".")[0] in forbidden or name.startswith("<")
    ]
    assert not wrong, f"{folder}/ must not import {' or '.join(forbidden)}:\n" + "\n".join(wrong)


def test_nothing_imports_the_entry_points() -> None:
    entry_modules = {p.removesuffix(".py").replace("/", ".") for p in ENTRY_POINTS}
    wrong = [
        f"{path.relative_to(ROOT).as_posix()}:{line}"
        for folder in ("pixelsprite", "bridge", "training")
        for path in _modules(folder)
        for line, name in imported_names(path)
        if name in entry_modules
    ]
    assert not wrong, wrong


def test_every_module_imports_with_the_layers_above_it_unimportable() -> None:
    """Each runtime module with the bridge and ``training`` blocked, then each bridge module (``pixelsprite_bridge``,
    as installed) with ``training`` blocked, in a fresh interpreter."""
    code = textwrap.dedent(
        """
        import importlib, importlib.abc, pkgutil, sys

        blocked = {"bridge", "pixelsprite_bridge", "training"}

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in blocked:
                    raise ImportError(f"{name} is above this layer")
                return None

        sys.meta_path.insert(0, Block())

        def import_all(package):
            importlib.import_module(package)
            for info in pkgutil.walk_packages(sys.modules[package].__path__, package + "."):
                if info.name.rsplit(".", 1)[-1] != "__main__":
                    importlib.import_module(info.name)

        import_all("pixelsprite")
        assert not [m for m in sys.modules if m.split(".")[0] in blocked]
        blocked.discard("pixelsprite_bridge")
        import_all("pixelsprite_bridge")
        assert not [m for m in sys.modules if m.split(".")[0] == "training"]
        """
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]


def test_the_console_script_is_the_bridge_cli_with_serve_and_watch(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        pytest.skip("reading pyproject.toml needs tomllib (Python 3.11+)")
    target = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["pixelsprite"]
    assert target == "pixelsprite_bridge.cli:main"
    from pixelsprite_bridge.cli import main

    for command in ("serve", "watch"):
        assert main([command, "--help"]) == 0
        assert f"usage: pixelsprite {command}" in capsys.readouterr().out
    from pixelsprite.cli import main as runtime_main

    assert runtime_main(["serve"]) == 2  # the runtime's CLI alone has no bridge commands
    assert "invalid choice: 'serve'" in capsys.readouterr().err
