"""Building and loading the C++/CUDA extension in ``darts_gnn/ops/csrc/`` (JIT, cached, with fallback).

The sources are compiled on first use with :func:`torch.utils.cpp_extension.load` into a cache
directory keyed by a hash of the sources, the compile flags and the torch/Python versions, so a
rebuild happens exactly when one of them changes. Later processes load the cached library directly
(no compiler or ninja needed). The CUDA kernels are compiled in only when ``torch.cuda.is_available()``
and a CUDA toolkit (``CUDA_HOME``) exist.

Environment variables:

* ``DARTS_GNN_NO_EXT=1``: never build or load the extension; use the reference.
* ``DARTS_GNN_EXT_DIR``: cache directory (default ``$TORCH_EXTENSIONS_DIR/darts_gnn`` when that is
  set, else ``~/.cache/darts_gnn/ext``).
* ``DARTS_GNN_EXT_VERBOSE=1``: show the compiler's output.
* ``DARTS_GNN_REQUIRE_EXT=1``: a build or load failure (of the CUDA kernels too, where a GPU and a
  toolkit exist) raises ``RuntimeError`` instead of falling back to the reference; CI sets it, so
  that a broken C++ build fails the kernel tests instead of skipping them. ``DARTS_GNN_NO_EXT=1``
  (an explicit choice of the reference) still wins.
"""
from __future__ import annotations

import hashlib
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Callable, Optional

import torch

__all__ = ["load", "tried", "is_loaded", "has_cuda", "status", "source_dir", "required", "on_load"]

_NAME = "darts_gnn_ext"
_CFLAGS = ["-O3", "-fopenmp"]
_LDFLAGS = ["-fopenmp"]
_NVCC_FLAGS = ["-O3"]
_STALE_LOCK_S = 900

_tried = False
_loaded = False
_cuda = False
_reason: Optional[str] = None


def source_dir() -> Path:
    """The directory that holds ``csrc/``: ``darts_gnn/ops`` itself (the sources ship inside the package,
    so a wheel or a non-editable install builds them too)."""
    return Path(__file__).resolve().parent


def tried() -> bool:
    """Whether :func:`load` has run in this process (successfully or not)."""
    return _tried


def is_loaded() -> bool:
    """Whether the fused kernels are registered in this process (does not trigger a build)."""
    return _loaded


def has_cuda() -> bool:
    """Whether the loaded extension contains the CUDA kernels."""
    return _loaded and _cuda


def status() -> str:
    """A one-line description of the extension's state, for logs and bug reports."""
    if _loaded:
        return f"fused kernels loaded ({'CPU + CUDA' if _cuda else 'CPU'})"
    if not _tried:
        return "not loaded yet (builds on first use)"
    return f"reference fallback: {_reason}"


def _sources(with_cuda: bool) -> list[Path]:
    csrc = source_dir() / "csrc"
    files = [csrc / "mixed_aggregate.cpp", *sorted((csrc / "cpu").glob("*.cpp"))]
    if with_cuda:
        files += sorted((csrc / "cuda").glob("*.cu")) + sorted((csrc / "cuda").glob("*.cpp"))
    return files


def _cache_root() -> Path:
    if os.environ.get("DARTS_GNN_EXT_DIR"):
        return Path(os.environ["DARTS_GNN_EXT_DIR"]).expanduser()
    if os.environ.get("TORCH_EXTENSIONS_DIR"):
        return Path(os.environ["TORCH_EXTENSIONS_DIR"]).expanduser() / "darts_gnn"
    return Path.home() / ".cache" / "darts_gnn" / "ext"


def _build_key(sources: list[Path], with_cuda: bool) -> str:
    h = hashlib.sha256()
    csrc = source_dir() / "csrc"
    headers = sorted(csrc.rglob("*.h")) + sorted(csrc.rglob("*.cuh"))
    for path in sources + headers:
        h.update(str(path.relative_to(csrc)).encode())
        h.update(path.read_bytes())
    h.update(Path(__file__).with_name("aggregators.def").read_bytes())  # the aggregator table the C++ includes
    h.update(repr((_CFLAGS, _LDFLAGS, _NVCC_FLAGS if with_cuda else None, torch.__version__, torch.version.cuda,
                   sys.version_info[:2], platform.machine())).encode())
    return h.hexdigest()[:16]


_ON_LOAD: list[Callable[[], None]] = []


def on_load(hook: Callable[[], None]) -> None:
    """Call ``hook()`` once the library is loaded (now, when it already is). The fused op registers its
    fake kernels and autograd formulas this way (:func:`darts_gnn.ops._fused.register`), so that this
    module needs nothing else from the package."""
    if _loaded:
        hook()
    else:
        _ON_LOAD.append(hook)


