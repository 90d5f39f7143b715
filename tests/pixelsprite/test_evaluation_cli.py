"""``pixelsprite evaluate``: a folder dataset named by the bundle's manifest, errors that name ``data``, a run
with torch made unimportable (the suite and the dataset builders it reads with are torch-free), the output folder
(never the source tree by default) and clean errors for bad numbers, through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pixelsprite.cli import main
from pixelsprite.imageio import write_png

pytest.importorskip("torch")

from .evaluator_bundle import write_tiny_evaluator  # noqa: E402
from .test_evaluation_suite import toy_sprites  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cli_models(tmp_path_factory: pytest.TempPathFactory, bundle_writer: Any) -> tuple[Path, Path]:
    """(models folder with ``tiny-eval``: the tiny VAE trained on ``folder:<sprites>``, and the evaluator; sprites)"""
    sprites = tmp_path_factory.mktemp("sprites")
    for i, img in enumerate(toy_sprites(120, 5)):
        (sprites / "ab"[i % 2]).mkdir(exist_ok=True)
        write_png(sprites / "ab"[i % 2] / f"s{i:03d}.png", img)
    models = tmp_path_factory.mktemp("cli-models")

    def edit(d: dict) -> None:
        d["training"]["dataset"] = {"builder": f"folder:{sprites}"}

    bundle_writer(models, "tiny-eval", edit=edit)
    write_tiny_evaluator(models)
    return models, sprites


def test_cli_writes_the_report(
    cli_models: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models, _ = cli_models
    out = tmp_path / "evaluation.md"
    code = main(
        [
            "--no-builtin-models",
            "--models-dir",
            str(models),
            "evaluate",
            "--data",
            str(tmp_path),
            "--cache",
            "",
            "--count",
            "12",
            "--baseline-count",
            "12",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert json.loads(lines[-1])["models"] == ["tiny-eval"] and any("`tiny-eval`" in line for line in lines)
    assert "tiny-eval" in out.read_text() and (tmp_path / "evaluation" / "evaluation.json").is_file()


def _entry_point(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m pixelsprite ARGS`` in ``cwd``, with this checkout importable and no user models."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env.pop("PIXELSPRITE_MODELS", None)
    return subprocess.run(
        [sys.executable, "-m", "pixelsprite", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_cli_writes_into_a_folder_of_the_users_never_the_source_tree(
    cli_models: tuple[Path, Path], tmp_path: Path
) -> None:
    models, _ = cli_models
    run_in = tmp_path / "somewhere"
    run_in.mkdir()
    base = [
        "--no-builtin-models",
        "--models-dir",
        str(models),
        "evaluate",
        "--data",
        str(tmp_path),
        "--cache",
        "",
        "--count",
        "12",
        "--baseline-count",
        "12",
    ]
    proc = _entry_point(base, run_in)  # no --out: ./pixelsprite-evaluation/, said on stderr
    assert proc.returncode == 0, proc.stderr
    out = run_in / "pixelsprite-evaluation"
    assert sorted(p.name for p in run_in.iterdir()) == ["pixelsprite-evaluation"]  # no docs/ anywhere
    assert (out / "evaluation.md").is_file() and (out / "evaluation" / "evaluation.json").is_file()
    assert json.loads(proc.stdout.splitlines()[-1])["models"] == ["tiny-eval"]
    assert any(p.name.endswith("-tiny-eval.png") for p in (out / "evaluation").iterdir())
    assert f"report: {out.resolve() / 'evaluation.md'}" in proc.stderr
    assert "two-sample accuracy ↓ (real vs real)" in proc.stdout
    named = tmp_path / "named"
    proc = _entry_point([*base, "--out", str(named)], run_in)  # a folder the user names
    assert proc.returncode == 0, proc.stderr
    assert (named / "evaluation.md").is_file() and any((named / "evaluation").glob("*.png"))
    assert json.loads(proc.stdout.splitlines()[-1])["files"] == [
        str(named / "evaluation.md"),
        str(named / "evaluation" / "evaluation.json"),
    ]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--count", "0", "--count must be between 6 and 65536, got 0"),
        ("--count", "-3", "--count must be between 6 and 65536, got -3"),
        ("--baseline-count", "5", "--baseline-count must be between 6 and 65536, got 5"),
        ("--seed", "-1", "--seed must be between 0 and"),
        ("--threads", "-2", "--threads must be between 0 and 1024, got -2"),
    ],
)
def test_bad_numbers_are_clean_errors(
    option: str, value: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["evaluate", "--data", str(tmp_path), option, value, "--out", str(tmp_path / "e")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"error: {message}") and "Traceback" not in err
    assert not (tmp_path / "e").exists()  # refused before anything was loaded or written


def test_count_zero_through_the_real_entry_point(tmp_path: Path) -> None:
    proc = _entry_point(["evaluate", "--data", str(tmp_path), "--count", "0"], tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == "error: --count must be between 6 and 65536, got 0\n"
    assert not (tmp_path / "pixelsprite-evaluation").exists()


def test_out_in_the_way_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "dir.md").mkdir()
    assert main(["evaluate", "--data", str(tmp_path), "--out", str(tmp_path / "a-file")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main(["evaluate", "--data", str(tmp_path), "--out", str(tmp_path / "dir.md")]) == 2
    assert "is a folder, where the report would go" in capsys.readouterr().err


def test_cli_errors_name_the_data(
    cli_models: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models, _ = cli_models
    code = main(
        [
            "--no-builtin-models",
            "--models-dir",
            str(models),
            "evaluate",
            "--data",
            str(tmp_path / "nope"),
            "--models",
            "tiny",
            "--out",
            str(tmp_path / "e.md"),
        ]
    )
    assert code == 2 and "error: unknown model 'tiny'" in capsys.readouterr().err
    code = main(["evaluate", "--data", str(tmp_path / "nope"), "--models", "vae16", "--out", str(tmp_path / "e.md")])
    assert code == 2 and "pass --data DIR" in capsys.readouterr().err
    code = main(
        [
            "--models-dir",
            str(models),
            "evaluate",
            "--data",
            str(tmp_path),
            "--models",
            "vae16",
            "--out",
            str(tmp_path / "e.md"),
        ]
    )  # the tiny evaluator's 8x8 canvas cannot take 16x16 sprites
    assert code == 2 and "nothing to evaluate" in capsys.readouterr().err


CHILD = textwrap.dedent(
    """
    import importlib.abc, sys

    class BlockTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError(f"{name} is blocked in this test")
            return None

    sys.meta_path.insert(0, BlockTorch())
    from pixelsprite.cli import main
    code = main(["--no-builtin-models", "--models-dir", sys.argv[1], "evaluate", "--data", sys.argv[2],
                 "--cache", "", "--count", "12", "--baseline-count", "12", "--out", sys.argv[3]])
    assert code == 0, code
    assert "torch" not in sys.modules
    """
)


def test_cli_runs_without_torch(cli_models: tuple[Path, Path], tmp_path: Path) -> None:
    models, _ = cli_models
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env.pop("PIXELSPRITE_MODELS", None)
    out = tmp_path / "evaluation.md"
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(models), str(tmp_path), str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.is_file()


def test_folder_split_has_held_out_sprites(cli_models: tuple[Path, Path]) -> None:
    from pixelsprite.evaluation.data import load_split

    data = load_split(f"folder:{cli_models[1]}", "unused", None, size=8)
    assert len(data.held_out) >= 6 and len(data.train) + len(data.held_out) == 120
    assert data.label_names == ("a", "b") and data.held_out.dtype == np.uint8
