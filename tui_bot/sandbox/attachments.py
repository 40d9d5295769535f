"""Uploads: the files of a multipart message body, stored in the world as Discord attachment objects.

discord.py names uploads ``files[0..n]`` and describes them by index in ``payload_json["attachments"]``
(description, and so on). The bytes stay in :attr:`World.attachment_data`; the attachment's ``url``
points at the sandbox's CDN-like route (``GET /attachments/{channel}/{id}/{filename}``, served by
``RestApi``), outside the API and without a token, as on Discord.
"""

from __future__ import annotations

from aiohttp import web

from .world import Channel, DMChannel, Json, World


def store_attachments(
    world: World, request: web.Request, channel: Channel | DMChannel, body: Json, files: list[web.FileField]
) -> list[Json]:
    """Store ``files`` (uploaded to ``channel``) and return their attachment objects, in upload order."""
    described = {str(a.get("id")): a for a in body.get("attachments", []) if isinstance(a, dict)}
    attachments: list[Json] = []
    for index, upload in enumerate(files):
        data = upload.file.read()
        attachment_id = world.snowflakes()
        world.attachment_data[attachment_id] = data
        url = f"{request.scheme}://{request.host}/attachments/{channel.id}/{attachment_id}/{upload.filename}"
        meta = described.get(str(index), {})
        attachment: Json = {
            "id": str(attachment_id),
            "filename": upload.filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": upload.content_type,
            "spoiler": upload.filename.startswith("SPOILER_"),
            "flags": 0,
        }
        if meta.get("description") is not None:  # optional: Discord omits it rather than sending null
            attachment["description"] = meta["description"]
        attachments.append(attachment)
    return attachments
