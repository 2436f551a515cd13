"""Questions from the question map (intents/questions.yml: the writer, the runtime, a person's age): the
asked relation's facts, or an honest "the article doesn't say who wrote it" and what is known nearby.

It reads the facts of the relation asked and nothing else, so "who wrote it?" is never answered with
the main character. The stage named the relation, its subject and the map's questions nearby
(it.asked, it.subject, it.nearby)."""
from __future__ import annotations

from dataclasses import replace

from ..answers import join_list
from ..knowledge import Fact, KnowledgeBase
from ..rendering import Renderer
from ..reply import Reply
from ..understanding.interpretation import Interpretation
from .base import claims_stated, confirmed

MAX_FACTS = 5  # a cast-like list ("who returns in it?") whole, at a Telegram message's glance
MAX_PARTS = 3  # someone's parts whose facts answer for them ("the agent she played": each character's job)
# words that speak of a part, so a question about someone without a film named may be about theirs
FILM_POINTED = frozenset("it that this there".split())  # "in *it*": the film talked about
PART_WORDS = frozenset("play plays played playing portray portrays portrayed portraying role part character".split())


def handle(it: Interpretation, kb: KnowledgeBase, out: Renderer) -> Reply | None:
    """Never a "no": an unknown fact is unknown, whatever the question's form. None without a map question."""
    question = it.asked
    if question is None or it.subject is None:
        return None
    entity = kb.entities[it.subject]
    intent = f"ask_{question.relation}"
    facts = kb.facts_about(entity.id, question.relation) if question.relation in kb.relations else []
    if entity.kind not in question.about and question.relation in kb.relations:
        facts = kb.facts_with_object(entity.id, question.relation)  # "what word did Keanu coin?": his
    if question.quoted:
        facts = quoted(kb, entity.id, it.slots.others if it.slots is not None else frozenset())
    facts = (facts + [f for r in question.roles if r in kb.relations for f in kb.facts_with_role(entity.id, r)
                      if f.subject not in {g.object for g in facts}])[:MAX_FACTS]
    asks = question.asks.format(subject=entity.name)
    named = it.slots.others if it.slots is not None else frozenset()
    if it.kind == "yesno" and (about := [f for f in facts if {f.object, f.role} & named]):
        facts = about  # "does Ian McShane come back?": his fact, not the whole list
    elif it.kind == "yesno" and facts and it.slots is not None and it.slots.strangers and it.slots.one_name:
        # "does Halle Berry come back in it?": someone the facts do not name is not known to, no "no"
        stranger = " ".join(it.slots.strangers)
        return out.reply("utter_map_not_named", intent, it.confidence, kind="unknown", entity=stranger,
                         answer=asks, sentence=join_list([kb.sentence(f) for f in facts]),
                         according_to=kb.attribution(facts[0]), entities=[entity.id])
    if facts:
        sentence = join_list([kb.sentence(f) if n == 0 else inline(kb, f) for n, f in enumerate(facts)])
        # the people and parts the facts name, the first last, so "he" next is the first named
        named_in = [i for f in reversed(facts) for i in (f.role, f.object, f.subject)
                    if i in kb.entities and i != entity.id]
        reply = out.reply("utter_map_fact", intent, it.confidence, facts=facts, sentence=sentence,
                          subject=entity.name, according_to=kb.attribution(facts[0]),
                          entities=[entity.id, *named_in],
                          spoilers=tuple(kb.value(f) for f in facts if f.spoiler))
        return confirmed(it, kb, out, reply, facts)  # "did Keanu Reeves coin car-fu?" -> "Yes. ..."
    parts = _through_part(kb, it, entity.id, question.relation, question.about)
    if parts and out.has("utter_map_fact_through_part"):
        # "what was Ana de Armas' job in No Time To Die?": her character's, Paloma's
        found = [f for _, _, facts_of in parts for f in facts_of]
        reply = out.reply("utter_map_fact_through_part", intent, it.confidence,
                          facts=[*(c for _, c, _ in parts), *found], entity=entity.name,
                          name=join_list([f"{kb.name(role)} in {kb.name(credit.subject)}" for role, credit, _ in parts]),
                          sentence=join_list([kb.sentence(f) for f in found]),
                          entities=[*(role for role, _, _ in parts), entity.id, *(c.subject for _, c, _ in parts)],
                          spoilers=tuple(kb.value(f) for f in found if f.spoiler))
        if it.kind == "yesno" and it.polarity and claims_stated(it, kb, found, [*question.cues, *PART_WORDS],
                                                                given=frozenset({entity.id, *(c.subject for _, c, _ in parts)})) \
                and out.has("utter_confirmed"):
            # "she played a CIA agent in it, right?": every word it claims is in the part's fact
            return replace(reply, text=out.render("utter_confirmed", answer=reply.text), verdict="yes")
        return reply
    told = [*question.told, *question.grounds]
    given = [f for r in told if r in kb.relations for f in kb.facts_about(entity.id, r)][:MAX_FACTS]
    if given and out.has("utter_map_unknown_told"):
        # "how did Lance Reddick die?": not said, but that he died is, which the question takes as given
        return out.reply("utter_map_unknown_told", intent, it.confidence, kind="unknown", answer=asks,
                         subject=entity.name, sentence=join_list([kb.sentence(f, out.today) for f in given]),
                         according_to=kb.attribution(given[0]), entities=[entity.id],
                         suggestions=out.suggestions[:3])
    if question.grounds and not given and out.has("utter_map_unknown_given"):
        # "when did Ian McShane die?" when nothing says he did: the ground is unknown first
        ground = next((q for q in it.nearby if q.relation in question.grounds), None)
        if ground is not None:
            return out.reply("utter_map_unknown_given", intent, it.confidence, kind="unknown", answer=asks,
                             subject=entity.name, other=ground.asks.format(subject=entity.name),
                             entities=[entity.id], suggestions=out.suggestions[:3])
    linked = _speakers_side(kb, entity.id, question.object)
    if linked is not None and out.has("utter_map_unknown_quoted_side"):
        # "which studio makes it?": not said, but a fact of it comes from someone of a studio
        fact, side = linked
        # a fact, with its source, naming what was asked for: an answer, worded as not the one asked
        return out.reply("utter_map_unknown_quoted_side", intent, it.confidence, facts=[fact], answer=asks,
                         subject=entity.name, according_to=kb.attribution(fact),
                         sentence=kb.sentence(fact, out.today), suggestions=out.suggestions[:3],
                         entities=[entity.id, side, kb.sources[fact.source].said_by or side])
    near = next((q for q in it.nearby if q.relation in kb.relations and kb.facts_about(entity.id, q.relation)), None)
    if near is None:
        return out.reply("utter_map_unknown", intent, it.confidence, kind="unknown", answer=asks,
                         subject=entity.name, suggestions=out.suggestions[:3], entities=[entity.id])
    # what is known nearby is offered as a question to ask, not stated: a fact nobody asked for would
    # read as the answer
    return out.reply("utter_map_unknown_near", intent, it.confidence, kind="unknown", answer=asks,
                     subject=entity.name, other=near.asks.format(subject=entity.name),
                     suggestions=out.suggestions[:3], entities=[entity.id])


