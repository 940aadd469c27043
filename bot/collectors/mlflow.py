"""MLflow model registry: a registered model version, its run (params, metrics, tags, datasets) and artifacts."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from bot.canonical import iso
from bot.collectors import mlflow_facts
from bot.collectors.base import JSON_TYPE, Artifact, Collected, CollectEnv, CollectRequest
from bot.collectors.http import Http, Response, redact
from bot.config import Settings
from bot.errors import CollectorError

STAGES = {"none", "staging", "production", "archived"}
MAX_FILES = 1000
MAX_LISTINGS = 100
_SHORT = re.compile(r"^(?P<name>[\w.\-/]+?)@(?P<sel>[\w.\-]+)$")
_LOGGED = re.compile(r"^models:/(m-[0-9a-f]+)$")
_URI = re.compile(r"^models:/(?P<name>[^@/]+(?:/[^@/]+)*?)(?:/(?P<version>[^/@]+)|@(?P<alias>[\w.\-]+))$")


@dataclass(frozen=True)
class ModelRef:
    """A model version by number, alias or stage."""

    name: str
    version: str | None = None
    alias: str | None = None
    stage: str | None = None

    def __str__(self) -> str:
        if self.version:
            return f"model {self.name} version {self.version}"
        return f"model {self.name} alias {self.alias}" if self.alias else f"model {self.name} stage {self.stage}"


def parse_ref(ref: str) -> ModelRef | None:
    """`fraud@3`, `fraud@champion`, `models:/fraud/3`, `models:/fraud@champion`, `models:/fraud/Production`."""
    ref = ref.strip().strip("<>")
    m = _URI.match(ref)
    if m:
        name, sel, alias = m.group("name"), m.group("version"), m.group("alias")
        if alias:
            return ModelRef(name, alias=alias)
        if sel and sel.isdigit():
            return ModelRef(name, version=sel)
        return ModelRef(name, stage=sel) if sel and sel.lower() in STAGES | {"latest"} else None
    m = _SHORT.match(ref)
    if not m:
        return None
    sel = m.group("sel")
    return ModelRef(m.group("name"), version=sel) if sel.isdigit() else ModelRef(m.group("name"), alias=sel)


def _ms(value: Any) -> str | None:
    try:
        return iso(datetime.fromtimestamp(int(value) / 1000, tz=UTC)) if value else None
    except (TypeError, ValueError, OverflowError):
        return None


def _pairs(items: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {str(i.get("key")): i.get("value") for i in items or []}


class MlflowCollector:
    """Reads the MLflow tracking server's REST API (MLFLOW_TRACKING_URI)."""

    name: ClassVar[str] = "mlflow"
    version: ClassVar[str] = "1.0"
    kinds: ClassVar[frozenset[str]] = frozenset({"model"})

    def accepts(self, request: CollectRequest, settings: Settings) -> bool:
        """A model reference while MLFLOW_TRACKING_URI is set."""
        return bool(settings.mlflow_tracking_uri) and parse_ref(request.ref) is not None

    def describe(self, request: CollectRequest, settings: Settings) -> str:
        """What is being collected."""
        return f"{parse_ref(request.ref)} from MLflow"

    async def collect(self, request: CollectRequest, env: CollectEnv) -> Collected:
        """Resolve the version, then read its run and list its artifacts into one JSON document."""
        ref = parse_ref(request.ref)
        base = env.settings.mlflow_tracking_uri
        assert ref is not None and base is not None
        api = Api(base, env)
        async with env.http(trusted=True) as http:
            mv = await api.model_version(http, ref)
            run = await api.get(http, "runs/get", {"run_id": mv["run_id"]}, f"run {mv['run_id']}") \
                if mv.get("run_id") else None
            model_id = logged_model_id(mv)
            logged = await api.logged_model(http, model_id) if model_id else None
            listing = await api.artifacts(http, mv, run, model_id)
        doc = document(base, ref, mv, run.get("run") if run else None, listing)
        doc["logged_model"] = logged
        pinned = mlflow_facts.facts(mv, doc["run"])
        return Collected(
            files=(Artifact(f"mlflow-{_slug(mv['name'])}-v{mv['version']}.json", JSON_TYPE,
                            json.dumps(doc, indent=2, sort_keys=True).encode()),),
            source_url=f"{redact(base)}/#/models/{mv['name']}/versions/{mv['version']}",
            request={"tracking_uri": redact(base), "name": ref.name, "version": ref.version, "alias": ref.alias,
                     "stage": ref.stage},
            metadata=summary_of(doc), summary=one_line(doc), options=options_of(doc),
            analysis=mlflow_facts.analysis_of(redact(base), request.ref.strip(), pinned))


