"""`python -m bot db ...`: the database's schema, for whoever deploys the bot.

``db upgrade`` applies the migrations the configured database lacks (PostgreSQL's workers never do it
themselves, so a deploy upgrades once, before the new workers start); ``db status`` says which are missing.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .errors import BotError

db_app = typer.Typer(add_completion=False, no_args_is_help=True, help="The database's schema.")
ConfigOption = typer.Option(None, "--config", "-c", help="config.yml to use (default: BOT_CONFIG or ./config.yml)")


def _open(config: Optional[Path]):  # type: ignore[no-untyped-def]
    from . import cli
    from .storage import open_storage

    if config:
        cli._state["config"] = config
    try:
        return open_storage(cli.settings().database, check_schema=False)
    except BotError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@db_app.command()
def upgrade(config: Optional[Path] = ConfigOption) -> None:
    """Apply the schema migrations the database lacks (safe to run again, and from several hosts at once)."""
    from .storage.migrations import latest

    storage = _open(config)
    try:
        applied = storage.upgrade()
    finally:
        storage.close()
    done = f"applied {', '.join(map(str, applied))}" if applied else "nothing to apply"
    typer.echo(f"{storage.describe()}: schema at version {latest()} ({done})", err=True)


@db_app.command()
def status(config: Optional[Path] = ConfigOption) -> None:
    """Which migrations the database has and lacks; exit 1 when it is behind."""
    from .storage.migrations import MIGRATIONS

    storage = _open(config)
    try:
        have = storage.applied_migrations()
    finally:
        storage.close()
    for m in sorted(MIGRATIONS, key=lambda m: m.version):
        typer.echo(f"{m.version:4d}  {'applied' if m.version in have else 'MISSING'}  {m.name}")
    if {m.version for m in MIGRATIONS} - have:
        typer.echo("the schema is behind: run `python -m bot db upgrade`", err=True)
        raise typer.Exit(1)


@db_app.command()
def outbox(config: Optional[Path] = ConfigOption, failed: int = typer.Option(10, help="failed messages to list")) -> None:
    """The outbox: outcomes counted since the start, messages waiting to be sent, and the latest given up."""
    from .cluster.outbox import Outbox

    storage = _open(config)
    try:
        box = Outbox(storage, owner="cli")
        outcomes, waiting, given_up = box.outcomes(), box.waiting(), box.failed(failed)
    finally:
        storage.close()
    typer.echo("outcomes: " + ", ".join(f"{k} {v}" for k, v in outcomes.items()))
    typer.echo("waiting: " + (", ".join(f"{k} {v}" for k, v in sorted(waiting.items())) or "nothing"))
    for item, error in given_up:
        typer.echo(f"  #{item.id} {item.kind} {item.method} to chat {item.chat}, {item.attempts} tries: {error}")
