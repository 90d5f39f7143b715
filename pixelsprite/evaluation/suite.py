"""The evaluation suite: every generator sampled at its bundle's defaults and measured beside real sprites.

For each dataset (a generator is measured on the dataset it was trained on, named in its manifest's
``training.dataset.builder``):

1. the held-out real sprites get the evaluator's features once;
2. **baseline** row: a random subset of the *training* split (``baseline_count`` sprites) against the held-out
   split — the Fréchet distance, KID, precision/recall, neighbour-step distance and two-sample accuracy two
   samples of real sprites reach at these sizes (the floor of each measure);
3. **held-out real** row: the pixel-art statistics, neighbour-step profile (the reference), memorization rate (a
   held-out sprite with a near-identical training sprite: DCSS has near-duplicates), evaluator accuracy and
   teacher scores of the held-out sprites;
4. one **generator** row per model: ``count`` sprites at the bundle's defaults (seeds ``seed ...``; label-
   conditional models get the held-out label mix, largest remainders), against the held-out split.

Besides the evaluator's features (FD, KID, precision/recall), every row is measured on its pixels: the
neighbour-step profile (:mod:`.crispness`) and its total-variation distance to the held-out profile, and the
two-sample accuracy of a small CNN trained fresh to tell the row's sprites from the held-out ones
(:mod:`.two_sample`; 0.5 = indistinguishable). Known damage to real sprites (:mod:`.corruptions`: noise, blur, half
resolution, posterization) goes through every measure too, so each one is seen to move.

Inputs are plain arrays (:class:`SpriteData`), so the suite itself needs neither torch nor the dataset builders.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import api, families
from ..registry import Registry
from .corruptions import CORRUPTIONS
from .crispness import profile_distance, step_profile
from .distances import frechet_distance, kid, precision_recall
from .evaluator import Evaluator
from .sprites import memorization_rate, pixel_art_stats
from .two_sample import two_sample_accuracy

__all__ = [
    "GENERATOR_FAMILIES",
    "DatasetReport",
    "SetMetrics",
    "SpriteData",
    "SuiteConfig",
    "SuiteResult",
    "dataset_of",
    "generators",
    "labels_like",
    "run_suite",
    "sample_generator",
]

GENERATOR_FAMILIES = families.families_with(families.GENERATOR_OPERATION)
"""Families whose bundles generate (from their declared operations); the suite evaluates their bundles."""
FALLBACK_DATASET = {16: "dcss16fine", 40: "dcss40fine"}
Scorer = Callable[[np.ndarray], "np.ndarray | None"]
"""Teacher quality per sprite: uint8 ``(N, S, S, 4)`` -> float ``(N,)`` in [0, 1], or None (size not scored)."""


@dataclass(frozen=True)
class SuiteConfig:
    """How much to sample and how to estimate; the defaults are the published run's.

    count: generated sprites per model; baseline_count: training sprites in the real-vs-real baseline;
    seed: base seed of the generated sprites and of every subsample; kid_*: KID subsets; pr_*: precision/recall
    neighbourhood size and equal-size repeats; baseline_draws: training subsets whose distances the real-vs-real
    row averages (their FD's std is the noise floor); sheet_count: sprites per sample sheet.
    """

    count: int = 512
    baseline_count: int = 512
    seed: int = 0
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    pr_k: int = 3
    pr_repeats: int = 50
    baseline_draws: int = 5  # independent training subsets averaged in the real-vs-real row
    sheet_count: int = 64
    corruptions: bool = True  # also measure the training subset after known damage (a sanity check)
    two_sample: bool = True  # train the real-vs-row CNN (:mod:`.two_sample`) for every row but the held-out one
    two_sample_folds: int = 5
    two_sample_steps: int = 200  # optimiser steps (minibatches of 16) per fold

    def __post_init__(self) -> None:
        if self.count < 2 * self.pr_k or self.baseline_count < 2 * self.pr_k:
            raise ValueError(f"count and baseline_count must be at least {2 * self.pr_k}")
        if self.baseline_draws < 1:
            raise ValueError(f"baseline_draws must be at least 1, got {self.baseline_draws}")
        if self.two_sample_folds < 2 or self.two_sample_steps < 1:
            raise ValueError("two_sample_folds must be at least 2 and two_sample_steps at least 1")


@dataclass(frozen=True, eq=False)
class SpriteData:
    """One dataset's split as arrays. images: uint8 hard-alpha ``(N, S, S, 4)``; labels: int64 ``(N,)``."""

    name: str
    train: np.ndarray
    held_out: np.ndarray
    held_out_labels: np.ndarray
    label_names: tuple[str, ...]

    @property
    def size(self) -> int:
        return int(self.held_out.shape[1])


@dataclass(frozen=True)
class SetMetrics:
    """One row of the report: a set of sprites measured against the held-out split of ``dataset``.

    kind: ``"baseline"`` (training subset), ``"held_out"`` (the reference itself), ``"generator"``, or
    ``"corruption"`` (the training subset after known damage, :data:`~.corruptions.CORRUPTIONS`).
    fd, kid, kid_std, precision, recall: in evaluator features, against the held-out split (None for the
    held-out row). label_agreement: share of sprites the evaluator assigns the label they were sampled with
    (held-out row: the evaluator's accuracy; None for unconditional generators). stats: :func:`pixel_art_stats`.
    memorization_rate: share with a near-identical training sprite (None for the training subset).
    teacher: mean/median teacher quality, when a teacher was given. settings: sampler settings used.
    fd_std, draws: for the baseline, the distances are means over ``draws`` training subsets and ``fd_std`` the
    standard deviation of their FDs (statistics and teacher scores are the first subset's).
    step_profile: the six shares of :func:`~.crispness.step_profile` (bins :data:`~.crispness.STEP_BINS`).
    step_distance: its total-variation distance to the held-out profile, in [0, 1] (None for the held-out row;
    the baseline's is the mean over its ``draws`` subsets). two_sample: held-out accuracy of the CNN telling this
    set from the held-out split (:func:`~.two_sample.two_sample_accuracy`; 0.5 = indistinguishable; None for the
    held-out row or when not run); two_sample_folds: per fold. For the baseline, two_sample is the mean over the
    ``draws`` subsets and two_sample_std their standard deviation (the test's noise floor); folds and profile are
    the first subset's.
    """

    name: str
    kind: str
    dataset: str
    count: int
    fd: float | None
    kid: float | None
    kid_std: float | None
    precision: float | None
    recall: float | None
    label_agreement: float | None
    stats: dict[str, float]
    memorization_rate: float | None
    teacher: dict[str, float] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    fd_std: float | None = None
    draws: int = 1
    step_profile: tuple[float, ...] | None = None
    step_distance: float | None = None
    two_sample: float | None = None
    two_sample_folds: tuple[float, ...] | None = None
    two_sample_std: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True, eq=False)
