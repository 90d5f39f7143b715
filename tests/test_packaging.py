"""What the wheel holds (issue 18: it was 71 MB with sheets users never open). The runtime needs each bundle's
manifest and graphs; a user reads its card and main sample sheet; the per-label sheets, reconstructions,
interpolations and best-of sheets the cards link to stay in the repository."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "pixelsprite" / "models"


def _package_data() -> list[str]:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        pytest.skip("reading pyproject.toml needs tomllib (Python 3.11+)")
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(doc["tool"]["setuptools"]["package-data"]["pixelsprite"])


def _shipped(rel: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(rel, p) and rel.count("/") == p.count("/") for p in patterns)


def test_package_data_keeps_what_the_runtime_and_the_user_need_and_drops_the_extra_sheets() -> None:
    patterns = _package_data()
    files = [p.relative_to(MODELS.parent).as_posix() for p in MODELS.rglob("*") if p.is_file()]
    bundles = sorted({p.parent.name for p in MODELS.glob("*/manifest.json")})
    assert len(bundles) >= 8
    for b in bundles:
        for needed in ("manifest.json", "card.md", "samples.png"):
            assert _shipped(f"models/{b}/{needed}", patterns), f"{b}/{needed}"
        for graph in (MODELS / b).glob("*.onnx"):
            assert _shipped(f"models/{b}/{graph.name}", patterns)
    left_out = [f for f in files if not _shipped(f, patterns)]
    assert any("/label_" in f for f in left_out) and all(f.endswith(".png") for f in left_out), left_out
    assert not any(_shipped(f, patterns) for f in files if "/label_" in f or f.endswith("reconstructions.png"))


@pytest.mark.slow
def test_the_built_wheel(tmp_path: Path) -> None:
    """Build the wheel from a clean copy of the sources (no stale build/ folder) and list it."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pt", "runs")
    for pkg in ("pixelsprite", "bridge", "training"):
        shutil.copytree(ROOT / pkg, src / pkg, ignore=ignore)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(src),
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "w"),
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    (wheel,) = (tmp_path / "w").glob("pixelsprite-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        unpacked = sum(i.file_size for i in z.infolist())
    assert not [n for n in names if "/label_" in n or n.endswith(("reconstructions.png", "interpolation.png"))]
    for b in sorted({p.parent.name for p in MODELS.glob("*/manifest.json")}):
        assert {f"pixelsprite/models/{b}/{f}" for f in ("manifest.json", "card.md", "samples.png")} <= set(names)
    assert "pixelsprite_bridge/playground.html" in names and "pixelsprite/py.typed" in names
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert top == {"pixelsprite", "pixelsprite_bridge"}, top  # import names that cannot collide; no training
    print(f"wheel {wheel.stat().st_size / 1e6:.1f} MB, unpacked {unpacked / 1e6:.1f} MB, {len(names)} files")


def test_the_package_list_covers_every_runtime_folder() -> None:
    """pyproject lists the installed packages by hand (bridge/ installs as ``pixelsprite_bridge``): every folder with
    an ``__init__.py`` under pixelsprite/ and bridge/ must be in it, or a fresh install would lack it."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        pytest.skip("reading pyproject.toml needs tomllib (Python 3.11+)")
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts).replace("bridge", "pixelsprite_bridge", 1)
        if p.parts[len(ROOT.parts)] == "bridge"
        else ".".join(p.parent.relative_to(ROOT).parts)
        for folder in ("pixelsprite", "bridge")
        for p in (ROOT / folder).rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert listed == found, (sorted(listed - found), sorted(found - listed))
