"""Who someone worked with in a film: the film's other cast (it.company, the co_stars step), or in each of
the films the last answer listed ("he directed X, Y and Z" "with whom?")."""
from __future__ import annotations

from ..answers import join_list
from ..knowledge import KnowledgeBase
from ..rendering import Renderer
from ..reply import Reply
from ..understanding.interpretation import Interpretation

MAX_FACTS = 8


def handle(it: Interpretation, kb: KnowledgeBase, out: Renderer) -> Reply:
    """ "In No Time To Die, Ana de Armas worked alongside Daniel Craig as James Bond"; when the facts name
    no one else in that film, it says so (the person may be its director: "which Transporter stars did
    he work with?" lists the Transporter cast). Several films: one sentence for each that names anyone,
    "no one else" only when none does."""
    company = it.company
    assert company is not None
    person = kb.entities[company.person]
    replies = [r for film in company.films if (r := _one(it, kb, out, person.id, film)) is not None]
    if not replies:
        film = kb.entities[company.films[0]]
        return out.reply("utter_co_stars_none", "ask_cast", it.confidence, kind="unknown", entity=person.name,
                         film=film.name if len(company.films) == 1 else join_list([kb.name(f) for f in company.films]),
                         entities=[person.id, *company.films[:1]])
    if len(replies) == 1:
        return replies[0]
    first = replies[0]
    return Reply(" ".join(r.text for r in replies), "answer", first.intent, first.confidence,
                 sources=tuple(dict.fromkeys(s for r in replies for s in r.sources)),
                 entities=(person.id,), listed=tuple(dict.fromkeys(e for r in replies for e in r.entities if e != person.id)),
                 stated=tuple(s for r in replies for s in r.stated))


def _one(it: Interpretation, kb: KnowledgeBase, out: Renderer, person_id: str, film_id: str) -> Reply | None:
    person, film = kb.entities[person_id], kb.entities[film_id]
    cast = [f for r in it.company.relations for f in kb.facts_about(film.id, r)] if it.company else []
    parts = it.company.parts if it.company else ()
    # one fact per actor and part: two relations may state one casting ("stars in", "returns as")
    others = list({(f.object, f.role): f for f in reversed(cast) if f.object != person.id
                   and (not parts or f.role in parts)}.values())[::-1][:MAX_FACTS]
    if not others:
        return None
    answer = join_list([kb.name(f.object) + kb.as_role(f) for f in others])
    acted = any(f.object == person.id for f in cast)  # else they worked on it otherwise: its cast, plainly
    return out.reply("utter_co_stars" if acted else "utter_co_stars_crew", "ask_cast", max(it.confidence, 0.9),
                     facts=others, entity=person.name, film=film.name, answer=answer,
                     according_to=kb.attribution(others[0]), entities=[film.id, person.id, *(f.object for f in others)])