class DatasetReport:
    """Rows for one dataset (baseline, held-out real, generators) and the sprites behind the sample sheets
    (name -> uint8 ``(sheet_count, S, S, 4)``, evenly spaced through each set)."""

    dataset: str
    size: int
    train_count: int
    held_out_count: int
    rows: tuple[SetMetrics, ...]
    sheets: Mapping[str, np.ndarray]


@dataclass(frozen=True, eq=False)
class SuiteResult:
    evaluator: str
    config: SuiteConfig
    datasets: tuple[DatasetReport, ...]
    skipped: tuple[str, ...]  # "name: why" for generators not evaluated
    teacher: str | None
    seconds: float


def generators(registry: Registry, names: Sequence[str] | None = None) -> list[str]:
    """The generator bundles to evaluate: ``names`` (checked) or every bundle of a generator family (tile models
    among them are skipped by :func:`run_suite`: their export measures them against real tiles)."""
    if names:
        for n in names:
            registry.info(n)  # UnknownModel lists the names
        return list(names)
    return [b.name for b in registry.bundles() if b.family in GENERATOR_FAMILIES]


def dataset_of(registry: Registry, name: str) -> str:
    """The dataset builder a generator was trained on (``training.dataset.builder``), else by sprite size. A
    renderer (``tokens.guide``) is measured on the dataset its first stage was trained on and whose labels it
    answers to (``training.dataset.name``), beside that generator; its own network's builder only made its
    training pairs."""
    m = registry.info(name).manifest
    ds = m.training.get("dataset") if isinstance(m.training, Mapping) else None
    tokens = m.extra.get("tokens")
    renderer = isinstance(tokens, Mapping) and isinstance(tokens.get("guide"), Mapping)
    builder = ds.get("name" if renderer else "builder") if isinstance(ds, Mapping) else None
    if isinstance(builder, str) and builder:
        return builder
    return FALLBACK_DATASET.get(m.image.width, f"size{m.image.width}")


