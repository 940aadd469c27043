"""Non-API endpoints Slack hosts: upload URLs, url_private downloads, sign-in page, response_url."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets

from aiohttp import web

from . import api_files, responses
from .events import Activity
from .state import SlackError
from .tenancy import Tenancy


class HostedRoutes:
    """aiohttp handlers for files and response_url hooks, across the emulator's workspaces."""

    def __init__(self, tenancy: Tenancy, activity: Activity) -> None:
        self.tenancy = tenancy
        self.activity = activity
        # Some deployments answer an authorised download with a redirect to a file CDN host (behaviours.md,
        # "files: downloads"); when set, downloads do that, to a pre-signed /cdn/ address.
        self.cdn_redirect = False
        # Reported: the file host answering the sign-in page to a token the Web API takes (slack-go/slack issue 1284,
        # slackapi/bolt-js issue 2585); when set, every token gets that page.
        self.refuse_tokens = False
        self.served: list[str] = []  # ids of the files whose bytes were sent, in order (CDN answers included)
        self._cdn_key = secrets.token_bytes(16)

    def register(self, app: web.Application) -> None:
        """Add the routes to an application."""
        app.router.add_post("/upload/v1/{file_id}", self.upload)
        app.router.add_get("/files/{file_id}/{name}", self.download)
        app.router.add_get("/cdn/{file_id}/{name}", self.cdn)
        app.router.add_get("/signin", self.signin)
        app.router.add_post("/response/{team}/{hook_id}", self.response)

    async def upload(self, request: web.Request) -> web.Response:
        """The upload URL from files.getUploadURLExternal: raw body or multipart."""
        data = b""
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            for value in form.values():
                if isinstance(value, web.FileField):
                    data = value.file.read()
                else:
                    data = value.encode() if isinstance(value, str) else bytes(value)
                break
        else:
            data = await request.read()
        ws = self.tenancy.file_owner(request.match_info["file_id"])
        if ws is None or not api_files.store_upload(ws, request.match_info["file_id"], data):
            return web.Response(status=404, text="file_not_found", content_type="text/plain")
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")

    async def download(self, request: web.Request) -> web.StreamResponse:
        """`url_private`: the file for a bot token of its workspace; a sign-in page otherwise."""
        ws = self.tenancy.file_owner(request.match_info["file_id"])
        f = ws.files[request.match_info["file_id"]] if ws is not None else None
        if ws is None or f is None or f.content is None or f.name != request.match_info["name"]:
            return web.Response(status=404, text="File not found")  # remote files are never hosted here
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            # No token: a redirect to the workspace's sign-in page (slackapi/deno-slack-sdk issue 285).
            raise web.HTTPFound(f"/signin?redir={request.path}")
        if self.refuse_tokens or not self._authorized(header, ws.team_id):
            # A token Slack does not take for this file: 200 and the HTML sign-in page, not an error
            # (slack-go/slack issue 1284; chenhg5/cc-connect pull request 204).
            return self._signin_page()
        if self.cdn_redirect:
            raise web.HTTPFound(f"/cdn/{f.id}/{f.name}?sig={self._signature(f.id)}")
        self.served.append(f.id)
        return web.Response(body=f.content, content_type=f.mimetype)

    async def cdn(self, request: web.Request) -> web.StreamResponse:
        """The pre-signed CDN address a redirected download points at (no token needed)."""
        file_id = request.match_info["file_id"]
        ws = self.tenancy.file_owner(file_id)
        f = ws.files[file_id] if ws is not None else None
        if f is None or f.content is None or not hmac.compare_digest(request.query.get("sig", ""),
                                                                      self._signature(file_id)):
            return web.Response(status=403, text="Forbidden")
        self.served.append(file_id)
        return web.Response(body=f.content, content_type=f.mimetype)

    def _signature(self, file_id: str) -> str:
        return hmac.new(self._cdn_key, file_id.encode(), hashlib.sha256).hexdigest()[:32]

    def _authorized(self, header: str, team_id: str) -> bool:
        # A workspace's own token, or an org-wide token added to it; an expired or revoked one never.
        return header.startswith("Bearer ") and self.tenancy.acts_in(header.removeprefix("Bearer ").strip(), team_id)

    async def signin(self, request: web.Request) -> web.Response:
        """The HTML page unauthenticated downloads end up on."""
        return self._signin_page()

    @staticmethod
    def _signin_page() -> web.Response:
        html = "<!DOCTYPE html><html><head><title>Sign in | Slack</title></head><body>Sign in</body></html>"
        return web.Response(text=html, content_type="text/html")

    async def response(self, request: web.Request) -> web.Response:
        """A response_url: applies the posted message like Slack does."""
        self.activity.begin()
        try:
            try:
                body = json.loads(await request.read() or b"{}")
            except json.JSONDecodeError:
                return web.json_response({"ok": False, "error": "invalid_payload"}, status=400)
            if not isinstance(body, dict):
                return web.json_response({"ok": False, "error": "invalid_payload"}, status=400)
            ws = self.tenancy.workspaces.get(request.match_info["team"])
            try:
                if ws is None:
                    raise SlackError("no_active_hooks")
                hook = responses.use_hook(ws, request.match_info["hook_id"])
                responses.apply_response(ws, hook, body)
            except SlackError as err:
                status = 404 if err.error in ("no_active_hooks", "used_url", "expired_url") else 400
                return web.json_response({"ok": False, "error": err.error}, status=status)
            return web.json_response({"ok": True})
        finally:
            self.activity.end()
