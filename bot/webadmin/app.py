"""The admin Mini App's HTTP side: aiohttp routes over bot/admin.py, pages rendered by Jinja2.

    web = AdminWeb(admin, brain, WebSettings(bot_token=...), logins=LoginLinks())
    runner = web.Application()        # an aiohttp.web.Application, mounted under /admin

Every request but the static files and the login-link exchange must carry a credential in its
Authorization header (bot/webadmin/auth.py); a browser's first visit has none yet, so it gets the page's
empty shell with 401, and the page's script fetches the real page with the credential it holds
(Telegram's initData, or a session from the one-time link). Every change goes through the Admin: the same
validation, lock, audit and undo as /kb and the CLI, and the running Brain answers with it at once.
Operations block (file lock, fsync, retraining), so they run on a thread, never on the event loop.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from ..admin import Actor, Admin, check_known, resolve_entity, resolve_relation
from ..admin_quiz import NewQuestion
from ..dialogue import Brain
from ..errors import BotError, ChangedError, NotAdminError
from ..knowledge import KnowledgeBase
from ..knowledge.edit import MAX_VALUE, clean_text
from . import views
from .auth import AuthError, LoginLinks, validate_init_data
from .forms import Form

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
PREFIX = "/admin"
MAX_BODY = 8 * 1024 * 1024  # bytes: a form far bigger than any field's limit still gets a clear answer
MAX_CARDS = 80  # entities on one knowledge page (narrow it with the search)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CSP = ("default-src 'self'; script-src 'self' https://telegram.org; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'self' https://web.telegram.org https://*.telegram.org")


@dataclass(frozen=True)
class WebSettings:
    bot_token: str | None  # None: Telegram logins cannot be checked, only the one-time link works
    max_age: float = 3600.0  # s: how old a Telegram initData may be


class AdminWeb:
    """The pages. Holds the Admin (every change, its validation, audit and preview) and the Brain (the inbox
    is grouped by what its model understands)."""

    def __init__(self, admin: Admin, brain: Brain, settings: WebSettings, logins: LoginLinks | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.admin, self.brain, self.settings, self.logins = admin, brain, settings, logins
        self.clock = clock
        self._versions: dict[str, str] = {}
        self.templates = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                                            autoescape=True, undefined=jinja2.StrictUndefined,
                                            trim_blocks=True, lstrip_blocks=True)

    # the aiohttp application ---------------------------------------------------------------------
    def application(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._guard])
        r = app.router
        r.add_static(f"{PREFIX}/static", HERE / "static")
        r.add_post(f"{PREFIX}/login", self.login)
        r.add_get(PREFIX, lambda request: _redirect(f"{PREFIX}/"))
        r.add_get(f"{PREFIX}/", self.knowledge)
        r.add_get(f"{PREFIX}/entity/{{entity}}", self.entity)
        r.add_get(f"{PREFIX}/edit", self.edit_form)
        r.add_post(f"{PREFIX}/edit", self.edit)
        r.add_post(f"{PREFIX}/remove", self.remove)
        r.add_get(f"{PREFIX}/history", self.history)
        r.add_post(f"{PREFIX}/undo", self.undo)
        r.add_get(f"{PREFIX}/inbox", self.inbox)
        r.add_post(f"{PREFIX}/inbox/answer", self.inbox_answer)
        r.add_post(f"{PREFIX}/inbox/dismiss", self.inbox_dismiss)
        r.add_get(f"{PREFIX}/quiz", self.quiz)
        r.add_post(f"{PREFIX}/quiz/switch", self.quiz_switch)
        r.add_post(f"{PREFIX}/quiz/add", self.quiz_add)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Security headers on everything; the credential on everything but static files and the login."""
        try:
            if request.headers.get("Content-Encoding", "identity").lower() != "identity":
                response: web.StreamResponse = self.page(request, "error.html", 415, title="Not accepted",
                                                         message="Compressed request bodies are not accepted.")
            elif request.path.startswith(f"{PREFIX}/static/") or request.path == f"{PREFIX}/login" \
                    or request.path == PREFIX:
                response = await handler(request)
            else:
                try:
                    request["actor"] = await asyncio.to_thread(self.authenticate, request)
                except AuthError as exc:
                    response = self._refused(request, exc.status, exc.message)
                except NotAdminError as exc:
                    response = self._refused(request, 403, str(exc))
                else:
                    response = await handler(request)
        except web.HTTPRequestEntityTooLarge:
            response = self.page(request, "error.html", 413, title="Too much data",
                                 message=f"That form holds more than {MAX_BODY // (1024 * 1024)} MB; nothing was "
                                         "saved. A value may be at most a few thousand characters.")
        except web.HTTPException:
            raise
        except BotError as exc:  # e.g. a data file broken by hand: its message says which, and where
            response = self.page(request, "error.html", 500, title="The bot's files do not load", message=str(exc))
        except Exception:  # noqa: BLE001 - one page failing must not show a traceback or stop the bot
            log.exception("admin page %s %s failed", request.method, request.path)
            response = self.page(request, "error.html", 500, title="Something went wrong",
                                 message="Something went wrong on the bot's side; nothing was changed. "
                                         "See the bot's log.")
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if not request.path.startswith(f"{PREFIX}/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    def authenticate(self, request: web.Request) -> Actor:
        """The admin a request's Authorization header proves; AuthError or NotAdminError otherwise."""
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        scheme, credential = scheme.lower(), credential.strip()
        if scheme == "tma":
            if not self.settings.bot_token:
                raise AuthError(401, "This server has no bot token, so it cannot check Telegram logins. Use the "
                                     "login link that `python -m bot admin-web` prints.")
            user = validate_init_data(credential, self.settings.bot_token, max_age=self.settings.max_age,
                                      now=self.clock() if self.clock else None)
            actor = Actor.telegram(user.id, user.username)
            self.admin.require(actor, "open the admin app")  # NotAdminError for others, logged and audited
            return actor
        if scheme == "session" and self.logins is not None:
            session = self.logins.session(credential)
            return Actor(session.who, local=True)
        raise AuthError(401, "Open this page from the bot in Telegram (the admin button), or use the login "
                             "link that `python -m bot admin-web` prints.")

    def _refused(self, request: web.Request, status: int, message: str) -> web.Response:
        """No credential at all on a page visit: the empty shell, whose script retries with the credential."""
        first_visit = request.method == "GET" and "Authorization" not in request.headers
        if first_visit:
            return self.page(request, "shell.html", status, title="Signing in…", message=message)
        return self.page(request, "error.html", status, title="Not signed in" if status == 401 else "Not allowed",
                         message=message)

    # rendering -------------------------------------------------------------------------------------
    def page(self, request: web.Request, template: str, status: int = 200, url: str | None = None,
             **context: Any) -> web.Response:
        actor: Actor | None = request.get("actor")
        html = self.templates.get_template(template).render(
            prefix=PREFIX, actor=actor.who if actor else None, nav=template.split(".")[0],
            static=self._static_url, **context)
        response = web.Response(text=html, status=status, content_type="text/html")
        response.headers["X-Page-Url"] = url or str(request.rel_url)
        return response

    def _static_url(self, name: str) -> str:
        """A static file's URL with its content's hash, so a new version is never served from a stale cache."""
        version = self._versions.get(name)
        if version is None:
            version = hashlib.sha256((HERE / "static" / name).read_bytes()).hexdigest()[:10]
            self._versions[name] = version
        return f"{PREFIX}/static/{name}?v={version}"

    async def _run(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(function, *args, **kwargs)

    async def _form(self, request: web.Request) -> Form:
        return Form.parse(await request.read())

    def _kb(self) -> KnowledgeBase:
        return KnowledgeBase.load(self.admin.knowledge_path)

    # login link ------------------------------------------------------------------------------------
    async def login(self, request: web.Request) -> web.Response:
        if self.logins is None:
            return web.json_response({"error": "Login links are only for `python -m bot admin-web`."}, status=404)
        form = await self._form(request)
        try:
            session = self.logins.redeem(form.get("token"), Actor.local_operator().who)
        except AuthError as exc:
            return web.json_response({"error": exc.message}, status=exc.status)
        return web.json_response({"session": session.token})

    # the knowledge ---------------------------------------------------------------------------------
    async def knowledge(self, request: web.Request) -> web.Response:
        query = request.query.get("q", "")[:200]
        kb = await self._run(self._kb)
        cards = views.search(kb, query)
        return self.page(request, "knowledge.html", query=query, cards=cards[:MAX_CARDS], total=len(cards),
                         shown=min(len(cards), MAX_CARDS), title=kb.title)

    async def entity(self, request: web.Request, notice: str = "", status: int = 200,
                     entity_id: str | None = None) -> web.Response:
        kb = await self._run(self._kb)
        entity_id = entity_id or request.match_info["entity"]
        entity = kb.entities.get(entity_id)
        if entity is None:
            return self.page(request, "error.html", 404, title="Not found",
                             message=f"There is no entity {entity_id[:80]!r} (any more).")
        rows = views.fact_rows(kb, entity.id)
        return self.page(request, "entity.html", status, url=f"{PREFIX}/entity/{entity.id}", entity=entity,
                         rows=rows, relations=views.relations_for(kb, entity.kind), notice=notice,
                         revisions={r.relation: views.fact_revision(kb, entity.id, r.relation) for r in rows if r.own})

    async def edit_form(self, request: web.Request) -> web.Response:
        kb = await self._run(self._kb)
        try:
            entity = resolve_entity(kb, request.query.get("entity", ""))
            rel = resolve_relation(kb, request.query.get("relation", ""))
        except BotError as exc:  # a refusal, or a data file broken on disk: said, never a 500
            return self.page(request, "error.html", 404, title="Not found", message=str(exc))
        form = await self._run(self._relation_form, kb, entity.id, rel.id)
        current = form.current[0] if len(form.current) == 1 else None
        values = {"value": current.value if current else "", "source": "", "role": current.role or "" if current
                  else "", "known": dt.date.today().isoformat()}
        return self.page(request, "edit.html", form=form, values=values, errors={}, preview=None, notice="",
                         sources=self._sources(kb), entities=sorted(e.name for e in kb.entities.values()))

    def _relation_form(self, kb: KnowledgeBase, entity: str, relation: str) -> views.RelationForm:
        return views.relation_form(kb, entity, relation)

    @staticmethod
    def _sources(kb: KnowledgeBase) -> list[str]:
        return sorted({s.publication or s.attribution.removeprefix("according to ") for s in kb.sources.values()})

    async def edit(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        kb = await self._run(self._kb)
        try:
            entity = resolve_entity(kb, form.get("entity"))
            rel = resolve_relation(kb, form.get("relation"))
        except BotError as exc:  # a refusal, or a data file broken on disk: said, never a 500
            return self.page(request, "error.html", 404, title="Not found", message=str(exc))
        op = form.get("op", "preview")
        if op not in ("preview", "set", "add"):
            op = "preview"
        relation_form = await self._run(self._relation_form, kb, entity.id, rel.id)
        value = form.check("value", lambda v: clean_text(v, "value", limit=MAX_VALUE if rel.literal else 200,
                                                         one_line=not rel.literal))
        source = form.check("source", lambda v: clean_text(v, "source", limit=200, one_line=True))
        known = form.check("known", check_known, required=False)
        role = form.check("role", lambda v: resolve_entity(kb, v, kinds=list(rel.role or [])).id,
                          required=False) if rel.role else None
        expect = form.get("expect") or None
        arguments = dict(entity=entity.id, relation=rel.id, value=value, source=source, known=known, role=role)
        values = {name: form.shown(name) for name in ("value", "source", "known", "role")}
        context = dict(form=relation_form, values=values, errors=form.errors, preview=None, notice="",
                       sources=self._sources(kb), entities=sorted(e.name for e in kb.entities.values()))
        if not form.ok:
            return self.page(request, "edit.html", 422, **context)
        actor = request["actor"]
        try:
            if op == "preview":  # the Save's own code path, dry: refused as Save would be, writes nothing
                context["preview"] = await self._run(self.admin.preview_fact, actor, **arguments, replace=True)
                return self.page(request, "edit.html", **context)
            operation = self.admin.set_fact if op == "set" else self.admin.add_fact
            change = await self._run(operation, actor, **arguments, expect=expect)
        except ChangedError as exc:
            kb = await self._run(self._kb)
            context["form"] = await self._run(self._relation_form, kb, entity.id, rel.id)  # what is there now
            context["errors"] = {"form": str(exc)}
            return self.page(request, "edit.html", 409, **context)
        except BotError as exc:  # a refusal, or a data file broken on disk: said, never a 500
            context["errors"] = _field_of(str(exc))
            return self.page(request, "edit.html", 422, **context)
        return await self.entity(request, notice=f"Saved. {change.message}", entity_id=entity.id)

    async def remove(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        entity_id = form.get("entity")
        try:
            change = await self._run(self.admin.remove_fact, request["actor"], entity_id, form.get("relation"),
                                     form.get("value") or None, expect=form.get("expect") or None)
        except BotError as exc:  # a refusal, or a data file broken on disk: said, never a 500
            return await self.entity(request, notice=f"⚠️ {exc}", status=409 if isinstance(exc, ChangedError)
                                     else 422, entity_id=entity_id)
        return await self.entity(request, notice=change.message, entity_id=entity_id)

    # history ---------------------------------------------------------------------------------------
    async def history(self, request: web.Request, notice: str = "", status: int = 200) -> web.Response:
        actor = request["actor"]
        entries = await self._run(self.admin.history, actor, 500)
        changes = [e for e in entries if e.file or e.action == "dismiss"][:50]  # refused attempts: counted
        undoable = {e.id for e in await self._run(self.admin.storage.last_undoable)}
        return self.page(request, "history.html", status, url=f"{PREFIX}/history",
                         rows=views.history_rows(changes, undoable), notice=notice,
                         refused=sum(e.action == "refused" for e in entries),
                         latest=max(undoable) if undoable else "")

    async def undo(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        latest = {e.id for e in await self._run(self.admin.storage.last_undoable)}
        if not latest or str(max(latest)) != form.get("expect"):
            return await self.history(request, "⚠️ The history changed since you opened it (someone else made or "
                                               "undid a change); nothing was undone. Look again, then undo.", 409)
        try:
            change = await self._run(self.admin.undo, request["actor"])
        except BotError as exc:  # a refusal, or a data file broken on disk: said, never a 500
            return await self.history(request, f"⚠️ {exc}", 409)
        return await self.history(request, change.message)

    # the unanswered inbox --------------------------------------------------------------------------
    async def inbox(self, request: web.Request, notice: str = "", status: int = 200,
                    errors: dict[str, dict[str, str]] | None = None,
                    values: dict[str, dict[str, str]] | None = None) -> web.Response:
        actor = request["actor"]
        questions = await self._run(self.admin.unanswered, actor, 500)
        kb = await self._run(self._kb)
        mind = self.brain.mind
        groups = await self._run(views.group_inbox, questions, kb, mind.nlu, mind.answers,
                                 self.admin.settings.nlu.threshold)
        return self.page(request, "inbox.html", status, url=f"{PREFIX}/inbox", groups=groups, notice=notice,
                         errors=errors or {}, values=values or {}, relations=sorted(kb.relations.values(),
                                                                                    key=lambda r: r.label),
                         today=dt.date.today().isoformat(), sources=self._sources(kb),
                         entities=sorted(e.name for e in kb.entities.values()))

    async def inbox_answer(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        key = form.get("key")
        kb = await self._run(self._kb)
        entity = form.check("entity", lambda v: resolve_entity(kb, v).id)
        relation = form.check("relation", lambda v: resolve_relation(kb, v).id)
        value = form.check("value", lambda v: clean_text(v, "value", limit=MAX_VALUE))
        source = form.check("source", lambda v: clean_text(v, "source", limit=200, one_line=True))
        known = form.check("known", check_known, required=False)
        typed = {name: form.shown(name) for name in ("entity", "relation", "value", "source", "known", "mode")}
        if form.ok:
            try:  # adding by default: a question the bot could not answer rarely makes what it knows wrong
                change = await self._run(self.admin.answer, request["actor"], 0, entity, relation, value, source,
                                         known, replace=form.get("mode") == "replace", key=key,
                                         also=tuple(k for k in form.getall("also") if k != key))
            except BotError as exc:  # a refusal, or a data file broken on disk: said, never a 500
                if str(exc).startswith("no intent asks for"):  # the CLI's wording names its --intent option
                    form.errors["relation"] = ("No kind of question the bot understands asks for this fact, so "
                                               "the wording cannot be taught: pick the fact these questions ask for.")
                else:
                    form.errors.update(_field_of(str(exc)))
            else:
                return await self.inbox(request, f"Answered. {change.message}")
        return await self.inbox(request, status=422, errors={key: form.errors}, values={key: typed})

    async def inbox_dismiss(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        try:
            change = await self._run(self.admin.dismiss, request["actor"], form.getall("also") or [form.get("key")])
        except BotError as exc:  # a refusal, or a data file broken on disk: said, never a 500
            return await self.inbox(request, f"⚠️ {exc}", 422)
        return await self.inbox(request, change.message)

    # quiz ------------------------------------------------------------------------------------------
    async def quiz(self, request: web.Request, notice: str = "", status: int = 200,
                   errors: dict[str, str] | None = None, values: dict[str, str] | None = None) -> web.Response:
        questions, disabled = await self._run(self.admin.quiz_questions, request["actor"])
        kb = await self._run(self._kb)
        query = views.fold(request.query.get("q", ""))[:200]
        rows = [r for r in views.quiz_rows(questions, disabled) if not query or query in views.fold(r.text)]
        return self.page(request, "quiz.html", status, url=f"{PREFIX}/quiz", rows=rows, notice=notice,
                         errors=errors or {}, values=values or {}, query=request.query.get("q", "")[:200],
                         relations=sorted(kb.relations.values(), key=lambda r: r.label),
                         entities=sorted(e.name for e in kb.entities.values()))

    async def quiz_switch(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        try:
            change = await self._run(self.admin.disable_question, request["actor"], form.get("id"),
                                     form.get("disabled") != "0")
        except BotError as exc:  # a refusal, or a data file broken on disk: said, never a 500
            return await self.quiz(request, f"⚠️ {exc}", 422)
        return await self.quiz(request, change.message)

    async def quiz_add(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        names = ("kind", "difficulty", "question", "answer", "subject", "relation", "object", "wrong", "explanation")
        for name in names:
            form.check(name, lambda v: v, required=False)  # binary anywhere: said next to its field
        typed = {name: form.shown(name) for name in names}
        if form.ok:
            new = NewQuestion(kind=form.get("kind"), difficulty=form.get("difficulty"), question=form.get("question"),
                              answer=form.get("answer"), subject=form.get("subject"), relation=form.get("relation"),
                              object=form.get("object"), explanation=form.get("explanation"),
                              wrong=tuple(w.strip() for w in form.get("wrong").replace(",", "\n").splitlines()))
            try:
                change = await self._run(self.admin.add_question, request["actor"], new)
            except BotError as exc:  # a refusal, or a data file broken on disk: said, never a 500
                form.errors.update(_field_of(str(exc), default="question"))
            else:
                return await self.quiz(request, change.message)
        return await self.quiz(request, status=422, errors=form.errors, values=typed)


FIELD_WORDS = (("the value", "value"), ("the source", "source"), ("a date", "known"), ("real date", "known"),
               ("the question", "question"), ("answer", "answer"), ("wrong option", "wrong"),
               ("there is no entity", "entity"), ("is a ", "entity"), ("relation", "relation"), ("role", "role"))


def _field_of(message: str, default: str = "form") -> dict[str, str]:
    """Which field an Admin refusal is about, to show it there (the Admin's messages name the field)."""
    text = message[:1].upper() + message[1:]
    lowered = message.lower()
    for words, name in FIELD_WORDS:
        if words in lowered:
            return {name: text}
    return {default: text}


def _redirect(location: str) -> web.Response:
    raise web.HTTPFound(location)
