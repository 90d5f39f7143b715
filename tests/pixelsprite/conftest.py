"""Tiny VAE bundles built inside the tests (torch -> ONNX in a temp dir), for fast runtime tests.

``tiny``: 8x8 RGBA sprites, latent (4, 2, 2), encoder + decoder, max_colors 6; ``tiny-dec``: the same decoder
without an encoder; ``tiny-gmm``: ``tiny`` plus a 2-component Gaussian-mixture ``prior`` graph
(``GMM_MEANS``, ``GMM_CHOL``, ``GMM_WEIGHTS``). All are a few thousand parameters and load in milliseconds.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pixelsprite.imageio import write_png
from pixelsprite.manifest import (
    GraphSpec,
    ImageSpec,
    LatentSpec,
    Manifest,
    PostprocessSpec,
    TensorSpec,
    sha256_file,
)
from pixelsprite.registry import Registry

SIZE = 8
LATENT = (4, 2, 2)
MAX_COLORS = 6
GMM_D = 16
GMM_WEIGHTS = (0.25, 0.75)
GMM_MEANS = np.stack([np.full(GMM_D, -2.0), np.linspace(0.0, 1.5, GMM_D)]).astype(np.float32)  # (K, D)
GMM_CHOL = np.stack([0.5 * np.eye(GMM_D), np.tril(np.full((GMM_D, GMM_D), 0.1))]).astype(np.float32)  # (K, D, D)

BundleWriter = Callable[..., Path]


def _export_tiny_vae(out: Path) -> dict[str, Path]:
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(
                nn.Conv2d(4, 8, 3, stride=2, padding=1),
                nn.SiLU(),
                nn.Conv2d(8, 2 * LATENT[0], 3, stride=2, padding=1),
            )

        def forward(self, image: Any) -> tuple[Any, Any]:
            mean, logvar = self.net(image).chunk(2, dim=1)
            return mean, logvar

    class Decoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(
                nn.ConvTranspose2d(LATENT[0], 16, 4, stride=2, padding=1),
                nn.SiLU(),
                nn.ConvTranspose2d(16, 4, 4, stride=2, padding=1),
                nn.Tanh(),
            )

        def forward(self, z: Any) -> Any:
            return self.net(z)

    class MixturePrior(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("means", torch.from_numpy(GMM_MEANS))
            self.register_buffer("chol", torch.from_numpy(GMM_CHOL))

        def forward(self, eps: Any, component: Any) -> Any:
            z = self.means[component] + torch.bmm(self.chol[component], eps.unsqueeze(-1)).squeeze(-1)
            return z.reshape(-1, *LATENT)

    files = {}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the legacy exporter is what the brief asks for
        for role, module, example, ins, outs in (
            ("encoder", Encoder().eval(), torch.zeros(2, 4, SIZE, SIZE), ["image"], ["mean", "logvar"]),
            ("decoder", Decoder().eval(), torch.zeros(2, *LATENT), ["z"], ["image"]),
        ):
            path = out / f"{role}.onnx"
            torch.onnx.export(
                module,
                (example,),
                str(path),
                dynamo=False,
                opset_version=17,
                input_names=ins,
                output_names=outs,
                dynamic_axes={name: {0: "batch"} for name in ins + outs},
            )
            files[role] = path
        path = out / "prior.onnx"
        example = (torch.zeros(2, GMM_D), torch.zeros(2, dtype=torch.int64))
        torch.onnx.export(
            MixturePrior().eval(),
            example,
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=["eps", "component"],
            output_names=["z"],
            dynamic_axes={"eps": {0: "batch"}, "component": {0: "batch"}, "z": {0: "batch"}},
        )
        files["prior"] = path
    return files


def tiny_manifest(name: str, files: dict[str, Path], roles: tuple[str, ...] = ("encoder", "decoder")) -> Manifest:
    img = TensorSpec("image", "float32", ("batch", 4, SIZE, SIZE))
    lat = ("batch", *LATENT)
    graphs = {}
    if "encoder" in roles:
        graphs["encoder"] = GraphSpec(
            file="encoder.onnx",
            sha256=sha256_file(files["encoder"]),
            opset=17,
            inputs=[img],
            outputs=[TensorSpec("mean", "float32", lat), TensorSpec("logvar", "float32", lat)],
        )
    graphs["decoder"] = GraphSpec(
        file="decoder.onnx",
        sha256=sha256_file(files["decoder"]),
        opset=17,
        inputs=[TensorSpec("z", "float32", lat)],
        outputs=[img],
    )
    latent = LatentSpec(LATENT)
    if "prior" in roles:
        latent = LatentSpec(LATENT, "gaussian_mixture", GMM_WEIGHTS)
        graphs["prior"] = GraphSpec(
            file="prior.onnx",
            sha256=sha256_file(files["prior"]),
            inputs=[TensorSpec("eps", "float32", ("batch", GMM_D)), TensorSpec("component", "int64", ("batch",))],
            outputs=[TensorSpec("z", "float32", lat)],
        )
    return Manifest(
        name=name,
        family="vae",
        description="tiny test VAE",
        image=ImageSpec(SIZE, SIZE),
        latent=latent,
        labels=["a", "b"],
        postprocess=PostprocessSpec(alpha_threshold=0.0, max_colors=MAX_COLORS),
        graphs=graphs,
        training={"data": [], "recipe": {}, "seconds": 0.0, "epochs": 0, "framework": "test"},
    )


@pytest.fixture(scope="session")
def onnx_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{"encoder": path, "decoder": path}`` of the tiny VAE's ONNX files (exported once per session)."""
    return _export_tiny_vae(tmp_path_factory.mktemp("onnx"))


