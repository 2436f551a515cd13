"""Shared fixtures: each test gets its own bot built from a copy of the shipped files, one trained model."""
from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.dialogue import Brain
from bot.storage import Storage, open_storage

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the session: the model is trained once, then every copy loads it."""
    return tmp_path_factory.mktemp("cache")


def copy_project(dest: Path, cache: Path) -> Path:
    """A self-contained copy of config.yml, knowledge/ and intents/ (contract 4), sharing the model cache."""
    for name in ("knowledge", "intents"):
        shutil.copytree(ROOT / name, dest / name)
    text = (ROOT / "config.yml").read_text(encoding="utf-8")
    text = text.replace("cache_dir: .cache", f"cache_dir: {cache}")
    (dest / "config.yml").write_text(text, encoding="utf-8")
    return dest / "config.yml"


@pytest.fixture
def project(tmp_path: Path, model_cache: Path) -> Path:
    """Path of a config.yml in a fresh copy of the project data."""
    return copy_project(tmp_path / "project", model_cache)


@pytest.fixture
def settings(project: Path) -> Settings:
    return load_settings(project, env={})


@pytest.fixture
def brain(settings: Settings) -> Brain:
    return Brain.from_settings(settings, open_storage(settings.database), random.Random(7))


@pytest.fixture
def ask(brain: Brain) -> Callable[..., object]:
    """ask(text, chat="t") -> Reply, one conversation per chat id."""
    def _ask(text: str, chat: str | None = "t"):  # type: ignore[no-untyped-def]
        return brain.reply(chat, "tester", text)
    return _ask


from tests.support.postgres import database, pg, store  # noqa: E402,F401  (both backends, for every test)
