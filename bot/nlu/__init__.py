"""Natural-language understanding: intent classification and entity extraction.

    nlu = NLU.build(kb, intents_dir, cache_dir)
    parse = nlu.parse("who plays winston?")   # -> intent, confidence, mentions, unknown words
"""
from __future__ import annotations

import copy
import functools
from collections.abc import Callable
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from ..knowledge import KnowledgeBase
from .data import TrainingData, load_training_data, marked_names, training_digest
from .entities import Gazetteer, Mention
from .features import features
from .model import FORMAT_VERSION, IntentModel, IntentScore
from .text import CHAT_SPELLINGS, FILLER, IRREGULAR_VERBS, STOPWORDS, analysed, is_word, tokens
from .vocab import MIN_TYPO_CHARS, QUESTION_WORDS, IntentVocabulary, content_words, opening, stem, typo_of

__all__ = ["NLU", "Parse", "Mention", "IntentScore"]
log = logging.getLogger(__name__)
OUT_OF_SCOPE = "out_of_scope"


@dataclass(frozen=True)
class Parse:
    text: str
    tokens: list[str]
    ranking: list[IntentScore]
    mentions: list[Mention]
    unknown_words: list[str]  # content words neither in the training data nor in the knowledge
    possessive: tuple[bool, ...] = ()  # per token: it carried 's ("rooney's father")
    aside: tuple[tuple[int, int], ...] = ()  # token spans of names set aside as someone else's ("Die Hard 2")
    instalments: tuple[tuple[int, int, str], ...] = ()  # of those, another film of one of our series: its
    # span and our film ("Die Hard 2" beside the fourth Die Hard film)

    @property
    def intent(self) -> str:
        return self.ranking[0].intent

    @property
    def confidence(self) -> float:
        return self.ranking[0].confidence

    @functools.cached_property
    def mentioned_tokens(self) -> frozenset[int]:
        """The token indices inside a mention. Worked out once per parse: the steps ask it of every token
        they look at. (A parse is never changed: a step that sets a name aside makes a new one.)"""
        return frozenset(i for m in self.mentions for i in range(m.start, m.end))

    @functools.cached_property
    def name_tokens(self) -> frozenset[int]:
        """The token indices inside a name, ours or one set aside as someone else's: words that cue
        no relation ("did he direct *Die Hard 2*?" asks nothing about dying)."""
        return self.mentioned_tokens | frozenset(i for start, end in self.aside for i in range(start, end))


def _knowledge_words(kb: KnowledgeBase) -> frozenset[str]:
    words: set[str] = set()
    for entity in kb.entities.values():
        for alias in (entity.name, *entity.aliases):
            words.update(tokens(alias))
    for fact in kb.facts:
        words.update(tokens(kb.sentence(fact)))
    for relation in kb.relations.values():
        words.update(tokens(relation.label))
    for passage in kb.passages:
        words.update(tokens(passage.text))
    return frozenset(words)


def model_key(data: TrainingData, kb: KnowledgeBase | None = None) -> str:
    """What the trained model depends on: the examples and the word lists that shape its vocabulary.

    Not the knowledge: names are placeholders ("who plays __character__") matched at answer time, so an
    admin's edit of a fact or a name never retrains (13-21 s at 100 times the knowledge), and another
    film's folder with the same intents reuses the model. ``kb`` is accepted for old callers."""
    return digest_key(data.digest)