def logged_model_id(mv: dict[str, Any]) -> str | None:
    """The MLflow 3 logged model behind a version (`model_id`, or a `models:/m-…` source)."""
    m = _LOGGED.match(str(mv.get("source") or ""))
    return str(mv.get("model_id") or "") or (m.group(1) if m else None)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)[:60]


class Api:
    """The few MLflow REST calls we need, with errors that name the server and the thing asked for."""

    def __init__(self, base: str, env: CollectEnv) -> None:
        self.base = base
        self.label = f"MLflow at {redact(base)}"
        s = env.settings
        self.headers: dict[str, str] = {}
        if s.mlflow_tracking_token is not None:
            self.headers["Authorization"] = f"Bearer {s.mlflow_tracking_token.get_secret_value()}"
        elif s.mlflow_tracking_username and s.mlflow_tracking_password is not None:
            pair = f"{s.mlflow_tracking_username}:{s.mlflow_tracking_password.get_secret_value()}"
            self.headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()

    def _check(self, resp: Response, what: str) -> dict[str, Any]:
        if resp.status != 200:
            detail = ""
            try:
                body = json.loads(resp.body)
                detail = f": {body.get('error_code', '')} {body.get('message', '')}".rstrip() if isinstance(
                    body, dict) else ""
            except ValueError:
                detail = f": {resp.excerpt(120)}" if resp.body else ""
            raise CollectorError(f"{self.label} answered {resp.status} for {what}{detail}")
        data = resp.json(self.label)
        if not isinstance(data, dict):
            raise CollectorError(f"{self.label} answered something other than a JSON object for {what}.")
        return data

    async def get(self, http: Http, path: str, params: dict[str, str], what: str) -> dict[str, Any]:
        """GET /api/2.0/mlflow/<path>."""
        resp = await http.get(f"{self.base}/api/2.0/mlflow/{path}", label=self.label, params=params,
                              headers=self.headers)
        return self._check(resp, what)

    async def model_version(self, http: Http, ref: ModelRef) -> dict[str, Any]:
        """The model version a reference points at."""
        if ref.version:
            data = await self.get(http, "model-versions/get", {"name": ref.name, "version": ref.version}, str(ref))
        elif ref.alias:
            data = await self.get(http, "registered-models/alias", {"name": ref.name, "alias": ref.alias}, str(ref))
        else:
            payload: dict[str, Any] = {"name": ref.name}
            if ref.stage and ref.stage.lower() != "latest":
                payload["stages"] = [ref.stage.capitalize()]
            resp = await http.post_json(f"{self.base}/api/2.0/mlflow/registered-models/get-latest-versions",
                                        payload, label=self.label, headers=self.headers)
            versions = self._check(resp, str(ref)).get("model_versions") or []
            if not versions:
                raise CollectorError(f"{self.label} has no version of {ref}.")
            data = {"model_version": max(versions, key=lambda v: int(v.get("version", 0)))}
        mv = data.get("model_version")
        if not isinstance(mv, dict) or "version" not in mv:
            raise CollectorError(f"{self.label} gave no model version for {ref}.")
        return mv

    async def logged_model(self, http: Http, model_id: str) -> dict[str, Any]:
        """The logged model's info (its metrics are the run's); a failure is recorded, not fatal."""
        try:
            data = await self.get(http, f"logged-models/{model_id}", {}, f"logged model {model_id}")
        except CollectorError as exc:
            return {"model_id": model_id, "error": exc.user_message}
        info = (data.get("model") or {}).get("info") or {}
        return {k: info.get(k) for k in ("model_id", "name", "artifact_uri", "status", "source_run_id",
                                         "creation_timestamp_ms")}

    async def artifacts(self, http: Http, mv: dict[str, Any], run: dict[str, Any] | None,
                        model_id: str | None) -> dict[str, Any]:
        """The model's artifact files with sizes (a listing failure is recorded, not fatal)."""
        source = str(mv.get("source") or "")
        run_id = str(mv.get("run_id") or "")
        if model_id:
            path, params, where = f"logged-models/{model_id}/artifacts/directories", {}, "artifact_directory_path"
        elif run_id:
            root = str(((run or {}).get("run") or {}).get("info", {}).get("artifact_uri") or "")
            rel = source.split(f"runs:/{run_id}/", 1)[1] if source.startswith(f"runs:/{run_id}/") else (
                source[len(root):].lstrip("/") if root and source.startswith(root) else "")
            path, params, where = "artifacts/list", {"run_id": run_id}, "path"
            params[where] = rel
        else:
            return {"files": [], "note": "the source is outside the tracking server; not listed", "source": source}
        files: list[dict[str, Any]] = []
        pending, calls, truncated, root_uri = [params.get(where, "")], 0, False, None
        try:
            while pending:
                if calls >= MAX_LISTINGS or len(files) >= MAX_FILES:
                    truncated = True
                    break
                folder = pending.pop(0)
                calls += 1
                query = {**params, where: folder} if folder else {k: v for k, v in params.items() if k != where}
                data = await self.get(http, path, query, f"the artifacts of {mv['name']} version {mv['version']}")
                for f in data.get("files") or []:
                    if f.get("is_dir"):
                        pending.append(str(f.get("path")))
                    else:
                        files.append({"path": f.get("path"), "size": int(f.get("file_size") or 0)})
                root_uri = data.get("root_uri")
        except CollectorError as exc:
            return {"files": files, "error": exc.user_message, "source": source}
        return {"root_uri": root_uri, "path": params.get(where, ""), "source": source,
                "files": sorted(files, key=lambda f: str(f["path"]))[:MAX_FILES], "truncated": truncated,
                "total_bytes": sum(int(f["size"]) for f in files)}


