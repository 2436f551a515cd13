"""Command line: `python -m bot chat | ask | quiz | train | evaluate | kb | serve | actions`.

Heavy imports (scikit-learn, telegram, rasa_sdk, rich) happen inside the commands that need them, so
`ask` starts fast.
"""
from __future__ import annotations

import contextlib
import json
import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from .cli_db import db_app
from .cli_kb import kb_app
from .errors import BotError

app = typer.Typer(add_completion=False, no_args_is_help=False, help="A trivia chatbot about one film.")
ConfigOption = typer.Option(None, "--config", "-c", help="config.yml to use (default: BOT_CONFIG or ./config.yml)")
_state: dict[str, Optional[Path]] = {"config": None}


def settings():  # type: ignore[no-untyped-def]
    from .config import load_settings

    return load_settings(_state["config"])


def explain(exc: BotError) -> str:
    """The error for the terminal: a broken data file gives one FILE:LINE: field: problem line per problem."""
    from .errors import DataFileError

    if isinstance(exc, DataFileError) and len(exc.problems) > 1:
        return "the files do not load:\n" + "\n".join(p.location for p in exc.problems)
    return str(exc)


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@app.callback(invoke_without_command=True)
def root(ctx: typer.Context, config: Optional[Path] = ConfigOption) -> None:
    _state["config"] = config
    if ctx.invoked_subcommand is None:
        ctx.invoke(chat)


def make_brain(memory: bool = False):  # type: ignore[no-untyped-def]
    from .runtime import collector_paused

    with collector_paused():  # its imports too: modules, like the Brain, live for the process
        from .dialogue import Brain
        from .storage import Storage, open_storage

        s = settings()
        return Brain.from_settings(s, open_storage(":memory:" if memory else s.database))


app.add_typer(kb_app, name="kb")
app.add_typer(db_app, name="db")


@app.command()
def chat(config: Optional[Path] = ConfigOption) -> None:
    """Chat with the bot in the terminal (Ctrl-D or /quit to leave)."""
    if config:
        _state["config"] = config
    from .channels.console import run_console

    try:
        run_console(make_brain())
    except BotError as exc:
        fail(explain(exc))


