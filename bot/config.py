"""Settings: config.yml, overridden by environment variables, validated by pydantic.

Paths in the file are relative to the file itself, so a copy of config.yml + knowledge/ + intents/ in
another folder is a self-contained bot (that is how a second film, or a test, runs).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .yamlio import load_model

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config.yml"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NluSettings(Section):
    threshold: float = Field(0.45, ge=0, le=1, description="below this confidence, fall back to search")
    follow_up_confidence: float = Field(0.8, ge=0, le=1)


class SearchSettings(Section):
    min_coverage: float = Field(0.6, ge=0, le=1)
    min_terms: int = Field(2, ge=1)


class TelegramSettings(Section):
    token: str | None = None
    api_url: str | None = None
    webhook_url: str | None = None
    listen: str = "127.0.0.1"
    port: int = 8443
    secret_token: str | None = None


class QuizSettings(Section):
    """A chat's quiz settings; config.yml gives the defaults, a chat's admins change them with /quizsettings."""

    questions: int = Field(5, ge=1, le=50)
    seconds: int = Field(20, ge=5, le=300)
    mode: Literal["poll", "text"] = "poll"
    difficulty: Literal["mixed", "easy", "medium", "hard"] = "mixed"
    pause: float = Field(3.0, ge=0, le=60, description="seconds between a reveal and the next question")


class AdminWebSettings(Section):
    """The admin Mini App (bot/webadmin): `serve` starts it when ``url`` is set."""

    url: str | None = Field(None, description="public HTTPS address of the app (ending in /admin/), opened from "
                                              "the admins' menu button and /kb")
    listen: str = "127.0.0.1"
    port: int = Field(8444, ge=0, le=65535)
    max_age: int = Field(3600, ge=60, le=7 * 86400, description="seconds a Telegram login (initData) stays valid")


class Settings(Section):
    knowledge: Path = Path("knowledge/knowledge.yml")  # config.yml names the film's file
    quiz_file: Path = Path("knowledge/quiz.yml")
    intents: Path = Path("intents")
    # an SQLite file (relative to the config file) or a postgresql:// URL shared by workers (bot/storage)
    database: str = "data/bot.sqlite3"
    cache_dir: Path = Path(".cache")
    admins: list[int] = Field(default_factory=list)
    seed: int | None = None
    nlu: NluSettings = Field(default_factory=NluSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    quiz: QuizSettings = Field(default_factory=QuizSettings)
    admin_web: AdminWebSettings = Field(default_factory=AdminWebSettings)
    root: Path = Path(".")

    @property
    def answers_path(self) -> Path:
        return self.intents / "answers.yml"


def database_target(value: str, root: Path) -> str:
    """A database URL as it is; an SQLite path made absolute against the config's folder."""
    if value.startswith(("postgresql://", "postgres://")) or value == ":memory:":
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else root / path)


def load_settings(path: Path | str | None = None, env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    path = Path(path or env.get("BOT_CONFIG") or DEFAULT_CONFIG).resolve()
    settings = load_model(Settings, path)
    root = path.parent
    settings.root = root
    for name in ("knowledge", "quiz_file", "intents", "cache_dir"):
        value = getattr(settings, name)
        if not value.is_absolute():
            setattr(settings, name, root / value)
    settings.database = database_target(env.get("BOT_DATABASE") or settings.database, root)
    if env.get("BOT_TOKEN"):
        settings.telegram.token = env["BOT_TOKEN"]
    if env.get("BOT_API_URL"):
        settings.telegram.api_url = env["BOT_API_URL"]
    if env.get("BOT_WEBHOOK_SECRET"):
        settings.telegram.secret_token = env["BOT_WEBHOOK_SECRET"]
    if env.get("BOT_ADMIN_URL"):
        settings.admin_web.url = env["BOT_ADMIN_URL"]
    if env.get("BOT_ADMIN_PORT"):
        settings.admin_web.port = int(env["BOT_ADMIN_PORT"])
    if env.get("BOT_ADMINS"):
        settings.admins = sorted({*settings.admins, *(int(x) for x in env["BOT_ADMINS"].replace(",", " ").split())})
    return settings