def labels_like(labels: np.ndarray, names: Sequence[str], n: int) -> list[tuple[str, int]]:
    """(label, count) pairs summing to ``n``, proportional to ``labels`` (largest remainders, ties by index)."""
    counts = np.bincount(labels, minlength=len(names)).astype(np.float64)
    want = counts / counts.sum() * n
    got = np.floor(want).astype(int)
    for i in np.argsort(-(want - got), kind="stable")[: n - got.sum()]:
        got[i] += 1
    return [(names[i], int(c)) for i, c in enumerate(got) if c > 0]


def _conditional(registry: Registry, name: str) -> bool:
    """The model takes a label (its family declares the parameter and the bundle has labels)."""
    caps = families.capabilities(registry.info(name).manifest)
    return bool(caps.labels) and "label" in caps.parameters


def _settings(registry: Registry, name: str) -> dict[str, Any]:
    return dict(families.capabilities(registry.info(name).manifest).defaults)


def _generate(registry: Registry, name: str, count: int, seed: int, label: str | None) -> np.ndarray:
    """Seeds ``seed ... seed + count - 1`` at the bundle's defaults, in requests of at most ``api.MAX_COUNT``."""
    out = []
    for s in range(seed, seed + count, api.MAX_COUNT):
        n = min(api.MAX_COUNT, seed + count - s)
        out.append(api.generate(name, n, s, label=label, registry=registry).sprites)
    return np.concatenate(out)


def sample_generator(
    registry: Registry, name: str, data: SpriteData, count: int, seed: int
) -> tuple[np.ndarray, list[str] | None]:
    """``count`` sprites of ``name`` at its defaults, seeds ``seed, seed + 1, ...``; with the label of each
    sprite for label-conditional models (the held-out label mix over the labels the model knows), else None."""
    if not _conditional(registry, name):
        return _generate(registry, name, count, seed, None), None
    known = registry.info(name).manifest.labels
    mask = np.array([data.label_names[i] in known for i in data.held_out_labels], dtype=bool)
    if mask.any():
        plan = labels_like(data.held_out_labels[mask], data.label_names, count)
    else:
        plan = labels_like(np.arange(len(known)), list(known), count)
    sprites, labels, s = [], [], seed
    for label, n in plan:
        sprites.append(_generate(registry, name, n, s, label))
        labels += [label] * n
        s += n
    return np.concatenate(sprites), labels


def _spread(images: np.ndarray, n: int) -> np.ndarray:
    """``n`` sprites evenly spaced through ``images`` (so a label-ordered set shows every label)."""
    idx = np.unique(np.linspace(0, len(images) - 1, min(n, len(images))).round().astype(int))
    return images[idx]