@app.command()
def quiz(
    questions: Optional[int] = typer.Option(None, "--questions", "-n", min=1, max=50, help="how many questions"),
    seconds: Optional[int] = typer.Option(None, "--seconds", "-s", min=5, max=300, help="time per question"),
    seed: Optional[int] = typer.Option(None, "--seed", help="same seed, same questions"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Play a trivia quiz in the terminal (typed answers, timed; /skip, /score, /stop)."""
    if config:
        _state["config"] = config
    from .channels.console_quiz import run_console_quiz

    try:
        points = run_console_quiz(make_brain(memory=True), settings(), questions=questions, seconds=seconds,
                                  seed=seed)
    except BotError as exc:
        fail(explain(exc))
    raise typer.Exit(0 if points >= 0 else 1)


@app.command()
def ask(
    text: Optional[str] = typer.Argument(None, help="the message"),
    as_json: bool = typer.Option(False, "--json", help="print the reply as one JSON object"),
    batch: Optional[Path] = typer.Option(None, "--batch", help='JSON lines {"chat": ID|null, "text": ...}'),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Answer one message (or a batch file) in a fresh chat and exit."""
    if config:
        _state["config"] = config
    if text is None and batch is None:
        fail("give a message, or --batch FILE")
    try:
        brain = make_brain(memory=True)
    except BotError as exc:
        fail(explain(exc))
    if batch is None:
        reply = brain.reply(None, "cli", text or "")
        typer.echo(json.dumps(reply.as_json(), ensure_ascii=False) if as_json else reply.text)
        return
    try:
        source = contextlib.nullcontext(sys.stdin.buffer) if str(batch) == "-" else batch.open("rb")
    except OSError as exc:
        fail(f"cannot read {batch}: {exc.strerror or exc}")
    from .runtime import tune_gc

    tune_gc()  # thousands of messages over a loaded Brain: collected as the serving fronts are (bot/runtime.py)
    out = sys.stdout
    with source as lines:
        for number, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                chat_id, message = batch_item(raw)
            except ValueError as exc:
                out.write(json.dumps({"error": f"line {number}: {exc}"}) + "\n")
                continue
            try:
                reply = brain.reply(chat_id, "cli", message)
            except Exception as exc:  # one line's failure must not cost the others their answers
                logging.getLogger(__name__).exception("could not answer batch line %d", number)
                out.write(json.dumps({"error": f"line {number}: could not answer ({type(exc).__name__})"}) + "\n")
                continue
            out.write((json.dumps(reply.as_json(), ensure_ascii=False) if as_json else reply.text) + "\n")
    out.flush()


MAX_BATCH_LINE = 1 << 20  # bytes: a line is one message (Telegram's longest is 4,096 characters)


def batch_item(raw: bytes) -> tuple[str | None, str]:
    """One line of an ``ask --batch`` file as (chat, text) (bot/incoming.py decodes it); BadInput
    (a ValueError) says what is wrong with it.

    >>> batch_item(b'{"chat": 7, "text": "hi"}')
    ('7', 'hi')
    >>> batch_item(b'[1, 2]')
    Traceback (most recent call last):
    bot.incoming.BadInput: not a JSON object with "text"
    """
    from .incoming import decode_object, field

    item = decode_object(raw, limit=MAX_BATCH_LINE, expected='a JSON object with "text"')
    chat, text = field(item, "chat", (str, int)), field(item, "text", (str,))
    return (None if chat is None else str(chat)), (text or "")


@app.command()
def train(config: Optional[Path] = ConfigOption) -> None:
    """Train the intent model now (otherwise it is trained on first use and cached)."""
    if config:
        _state["config"] = config
    from .knowledge import KnowledgeBase
    from .nlu import NLU, model_key
    from .nlu.data import load_training_data

    s = settings()
    try:
        kb = KnowledgeBase.load(s.knowledge)
        data = load_training_data(s.intents)
        nlu = NLU.build(kb, s.intents, s.cache_dir)
    except BotError as exc:
        fail(explain(exc))
    typer.echo(f"model {model_key(data, kb)}: {len(data.examples)} examples, {len(nlu.model.classes)} intents, "
               f"{len(nlu.model.index)} features; cached in {s.cache_dir}")


@app.command()
def check(config: Optional[Path] = ConfigOption) -> None:
    """Validate every file of the config's folder (config, knowledge, intents, answers, quiz): one
    FILE:LINE: field: problem line per problem; exit status 1 if any is an error."""
    if config:
        _state["config"] = config
    from .progress import status
    from .validation import check_folder

    with status("checking the files"):
        problems = check_folder(_state["config"])
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    if errors:
        typer.echo(f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}:")
    for problem in problems:
        typer.echo(str(problem))
    if errors:
        raise typer.Exit(1)
    typer.echo(f"The files are valid{f' ({warnings} warning' + 's' * (warnings != 1) + ')' if warnings else ''}.",
               err=True)


@app.command()
def new(
    folder: Path = typer.Argument(..., help="the film folder to create (must not exist, or be empty)"),
    title: str = typer.Option(..., "--title", "-t", help="the film's title"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Write a film folder (config, knowledge skeleton, intents, quiz generators) that chats at once."""
    if config:
        _state["config"] = config
    from .progress import status
    from .scaffold import new_folder

    try:
        with status(f"writing {folder}"):
            written = new_folder(folder, title, settings())
    except BotError as exc:
        fail(explain(exc))
    config_path = folder / "config.yml"
    typer.echo(f"Wrote {len(written)} files in {folder}. Next:\n"
               f"  python -m bot --config {config_path} chat     # talk to it now\n"
               f"  edit {next(p for p in written if p.parent.name == 'knowledge' and p.name != 'quiz.yml')}"
               "   # add entities and facts\n"
               f"  python -m bot --config {config_path} check    # file:line: field: problem for each mistake")


@app.command()
def evaluate(
    as_json: bool = typer.Option(False, "--json"),
    folds: int = typer.Option(5, help="cross-validation folds"),
    eval_set: Optional[Path] = typer.Option(None, "--eval-set", help="conversations YAML (default tests/eval/)"),
    heldout: Optional[Path] = typer.Option(None, "--heldout",
                                           help="classified held-out YAML (default: every tests/eval/heldout*.yml)"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Cross-validated precision/recall per intent, most confused pairs, and evaluation-set accuracy."""
    if config:
        _state["config"] = config
    from .evaluation import evaluate_all, print_report

    s = settings()
    path = eval_set or (s.root / "tests" / "eval" / "conversations.yml")
    try:
        held = [heldout] if heldout else sorted((s.root / "tests" / "eval").glob("heldout*.yml"))  # every held-out set
        report = evaluate_all(s, path if path.exists() else None, folds, [h for h in held if h.exists()] or None)
    except BotError as exc:
        fail(explain(exc))
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        print_report(report)


@app.command()
def actions(
    port: int = typer.Option(5055, "--port", "-p", help="port of the action server"),
    host: Optional[str] = typer.Option(None, "--host", envvar="BOT_ACTIONS_HOST",
                                       help="address to bind (default 127.0.0.1; 0.0.0.0 to expose it)"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Serve the Rasa custom actions (rasa-sdk action server) in one process; SIGINT/SIGTERM stop it."""
    if config:
        _state["config"] = config
    from .lifecycle import Shutdown, install_early_signal_handlers

    install_early_signal_handlers()  # (python -m bot did already; the console script gets here first)
    host = host or "127.0.0.1"
    try:
        typer.echo("starting the action server", err=True)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        from .channels.rasa_server import serve

        brain = make_brain()
        serve(host, port, brain,
              ready=lambda url: typer.echo(f"action server ready on {url}/webhook", err=True))
    except Shutdown:
        typer.echo("stopped", err=True)
    except BotError as exc:
        fail(explain(exc))
    except OSError as exc:
        fail(f"cannot serve on {host}:{port}: {exc}")


@app.command("rasa-export")
def rasa_export(
    out: Path = typer.Argument(..., help="directory to write the Rasa project into"),
    actions_url: str = typer.Option("http://127.0.0.1:5055/webhook", "--actions-url",
                                    help="the action server's webhook, for endpoints.yml"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Write a Rasa 3.x project (config, domain, NLU data, rules, endpoints) from this bot's files."""
    if config:
        _state["config"] = config
    from .rasa_export import export_project

    try:
        written = export_project(settings(), out, actions_url)
    except BotError as exc:
        fail(explain(exc))
    for path in written:
        typer.echo(str(path))


@app.command()
def serve(
    webhook_url: Optional[str] = typer.Option(None, "--webhook-url",
                                              help="public HTTPS URL for Telegram to POST updates to "
                                                   "(default: long polling)"),
    listen: Optional[str] = typer.Option(None, "--listen", help="address the webhook server binds"),
    port: Optional[int] = typer.Option(None, "--port", help="port the webhook server listens on"),
    secret_token: Optional[str] = typer.Option(None, "--secret-token", envvar="BOT_WEBHOOK_SECRET",
                                               show_envvar=True,
                                               help="secret Telegram sends in X-Telegram-Bot-Api-Secret-Token"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Run the Telegram bot (BOT_TOKEN; BOT_API_URL for a self-hosted Bot API server); SIGINT/SIGTERM stop it."""
    if config:
        _state["config"] = config
    from .lifecycle import install_early_signal_handlers

    install_early_signal_handlers()  # until the bot's loop takes SIGINT/SIGTERM over
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    s = settings()
    if not s.telegram.token:
        fail("no bot token: set BOT_TOKEN (get one from @BotFather) or telegram.token in config.yml", 2)
    for name, value in (("webhook_url", webhook_url), ("listen", listen), ("port", port),
                        ("secret_token", secret_token)):
        if value is not None:
            setattr(s.telegram, name, value)
    from telegram.error import InvalidToken, NetworkError

    from .channels.telegram import serve as serve_telegram
    from .dialogue import Brain
    from .storage import Storage, open_storage

    try:
        brain = Brain.from_settings(s, open_storage(s.database))
        serve_telegram(brain, s, on_ready=lambda how: typer.echo(f"starting the Telegram bot ({how})", err=True))
    except BotError as exc:
        fail(explain(exc))
    except InvalidToken:
        fail("the Bot API server rejected the token (check BOT_TOKEN)")
    except NetworkError as exc:
        fail(f"cannot reach the Bot API server: {exc}")
    except OSError as exc:  # e.g. the admin app's port is taken
        fail(f"cannot start: {exc}")
    typer.echo("stopped", err=True)


@app.command("admin-web")
def admin_web(
    port: int = typer.Option(8444, "--port", "-p", min=0, max=65535, help="port on 127.0.0.1 (0: any free one)"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Serve the admin app on 127.0.0.1 for use without Telegram, and print a one-time login link."""
    if config:
        _state["config"] = config
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from .dialogue import Brain
    from .live import KnowledgeWatcher
    from .storage import Storage, open_storage
    from .webadmin import LoginLinks, WebServer, build_admin_web

    s = settings()
    logins = LoginLinks()
    try:
        storage = open_storage(s.database)
        brain = Brain.from_settings(s, storage)
        watcher = KnowledgeWatcher(brain)  # edits made elsewhere (CLI, a running bot) show here too
        server = WebServer(build_admin_web(s, brain, storage, watcher.reloader, logins), "127.0.0.1", port).start()
    except BotError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot serve on 127.0.0.1:{port}: {exc}")
    watcher.start()
    typer.echo(f"Admin app on {server.url}\nOpen this link once to log in (it works once, for 10 minutes):\n"
               f"{server.url}#login={logins.new_link()}", err=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        watcher.stop()
    typer.echo("stopped", err=True)


def main() -> None:
    from .lifecycle import Shutdown

    try:
        app()
    except Shutdown:  # a stop signal during start-up (bot/lifecycle.py): a clean stop, not a failure
        typer.echo("stopped", err=True)
        sys.exit(0)
    except KeyboardInterrupt:
        sys.exit(130)
    except BotError as exc:  # e.g. the database is unreachable: one line, no traceback
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
