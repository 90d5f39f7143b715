"""The manifest's family sections (``sampling``, ``teacher``, ``evaluator``): every shipped section round-trips
through its dataclass byte for byte, a section built in Python round-trips through JSON, and a bad value is a
BundleError naming ``section.key``."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import pixelsprite
from pixelsprite.errors import BundleError
from pixelsprite.manifest import ImageSpec, Manifest, load_manifest
from pixelsprite.manifest_sections import (
    Conditioning,
    EvaluatorSpec,
    LatentNorm,
    SamplerDefaults,
    SamplingSpec,
    ScheduleSpec,
    TeacherSpec,
)

SECTIONS = (SamplingSpec, TeacherSpec, EvaluatorSpec)
FAMILY_SECTION = {"diffusion": SamplingSpec, "flow": SamplingSpec, "teacher": TeacherSpec, "evaluator": EvaluatorSpec}
SHIPPED = sorted((Path(pixelsprite.__file__).parent / "models").glob("*/manifest.json"))


@pytest.mark.shipped
@pytest.mark.parametrize("path", SHIPPED, ids=[p.parent.name for p in SHIPPED])
def test_shipped_sections_round_trip_byte_for_byte(path: Path) -> None:
    m = load_manifest(path)
    want = FAMILY_SECTION.get(m.family)
    if m.family == "pixel" and "guide" in m.extra.get("tokens", {}):  # a renderer carries its first stage's section
        want = SamplingSpec
    present = [cls for cls in SECTIONS if cls.KEY in m.extra]
    assert present == ([want] if want else []), f"{m.name}: family {m.family!r} has sections {present}"
    extra = dict(m.extra)
    for cls in present:
        spec = cls.of(m, str(path))
        assert spec.to_dict() == m.extra[cls.KEY]
        assert cls.from_dict(spec.to_dict()) == spec
        extra[cls.KEY] = spec.to_dict()
    rewritten = Manifest.from_dict({**m.to_dict(), **extra}, src=str(path))
    assert json.dumps(rewritten.to_dict(), indent=2) + "\n" == path.read_text(encoding="utf-8")


def diffusion() -> SamplingSpec:
    return SamplingSpec(
        space="latent",
        shape=(4, 2, 2),
        prediction="v",
        time_input="index",
        solvers=("ddpm", "ddim"),
        defaults=SamplerDefaults("ddim", 4, 2.0),
        max_steps=40,
        conditioning=Conditioning(2, 0.1, {"a": 3, "b": 5}),
        schedule=ScheduleSpec("cosine", 40, {"s": 0.008, "max_beta": 0.999}),
        latent=LatentNorm((0.0, 0.1, -0.1, 0.2), (1.0, 0.5, 2.0, 1.0), "vae8"),
    )


def flow() -> SamplingSpec:
    return SamplingSpec(
        space="pixel",
        shape=(4, 8, 8),
        prediction="velocity",
        time_input="t",
        solvers=("euler", "heun"),
        defaults=SamplerDefaults("heun", 2, 1.0),
        max_steps=1000,
        path="linear",
    )


def teacher() -> TeacherSpec:
    return TeacherSpec(
        sizes=(8, 16),
        size_flags={8: 0.0, 16: 1.0},
        inputs={"image": "image", "size_flag": "size_flag"},
        outputs={k: k for k in ("quality", "embedding", "logits", "gate")},
        embedding_dim=64,
        experts=4,
        feeding="natively",
    )


def evaluator() -> EvaluatorSpec:
    return EvaluatorSpec("features", "logits", 128, "centred")


@pytest.mark.parametrize("spec", [diffusion(), flow(), teacher(), evaluator()], ids=["diff", "flow", "teach", "eval"])
def test_sections_built_in_python_round_trip_through_json(spec: Any) -> None:
    d = json.loads(json.dumps(spec.to_dict()))
    again = type(spec).from_dict(d)
    assert again == spec
    assert again.to_dict() == d


def test_schedule_params_default_to_the_schedules_and_build() -> None:
    s = ScheduleSpec.from_dict({"type": "linear", "T": 10})
    assert s.to_dict() == {"type": "linear", "T": 10, "beta_start": 1e-4, "beta_end": 0.02}
    assert s.build().betas.shape == (10,)


def test_sampling_properties_read_the_nested_sections() -> None:
    s = diffusion()
    assert (s.null_label, s.default_solver, s.default_steps, s.default_guidance) == (2, "ddim", 4, 2.0)
    assert s.latent_mean == (0.0, 0.1, -0.1, 0.2) and s.latent_std == (1.0, 0.5, 2.0, 1.0)
    assert flow().latent_mean is None and flow().null_label is None


def _set(d: dict, dotted: str, value: Any) -> dict:
    d = copy.deepcopy(d)
    *path, last = dotted.split(".")
    node = d
    for k in path:
        node = node[k]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return d


_DELETE = object()


@pytest.mark.parametrize(
    ("make", "key", "value", "message"),
    [
        (diffusion, "space", "voxel", "'sampling.space' must be one of"),
        (diffusion, "shape", [4, 2], "'sampling.shape' must be [C, H, W]"),
        (diffusion, "shape", [4, 0, 2], "'sampling.shape[1]' must be an integer >= 1"),
        (diffusion, "prediction", "x0", "'sampling.prediction' must be one of"),
        (diffusion, "time_input", "seconds", "'sampling.time_input' must be one of"),
        (diffusion, "solvers", [], "'sampling.solvers' must not be empty"),
        (diffusion, "solvers", ["ddim", 3], "'sampling.solvers[1]' must be a non-empty string"),
        (diffusion, "max_steps", 0, "'sampling.max_steps' must be an integer >= 1"),
        (diffusion, "max_steps", 80, "'sampling.max_steps' (80) exceeds T (40)"),
        (diffusion, "defaults", _DELETE, "'sampling.defaults' is missing"),
        (diffusion, "defaults.solver", "euler", "'sampling.defaults.solver' must be one of ['ddpm', 'ddim']"),
        (diffusion, "defaults.steps", 41, "'sampling.defaults.steps' must be an integer in 1..40"),
        (diffusion, "defaults.guidance", 21.0, "'sampling.defaults.guidance' must be a number in 0..20"),
        (diffusion, "defaults.cfg", 1, "unknown manifest key(s) sampling.defaults.cfg"),
        (diffusion, "clip_denoised", -1.0, "'sampling.clip_denoised' must be a positive number or null"),
        (diffusion, "conditioning.null_label", "none", "'sampling.conditioning.null_label' must be an integer"),
        (diffusion, "conditioning.label_dropout", 1.5, "'sampling.conditioning.label_dropout' must be in [0, 1)"),
        (diffusion, "conditioning.label_counts", {"a": -1}, "'sampling.conditioning.label_counts.a'"),
        (diffusion, "schedule.type", "quadratic", "'sampling.schedule.type' must be one of"),
        (diffusion, "schedule.beta_end", 0.1, "unknown manifest key(s) sampling.schedule.beta_end"),
        (diffusion, "schedule.max_beta", 2.0, "'sampling.schedule' is not a valid schedule"),
        (diffusion, "latent", _DELETE, "'sampling.latent' is missing (needed by space 'latent')"),
        (diffusion, "latent.std", [1.0, 0.0, 1.0, 1.0], "'sampling.latent.std' must be positive"),
        (diffusion, "latent.mean", [0.0], "'sampling.latent.mean' must be 4 numbers"),
        (flow, "latent", {"mean": [0.0] * 4, "std": [1.0] * 4}, "'sampling.latent' is only allowed with space"),
        (flow, "path", "spiral", "'sampling.path' must be one of"),
        (flow, "steps", 3, "unknown manifest key(s) sampling.steps"),
        (teacher, "sizes", [], "'teacher.sizes' must be distinct sizes"),
        (teacher, "sizes", [8, 8], "'teacher.sizes' must be distinct sizes"),
        (teacher, "size_flags", {"8": 0.0}, "'teacher.size_flags.16' is missing"),
        (teacher, "size_flags.16", "one", "'teacher.size_flags.16' must be a number"),
        (teacher, "inputs.size_flag", _DELETE, "'teacher.inputs.size_flag' is missing"),
        (teacher, "outputs.gate", _DELETE, "'teacher.outputs.gate' is missing"),
        (teacher, "outputs.extra", "x", "unknown manifest key(s) teacher.outputs.extra"),
        (teacher, "outputs.logits", "", "'teacher.outputs.logits' must be a non-empty string"),
        (teacher, "experts", 0, "'teacher.experts' must be an integer >= 1"),
        (evaluator, "features", _DELETE, "'evaluator.features' is missing"),
        (evaluator, "logits", 3, "'evaluator.logits' must be a non-empty string"),
        (evaluator, "feature_dim", 1.5, "'evaluator.feature_dim' must be an integer >= 1"),
    ],
)
def test_bad_values_name_the_key(make: Any, key: str, value: Any, message: str) -> None:
    spec = make()
    d = _set(spec.to_dict(), key, value)
    with pytest.raises(BundleError) as e:
        type(spec).from_dict(d, type(spec).KEY, "bundle/manifest.json")
    assert str(e.value).startswith("bundle/manifest.json: ") and message in str(e.value), str(e.value)


def _manifest(family: str, labels: tuple[str, ...], extra: dict) -> Manifest:
    return Manifest(name="m", family=family, image=ImageSpec(8, 8), graphs={}, labels=labels, extra=extra)


def test_of_checks_the_section_is_there_and_matches_the_labels() -> None:
    with pytest.raises(BundleError, match="a 'diffusion' bundle needs a 'sampling' object"):
        SamplingSpec.of(_manifest("diffusion", (), {}), "src")
    with pytest.raises(BundleError, match="a 'teacher' bundle needs a 'teacher' object"):
        TeacherSpec.of(_manifest("teacher", (), {}), "src")
    with pytest.raises(BundleError, match="'evaluator' must be an object"):
        EvaluatorSpec.of(_manifest("evaluator", (), {"evaluator": []}), "src")
    section = {"sampling": diffusion().to_dict()}  # null_label 2
    assert SamplingSpec.of(_manifest("diffusion", ("a", "b"), section), "src") == diffusion()
    with pytest.raises(BundleError, match=r"'sampling.conditioning.null_label' must equal the number of labels \(3\)"):
        SamplingSpec.of(_manifest("diffusion", ("a", "b", "c"), section), "src")
    with pytest.raises(BundleError, match="'sampling.conditioning.null_label' must be null for a model without"):
        SamplingSpec.of(_manifest("diffusion", (), section), "src")
