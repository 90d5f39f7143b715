"""Registry: search path, overrides, lazy verified loading, and clear BundleErrors."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from pixelsprite import registry as registry_mod
from pixelsprite.errors import BundleError, UnknownModel
from pixelsprite.registry import Registry


def test_lists_bundles_without_loading(registry: Registry, models_dir: Path) -> None:
    fresh = Registry([models_dir], builtin=False, env=False)
    assert fresh.names() == ["tiny", "tiny-dec", "tiny-gmm"]
    info = fresh.info("tiny")
    assert info.path == models_dir / "tiny"
    assert info.family == "vae"
    assert not info.builtin
    assert not fresh.is_loaded("tiny")
    assert fresh.problems == ()


def test_lazy_load_is_cached_and_thread_safe(models_dir: Path) -> None:
    reg = Registry([models_dir], builtin=False, env=False)
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(reg.load("tiny"))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert reg.is_loaded("tiny")
    assert all(r is results[0] for r in results)
    assert reg.load("tiny") is results[0]
    assert set(results[0].sessions) == {"encoder", "decoder"}


def test_unknown_model_lists_available(registry: Registry) -> None:
    with pytest.raises(UnknownModel) as e:
        registry.load("nope")
    assert "tiny, tiny-dec, tiny-gmm" in e.value.message
    assert e.value.field == "model"


def test_user_dirs_and_env_override_builtin(
    tmp_path: Path, bundle_writer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    builtin, env1, env2, user = (tmp_path / n for n in ("builtin", "env1", "env2", "user"))
    bundle_writer(builtin, "tiny", edit=lambda d: d.update(description="builtin"))
    bundle_writer(builtin, "other")
    bundle_writer(env1, "tiny", edit=lambda d: d.update(description="env1"))
    bundle_writer(env2, "envonly")
    monkeypatch.setattr(registry_mod, "BUILTIN_DIR", builtin)

    assert Registry(env=False).info("tiny").builtin
    assert Registry(env=False).default_model() == "other"  # first built-in by name (no vae16)

    monkeypatch.setenv("PIXELSPRITE_MODELS", os.pathsep.join([str(env1), "", str(env2)]))
    reg = Registry()
    assert reg.names() == ["envonly", "other", "tiny"]
    assert reg.info("tiny").manifest.description == "env1"
    assert not reg.info("tiny").builtin

    bundle_writer(user, "tiny", edit=lambda d: d.update(description="user"))
    bundle_writer(user, "vae16")
    reg = Registry([user])
    assert reg.info("tiny").manifest.description == "user"
    assert reg.default_model() == "vae16"
    assert reg.search_path == (builtin, env1, env2, user)


def test_env_problems_and_missing_dir(tmp_path: Path) -> None:
    reg = Registry(builtin=False, environ={"PIXELSPRITE_MODELS": str(tmp_path / "gone")})
    assert reg.names() == []
    assert "is not a folder" in reg.problems[0]
    with pytest.raises(BundleError, match="does not exist") as e:
        Registry([tmp_path / "missing"])
    assert e.value.field == "models_dir"
    with pytest.raises(UnknownModel):
        reg.default_model()


def _reg(root: Path) -> Registry:
    return Registry([root], builtin=False, env=False)


def test_hash_mismatch(tmp_path: Path, bundle_writer: Any) -> None:
    folder = bundle_writer(tmp_path, "tiny")
    with open(folder / "decoder.onnx", "ab") as f:
        f.write(b"\0")
    with pytest.raises(BundleError) as e:
        _reg(tmp_path).load("tiny")
    msg = e.value.message
    assert str(folder) in msg and "'decoder'" in msg and "sha256 mismatch" in msg


def test_missing_graph_file(tmp_path: Path, bundle_writer: Any) -> None:
    folder = bundle_writer(tmp_path, "tiny")
    (folder / "encoder.onnx").unlink()
    with pytest.raises(BundleError, match=r"graph 'encoder' \(encoder.onnx\): file is missing"):
        _reg(tmp_path).load("tiny")


def test_not_onnx_with_matching_hash(tmp_path: Path, bundle_writer: Any) -> None:
    import hashlib

    garbage = b"this is not an onnx model"

    def edit(d: dict[str, Any]) -> None:
        d["graphs"]["decoder"]["sha256"] = hashlib.sha256(garbage).hexdigest()

    folder = bundle_writer(tmp_path, "tiny", edit=edit)
    (folder / "decoder.onnx").write_bytes(garbage)
    with pytest.raises(BundleError, match="onnxruntime cannot load the graph"):
        _reg(tmp_path).load("tiny")


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (
            lambda d: d["graphs"]["decoder"]["inputs"][0].update(name="latent"),
            "the ONNX graph's inputs are ['z'] but the manifest declares ['latent']",
        ),
        (
            lambda d: d["graphs"]["encoder"]["outputs"].pop(),
            "the ONNX graph's outputs are ['mean', 'logvar'] but the manifest declares ['mean']",
        ),
        (
            lambda d: d["graphs"]["decoder"]["inputs"][0].update(dtype="float16"),
            "input 'z' is float32 in the ONNX graph but float16 in the manifest",
        ),
        (
            lambda d: d["graphs"]["decoder"]["outputs"][0].update(shape=["batch", 4, 16, 16]),
            "(dim 2: 8 != 16)",
        ),
        (
            lambda d: d["graphs"]["decoder"]["inputs"][0].update(shape=["batch", 4, 2]),
            "rank differs",
        ),
    ],
)
def test_io_mismatch(tmp_path: Path, bundle_writer: Any, edit: Any, needle: str) -> None:
    folder = bundle_writer(tmp_path, "tiny", edit=edit)
    with pytest.raises(BundleError) as e:
        _reg(tmp_path).load("tiny")
    assert needle in e.value.message
    assert str(folder) in e.value.message


def test_broken_manifest_is_reported(tmp_path: Path, bundle_writer: Any) -> None:
    bundle_writer(tmp_path, "good")
    bad = bundle_writer(tmp_path, "bad")
    (bad / "manifest.json").write_text('{"format": "pixelsprite-bundle"}')
    reg = _reg(tmp_path)
    assert reg.names() == ["good"]
    assert len(reg.problems) == 1 and str(bad) in reg.problems[0]
    with pytest.raises(BundleError, match="'format_version' is missing"):
        reg.info("bad")


def test_default_prefers_pixel16_and_falls_back_per_operation(
    tmp_path: Path, bundle_writer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pixelsprite.api import resolve

    monkeypatch.setattr(registry_mod, "BUILTIN_DIR", tmp_path / "none")
    bundle_writer(tmp_path, "vae16")
    bundle_writer(tmp_path, "pixel16", edit=lambda d: d.update(family="teacher"))  # a family without generate
    reg = Registry([tmp_path], env=False)
    assert reg.default_model() == "pixel16"  # first preference present
    assert reg.default_model(lambda b: b.family == "vae") == "vae16"
    assert reg.default_model(lambda b: False) == "pixel16"  # nothing accepted: the caller's error names the model
    assert resolve.model_name(reg, None, "generate") == "vae16"  # the preferred one cannot generate
    assert resolve.model_name(reg, "pixel16", "generate") == "pixel16"  # a named model is never replaced


def test_shipped_defaults_per_operation() -> None:
    from pixelsprite.api import resolve

    reg = Registry(env=False)
    if not {"pixel16", "vae16"} <= set(reg.names()):
        pytest.skip("the shipped pixel16 and vae16 bundles are not installed")
    assert reg.default_model() == "pixel16"
    assert resolve.model_name(reg, None, "generate") == "pixel16"
    for op in ("encode", "decode", "interpolate"):  # latent-space operations: pixel16 has no latent space
        assert resolve.model_name(reg, None, op) == "vae16", op
