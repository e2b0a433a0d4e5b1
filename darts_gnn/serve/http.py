"""The HTTP server of ``darts-gnn serve`` (FastAPI; the ``serve`` extra).

==============================  ===========================================================================
``GET /health``                 ``{"status": "ok", "version"}``
``GET /info``                   model name, genotype, sizes, data set fingerprint, version, retrieval
``GET /recommend``              ``?user=ID&k=10[&explain=1]`` -> one :class:`~darts_gnn.serve.Recommendation`
``POST /recommend``             ``{"users": [...], "k": 10, "explain": false}`` -> ``{"results": [...]}``
``POST /reload``                re-read the bundle folder (or ``{"path": ...}``) and swap it in atomically
==============================  ===========================================================================

With ``watch`` seconds, a thread also reloads when the folder's ``manifest.json`` changes (e.g. after
``darts-gnn export RUN --out MODEL_DIR --force``).

A bad request gets a 4xx and ``{"detail": "<one line>"}``: 400 malformed JSON or a bad field, 404
unknown user, 413 a batch over ``max_batch`` users or a body over ``max_body`` bytes. Requests in
flight during a reload finish on the recommender they started with (each request reads the current
one once); a failed reload keeps the old one and answers 409.
"""
from __future__ import annotations

import contextlib
import json
import threading
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ..errors import UserError
from .recommender import Recommender, UnknownIdError

__all__ = ["create_app", "ModelSlot"]


class ModelSlot:
    """The recommender being served; :meth:`reload` builds a new one and swaps the reference."""

    def __init__(self, path: str | Path | None, recommender: Recommender | None = None, ann: bool = False):
        self.path = Path(path) if path is not None else None
        self.ann = ann
        self._reload_lock = threading.Lock()
        self.current = recommender if recommender is not None else self._build(self.path)
        self.reloads = 0

    def _build(self, path: Path | None) -> Recommender:
        if path is None:
            raise UserError("reload: no bundle folder to read")
        rec = Recommender.load(path)
        return rec.use_ann() if self.ann else rec

    def reload(self, path: str | Path | None = None) -> Recommender:
        with self._reload_lock:
            new = self._build(Path(path) if path is not None else self.path)
            self.current = new  # one reference assignment: a request sees the old or the new model
            if path is not None:
                self.path = Path(path)
            self.reloads += 1
            return new


def _watch(slot: ModelSlot, every: float, stop: threading.Event) -> None:
    """Every ``every`` s, reload when the bundle folder's manifest names other table bytes than the
    model being served (a half-replaced folder fails to load and is tried again next time)."""
    while not stop.wait(every):
        try:
            manifest = json.loads((slot.path / "manifest.json").read_text(encoding="utf-8"))
            digest = (manifest.get("files") or {}).get("tables.pt", "")
        except (OSError, ValueError, AttributeError):
            continue
        if digest and not digest.startswith(slot.current.version):
            try:
                slot.reload()
            except UserError:
                continue


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())[:300]


def _error(status: int, message: Any) -> JSONResponse:
    return JSONResponse({"detail": _one_line(message)}, status_code=status)