def _through_part(kb: KnowledgeBase, it: Interpretation, person: str, relation: str,
                  about: list[str]) -> list[tuple[str, Fact, list[Fact]]]:
    """(the part, the credit, the part's facts of the relation) for each part someone plays (in the film
    named, if one is) whose facts hold what a question about them asks ("was she an MI6 agent in No
    Time To Die?": Paloma's occupation). Empty when nothing does."""
    if relation not in kb.relations:
        return []
    film = it.slots.named_film if it.slots is not None else None
    toks = it.parse.tokens
    pointed = "there" in toks or any(toks[i] == "in" and toks[i + 1] in FILM_POINTED for i in range(len(toks) - 1))
    if film is None and it.slots is not None and (pointed or it.follow_up or it.slots.context_film.id != kb.default_subject.id):
        # "what was her job *in it*?", "what kind of agent was she?" after No Time To Die: the film talked about
        film = it.slots.context_film
    if film is None and not PART_WORDS & set(toks):
        return []  # "what does she do for a living?" asks of her, not of her parts
    out: list[tuple[str, Fact, list[Fact]]] = []
    for name, rel in kb.relations.items():
        if not rel.role:
            continue
        for credit in kb.facts_with_object(person, name):
            if credit.role and (film is None or credit.subject == film.id) and kb.entities[credit.role].kind in about \
                    and (found := kb.facts_about(credit.role, relation)[:MAX_FACTS]) \
                    and credit.role not in {o[0] for o in out}:
                out.append((credit.role, credit, found))
    return out[:MAX_PARTS]


def _speakers_side(kb: KnowledgeBase, subject: str, kinds: list[str]) -> tuple[Fact, str] | None:
    """A fact of the subject told by someone whose own facts tie them to an entity of a kind the question
    asks for (its release given by Lionsgate's chair, for "which studio makes it?"), and that entity; None
    when the subject's own facts already name that kind (the answer would be among them, not beside)."""
    if not kinds or any(f.object in kb.entities and kb.entities[f.object].kind in kinds
                        for f in kb.all_facts_of(subject) if f.subject == subject):
        return None
    for fact in kb.all_facts_of(subject):
        speaker = kb.sources[fact.source].said_by if fact.subject == subject else None
        for tie in kb.all_facts_of(speaker) if speaker else ():
            if tie.subject == speaker and tie.object in kb.entities and kb.entities[tie.object].kind in kinds:
                return fact, tie.object
    return None


def quoted(kb: KnowledgeBase, speaker: str, named: frozenset[str]) -> list[Fact]:
    """What someone said: the facts whose source quotes them, one a subject (a term's word and its
    meaning are one thing said). A film or publication the question names narrows them: "which site did
    Keanu talk to about *Ballerina*?" is what he said of it, "what did he tell *Collider*?" what went there."""
    facts = [f for f in kb.facts if kb.sources[f.source].said_by == speaker]
    about = [f for f in facts if f.subject in named or f.object in named
             or _published_by(kb, f, named)]
    firsts: dict[str, Fact] = {}
    for fact in about or facts:
        firsts.setdefault(fact.subject, fact)
    return list(firsts.values())


def _published_by(kb: KnowledgeBase, fact: Fact, named: frozenset[str]) -> bool:
    """The fact's source appeared in a publication the question names."""
    publication = kb.sources[fact.source].publication
    return publication is not None and any(kb.name(e) == publication for e in named)


def inline(kb: KnowledgeBase, fact: Fact) -> str:
    """The fact's sentence inside a list: "and car-fu is...", not "and Car-fu is..." (a name written in
    lower case keeps it; the sentence's own capital is for its start)."""
    text, name = kb.sentence(fact), kb.name(fact.subject)
    return name + text[len(name):] if name[:1].islower() and text.lower().startswith(name.lower()) else text
