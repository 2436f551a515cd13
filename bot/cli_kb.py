"""`python -m bot kb ...`: the admin operations of bot/admin.py for the machine the files live on.

The local operator counts as an admin. Expected failures (unknown entity, bad value, nothing to undo)
print one line on stderr and exit 1; they never show a traceback.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional, TypeVar

import typer

from .errors import BotError, NotAdminError

kb_app = typer.Typer(add_completion=False, no_args_is_help=True,
                     help="Show and edit the knowledge (validated, atomic, audited, undoable).")
ConfigOption = typer.Option(None, "--config", "-c", help="config.yml to use (default: BOT_CONFIG or ./config.yml)")
SourceOption = typer.Option(..., "--source", "-s", help="who says so: an existing source id, or text such as 'Variety'")
KnownOption = typer.Option(None, "--known", help="when it was known: YYYY-MM-DD (default today), YYYY-MM or YYYY")
RoleOption = typer.Option(None, "--role", help="the character played, for 'starring'")
PreviewOption = typer.Option(False, "--preview", "--dry-run",
                             help="show the fact's sentence and the bot's answer with it; save nothing")
T = TypeVar("T")


def _run(config: Optional[Path], action: Callable[[Any, Any], T], pull: bool = True) -> T:
    """Build an Admin for the local operator, run ``action(admin, actor)``, turn errors into messages."""
    from . import cli
    from .admin import Actor, Admin
    from .storage import Storage, open_storage

    if config:
        cli._state["config"] = config
    storage = None
    try:
        settings = cli.settings()
        storage = open_storage(settings.database)
        return action(Admin(settings, storage, pull=pull), Actor.local_operator())
    except NotAdminError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except BotError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        if storage is not None:
            storage.close()


@kb_app.command()
def show(entity: str = typer.Argument(..., help="id, name or alias"),
         relation: Optional[str] = typer.Argument(None, help="only this relation"),
         as_json: bool = typer.Option(False, "--json", help="print the facts as a JSON list"),
         config: Optional[Path] = ConfigOption) -> None:
    """Show an entity and its facts (or one relation's facts)."""
    view = _run(config, lambda admin, me: admin.show(me, entity, relation))
    if as_json:
        typer.echo(json.dumps([f.as_json() for f in view.facts], ensure_ascii=False, indent=2))
        return
    typer.echo(f"{view.name} ({view.id}, {view.kind})")
    if view.aliases:
        typer.echo(f"  aliases: {', '.join(view.aliases)}")
    for f in view.facts:
        typer.echo(f"  [{f.index}] {f.relation}: {f.value}{' as ' + f.role if f.role else ''}"
                   f"  ({f.source}, {f.known})")


@kb_app.command("set")
def set_(entity: str, relation: str, value: str, source: str = SourceOption, known: Optional[str] = KnownOption,
         role: Optional[str] = RoleOption, preview: bool = PreviewOption, config: Optional[Path] = ConfigOption) -> None:
    """Replace the facts of ENTITY's RELATION with one: VALUE, with its source and date."""
    if preview:
        typer.echo(_run(config, lambda admin, me: admin.preview_fact(me, entity, relation, value, source, known,
                                                                     role)).message)
        return
    typer.echo(_run(config, lambda admin, me: admin.set_fact(me, entity, relation, value, source, known, role)).message)


@kb_app.command()
def add(entity: str, relation: str, value: str, source: str = SourceOption, known: Optional[str] = KnownOption,
        role: Optional[str] = RoleOption, preview: bool = PreviewOption, config: Optional[Path] = ConfigOption) -> None:
    """Add a fact, keeping the others of that relation."""
    if preview:
        typer.echo(_run(config, lambda admin, me: admin.preview_fact(me, entity, relation, value, source, known,
                                                                     role, replace=False)).message)
        return
    typer.echo(_run(config, lambda admin, me: admin.add_fact(me, entity, relation, value, source, known, role)).message)


@kb_app.command()
def remove(entity: str, relation: str, value: Optional[str] = typer.Argument(None, help="which one, if several"),
           config: Optional[Path] = ConfigOption) -> None:
    """Remove a fact."""
    typer.echo(_run(config, lambda admin, me: admin.remove_fact(me, entity, relation, value)).message)


@kb_app.command()
def alias(entity: str, alias: str, config: Optional[Path] = ConfigOption) -> None:
    """Add an alias (another name the bot should recognise) to an entity."""
    typer.echo(_run(config, lambda admin, me: admin.add_alias(me, entity, alias)).message)


@kb_app.command("add-entity")
def add_entity(entity_id: str = typer.Argument(..., metavar="ID"), kind: str = typer.Argument(...),
               name: str = typer.Argument(...), config: Optional[Path] = ConfigOption) -> None:
    """Add an entity (film, series, person, character, company, publication, organisation, term)."""
    typer.echo(_run(config, lambda admin, me: admin.add_entity(me, entity_id, kind, name)).message)


@kb_app.command()
def example(intent: str, text: str, config: Optional[Path] = ConfigOption) -> None:
    """Add a training example to an intent."""
    typer.echo(_run(config, lambda admin, me: admin.add_example(me, intent, text)).message)


@kb_app.command()
def unanswered(limit: int = typer.Option(20, "--limit", "-n"), as_json: bool = typer.Option(False, "--json"),
               config: Optional[Path] = ConfigOption) -> None:
    """Questions the bot could not answer, most frequent first."""
    items = _run(config, lambda admin, me: admin.unanswered(me, limit))
    if as_json:
        typer.echo(json.dumps([{"number": n, "text": q.text, "count": q.count, "last": _when(q.last_at)}
                               for n, q in enumerate(items, 1)], ensure_ascii=False, indent=2))
        return
    if not items:
        typer.echo("No unanswered questions.")
    for n, q in enumerate(items, 1):
        typer.echo(f"{n:>3}. {q.text}  (x{q.count}, last {_when(q.last_at)})")


@kb_app.command()
def answer(number: int, entity: str, relation: str, value: str, source: str = SourceOption,
           known: Optional[str] = KnownOption,
           intent: Optional[str] = typer.Option(None, "--intent", help="intent to teach (default: the one asking for RELATION)"),
           add_only: bool = typer.Option(False, "--add", help="add the fact instead of replacing"),
           config: Optional[Path] = ConfigOption) -> None:
    """Answer unanswered question NUMBER: set the fact and learn the question as an example."""
    typer.echo(_run(config, lambda admin, me: admin.answer(me, number, entity, relation, value, source, known,
                                                           intent, replace=not add_only)).message)


@kb_app.command()
def history(limit: int = typer.Option(20, "--limit", "-n"), config: Optional[Path] = ConfigOption) -> None:
    """The latest changes (and refused attempts), newest first."""
    entries = _run(config, lambda admin, me: admin.history(me, limit))
    if not entries:
        typer.echo("No changes yet.")
    for e in entries:
        flag = " (undone)" if e.undone else ""
        src = f" [source {e.source}]" if e.source else ""
        typer.echo(f"#{e.id} {_when(e.at)} {e.who}: {e.action} {e.target or ''}{src}{flag}")


@kb_app.command()
def undo(config: Optional[Path] = ConfigOption) -> None:
    """Revert the latest change not yet undone (the file is restored byte for byte)."""
    typer.echo(_run(config, lambda admin, me: admin.undo(me)).message)


@kb_app.command("import")
def import_(config: Optional[Path] = ConfigOption) -> None:
    """Publish the folder's YAML files, edited by hand, as one change: checked as by `python -m bot check`,
    audited, undone by `kb undo`. On a shared database (PostgreSQL) every worker, on every host, follows it
    within a second; until then the others keep the last published version (and so does this host's,
    the next time anything is pulled). With SQLite the files are the knowledge: they are only checked."""
    from . import cli

    typer.echo(_run(config, lambda admin, me: admin.import_files(me, cli._state["config"]), pull=False).message)


@kb_app.command()
def reload(config: Optional[Path] = ConfigOption) -> None:
    """Check every file (as `python -m bot check`); a running bot reloads them by itself within a second."""
    def check(admin: Any, me: Any) -> str:
        from .validation import check_folder

        admin.reload(me)
        problems = check_folder(cli._state["config"])
        for problem in problems:
            typer.echo(str(problem), err=True)
        if any(p.severity == "error" for p in problems):
            raise BotError("the files are not valid (the problems are listed above); a running bot keeps "
                           "the previous version")
        return "The files are valid; a running bot picks them up within a second, no reload needed."

    from . import cli

    typer.echo(_run(config, check))


def _when(at: float) -> str:
    return dt.datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")