def digest_key(digest: str) -> str:
    """:func:`model_key` from the training files' digest alone (``training_digest``)."""
    lexicon = " ".join(sorted(STOPWORDS | FILLER)) + " " + " ".join(f"{k}={v}" for k, v in sorted(CHAT_SPELLINGS.items()))
    text = f"{FORMAT_VERSION}:{digest}:{lexicon}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class NLU:
    def __init__(self, kb: KnowledgeBase, model: IntentModel,
                 phrases: frozenset[tuple[str, ...]] = frozenset(),
                 dictionary: Callable[[str], bool] | None = None) -> None:
        """``phrases``: word sequences the bot understands besides its training examples (the question
        map's cues of several words: "revolves around"): a word of one, in it, is no unknown name. A
        single cue word is no such proof ("bad" in *Breaking Bad*)."""
        self.kb = kb
        self.model = model
        self.gazetteer = Gazetteer(kb)
        # ``dictionary``: whether a word is English ("dune" is, "plys" is not): a word it lacks that is a
        # slip of a word the model knows is read as that word ("who plys Charon?"); one it has may be a
        # name ("when is Dune out?") and is never "corrected"
        self.dictionary = dictionary
        self.phrases = phrases
        self._phrases_of = _phrase_index(phrases)
        self.known_words = model.known_words | _knowledge_words(kb) | FILLER | IRREGULAR_VERBS

    @classmethod
    def build(cls, kb: KnowledgeBase, intents_dir: Path, cache_dir: Path) -> "NLU":
        """Load the cached model for this training data, training it first if there is none (the files are
        parsed only then: the model's key is their bytes' digest)."""
        try:
            return cls(kb, IntentModel.load(cache_dir / f"nlu-{digest_key(training_digest(intents_dir))}.npz"))
        except (OSError, ValueError, KeyError):
            pass
        data = load_training_data(intents_dir)
        path = cache_dir / f"nlu-{model_key(data, kb)}.npz"
        try:
            model = IntentModel.load(path)
        except (OSError, ValueError, KeyError):
            log.info("training the intent model (%d examples); cached at %s", len(data.examples), path)
            from ..progress import status

            with status(f"training the intent model ({len(data.examples):,} examples, once: it is cached)"):
                model = fit_model(kb, data)
            try:
                model.save(path)
            except OSError as exc:  # a read-only checkout still answers, it just retrains next time
                log.warning("could not cache the model at %s: %s", path, exc)
        return cls(kb, model)

    def with_knowledge(self, kb: KnowledgeBase) -> "NLU":
        """The same model over new knowledge (an admin edit): no retraining needed."""
        return NLU(kb, self.model, self.phrases, self.dictionary)

    def with_phrases(self, phrases: frozenset[tuple[str, ...]]) -> "NLU":
        """The same model, knowing ``phrases`` too (see __init__)."""
        if phrases <= self.phrases:
            return self
        new = copy.copy(self)  # the same gazetteer: building one is most of a Mind's start
        new.phrases = self.phrases | phrases
        new._phrases_of = _phrase_index(new.phrases)
        return new

    def with_dictionary(self, dictionary: Callable[[str], bool]) -> "NLU":
        """The same model, reading slips of its words as them (see __init__)."""
        new = copy.copy(self)
        new.dictionary = dictionary
        return new

    def _unslipped(self, toks: list[str], at: list[int]) -> list[str]:
        """The tokens with each slip of a known word read as that word ("plys" -> "plays"): only a word
        at ``at`` (outside the names, unknown to the model and the knowledge), not English itself."""
        dictionary = self.dictionary
        strange = set(at)
        out = None
        for i in at:
            t = toks[i]
            if len(t) < MIN_TYPO_CHARS or i - 1 in strange or i + 1 in strange:
                continue  # two strange words together are a name ("Greta Lindqvist"), not two slips
            if dictionary is None or dictionary(t):
                continue  # an English word is itself (most strange words are: "recipe", "weather")
            fixed = typo_of(t, self.model.known_words)
            # never into a name's word or a small word: "Joey" is no slip of "John", "Hans" none of "has"
            if fixed is not None and fixed not in self.gazetteer.words and fixed not in STOPWORDS:
                out = out or list(toks)
                out[i] = fixed
        return out or toks

    def _in_phrases(self, toks: list[str], positions: list[int]) -> set[int]:
        """Of ``positions``, those of tokens inside one of ``phrases``, in any inflection of its words."""
        out: set[int] = set()
        for i in positions:
            for phrase, at in self._phrases_of.get(_phrase_stem(toks[i]), ()):
                start = i - at
                if start >= 0 and start + len(phrase) <= len(toks) and \
                        all(_phrase_stem(toks[start + k]) == w for k, w in enumerate(phrase)):
                    out.update(range(start, start + len(phrase)))
        return out

    def parse(self, text: str) -> Parse:
        folded, toks, poss = analysed(text)
        # An emoji the training data never used means nothing to the model: leave it out. (ASCII text has
        # none: every token of it is a word.)
        if not folded.isascii():
            keep = [i for i, t in enumerate(toks) if is_word(t) or "w:" + t in self.model.index]
            if len(keep) < len(toks):
                toks, poss = [toks[i] for i in keep], [poss[i] for i in keep]
        mentions = self.gazetteer.find(toks, self.model.known_words)
        kinds = sorted({self.kb.entities[i].kind for m in mentions for i in m.entity_ids})
        covered = {i for m in mentions for i in range(m.start, m.end)}
        known = self.known_words  # the cheapest test first: most words are known
        at = [i for i, t in enumerate(toks) if t not in known and i not in covered and t not in STOPWORDS
              and t not in FILLER and is_word(t) and not t.isdigit()]
        read = toks
        if at and self.dictionary is not None:  # (most messages have no unknown word)
            read = self._unslipped(toks, at)
            # a slip the classifier reads as its word is no unknown name either ("who *plys* Charon?")
            at = [i for i in at if read[i] == toks[i]]
        ranking = self.model.rank(read, kinds, named_kinds(self.kb, mentions))
        if at and self._phrases_of:
            phrased = self._in_phrases(toks, at)
            at = [i for i in at if i not in phrased]
        unknown = [toks[i] for i in at]
        # names that read like ours but are someone else's ("Wayne Rooney") are set aside by the
        # understanding stage's first step (bot/understanding/names.py), with the rest of its rules
        return Parse(folded, toks, ranking, mentions, unknown, tuple(poss))

    @property
    def vocab(self) -> IntentVocabulary:
        return self.model.vocab


