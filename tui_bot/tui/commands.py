"""The command palette's console commands (Ctrl+P): every key action, the invite link, plus one entry per
extension and per guild (``reload example``, ``sync guild Sandbox Guild``). Textual's own entries (theme,
keys, maximize) are listed too, but for its "Quit" and "Screenshot": the console has its own
(``ConsoleApp.get_system_commands``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui_bot.tui.reader import ExtensionRow, GuildRow


@dataclass(frozen=True)
class PaletteCommand:
    """One palette entry: its title, a line of help, and the app action it runs."""

    title: str
    help: str
    action: str
    parameters: tuple[object, ...] = ()
    discover: bool = True  # listed before anything is typed (per-extension entries are searched)

    @property
    def action_string(self) -> str:
        """``reload_extension('example')``: what ``App.run_action`` parses."""
        if not self.parameters:
            return self.action
        return f"{self.action}({', '.join(map(repr, self.parameters))})"


class Rows(Protocol):
    """Where the extension and guild rows come from (the console's link to its bot)."""

    def extensions(self) -> list[ExtensionRow]: ...

    def guilds(self) -> list[GuildRow]: ...


def console_commands(
    reader: Rows | None, tabs: Sequence[str], *, attached: bool = False
) -> list[PaletteCommand]:
    """Every console command, available now or not (the app filters them with ``check_action``).
    ``attached``: the console is attached to a bot elsewhere, which its Quit leaves running."""
    commands = [
        PaletteCommand("Reload all extensions", "R: reload every loaded extension", "reload_all"),
        PaletteCommand("Sync slash commands (global)", "s: shows the diff, then asks", "sync_commands"),
        PaletteCommand("Toggle auto-reload", "a: hot reload, saved in config.json", "toggle_auto_reload"),
        PaletteCommand("Back up the database now", "b: a verified online backup in data/", "backup"),
        PaletteCommand(
            "Test the atomic file handler",
            "write, read, cache and concurrency checks (atomictest)",
            "atomictest",
        ),
        PaletteCommand(
            "Invite link", "the link that adds the bot to a server: shown and copied", "invite_link"
        ),
        PaletteCommand(
            "Quit",
            "q: leave; the bot keeps running" if attached else "q: close the bot cleanly, then leave",
            "quit",
        ),
    ]
    for number, tab in enumerate(tabs, 1):
        commands.append(
            PaletteCommand(f"Show {tab.title()}", f"{number}: the {tab.title()} pane", "show_tab", (tab,))
        )
    if reader is None:
        return commands
    # One entry per extension and per guild, found by name from any pane (not listed before typing).
    for row in reader.extensions():
        for verb in ("load", "unload", "reload"):
            commands.append(
                PaletteCommand(
                    f"{verb.title()} extension {row.name}",
                    f"{row.name} is {row.status}",
                    f"{verb}_extension",
                    (row.name,),
                    discover=False,
                )
            )
    for guild in reader.guilds():
        commands.append(
            PaletteCommand(
                f"Sync slash commands of {guild.name}",
                f"guild {guild.id}: shows the diff, then asks",
                "sync_guild",
                (guild.id,),
                discover=False,
            )
        )
    return commands


@runtime_checkable
class PaletteSource(Protocol):
    """An app that lists its palette commands (the console; typed here without importing it)."""

    def palette_commands(self) -> list[PaletteCommand]:
        """The commands that can run now."""
        ...


class ConsoleCommands(Provider):
    """Offers the console's actions that can run now (the same checks that enable key bindings)."""

    def _commands(self) -> list[PaletteCommand]:
        # The console app lists them; this provider only presents them.
        return self.app.palette_commands() if isinstance(self.app, PaletteSource) else []

    async def discover(self) -> Hits:
        for command in self._commands():
            if command.discover:
                yield DiscoveryHit(
                    command.title, partial(self.app.run_action, command.action_string), help=command.help
                )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(command.title),
                    partial(self.app.run_action, command.action_string),
                    help=command.help,
                )
