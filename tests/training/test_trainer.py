import csv

import numpy as np
import torch

from training.distributed import setup
from training.models.vae import VAE, VAEConfig
from training.objectives_vae import VAELossConfig, VAEObjective
from training.trainer import Trainer, TrainerConfig, label_weights, load_checkpoint, lr_at

TINY = VAEConfig(image_size=16, widths=(8, 8, 8), blocks_per_level=1, latent_channels=2)


def _fit(tiny_set, out, epochs, budget=0.0, sample_every=1):
    cfg = TrainerConfig(
        epochs=epochs, batch_size=16, warmup_steps=2, sample_count=8, time_budget_s=budget, sample_every=sample_every
    )
    torch.manual_seed(0)
    tr, va = tiny_set.train(), tiny_set.val()
    return Trainer(cfg, setup("cpu"), out).fit(
        VAE(TINY),
        {"vae": TINY.to_dict()},
        "vae",
        VAEObjective(VAELossConfig(kl_warmup_steps=5)),
        tr.images,
        tr.labels,
        va.images,
        va.labels,
    )


def test_train_checkpoint_resume_metrics_and_samples(tmp_path, tiny_set):
    first = _fit(tiny_set, tmp_path, epochs=2)
    assert first.epochs_done == 2 and first.steps == 2 * (84 // 16)
    state = load_checkpoint(first.checkpoint)
    assert state["model_config"]["vae"] == TINY.to_dict() and state["epoch"] == 2
    again = _fit(tiny_set, tmp_path, epochs=3)  # resumes: one more epoch, not three
    assert again.epochs_done == 3 and again.steps == 3 * (84 // 16)
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert all(np.isfinite(float(r["val_loss"])) for r in rows)
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [f"epoch_{i:04d}.png" for i in (1, 2, 3)]


def test_preview_sheets_every_n_epochs_and_always_the_last(tmp_path, tiny_set):
    _fit(tiny_set, tmp_path, epochs=5, sample_every=2)
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [f"epoch_{i:04d}.png" for i in (2, 4, 5)]


def test_time_budget_stops_with_a_checkpoint(tmp_path, tiny_set):
    res = _fit(tiny_set, tmp_path, epochs=1000, budget=1e-9)
    assert res.stopped_by_budget and res.epochs_done == 1 and res.checkpoint.exists()


def test_lr_schedule_warms_up_then_decays():
    cfg = TrainerConfig(lr=1.0, warmup_steps=10, min_lr_ratio=0.1)
    assert lr_at(0, 100, cfg) == 0.1 and lr_at(9, 100, cfg) == 1.0
    assert abs(lr_at(100, 100, cfg) - 0.1) < 1e-9 and lr_at(50, 100, cfg) < lr_at(20, 100, cfg)


def test_label_balance_weights_each_label_as_asked():
    labels = np.array([0] * 90 + [1] * 10)
    for balance, share_of_1 in ((0.0, 0.10), (0.5, 0.25), (1.0, 0.50)):
        w = label_weights(labels, balance).numpy()
        assert np.isclose(w.sum(), 1.0) and np.isclose(w[labels == 1].sum(), share_of_1)
    draws = torch.multinomial(
        label_weights(labels, 1.0), 20_000, replacement=True, generator=torch.Generator().manual_seed(0)
    )
    assert abs(float((labels[draws.numpy()] == 1).mean()) - 0.5) < 0.02
