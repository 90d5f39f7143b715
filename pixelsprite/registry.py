"""The model registry: finds bundles, and loads them lazily (hash check, ONNX sessions, I/O check), once.

Search path, lowest precedence first (a later bundle with the same name overrides an earlier one):

1. the built-in bundles in ``pixelsprite/models/<name>/``;
2. the folders in ``$PIXELSPRITE_MODELS`` (``os.pathsep``-separated), in order;
3. the folders passed as ``dirs`` (the CLI's repeatable ``--models-dir``), in order.

Each folder on the path holds bundle folders; a bundle folder is one containing ``manifest.json``. Listing
reads manifests only; onnxruntime is touched when a bundle is first loaded. A :class:`Registry` is safe to
share between threads: each bundle is loaded at most once, under a per-bundle lock, and onnxruntime sessions
may run concurrently.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# onnxruntime's telemetry: off before the import, which is when it otherwise writes a device id and a growing
# onnxruntime.db under ~/.cache/Microsoft/DeveloperTools/ (its Python disable_telemetry_events() comes too late for
# that; it is also called for every session below). An explicit ORT_DISABLE_TELEMETRY=0 from the user is respected.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

import onnxruntime as ort  # noqa: E402

from .errors import BundleError, UnknownModel
from .manifest import MANIFEST_NAME, GraphSpec, Manifest, TensorSpec, load_manifest

__all__ = ["BUILTIN_DIR", "ENV_VAR", "BundleInfo", "Bundle", "Registry"]

BUILTIN_DIR = Path(__file__).resolve().parent / "models"
ENV_VAR = "PIXELSPRITE_MODELS"
DEFAULT_MODELS = ("pixel16", "pixel40", "vae16")
"""The default model, in order of preference: the first present that can do what is asked (``pixel16`` makes the
crispest sprites; ``pixel40`` is the 40×40 choice of a client that picks the first ranked model of a size; ``vae16``
is the default for the latent-space operations ``pixel16`` lacks)."""

_ORT_DTYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
}


@dataclass(frozen=True)
class BundleInfo:
    """A bundle found on the search path (manifest parsed, nothing loaded).

    Attributes:
        name: the model name (``manifest.name``).
        path: the bundle folder.
        manifest: the parsed manifest.
        builtin: True for bundles shipped in ``pixelsprite/models``.
    """

    name: str
    path: Path
    manifest: Manifest
    builtin: bool

    @property
    def family(self) -> str:
        return self.manifest.family


@dataclass(frozen=True)
class Bundle:
    """A loaded bundle: its manifest and one onnxruntime session per graph role."""

    info: BundleInfo
    sessions: Mapping[str, ort.InferenceSession]

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def manifest(self) -> Manifest:
        return self.info.manifest

    def has_graph(self, role: str) -> bool:
        return role in self.sessions

    def run(self, role: str, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run graph ``role`` on ``feeds`` (input name -> array); returns output name -> array."""
        if role not in self.sessions:
            self.manifest.graph(role)  # raises BundleError naming the roles present
        spec = self.manifest.graphs[role]
        outputs = self.sessions[role].run([t.name for t in spec.outputs], dict(feeds))
        return {t.name: np.asarray(v) for t, v in zip(spec.outputs, outputs, strict=True)}