def _parse_k(raw: Any, max_k: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise HTTPException(400, f"k: expected an integer in 1..{max_k}, got {raw!r}")
    if not 1 <= raw <= max_k:
        raise HTTPException(400, f"k: expected an integer in 1..{max_k}, got {raw}")
    return raw


def _flag(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes"):
        return True
    if raw.lower() in ("0", "false", "no", ""):
        return False
    raise HTTPException(400, f"explain: expected 0 or 1, got {raw!r}")


def _run(slot: ModelSlot, users: list, k: int, explain: bool) -> tuple[str, list[dict]]:
    """``(version, results)``, both from the recommender current when the request started."""
    rec = slot.current  # read once: a reload during this request does not mix two models
    try:
        return rec.version, [r.to_dict() for r in rec.recommend(users, k=k, explain=explain)]
    except UnknownIdError as e:
        raise HTTPException(404, str(e)) from None
    except UserError as e:
        raise HTTPException(400, str(e)) from None


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request, exc):  # noqa: ANN001
        return _error(exc.status_code, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request, exc):  # noqa: ANN001
        errs = exc.errors()
        first = errs[0] if errs else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body"))
        return _error(400, f"{where or 'request'}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(Exception)
    async def internal_error(request, exc):  # noqa: ANN001
        return _error(500, f"internal error: {type(exc).__name__}: {exc}")


async def _json_body(request: Request, max_body: int) -> Any:
    size = request.headers.get("content-length")
    if size is not None and size.isdigit() and int(size) > max_body:
        raise HTTPException(413, f"request body of {size} bytes is over the limit of {max_body}")
    body = await request.body()
    if len(body) > max_body:
        raise HTTPException(413, f"request body of {len(body)} bytes is over the limit of {max_body}")
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HTTPException(400, f"malformed JSON body: {e}") from None


def _lifespan(slot: ModelSlot, watch: float):
    @contextlib.asynccontextmanager
    async def lifespan(app):  # noqa: ANN001
        stop = threading.Event()
        thread = None
        if watch > 0 and slot.path is not None:
            thread = threading.Thread(target=_watch, args=(slot, watch, stop), daemon=True, name="bundle-watch")
            thread.start()
        try:
            yield
        finally:
            stop.set()
            if thread is not None:
                thread.join(timeout=5)
    return lifespan


def create_app(source: str | Path | Recommender, max_k: int = 1000, max_batch: int = 1000,
               max_body: int = 1 << 20, ann: bool = False, watch: float = 0.0) -> FastAPI:
    """The FastAPI app serving ``source`` (a bundle folder, or a :class:`Recommender`). With
    ``watch > 0`` (seconds), a new bundle written to the folder is picked up without ``/reload``."""
    if isinstance(source, Recommender):
        slot = ModelSlot(None, source, ann)
    else:
        slot = ModelSlot(source, ann=ann)
    app = FastAPI(title="darts-gnn", docs_url=None, redoc_url=None, lifespan=_lifespan(slot, watch))
    app.state.slot = slot
    _install_errors(app)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "version": slot.current.version}

    @app.get("/info")
    def info() -> dict:
        return {**slot.current.info(), "reloads": slot.reloads, "limits": {"max_k": max_k, "max_batch": max_batch}}

    @app.get("/recommend")
    def recommend_one(user: str, k: int = 10, explain: str = "0") -> dict:
        version, results = _run(slot, [user], _parse_k(k, max_k), _flag(explain))
        return {**results[0], "version": version}

    @app.post("/recommend")
    async def recommend_batch(request: Request) -> dict:
        body = await _json_body(request, max_body)
        if not isinstance(body, dict) or set(body) - {"users", "k", "explain"}:
            raise HTTPException(400, "body: expected a JSON object with keys users, k (optional), explain (optional)")
        users = body.get("users")
        if not isinstance(users, list) or not users:
            raise HTTPException(400, f"users: expected a non-empty list of ids, got {type(users).__name__}")
        if len(users) > max_batch:
            raise HTTPException(413, f"users: {len(users)} users in one request, the limit is {max_batch}")
        explain = body.get("explain", False)
        if not isinstance(explain, bool):
            raise HTTPException(400, f"explain: expected true or false, got {explain!r}")
        k = _parse_k(body.get("k", 10), max_k)
        version, results = await run_in_threadpool(_run, slot, users, k, explain)
        return {"version": version, "results": results}

    @app.post("/reload")
    async def reload(request: Request) -> dict:
        body = await _json_body(request, max_body)
        path = body.get("path") if isinstance(body, dict) else None
        if path is not None and not isinstance(path, str):
            raise HTTPException(400, f"path: expected a string, got {path!r}")
        old = slot.current.version
        try:
            new = await run_in_threadpool(slot.reload, path)
        except UserError as e:
            raise HTTPException(409, f"reload failed, still serving version {old}: {e}") from None
        return {"status": "reloaded", "old_version": old, "version": new.version}

    return app