def _teacher(scorer: Scorer | None, images: np.ndarray) -> dict[str, float] | None:
    if scorer is None:
        return None
    scores = scorer(images)
    if scores is None:
        return None
    q = np.asarray(scores, dtype=np.float64)
    return {"mean": float(q.mean()), "median": float(np.median(q))}


def _rng(seed: int, key: str) -> np.random.Generator:
    """A generator for one row's subsampling, from the base seed and the row's name (stable across runs)."""
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def _evaluate_dataset(
    data: SpriteData,
    names: list[str],
    registry: Registry,
    ev: Evaluator,
    cfg: SuiteConfig,
    scorer: Scorer | None,
    log: Callable[[str], None],
) -> DatasetReport:
    real = ev.run(data.held_out)
    real_profile = step_profile(data.held_out)

    def distances(feats: np.ndarray, row: str) -> dict[str, Any]:
        rng = _rng(cfg.seed, row)  # per row: a model's numbers do not depend on which other rows were measured
        k = kid(real.features, feats, rng, cfg.kid_subsets, cfg.kid_subset_size)
        pr = precision_recall(real.features, feats, rng, cfg.pr_k, cfg.pr_repeats)
        return {
            "fd": frechet_distance(real.features, feats),
            "kid": k.mean,
            "kid_std": k.std,
            "precision": pr.precision,
            "recall": pr.recall,
        }

    def pixels(sprites: np.ndarray, row: str) -> dict[str, Any]:
        """The measures on pixels: step profile, its distance to held-out real, and the two-sample test."""
        profile = step_profile(sprites)
        out: dict[str, Any] = {
            "step_profile": tuple(float(v) for v in profile),
            "step_distance": profile_distance(profile, real_profile),
        }
        if cfg.two_sample:
            seed = int(_rng(cfg.seed, "two-sample " + row).integers(2**31))
            t = two_sample_accuracy(
                data.held_out, sprites, seed=seed, folds=cfg.two_sample_folds, steps=cfg.two_sample_steps
            )
            out.update(two_sample=t.accuracy, two_sample_folds=t.fold_accuracies)
        return out

    base = "training subset (real vs real)"
    draws = []
    for i in range(cfg.baseline_draws):
        pick = _rng(cfg.seed, f"baseline {i}").choice(
            len(data.train), min(cfg.baseline_count, len(data.train)), replace=False
        )
        draws.append(data.train[np.sort(pick)])
    measured = [distances(ev.features(d), f"{base} {i}") for i, d in enumerate(draws)]
    subset = draws[0]
    mean: dict[str, Any] = {k: float(np.mean([m[k] for m in measured])) for k in measured[0]}
    floors = [pixels(d, f"{base} {i}") for i, d in enumerate(draws)]
    floor = dict(floors[0])  # the profile and folds of the first subset (as its statistics); means of the rest
    floor["step_distance"] = float(np.mean([f["step_distance"] for f in floors]))
    if cfg.two_sample:
        floor["two_sample"] = float(np.mean([f["two_sample"] for f in floors]))
        floor["two_sample_std"] = float(np.std([f["two_sample"] for f in floors]))
    rows = [
        SetMetrics(
            base,
            "baseline",
            data.name,
            len(subset),
            label_agreement=None,
            stats=pixel_art_stats(subset),
            memorization_rate=None,
            teacher=_teacher(scorer, subset),
            fd_std=float(np.std([m["fd"] for m in measured])),
            draws=len(draws),
            **mean,
            **floor,
        )
    ]
    held_labels = [data.label_names[i] for i in data.held_out_labels]
    rows.append(
        SetMetrics(
            "held-out real",
            "held_out",
            data.name,
            len(data.held_out),
            None,
            None,
            None,
            None,
            None,
            label_agreement=ev.agreement(real.predicted, held_labels, data.label_names),
            stats=pixel_art_stats(data.held_out),
            memorization_rate=memorization_rate(data.held_out, data.train),
            teacher=_teacher(scorer, data.held_out),
            step_profile=tuple(float(v) for v in real_profile),
        )
    )
    if cfg.corruptions:
        for what, damage in CORRUPTIONS.items():
            bad = damage(subset, _rng(cfg.seed, "damage " + what))
            rows.append(
                SetMetrics(
                    what,
                    "corruption",
                    data.name,
                    len(bad),
                    label_agreement=None,
                    stats=pixel_art_stats(bad),
                    memorization_rate=None,
                    **distances(ev.features(bad), what),
                    **pixels(bad, what),
                )
            )
    sheets = {"held-out real": _spread(data.held_out, cfg.sheet_count)}
    for name in names:
        t0 = time.perf_counter()
        sprites, labels = sample_generator(registry, name, data, cfg.count, cfg.seed)
        seconds = time.perf_counter() - t0
        out = ev.run(sprites)
        agreement = ev.agreement(out.predicted, labels, registry.info(name).manifest.labels)
        t1 = time.perf_counter()
        measures = pixels(sprites, name)
        pixel_seconds = time.perf_counter() - t1
        rows.append(
            SetMetrics(
                name,
                "generator",
                data.name,
                len(sprites),
                label_agreement=agreement,
                stats=pixel_art_stats(sprites),
                memorization_rate=memorization_rate(sprites, data.train),
                teacher=_teacher(scorer, sprites),
                settings=_settings(registry, name),
                seconds=round(seconds, 2),
                **distances(out.features, name),
                **measures,
            )
        )
        sheets[name] = _spread(sprites, cfg.sheet_count)
        r = rows[-1]
        log(
            f"{name} on {data.name}: {len(sprites)} sprites in {seconds:.1f}s, fd {r.fd:.3f}, step distance "
            f"{r.step_distance:.3f}"
            + (f", two-sample {r.two_sample:.3f} ({pixel_seconds:.1f}s)" if r.two_sample is not None else "")
        )
    return DatasetReport(data.name, data.size, len(data.train), len(data.held_out), tuple(rows), sheets)