def document(base: str, ref: ModelRef, mv: dict[str, Any], run: dict[str, Any] | None,
             listing: dict[str, Any]) -> dict[str, Any]:
    """The collected JSON: the version as MLflow answered it, the run flattened, the artifact listing."""
    run_doc: dict[str, Any] | None = None
    if run is not None:
        data = run.get("data") or {}
        inputs = (run.get("inputs") or {}).get("dataset_inputs") or []
        run_doc = {
            "info": run.get("info") or {}, "params": _pairs(data.get("params")),
            "metrics": {str(m.get("key")): m.get("value") for m in data.get("metrics") or []},
            "tags": _pairs(data.get("tags")),
            "datasets": [{**{k: (i.get("dataset") or {}).get(k) for k in ("name", "digest", "source_type",
                                                                          "source")},
                          "context": _pairs(i.get("tags")).get("mlflow.data.context")} for i in inputs]}
    return {"tracking_uri": redact(base), "requested": str(ref), "model_version": mv, "run": run_doc,
            "artifacts": listing}


def summary_of(doc: dict[str, Any]) -> dict[str, Any]:
    """The custody metadata: identifiers and counts, no floats."""
    mv, run, arts = doc["model_version"], doc.get("run") or {}, doc["artifacts"]
    tags = run.get("tags") or {}
    return {
        "name": mv.get("name"), "version": str(mv.get("version")), "aliases": list(mv.get("aliases") or []),
        "stage": mv.get("current_stage"), "status": mv.get("status"), "source": mv.get("source"),
        "run_id": mv.get("run_id"), "model_id": logged_model_id(mv), "created": _ms(mv.get("creation_timestamp")),
        "git_commit": tags.get("mlflow.source.git.commit"),
        "datasets": [f"{d['name']}@{d['digest']}" for d in run.get("datasets") or [] if d.get("digest")],
        "params": len(run.get("params") or {}), "metrics": len(run.get("metrics") or {}),
        "artifact_files": len(arts.get("files") or []), "artifact_bytes": int(arts.get("total_bytes") or 0),
        "artifact_error": arts.get("error"),
    }


def options_of(doc: dict[str, Any]) -> dict[str, str]:
    """Evidence options resolved by the collection: the concrete version, the commit, the training data."""
    meta = summary_of(doc)
    opts = {"model": f"{meta['name']}@{meta['version']}"}
    if meta["git_commit"]:
        opts["sha"] = str(meta["git_commit"])
    if meta["datasets"]:
        opts["snapshot"] = ", ".join(meta["datasets"])
    return opts


def one_line(doc: dict[str, Any]) -> str:
    """A line for people: version, aliases, run, commit, artifacts."""
    m = summary_of(doc)
    parts = [f"{m['name']} v{m['version']}"]
    if m["aliases"]:
        parts.append("alias " + ", ".join(m["aliases"]))
    if m["stage"] and m["stage"] != "None":
        parts.append(f"stage {m['stage']}")
    if m["run_id"]:
        parts.append(f"run {str(m['run_id'])[:12]} ({m['params']} params, {m['metrics']} metrics)")
    if m["git_commit"]:
        parts.append(f"commit {str(m['git_commit'])[:12]}")
    if m["datasets"]:
        parts.append("data " + ", ".join(m["datasets"]))
    parts.append(f"{m['artifact_files']} artifact file(s), {m['artifact_bytes']} bytes"
                 if not m["artifact_error"] else "artifacts not listed")
    return " · ".join(parts)
