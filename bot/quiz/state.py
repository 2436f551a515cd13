"""A game's state: plain dataclasses that round-trip through JSON, so a restart loses nothing."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

Mode = Literal["poll", "text"]
Status = Literal["running", "finished", "stopped"]


@dataclass
class Player:
    user: str
    name: str
    points: int = 0
    correct: int = 0
    streak: int = 0
    best_streak: int = 0


@dataclass
class Round:
    number: int
    question_id: str
    options: list[str]          # as shown (choice and true/false); empty for a free answer
    correct: list[int]          # indexes into options
    asked_at: float
    deadline: float             # until shown_at, the show limit (engine.SHOW_LIMIT)
    message_id: int | None = None
    poll_id: str | None = None
    hinted: bool = False
    nudged: bool = False
    closed: bool = False
    winners: list[str] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)   # users who used their one try on an options question
    points: dict[str, int] = field(default_factory=dict)  # user -> points earned this round, for the reveal
    reason: str | None = None   # why it closed ("answered", "timeout", ...), for a reveal shown later
    shown_at: float | None = None  # when its message was delivered: its time runs from then


@dataclass
class Game:
    id: str
    chat: str
    mode: Mode
    seconds: int
    total: int
    difficulty: str
    started_by: str
    started_at: float
    seed: int
    status: Status = "running"
    asked: list[str] = field(default_factory=list)        # question ids, in order
    topics: list[str] = field(default_factory=list)
    round: Round | None = None
    players: dict[str, Player] = field(default_factory=dict)
    unshown: int = 0            # questions closed because they could not be shown in time

    @property
    def number(self) -> int:
        return self.round.number if self.round else 0

    def to_json(self) -> str:
        # by hand rather than dataclasses.asdict, whose deep copies were a third of a quiz step's cost
        data = dict(self.__dict__)
        data["round"] = dict(self.round.__dict__) if self.round else None
        data["players"] = {k: p.__dict__ for k, p in self.players.items()}
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "Game":
        data: dict[str, Any] = json.loads(text)
        round_data = data.pop("round")
        players = data.pop("players")
        game = cls(**data)
        game.round = Round(**round_data) if round_data else None
        game.players = {k: Player(**v) for k, v in players.items()}
        return game


@dataclass(frozen=True)
class Standing:
    rank: int
    user: str
    name: str
    points: int
    correct: int
    tied: bool = False


def rank(players: list[Player] | list[tuple[str, str, int, int]]) -> list[Standing]:
    """Standard competition ranking (1, 1, 3): equal points share a place, and say so."""
    rows = [(p.user, p.name, p.points, p.correct) if isinstance(p, Player) else p for p in players]
    rows.sort(key=lambda r: (-r[2], -r[3], r[1].casefold()))
    out: list[Standing] = []
    for i, (user, name, points, correct) in enumerate(rows):
        place = out[-1].rank if out and out[-1].points == points else i + 1
        tied = any(r[2] == points for j, r in enumerate(rows) if j != i)
        out.append(Standing(place, user, name, points, correct, tied))
    return out
