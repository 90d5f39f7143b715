"""Training side of the flow family: the objective against the runtime's paths, and a tiny train -> export ->
generate run in the latent space of a VAE bundle (the first-stage switch)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from pixelsprite import api
from pixelsprite.manifest import ImageSpec, LatentSpec, Manifest, PostprocessSpec, load_manifest, save_manifest
from pixelsprite.registry import Registry
from pixelsprite.samplers.paths import FlowPath
from training.data.builders import load_dataset
from training.export import export_graph
from training.export_generator import export_generator_bundle
from training.first_stage import FirstStage
from training.models.vae import VAE, VAEConfig
from training.objectives_flow import FlowLossConfig, FlowObjective

from .test_diffusion_training import TINY_FLAGS, Recorder, write_folder


@pytest.mark.parametrize(("path", "time_sampling"), [("linear", "uniform"), ("cosine", "logit_normal")])
def test_objective_uses_the_runtime_path(path: str, time_sampling: str) -> None:
    obj = FlowObjective(FlowLossConfig(path=path, time_sampling=time_sampling, label_dropout=0.0), num_labels=2)
    p = FlowPath(path)
    model = Recorder()
    torch.manual_seed(0)
    x1 = torch.rand(6, 4, 8, 8) * 2 - 1
    loss, _ = obj.loss(model, x1, torch.zeros(6, dtype=torch.int64), step=0)
    x_t, t, _ = (v.numpy() for v in model.seen)
    assert ((t > 0) & (t < 1)).all()
    want = []
    for i in range(6):
        a, s = p.alpha_sigma(float(t[i]))
        x0 = (x_t[i] - a * x1[i].numpy()) / s
        want.append(p.velocity(x1[i].numpy(), x0, float(t[i])))
    assert float(loss.detach()) == pytest.approx(float(np.mean(np.square(want))), rel=1e-4)
    for ti in (0.0, 0.3, 1.0):  # the torch coefficients are the runtime's
        got = [float(c) for c in obj._coefficients(torch.tensor(ti))]
        assert np.allclose(got, [*p.alpha_sigma(ti), *p.d_alpha_sigma(ti)], atol=1e-6)
    assert math.isfinite(float(loss.detach()))


def _vae_bundle(root: Path) -> Path:
    """An untrained 16x16 VAE bundle (encoder + decoder, standard-normal prior) for the first-stage switch."""
    torch.manual_seed(0)
    vae = VAE(VAEConfig(image_size=16, widths=(8, 8, 8), blocks_per_level=1, latent_channels=2)).eval()
    folder = root / "tvae"
    folder.mkdir(parents=True)
    enc = export_graph(
        vae.encoder, {"image": torch.rand(2, 4, 16, 16) * 2 - 1}, ["mean", "logvar"], folder / "encoder.onnx"
    )
    dec = export_graph(vae.decoder, {"z": torch.randn(2, 2, 4, 4)}, ["image"], folder / "decoder.onnx")
    save_manifest(
        Manifest(
            name="tvae",
            family="vae",
            image=ImageSpec(16, 16),
            latent=LatentSpec((2, 4, 4)),
            postprocess=PostprocessSpec(0.0, 0),
            graphs={"encoder": enc.graph, "decoder": dec.graph},
        ),
        folder / "manifest.json",
    )
    return folder


def test_latent_flow_train_export_generate(tmp_path: Path, tiny_set) -> None:
    from training import train_flow

    vae = _vae_bundle(tmp_path / "vaes")
    fs = FirstStage.load(vae, tiny_set.images)
    z = fs.encode(torch.from_numpy(tiny_set.images[:32]).permute(0, 3, 1, 2).float() / 127.5 - 1)
    assert z.shape == (32, 2, 4, 4) and abs(float(z.mean())) < 0.5
    data_dir = write_folder(tmp_path / "sprites", tiny_set.images, tiny_set.labels, tiny_set.label_names)
    out = tmp_path / "run"
    flags = [f if f != "0" else "1" for f in TINY_FLAGS]  # attention on both levels of the 4x4 latent
    train_flow.main(
        ["--dataset", f"folder:{data_dir}", "--out", str(out), "--name", "tflow", "--first-stage", str(vae), *flags]
    )
    data = load_dataset(f"folder:{data_dir}", "", 16)
    bundle = tmp_path / "models" / "tflow"
    export_generator_bundle(
        out / "last.pt",
        data,
        bundle,
        "tflow",
        eval_count=16,
        reference_count=8,
        sweep=[("euler", 2), ("heun", 2)],
        reference=("heun", 8),
        speed_batch=8,
    )
    m = load_manifest(bundle)
    s = m.extra["sampling"]
    assert m.family == "flow" and s["space"] == "latent" and s["shape"] == [2, 4, 4]
    assert m.metrics["fd"]["metric"] == "fd_evaluator"  # the frozen evaluator's features, as in docs/evaluation.md
    cal = m.metrics["postprocess_calibration"]
    assert set(cal["per_label"]) == {"diamond", "square"}  # each label calibrated against its own training sprites
    for p in m.postprocess.per_label:  # a label keeps its own policy only where it beats the overall one there
        assert cal["per_label"][p.label]["chosen"]["gap"] < cal["per_label"][p.label]["overall_policy"]["gap"]
    assert s["path"] == "linear" and s["time_input"] == "t" and len(s["latent"]["mean"]) == 2
    assert set(m.graphs) == {"velocity", "encoder", "decoder"}
    # re-deciding from the stored sweep (no re-sweep) under a tighter budget
    from training.export_generator import refinish_bundle

    again = refinish_bundle(bundle, data, tmp_path / "models3" / "tflow", eval_count=16, speed_batch=8, max_nfe=2)
    assert again.metrics["quality_vs_steps"] == m.metrics["quality_vs_steps"]
    assert again.metrics["max_default_nfe"] == 2 and again.extra["sampling"]["defaults"]["solver"] == "euler"
    assert "interactive budget" in (tmp_path / "models3" / "tflow" / "card.md").read_text()
    reg = Registry([tmp_path / "models"], builtin=False, env=False)
    a = api.generate("tflow", 3, seed=5, label="diamond", registry=reg).sprites
    assert a.shape == (3, 16, 16, 4) and set(np.unique(a[..., 3])) <= {0, 255}
    v = api.variations("tflow", tiny_set.images[0], 2, strength=0.3, seed=0, registry=reg)
    assert v.sprites.shape == (2, 16, 16, 4)

    # reflow: couplings of the teacher's guided ODE, a straighter student, exported against the teacher's bar
    from pixelsprite.samplers import heun
    from pixelsprite.samplers.guidance import guided
    from pixelsprite.samplers.paths import uniform_grid
    from training import reflow
    from training.generator_common import numpy_network
    from training.trainer import load_checkpoint

    cfg = reflow.ReflowConfig(pairs=40, teacher_steps=3, chunk=16, steps=20, batch_size=8, checkpoint_every=10)
    teacher, state = reflow.load_teacher(out / "last.pt")
    (tmp_path / "reflow").mkdir()
    pairs = reflow.make_pairs(teacher, state["model_config"], cfg, tmp_path / "reflow" / "pairs.npz")
    cached = reflow.make_pairs(teacher, state["model_config"], cfg, tmp_path / "reflow" / "pairs.npz")
    assert np.array_equal(pairs.x1, cached.x1) and pairs.x0.shape == (40, 2, 4, 4)
    assert set(np.unique(pairs.labels)) <= {0, 1, 2}  # 2: the null label
    one = heun.integrate(
        guided(numpy_network(teacher), pairs.labels[5:6], 2, cfg.guidance),
        pairs.x0[5:6],
        uniform_grid(cfg.teacher_steps),
    )
    assert np.allclose(one, pairs.x1[5:6], atol=1e-4)  # each pair is that row's own ODE solution
    ckpt = reflow.train_student(teacher, state, pairs, cfg, tmp_path / "reflow")
    saved = load_checkpoint(ckpt)
    assert saved["family"] == "flow" and saved["reflow"]["step"] == 20 and saved["step"] == state["step"] + 20
    student = tmp_path / "models2" / "tflowr"
    export_generator_bundle(
        ckpt,
        data,
        student,
        "tflowr",
        eval_count=16,
        reference_count=8,
        guidance=1.0,
        sweep=[("euler", 1), ("euler", 2)],
        reference=("heun", 8),
        speed_batch=8,
        baseline=load_manifest(bundle),
        baseline_folder=bundle,
    )
    m2 = load_manifest(student)
    d = m2.metrics["distilled_from"]
    assert d["bundle"] == "tflow" and d["recipe"]["pairs"] == 40
    assert d["reference"]["fd"] == m.metrics["reference"]["fd"]
    assert m2.extra["sampling"]["defaults"]["guidance"] == 1.0
    assert m2.extra["sampling"]["defaults"]["solver"] == "euler"
    assert "Distillation" in (student / "card.md").read_text()
