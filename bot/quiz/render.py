"""Quiz messages as plain text. Fronts escape them for their own markup (Telegram HTML)."""
from __future__ import annotations

from ..config import QuizSettings
from .bank import Question
from .engine import CHAT_SETTINGS, RoundResult
from .state import Game, Round, Standing

LETTERS = "ABCDEFGHIJ"
MEDALS = {1: "🥇", 2: "🥈", 3: "🥉"}
REASONS = {"timeout": "⏱ Time's up!", "skipped": "⏭ Skipped.", "stopped": "🛑 Stopped.",
           "restart": "⏱ Time ran out while I was restarting.", "answered": "✅",
           "unshown": "⌛ This question could not be shown in time."}


def question_text(game: Game, rnd: Round, question: Question, hint: str | None = None) -> str:
    lines = [f"❓ Question {rnd.number}/{game.total} · {question.difficulty}", question.text]
    if rnd.options:
        lines += [f"{LETTERS[i]}) {option}" for i, option in enumerate(rnd.options)]
        lines.append("Reply with a letter: one try each.")
    else:
        lines.append("Type your answer: the first right one wins.")
    lines.append(f"⏳ {game.seconds} seconds")
    if hint:
        lines.append(f"💡 Hint: {hint}")
    return "\n".join(lines)


def poll_question(game: Game, rnd: Round, question: Question) -> str:
    return f"{rnd.number}/{game.total}. {question.text}"


def poll_explanation(question: Question) -> str:
    return clip(question.sourced_explanation, 200)


def reveal_text(result: RoundResult, names: dict[str, str]) -> str:
    rnd, question = result.round, result.question
    head = question_text(result.game, rnd, question).split("\n")[:2]
    answer = f"The answer: {question.answer}." if question.kind != "truefalse" else f"It's {question.answer.lower()}."
    if result.reason == "answered" and rnd.winners:
        winner = rnd.winners[0]
        gained = result.points.get(winner, 0)
        head.append(f"✅ {names.get(winner, 'Someone')} got it! +{gained} points. {answer}")
    else:
        head.append(f"{REASONS.get(result.reason, '')} {answer}".strip())
    head.append(f"📚 {question.sourced_explanation}")
    return "\n".join(head)


def poll_round_summary(result: RoundResult, names: dict[str, str]) -> str:
    if not result.points:
        return f"Nobody got question {result.round.number}: {result.question.answer}."
    got = ", ".join(f"{names.get(u, u)} +{p}" for u, p in result.points.items())
    return f"Question {result.round.number}: {got}."


def standings_lines(standings: list[Standing], empty: str) -> list[str]:
    if not standings:
        return [empty]
    return [f"{MEDALS.get(s.rank, f'{s.rank}.')} {s.name}: {s.points} pts ({s.correct} right)"
            + (" (tie)" if s.tied else "") for s in standings]


def final_text(game: Game, standings: list[Standing], stopped: bool) -> str:
    title = "🛑 Quiz stopped." if stopped else "🏁 Quiz over!"
    lines = [f"{title} Final scores after {game.number} of {game.total} questions:"]
    lines += standings_lines(standings, "Nobody scored this time. Try /quiz again!")
    if game.unshown:
        lines.append(f"⌛ {_questions(game.unshown)} could not be shown in time (the chat was too busy) "
                     "and counted for nobody.")
    winners = [s for s in standings if s.rank == 1]
    if len(winners) > 1:
        lines.append("🤝 A tie for first place: " + " and ".join(s.name for s in winners) + "!")
    elif winners:
        best = max(game.players.values(), key=lambda p: p.best_streak)
        lines.append(f"🏆 Winner: {winners[0].name}!" + (f" Best streak: {best.name}, {best.best_streak} in a row."
                                                       if best.best_streak > 1 else ""))
    return "\n".join(lines)


def _questions(n: int) -> str:
    return "1 question" if n == 1 else f"{n} questions"


def score_text(game: Game | None, standings: list[Standing]) -> str:
    if game is None:
        return "No quiz is running here. Start one with /quiz!"
    lines = [f"📊 Scores after question {game.number} of {game.total}:"]
    return "\n".join(lines + standings_lines(standings, "No points yet."))


def leaderboard_text(standings: list[Standing], scope: str) -> str:
    lines = [f"🏆 All-time leaderboard ({scope}):"]
    return "\n".join(lines + standings_lines(standings, "No scores yet. Start a game with /quiz!"))


def settings_text(settings: QuizSettings) -> str:
    parts = ", ".join(f"{k} {getattr(settings, k)}" for k in CHAT_SETTINGS)
    return (f"⚙️ Quiz settings here: {parts}.\n"
            "Change one with /quizsettings questions 10, seconds 30, mode text|poll or difficulty easy|medium|hard|mixed.")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