def _register() -> None:
    for hook in _ON_LOAD:
        hook()


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def required() -> bool:
    """Whether ``DARTS_GNN_REQUIRE_EXT`` asks for the fused kernels (no silent fallback)."""
    return _flag("DARTS_GNN_REQUIRE_EXT")


def _fail(reason: str) -> bool:
    global _reason
    _reason = reason
    if required():
        raise RuntimeError(f"darts-gnn: the fused aggregation kernel is unavailable ({reason}) and "
                           f"DARTS_GNN_REQUIRE_EXT is set; fix the build (DARTS_GNN_EXT_VERBOSE=1 shows the compiler "
                           f"output) or unset DARTS_GNN_REQUIRE_EXT to use the reference")
    warnings.warn(f"darts-gnn: the fused aggregation kernel is unavailable ({reason}); using the pure-PyTorch "
                  f"reference, which is correct but slower. Set DARTS_GNN_NO_EXT=1 to choose the reference "
                  f"explicitly and silence this warning; see docs/kernels.md.", RuntimeWarning, stacklevel=3)
    return False


def load() -> bool:
    """Build (first use) or load the extension; return whether the fused kernels are available.

    Runs at most once per process. On failure it warns once and the reference is used.
    """
    global _tried, _loaded, _cuda, _reason
    if _tried:
        return _loaded
    _tried = True
    if _flag("DARTS_GNN_NO_EXT"):  # an explicit choice of the reference wins over DARTS_GNN_REQUIRE_EXT
        _reason = "disabled by DARTS_GNN_NO_EXT"
        return False
    if not hasattr(torch.library, "register_fake"):
        return _fail(f"torch {torch.__version__} is older than 2.4 (needs torch.library.register_fake)")
    if not (source_dir() / "csrc").is_dir():
        return _fail(f"C++ sources not found at {source_dir() / 'csrc'} (install from a source checkout)")
    from torch.utils import cpp_extension

    with_cuda = bool(torch.cuda.is_available() and cpp_extension.CUDA_HOME is not None and torch.version.cuda)
    error = _build_and_load(with_cuda)
    if error is not None and with_cuda and not required():  # keep the fused CPU kernel when only CUDA fails
        cpu_error = _build_and_load(False)
        if cpu_error is None:
            _reason = f"CUDA kernels unavailable: {error}"
            warnings.warn(f"darts-gnn: the CUDA kernels could not be built ({error}); CUDA tensors use the "
                          f"pure-PyTorch reference, CPU tensors the fused kernel. See docs/kernels.md.",
                          RuntimeWarning, stacklevel=3)
            with_cuda, error = False, None
    if error is not None:
        return _fail(error)
    _loaded, _cuda = True, with_cuda
    return True


def _build_and_load(with_cuda: bool) -> Optional[str]:
    """Load the cached library or build it; None on success, else a one-line reason."""
    from torch.utils import cpp_extension

    sources = _sources(with_cuda)
    name = _NAME + ("_cuda" if with_cuda else "")
    build_dir = _cache_root() / f"{name}-{_build_key(sources, with_cuda)}"
    library = build_dir / f"{name}.so"
    verbose = os.environ.get("DARTS_GNN_EXT_VERBOSE", "") not in ("", "0")
    lock = build_dir / "lock"  # torch's build lock; one left by a killed build would block forever
    if lock.exists() and time.time() - lock.stat().st_mtime > _STALE_LOCK_S:
        lock.unlink(missing_ok=True)
    try:
        if library.is_file() and not lock.exists():
            torch.ops.load_library(str(library))
        else:
            build_dir.mkdir(parents=True, exist_ok=True)
            what = "CPU and CUDA kernels" if with_cuda else "CPU kernel"
            print(f"darts-gnn: compiling the fused {what} (first use, ~1 min) into {build_dir} ...",
                  file=sys.stderr, flush=True)
            start = time.perf_counter()
            cpp_extension.load(name=name, sources=[str(s) for s in sources], extra_cflags=_CFLAGS,
                               extra_ldflags=_LDFLAGS, extra_cuda_cflags=_NVCC_FLAGS, build_directory=str(build_dir),
                               with_cuda=with_cuda, is_python_module=False, verbose=verbose)
            print(f"darts-gnn: fused kernel ready ({time.perf_counter() - start:.0f} s; cached for later runs).",
                  file=sys.stderr, flush=True)
        _register()
    except Exception as exc:  # noqa: BLE001 - any build or load failure falls back
        lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error" in ln.lower() and "ninja" not in ln.lower()]
        detail = (errors or lines or [type(exc).__name__])[0]
        return f"build or load failed: {detail[:300]}; build directory {build_dir}"
    return None
