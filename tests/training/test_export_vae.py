import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from pixelsprite import api
from pixelsprite.manifest import load_manifest
from pixelsprite.registry import Registry
from training.export import ParityError, export_graph
from training.export_vae import export_vae_bundle
from training.models.vae import VAE, VAEConfig
from training.prior_gmm import MixturePrior, fit_gmm
from training.trainer import save_checkpoint

TINY = VAEConfig(image_size=16, widths=(8, 8, 8), blocks_per_level=1, latent_channels=2)


def _checkpoint(path, model):
    save_checkpoint(
        path,
        {
            "family": "vae",
            "ema": model.state_dict(),
            "model": model.state_dict(),
            "epoch": 1,
            "step": 5,
            "elapsed_s": 1.5,
            "model_config": {"vae": TINY.to_dict(), "loss": {}, "run": {"dataset": "tiny16"}},
            "trainer_config": {"epochs": 1, "time_budget_s": 0.0, "threads": 1},
        },
    )


def test_export_graph_parity_and_signature(tmp_path):
    model = VAE(TINY).eval()
    x = torch.rand(3, 4, 16, 16) * 2 - 1
    res = export_graph(model.encoder, {"image": x}, ["mean", "logvar"], tmp_path / "enc.onnx")
    assert res.parity_max_abs_diff <= 1e-4
    assert [t.name for t in res.graph.inputs] == ["image"] and res.graph.inputs[0].shape == ("batch", 4, 16, 16)
    assert res.graph.outputs[0].shape == ("batch", 2, 4, 4)
    sess = ort.InferenceSession(str(tmp_path / "enc.onnx"))
    assert sess.run(None, {"image": np.zeros((7, 4, 16, 16), np.float32)})[0].shape == (7, 2, 4, 4)  # dynamic batch


def test_parity_failure_is_reported(tmp_path):
    class Random(torch.nn.Module):  # a graph whose output cannot match a second run
        def forward(self, x):
            return x + torch.rand_like(x)

    with pytest.raises(ParityError, match="differs from torch"):
        export_graph(Random(), {"x": torch.zeros(2, 3)}, ["y"], tmp_path / "r.onnx")


def test_gmm_recovers_two_clusters():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-3, 0.5, (300, 2)), rng.normal(4, 1.0, (100, 2))])
    g = fit_gmm(x, components=2, reg=1e-4)
    order = np.argsort(g.means[:, 0])
    assert np.allclose(g.weights[order], [0.75, 0.25], atol=0.03)
    assert np.allclose(g.means[order, 0], [-3, 4], atol=0.25)
    prior = MixturePrior(g, (2,))
    z = prior(torch.zeros(2, 2), torch.tensor([0, 1]))
    assert torch.allclose(z, torch.from_numpy(g.means).float())


def test_export_vae_bundle_end_to_end(tmp_path, tiny_set):
    torch.manual_seed(0)
    model = VAE(TINY)
    _checkpoint(tmp_path / "last.pt", model)
    bundle = tmp_path / "models" / "tiny"
    export_vae_bundle(tmp_path / "last.pt", tiny_set, bundle, "tiny", components=3)
    names = sorted(p.name for p in bundle.iterdir())
    assert names == [
        "card.md",
        "decoder.onnx",
        "encoder.onnx",
        "interpolation.png",
        "manifest.json",
        "prior.onnx",
        "reconstructions.png",
        "samples.png",
    ]
    m = load_manifest(bundle / "manifest.json")
    assert m.latent is not None and m.latent.prior == "gaussian_mixture" and len(m.latent.mixture_weights) == 3
    assert m.postprocess.max_colors > 0 and m.labels == ("diamond", "square")
    assert m.metrics["parity_max_abs_diff"]["decoder"] <= 1e-4
    assert json.loads((bundle / "manifest.json").read_text())["training"]["data"][0]["name"] == "drawn in tests"
    card = (bundle / "card.md").read_text()
    assert "drawn in tests" in card and "isolated-pixel rate" in card
    reg = Registry([tmp_path / "models"], builtin=False, env=False)
    a = api.generate("tiny", 4, seed=3, registry=reg).sprites
    b = api.generate("tiny", 1, seed=4, registry=reg).sprites
    assert a.shape == (4, 16, 16, 4) and np.array_equal(a[1], b[0])
    assert set(np.unique(a[..., 3])) <= {0, 255}
