"""MLflow data as a data-check snapshot: a run's artifact (`runs:/<run_id>/<path>`) or the training dataset a model
version's run logged (`models:/<name>/<version>`, `models:/<name>@<alias>`), streamed from the tracking server
(MLFLOW_TRACKING_URI) into a private spool file, hashed as it is written."""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from yarl import URL

from bot.collectors.base import CollectEnv
from bot.collectors.datacheck import Snapshot
from bot.collectors.http import Http, mib, redact
from bot.collectors.mlflow import Api, ModelRef, parse_ref
from bot.collectors.spool import Folder
from bot.config import Settings
from bot.errors import CollectorError, UsageError

_RUNS = re.compile(r"^runs:/(?P<run>[^/]*)(?:/(?P<path>.*))?$")
_RUN_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
PROXY = "mlflow-artifacts:"
SHOWN = 8  # artifacts named in a refusal
TRAINING = "training"


@dataclass(frozen=True)
class MlflowInput:
    """A snapshot kept in MLflow, as typed: a run's artifact, or a model version's training dataset."""

    ref: str
    run_id: str | None = None
    path: str | None = None
    model: ModelRef | None = None


def _artifact_path(path: str) -> str | None:
    """A relative artifact path with no `.`/`..` or empty parts (a trailing `/` dropped), else None."""
    parts = path.strip().rstrip("/").split("/")
    return "/".join(parts) if parts and all(p not in ("", ".", "..") for p in parts) else None


def parse(ref: str, settings: Settings, usage: str) -> MlflowInput | None:
    """`runs:/<run_id>/<path>` or `models:/…`; None for anything else. Malformed, or no tracking server configured:
    refused before anything is recorded."""
    ref = ref.strip().strip("<>")
    if not ref.startswith(("runs:/", "models:/")):
        return None
    if not settings.mlflow_tracking_uri:
        raise UsageError(f"`{ref[:120]}` is read from an MLflow tracking server, and none is configured "
                         "(MLFLOW_TRACKING_URI). Give E<n> or a file shared in this channel instead.", usage)
    m = _RUNS.match(ref)
    if m:
        run_id, path = m.group("run"), _artifact_path(m.group("path") or "")
        if not _RUN_ID.match(run_id) or path is None:
            raise UsageError(f"`{ref[:120]}` is not a run's artifact: give runs:/<run_id>/<path> (the file's path "
                             "inside the run's artifacts, like runs:/4f1c…/data/train.csv).", usage)
        return MlflowInput(ref, run_id=run_id, path=path)
    model = parse_ref(ref)
    if model is None:
        raise UsageError(f"`{ref[:120]}` is not a model version: give models:/<name>/<version> or "
                         "models:/<name>@<alias> (its training dataset is compared).", usage)
    return MlflowInput(ref, model=model)