@pytest.fixture(scope="session")
def bundle_writer(onnx_files: dict[str, Path]) -> BundleWriter:
    """``write(root, name, roles=..., edit=None) -> bundle folder``: a tiny bundle in ``root/name``.

    ``edit(manifest_dict)`` may change the manifest dict before it is written.
    """
    import json

    def write(
        root: Path,
        name: str,
        roles: tuple[str, ...] = ("encoder", "decoder"),
        edit: Callable[[dict[str, Any]], None] | None = None,
    ) -> Path:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for role in roles:
            shutil.copyfile(onnx_files[role], folder / f"{role}.onnx")
        d = tiny_manifest(name, onnx_files, roles).to_dict()
        if edit is not None:
            edit(d)
        (folder / "manifest.json").write_text(json.dumps(d, indent=2))
        (folder / "card.md").write_text(f"# {name}\n\nA tiny test model.\n")
        write_png(folder / "samples.png", np.zeros((SIZE, SIZE, 4), np.uint8))
        return folder

    return write


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory, bundle_writer: BundleWriter) -> Path:
    """A models folder holding the ``tiny``, ``tiny-dec`` and ``tiny-gmm`` bundles."""
    root = tmp_path_factory.mktemp("models")
    bundle_writer(root, "tiny")
    bundle_writer(root, "tiny-dec", roles=("decoder",))
    bundle_writer(root, "tiny-gmm", roles=("encoder", "decoder", "prior"))
    return root


@pytest.fixture(scope="session")
def gmm() -> dict[str, Any]:
    """The ``tiny-gmm`` mixture: ``weights`` (K,), ``means`` (K, D), ``chol`` (K, D, D)."""
    return {"weights": np.array(GMM_WEIGHTS), "means": GMM_MEANS, "chol": GMM_CHOL}


@pytest.fixture(scope="session")
def registry(models_dir: Path) -> Registry:
    """A registry of the tiny bundles only (no built-ins, no environment), shared by the session."""
    return Registry([models_dir], builtin=False, env=False)


@pytest.fixture(scope="session")
def iterative_registry(tmp_path_factory: pytest.TempPathFactory, onnx_files: dict[str, Path]) -> Registry:
    """The tiny diffusion and flow bundles of ``iterative_bundles.py`` (tdiff, tdiff-v, tdiff-u, tflow, tflow-lat)
    next to the tiny VAEs, in one registry."""
    from .iterative_bundles import write_iterative_models

    root = tmp_path_factory.mktemp("iterative")
    write_iterative_models(root, onnx_files)
    return Registry([root], builtin=False, env=False)
