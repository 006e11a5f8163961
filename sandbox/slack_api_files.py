"""files.getUploadURLExternal and files.completeUploadExternal: Slack's two-step upload.

Step 1 hands out an upload URL, here on the sandbox itself (``/upload/v1/<file id>``); the
client POSTs the bytes there (slack_http stores them); step 2 names the uploaded files and
shares them into a channel or thread as one message carrying the files, with
``initial_comment`` as its text. This is what slack_sdk's ``files_upload_v2`` does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sandbox.slack_api_base import Method, MethodContext, optional_str
from sandbox.slack_api_chat import checked_content
from sandbox.slack_errors import SlackAPIError
from sandbox.slack_model import Channel, StoredFile
from sandbox.slack_workspace import Workspace

ALT_TXT_MAX = 1000


def upload_path(file_id: str) -> str:
    """The sandbox path that receives a file's bytes."""
    return f"/upload/v1/{file_id}"


def get_upload_url(ws: Workspace, args: Mapping[str, Any], ctx: MethodContext) -> dict[str, Any]:
    filename = optional_str(args, "filename")
    length_arg = optional_str(args, "length")
    if filename is None or length_arg is None:
        raise SlackAPIError("invalid_arguments", ["[ERROR] filename and length are required"])
    try:
        length = int(length_arg)
    except ValueError:
        raise SlackAPIError("invalid_arguments", ["[ERROR] length must be an integer"]) from None
    if length <= 0:
        raise SlackAPIError("missing_argument")
    alt_txt = optional_str(args, "alt_txt") or ""
    if len(alt_txt) > ALT_TXT_MAX:
        raise SlackAPIError("alt_txt_too_large")
    with ws.lock:
        stored = StoredFile(
            id=ws.new_id("F"),
            filename=filename,
            length=length,
            alt_txt=alt_txt,
            snippet_type=optional_str(args, "snippet_type") or "",
        )
        ws.files[stored.id] = stored
    return {"ok": True, "upload_url": ctx.base_url + upload_path(stored.id), "file_id": stored.id}


def _file_list(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if not isinstance(value, list) or not value or not all(isinstance(f, dict) for f in value):
        raise SlackAPIError("invalid_arguments", ["[ERROR] files must be a JSON array of {id}"])
    return value


def _share_targets(ws: Workspace, args: Mapping[str, Any]) -> list[Channel]:
    channel_id = optional_str(args, "channel_id")
    refs = [channel_id] if channel_id else []
    refs += [c.strip() for c in (optional_str(args, "channels") or "").split(",") if c.strip()]
    targets = [ws.channel(ref, error="invalid_channel") for ref in refs]
    for channel in targets:
        if ws.bot_user_id not in channel.members:
            raise SlackAPIError("not_in_channel")
    return targets


def complete_upload(ws: Workspace, args: Mapping[str, Any], ctx: MethodContext) -> dict[str, Any]:
    entries = _file_list(args.get("files"))
    with ws.lock:
        files: list[StoredFile] = []
        for entry in entries:
            stored = ws.files.get(str(entry.get("id")))
            if stored is None or stored.data is None:
                raise SlackAPIError("file_not_found")
            files.append(stored)
        targets = _share_targets(ws, args)
        comment = optional_str(args, "initial_comment")
        content = checked_content(
            {"text": comment, "blocks": args.get("blocks")}, require_content=False
        )
        for entry, stored in zip(entries, files, strict=True):
            stored.title = str(entry.get("title") or stored.filename)
        for channel in targets:
            ws.post(
                channel,
                content,
                via="files.completeUploadExternal",
                thread_ts=optional_str(args, "thread_ts"),
                files=files,
            )
        return {"ok": True, "files": [{"id": f.id, "title": f.title} for f in files]}


METHODS: dict[str, Method] = {
    "files.getUploadURLExternal": get_upload_url,
    "files.completeUploadExternal": complete_upload,
}