def _phrase_index(phrases: frozenset[tuple[str, ...]]) -> dict[str, list[tuple[tuple[str, ...], int]]]:
    """Each phrase in stems ("revolve around" too), by each of its stems and the stem's place in it."""
    index: dict[str, list[tuple[tuple[str, ...], int]]] = {}
    for phrase in phrases:
        stems = tuple(_phrase_stem(w) for w in phrase)
        for at, s in enumerate(stems):
            index.setdefault(s, []).append((stems, at))
    return index


@functools.lru_cache(maxsize=16384)
def _phrase_stem(word: str) -> str:
    """``stem`` without a final "e", so that "revolve" and "revolves" meet ("revolv")."""
    base = stem(word)
    return base[:-1] if len(base) > 3 and base.endswith("e") else base


def named_kinds(kb: KnowledgeBase, mentions: list[Mention]) -> dict[int, str]:
    """Token index -> "__kind__" placeholder of the name it is part of."""
    out: dict[int, str] = {}
    for m in mentions:
        label = "__" + "|".join(sorted({kb.entities[i].kind for i in m.entity_ids})) + "__"
        for i in range(m.start, m.end):
            out[i] = label
    return out


def featurize(gazetteer: Gazetteer, text: str) -> dict[str, float]:
    toks = tokens(text)
    mentions = gazetteer.find(toks)
    kinds = sorted({gazetteer.kb.entities[i].kind for m in mentions for i in m.entity_ids})
    return dict(features(toks, kinds, named_kinds(gazetteer.kb, mentions)))


def fit_model(kb: KnowledgeBase, data: TrainingData) -> IntentModel:
    from .train import train_model

    gazetteer = Gazetteer(kb)
    # Names marked up in the examples are not vocabulary: a typo taught as a name ("[winstn](character)")
    # must stay unknown, so the entity matcher tries it against the knowledge's names at answer time.
    names = {w for examples in data.raw.values() for example in examples for name in marked_names(example)
             for w in tokens(name)} - gazetteer.words
    domain = sorted({w for text, intent in data.examples if intent != OUT_OF_SCOPE for w in tokens(text)} - names)
    return train_model([featurize(gazetteer, t) for t, _ in data.examples], [i for _, i in data.examples],
                       domain_words=domain, vocabulary_rows=intent_vocabulary(gazetteer, data.examples).to_rows())


def intent_vocabulary(gazetteer: Gazetteer, examples: list[tuple[str, str]]) -> IntentVocabulary:
    """Each intent's content words, names left out: what its questions ask, not whom they name."""
    words: dict[str, set[str]] = {}
    for text, intent in examples:
        toks = tokens(text)
        named = {i for m in gazetteer.find(toks) for i in range(m.start, m.end)}
        words.setdefault(intent, set()).update(content_words(toks, named))
        if toks and toks[0] in QUESTION_WORDS:
            words[intent].add(opening(toks[0]))  # how its questions open: "?why" (see Scope.off_topic)
    return IntentVocabulary(words)