def _fmt_dims(dims: Iterable[Any]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"


def _check_tensors(kind: str, actual: list[Any], declared: tuple[TensorSpec, ...], where: str) -> None:
    names = [a.name for a in actual]
    want = [t.name for t in declared]
    if names != want:
        raise BundleError(f"{where}: the ONNX graph's {kind} are {names} but the manifest declares {want}")
    for a, t in zip(actual, declared, strict=True):
        dtype = _ORT_DTYPES.get(a.type, a.type)
        if dtype != t.dtype:
            raise BundleError(
                f"{where}: {kind[:-1]} {t.name!r} is {dtype} in the ONNX graph but {t.dtype} in the manifest"
            )
        shape = list(a.shape) if a.shape is not None else []
        if len(shape) != len(t.shape):
            raise BundleError(
                f"{where}: {kind[:-1]} {t.name!r} has shape {_fmt_dims(shape)} in the ONNX graph "
                f"but {_fmt_dims(t.shape)} in the manifest (rank differs)"
            )
        for i, (got, dim) in enumerate(zip(shape, t.shape, strict=True)):
            if isinstance(dim, int) and isinstance(got, int) and got != dim:
                raise BundleError(
                    f"{where}: {kind[:-1]} {t.name!r} has shape {_fmt_dims(shape)} in the ONNX graph "
                    f"but {_fmt_dims(t.shape)} in the manifest (dim {i}: {got} != {dim})"
                )
            if isinstance(dim, str) and isinstance(got, int):
                raise BundleError(
                    f"{where}: {kind[:-1]} {t.name!r} dim {i} is fixed at {got} in the ONNX graph "
                    f"but dynamic ({dim!r}) in the manifest; export with dynamic axes"
                )


def _load_graph(bundle_path: Path, role: str, spec: GraphSpec, options: ort.SessionOptions) -> ort.InferenceSession:
    path = bundle_path / spec.file
    where = f"{bundle_path}: graph {role!r} ({spec.file})"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BundleError(f"{where}: file is missing") from None
    except OSError as e:
        raise BundleError(f"{where}: cannot read file ({e.strerror or e})") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        raise BundleError(
            f"{where}: sha256 mismatch: the file hashes to {digest} but the manifest says {spec.sha256} "
            "(the file is corrupt or the manifest is stale)"
        )
    try:
        session = ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own pybind exception types
        raise BundleError(f"{where}: onnxruntime cannot load the graph ({type(e).__name__}: {e})") from None
    _check_tensors("inputs", list(session.get_inputs()), spec.inputs, where)
    _check_tensors("outputs", list(session.get_outputs()), spec.outputs, where)
    return session


class Registry:
    """Finds model bundles and loads them on first use.

    Args:
        dirs: extra folders of bundles, highest precedence last (the CLI's ``--models-dir``). A folder that
            does not exist raises :class:`BundleError`.
        builtin: include ``pixelsprite/models``.
        env: include the folders in ``$PIXELSPRITE_MODELS`` (missing ones are reported in ``problems``).
        environ: the environment to read (default ``os.environ``); for tests.
        threads: onnxruntime intra-op threads per session; 0 lets onnxruntime decide.
    """

    def __init__(
        self,
        dirs: Iterable[str | os.PathLike[str]] = (),
        *,
        builtin: bool = True,
        env: bool = True,
        environ: Mapping[str, str] | None = None,
        threads: int = 0,
    ) -> None:
        self._path: list[tuple[Path, bool]] = []  # (folder, is_builtin)
        self._env_problems: list[str] = []
        if builtin:
            self._path.append((BUILTIN_DIR, True))
        if env:
            environ = os.environ if environ is None else environ
            for entry in environ.get(ENV_VAR, "").split(os.pathsep):
                if not entry.strip():
                    continue
                p = Path(entry).expanduser()
                if p.is_dir():
                    self._path.append((p, False))
                else:
                    self._env_problems.append(f"${ENV_VAR} entry {entry!r} is not a folder; ignored")
        for d in dirs:
            p = Path(d).expanduser()
            if not p.is_dir():
                raise BundleError(f"models folder {str(d)!r} does not exist or is not a folder", field="models_dir")
            self._path.append((p, False))
        self._threads = threads
        self._lock = threading.Lock()
        self._index: dict[str, BundleInfo] | None = None
        self._broken: dict[str, BundleError] = {}
        self._problems: list[str] = []
        self._loaded: dict[str, Bundle] = {}
        self._load_locks: dict[str, threading.Lock] = {}

    # ----------------------------------------------------------------------------------------- listing
    @property
    def search_path(self) -> tuple[Path, ...]:
        """The folders searched, lowest precedence first."""
        return tuple(p for p, _ in self._path)

    def _scan(self) -> dict[str, BundleInfo]:
        with self._lock:
            if self._index is not None:
                return self._index
            index: dict[str, BundleInfo] = {}
            broken: dict[str, BundleError] = {}
            problems = list(self._env_problems)
            for folder, is_builtin in self._path:
                if not folder.is_dir():
                    continue
                for sub in sorted(folder.iterdir()):
                    if not (sub / MANIFEST_NAME).is_file():
                        continue
                    try:
                        manifest = load_manifest(sub)
                    except BundleError as e:
                        broken[sub.name] = e
                        problems.append(e.message)
                        continue
                    broken.pop(manifest.name, None)
                    index[manifest.name] = BundleInfo(manifest.name, sub, manifest, is_builtin)
            self._index, self._broken, self._problems = index, broken, problems
            return index

    def refresh(self) -> None:
        """Forget the scan and every loaded bundle; the next call rescans the search path."""
        with self._lock:
            self._index = None
            self._loaded.clear()

    @property
    def problems(self) -> tuple[str, ...]:
        """Messages about bundles skipped while scanning (unreadable manifests, bad env entries)."""
        self._scan()
        return tuple(self._problems)

    def bundles(self) -> list[BundleInfo]:
        """Every bundle found, sorted by name."""
        return sorted(self._scan().values(), key=lambda b: b.name)

    def names(self) -> list[str]:
        return [b.name for b in self.bundles()]

    def info(self, name: str) -> BundleInfo:
        """The bundle called ``name``.

        Raises:
            UnknownModel: no such bundle (lists the available names).
            BundleError: a bundle folder of that name exists but its manifest is broken.
        """
        index = self._scan()
        if name in index:
            return index[name]
        if name in self._broken:
            raise self._broken[name]
        raise UnknownModel(name, index)

    def ranked(self) -> list[str]:
        """Every bundle name in default order: :data:`DEFAULT_MODELS` present, then built-in bundles by name, then
        the others by name. A client choosing a default for a size or an operation takes the first that fits."""
        bundles = self.bundles()
        names = {b.name for b in bundles}
        ranked = [n for n in DEFAULT_MODELS if n in names]
        ranked += [b.name for b in bundles if b.builtin and b.name not in DEFAULT_MODELS]
        ranked += [b.name for b in bundles if not b.builtin and b.name not in DEFAULT_MODELS]
        return ranked

    def default_model(self, accept: Callable[[BundleInfo], bool] | None = None) -> str:
        """The first of :meth:`ranked`; with ``accept``, the first it accepts (e.g. whose family does an
        operation), falling back to the first of all when it accepts none (so the caller's own error names what
        is missing).

        Raises:
            UnknownModel: the registry is empty.
        """
        ranked = self.ranked()
        if not ranked:
            raise UnknownModel("(default)", [])
        if accept is not None:
            for name in ranked:
                if accept(self.info(name)):
                    return name
        return ranked[0]

    # ----------------------------------------------------------------------------------------- loading
    def _session_options(self) -> ort.SessionOptions:
        if os.environ.get("ORT_DISABLE_TELEMETRY") != "0":
            ort.disable_telemetry_events()  # the README promises no network; also where onnxruntime came first
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = self._threads
        options.log_severity_level = 3
        return options

    def load(self, name: str) -> Bundle:
        """The loaded bundle ``name``, loading it on first use (thread-safe, at most once per name).

        Loading verifies each graph file's sha256, opens an onnxruntime session (CPU, all graph
        optimisations) and checks the session's input/output names, dtypes and static dims against the
        manifest.

        Raises:
            UnknownModel, BundleError.
        """
        info = self.info(name)
        with self._lock:
            bundle = self._loaded.get(name)
            if bundle is not None and bundle.info is info:
                return bundle
            lock = self._load_locks.setdefault(name, threading.Lock())
        with lock:
            with self._lock:
                bundle = self._loaded.get(name)
            if bundle is not None and bundle.info is info:
                return bundle
            options = self._session_options()
            sessions = {
                role: _load_graph(info.path, role, spec, options) for role, spec in info.manifest.graphs.items()
            }
            bundle = Bundle(info, sessions)
            with self._lock:
                self._loaded[name] = bundle
            return bundle

    def is_loaded(self, name: str) -> bool:
        with self._lock:
            return name in self._loaded