class _Server:
    """One data check's conversation with the tracking server."""

    def __init__(self, settings: Settings, http: Http) -> None:
        assert settings.mlflow_tracking_uri is not None
        self.base = settings.mlflow_tracking_uri
        self.api = Api(self.base, CollectEnv(settings, datetime.now(UTC), ""))
        self.http = http
        self.cap = settings.retro_datacheck_max_bytes

    async def run_root(self, run_id: str) -> str:
        """The run's artifact root (`info.artifact_uri`), reading the run (404 when there is none)."""
        run = await self.api.get(self.http, "runs/get", {"run_id": run_id}, f"run {run_id}")
        return str(((run.get("run") or {}).get("info") or {}).get("artifact_uri") or "")

    async def listing(self, run_id: str | None, folder: str) -> list[dict[str, Any]]:
        """The entries of a folder of a run's artifacts, or of the proxied artifact store (paths made relative)."""
        if run_id is not None:
            params = {"run_id": run_id, **({"path": folder} if folder else {})}
            data = await self.api.get(self.http, "artifacts/list", params, f"the artifacts of run {run_id}")
        else:
            resp = await self.http.get(f"{self.base}/api/2.0/mlflow-artifacts/artifacts", label=self.api.label,
                                       params={"path": folder} if folder else None, headers=self.api.headers)
            if resp.status != 200:
                raise CollectorError(f"{self.api.label} answered {resp.status} listing `{PROXY}/{folder}`.")
            data = resp.json(self.api.label)
            data = data if isinstance(data, dict) else {}
        return [{**f, "path": posixpath.basename(str(f.get("path") or ""))} for f in data.get("files") or []
                if isinstance(f, dict)]

    async def check_file(self, run_id: str | None, path: str, where: str) -> None:
        """Refuse a folder, a missing file or one past the size cap, naming what the folder around it holds."""
        parent, _, base = path.rpartition("/")
        entries = await self.listing(run_id, parent)
        found = next((f for f in entries if f["path"] == base), None)
        if found is not None and not found.get("is_dir"):
            size = int(found.get("file_size") or 0)
            if size > self.cap:
                raise CollectorError(f"{where} is {mib(size)}, larger than the {mib(self.cap)} a data check "
                                     "reads (RETRO_DATACHECK_MAX_BYTES).")
            return
        if found is not None:
            inside = await self.listing(run_id, path)
            files = [f for f in inside if not f.get("is_dir")]
            hint = (f" Give one file, like runs:/{run_id}/{path}/{files[0]['path']}." if files and run_id else "")
            raise CollectorError(f"{where} is a folder, not a file; a data check reads one file. It holds "
                                 f"{_names(inside, path)}.{hint}")
        if entries:
            raise CollectorError(f"{where} does not exist; `{parent or '/'}` holds {_names(entries, parent)}.")
        top = await self.listing(run_id, "") if parent else []
        raise CollectorError(f"{where} does not exist; "
                             + (f"the top folder holds {_names(top)}." if top else "there are no artifacts there."))

    async def fetch(self, run_id: str | None, path: str, folder: Folder) -> tuple[Snapshot, dict[str, Any]]:
        """One artifact file (of a run, or a proxied path) streamed into `folder`; refused as `check_file` says."""
        if run_id is not None:
            root = await self.run_root(run_id)
            where, uri = f"`{path}` in the artifacts of run {run_id}", f"{root}/{path}"
            await self.check_file(run_id, path, where)
            if root.startswith(PROXY):
                url = self._proxied(f"{URL(root).path.strip('/')}/{path}")
            else:  # the server reads its own artifact store for us
                url = URL(f"{self.base}/get-artifact").with_query({"path": path, "run_uuid": run_id})
        else:
            where, uri = f"`{PROXY}/{path}`", f"{PROXY}/{path}"
            await self.check_file(None, path, where)
            url = self._proxied(path)
        too_large = f"{where} is larger than the {mib(self.cap)} a data check reads (RETRO_DATACHECK_MAX_BYTES)."
        out = folder.writer(cap=self.cap, too_large=too_large)
        try:
            resp = await self.http.stream(url, label=self.api.label, sink=out.write, cap=self.cap,
                                          too_large=too_large, headers=self.api.headers)
        finally:
            out.close()
        if resp.status != 200:
            raise CollectorError(f"{self.api.label} answered {resp.status} for {where}: {resp.excerpt(120)}")
        source = {"mlflow": redact(self.base), "run_id": run_id, "artifact_path": path, "artifact_uri": uri,
                  "url": redact(url)}
        return Snapshot("", posixpath.basename(path), out.done(), source), source

    def _proxied(self, path: str) -> URL:
        return URL(f"{self.base}/api/2.0/mlflow-artifacts/artifacts/{quote(path, safe='/')}", encoded=True)


def _names(entries: list[dict[str, Any]], parent: str = "") -> str:
    """A few entries by name (folders with a trailing /), and how many more."""
    if not entries:
        return "nothing"
    shown = [posixpath.join(parent, str(f["path"])) + ("/" if f.get("is_dir") else "") for f in entries[:SHOWN]]
    more = f" and {len(entries) - SHOWN} more" if len(entries) > SHOWN else ""
    return ", ".join(f"`{n}`" for n in shown) + more


def _pairs(items: Any) -> dict[str, Any]:
    return {str(i.get("key")): i.get("value") for i in items or [] if isinstance(i, dict)}


def _dataset_uri(dataset: dict[str, Any]) -> str | None:
    """The uri in a dataset's recorded `source` (JSON such as {"uri": …}), or None."""
    try:
        source = json.loads(str(dataset.get("source") or ""))
    except ValueError:
        return None
    uri = source.get("uri") or source.get("url") or source.get("path") if isinstance(source, dict) else None
    return str(uri) if isinstance(uri, str) and uri.strip() else None