def run_suite(
    registry: Registry,
    load_data: Callable[[str, int], SpriteData],
    *,
    names: Sequence[str] | None = None,
    evaluator: str = "evaluator",
    cfg: SuiteConfig = SuiteConfig(),
    scorer: Scorer | None = None,
    teacher: str | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> SuiteResult:
    """Evaluate the generators ``names`` (default: every generator bundle in ``registry``).

    ``load_data(builder, size)`` returns a dataset's split as arrays (see :mod:`pixelsprite.evaluation.data`);
    ``scorer`` gives teacher quality per sprite (``teacher`` is its model name, for the report).
    """
    t0 = time.perf_counter()
    ev = Evaluator.load(registry, evaluator)
    by_dataset: dict[tuple[str, int], list[str]] = {}
    skipped = []
    for name in generators(registry, names):
        info = registry.info(name)
        if info.family not in GENERATOR_FAMILIES:
            skipped.append(f"{name}: family {info.family!r} is not a generator")
            continue
        if families.capabilities(info.manifest).tiling:
            skipped.append(f"{name}: makes tiles, not sprites (its card measures it against real tiles)")
            continue
        if info.manifest.image.width > ev.canvas:
            skipped.append(f"{name}: sprites larger than the evaluator's canvas")
            continue
        by_dataset.setdefault((dataset_of(registry, name), info.manifest.image.width), []).append(name)
    reports = []
    for (ds, size), members in by_dataset.items():
        data = load_data(ds, size)
        log(f"{ds}: {len(data.train)} training, {len(data.held_out)} held-out sprites; {', '.join(members)}")
        reports.append(_evaluate_dataset(data, members, registry, ev, cfg, scorer, log))
    return SuiteResult(ev.name, cfg, tuple(reports), tuple(skipped), teacher, time.perf_counter() - t0)
