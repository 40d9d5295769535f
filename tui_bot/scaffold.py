"""A new bot folder (``tui-bot init``), the starter extensions the package carries, and the invite link
(``tui-bot invite``).

Command-line level: it reads config and .env but never starts the bot.
"""

from __future__ import annotations

import base64
import binascii
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import discord

#: The example, fun and moderation extensions: the one copy, shipped as package data.
STARTER_EXTENSIONS = Path(__file__).parent / "starter" / "extensions"

ENV_TEMPLATE = """\
# The bot's secrets: never commit this file or paste it anywhere.
#
# DISCORD_TOKEN: https://discord.com/developers/applications -> your application -> Bot -> Reset Token.
# No quotes needed. Not needed to try the bot with `tui-bot --sandbox`.
DISCORD_TOKEN=
#
# BOT_OWNER_ID: your Discord user id (Discord -> Settings -> Advanced -> Developer Mode, then right-click your
# name -> Copy User ID). Several owners: BOT_OWNER_ID=111,222
BOT_OWNER_ID=
"""

# What every feature of the framework and the starter extensions needs (help menu, replies, embeds, the
# reactions some replies add, slash commands), as discord.Permissions flag names.
BASE_PERMISSIONS = (
    "view_channel",
    "send_messages",
    "embed_links",
    "read_message_history",
    "add_reactions",
    "use_application_commands",
)
# Only when the moderation extension is enabled: ban, kick and purge.
MODERATION_PERMISSIONS = ("kick_members", "ban_members", "manage_messages")
INVITE_SCOPES = ("bot", "applications.commands")


class ScaffoldError(Exception):
    """A folder could not be set up; the message says why, for the operator."""


def starter_extension_files() -> list[Path]:
    """The starter extensions, by name."""
    return sorted(STARTER_EXTENSIONS.glob("*.py"))


def install_starter_extensions(directory: Path) -> list[str]:
    """Create ``directory`` with the starter extensions in it; return their names.

    Raises ScaffoldError if any of the files already exists (nothing is written then).
    """
    sources = starter_extension_files()
    _refuse_existing([directory / source.name for source in sources])
    directory.mkdir(parents=True, exist_ok=True)
    for source in sources:
        shutil.copyfile(source, directory / source.name)
    return [source.stem for source in sources]


@dataclass(frozen=True)
class NewBotFolder:
    """What :func:`init_bot_folder` created."""

    folder: Path
    extensions: list[str]
    env_file: Path


def init_bot_folder(folder: Path) -> NewBotFolder:
    """Set up ``folder`` as a bot folder: extensions/ with the starter extensions and a commented .env.

    Refuses (ScaffoldError naming every file in the way) rather than overwrite anything; writes nothing then.
    """
    if folder.exists() and not folder.is_dir():
        raise ScaffoldError(f"{folder} exists and is not a folder")
    env_file = folder / ".env"
    extensions = folder / "extensions"
    _refuse_existing([env_file, *(extensions / source.name for source in starter_extension_files())])
    folder.mkdir(parents=True, exist_ok=True)
    names = install_starter_extensions(extensions)
    with env_file.open("x", encoding="utf-8") as stream:  # "x": never overwrite, even in a race
        stream.write(ENV_TEMPLATE)
    return NewBotFolder(folder, names, env_file)


def _refuse_existing(paths: list[Path]) -> None:
    existing = [str(path) for path in paths if path.exists()]
    if existing:
        raise ScaffoldError(f"not overwriting existing files: {', '.join(existing)}")


def client_id_from_token(token: str) -> int | None:
    """The bot's user id, read from the first part of its token (the base64 of that id), or None.

    For a bot user that id is its application's id (client id): true of every application created since
    2016, when bot users started to be created with their application's id; an older bot may differ, and
    then ``--client-id`` (Developer Portal -> General Information -> Application ID) is the way.
    """
    first = token.strip().split(".", 1)[0]
    if not first:
        return None
    try:
        decoded = base64.b64decode(first + "=" * (-len(first) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    text = decoded.decode("ascii", errors="replace")
    return int(text) if text.isdigit() and len(text) <= 20 else None


def invite_permissions(*, moderation: bool) -> discord.Permissions:
    """The permissions the enabled features need (the moderation ones only with that extension)."""
    import discord

    names = BASE_PERMISSIONS + (MODERATION_PERMISSIONS if moderation else ())
    return discord.Permissions(**dict.fromkeys(names, True))


def invite_url(client_id: int, permissions: discord.Permissions) -> str:
    """The OAuth2 link that adds the bot, with its slash commands, to a server."""
    scopes = "+".join(INVITE_SCOPES)
    return (
        f"https://discord.com/oauth2/authorize?client_id={client_id}&scope={scopes}"
        f"&permissions={permissions.value}"
    )


def permission_labels(permissions: discord.Permissions) -> list[str]:
    """Readable names of the granted permissions ("View Channels", ...), in Discord's order."""
    return [_LABELS.get(name, name.replace("_", " ").title()) for name, granted in permissions if granted]


# Discord's own names in the server settings, where they differ from the title-cased flag name.
_LABELS = {
    "read_messages": "View Channels",  # the flag behind view_channel
    "read_message_history": "Read Message History",
    "use_application_commands": "Use Application Commands",
}