async def _training(server: _Server, want: MlflowInput, folder: Folder) -> Snapshot:
    """The model version's run's one training dataset, when MLflow serves its file."""
    assert want.model is not None
    mv = await server.api.model_version(server.http, want.model)
    what = f"{mv.get('name')} version {mv.get('version')}"
    run_id = str(mv.get("run_id") or "")
    instead = (f"Give the training file itself: runs:/{run_id or '<run_id>'}/<path> if the run logged it as an "
               "artifact, E<n>, or a file shared in this channel.")
    if not run_id:
        raise CollectorError(f"MLflow records no run for {what}, so no training dataset. {instead}")
    run = await server.api.get(server.http, "runs/get", {"run_id": run_id}, f"run {run_id}")
    inputs = [i for i in ((run.get("run") or {}).get("inputs") or {}).get("dataset_inputs") or []
              if isinstance(i, dict)]
    training = [i for i in inputs if _pairs(i.get("tags")).get("mlflow.data.context") == TRAINING]
    if not training:
        logged = "; it logged " + ", ".join(
            f"`{(i.get('dataset') or {}).get('name')}` ({_pairs(i.get('tags')).get('mlflow.data.context') or 'no'} "
            "context)" for i in inputs[:SHOWN]) if inputs else " and no dataset at all"
        raise CollectorError(f"MLflow records no training dataset for {what}: its run {run_id} has no dataset "
                             f"input tagged mlflow.data.context=training{logged}. {instead}")
    if len(training) > 1:
        named = ", ".join(f"`{(i.get('dataset') or {}).get('name')}` ({_dataset_uri(i.get('dataset') or {})})"
                          for i in training[:SHOWN])
        raise CollectorError(f"MLflow records {len(training)} training datasets for {what} (run {run_id}): "
                             f"{named}. A data check compares one file; give the one you mean as "
                             "runs:/<run_id>/<path>, E<n> or a file shared in this channel.")
    ds = training[0].get("dataset") or {}
    recorded = {"name": ds.get("name"), "digest": ds.get("digest"), "source_type": ds.get("source_type"),
                "source": ds.get("source")}
    label = f"the training dataset `{ds.get('name')}` (digest {ds.get('digest')}) of {what}"
    uri = _dataset_uri(ds)
    if uri is None:
        raise CollectorError(f"MLflow records {label} with the source `{str(ds.get('source'))[:200]}`, which names "
                             f"no file. {instead}")
    root = await server.run_root(run_id)
    m = _RUNS.match(uri)
    run_of, path = (m.group("run"), _artifact_path(m.group("path") or "")) if m else (None, None)
    if m is None and root and uri.startswith(root + "/"):
        run_of, path = run_id, _artifact_path(uri[len(root) + 1:])
    elif m is None and uri.startswith(PROXY):
        path = _artifact_path(URL(uri).path.lstrip("/"))
    elif m is None and not _SCHEME.match(uri) and not uri.startswith("/"):
        run_of, path = run_id, _artifact_path(uri)  # a path inside the run's own artifacts
    if path is None or (m is not None and not _RUN_ID.match(run_of or "")):
        raise CollectorError(f"MLflow records {label} at `{uri[:200]}`, outside what the tracking server serves "
                             f"(Retro reads runs:/… and {PROXY}/… artifacts). {instead}")
    snap, source = await server.fetch(run_of, path, folder)
    source.update({"model": mv.get("name"), "version": str(mv.get("version")), "requested": str(want.model),
                   "model_run_id": run_id, "dataset": recorded})
    return snap


async def read(settings: Settings, want: MlflowInput, folder: Folder) -> Snapshot:
    """The snapshot an MLflow reference names, streamed into `folder` (capped at RETRO_DATACHECK_MAX_BYTES); what
    MLflow cannot serve is a CollectorError saying what it records and what to give instead."""
    s = settings
    async with Http(timeout=max(60.0, s.retro_fetch_timeout), max_bytes=s.retro_fetch_max_bytes, allow=None,
                    allow_private=True) as http:
        server = _Server(settings, http)
        if want.model is not None:
            snap = await _training(server, want, folder)
        else:
            assert want.run_id is not None and want.path is not None
            snap, _ = await server.fetch(want.run_id, want.path, folder)
    return Snapshot(want.ref, snap.name, snap.data, snap.source)
