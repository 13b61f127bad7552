"""A name turned into a `NameKey` once, so that screening many candidates is cheap:
transliterated, split into words, legal forms set apart, words weighed by the lexicon.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from anyascii import anyascii

from client.core.names.lexicon import (
    ABJAD_LETTERS,
    ABJAD_PREFIXES,
    ABJAD_SOUNDS,
    ABJAD_WORDS,
    ADJECTIVE_ENDINGS,
    APOSTROPHES,
    COMPASS_INITIALS,
    DOTTED_ABBREVIATION,
    ELISION,
    EXPANSIONS,
    GREEK_DIPHTHONG,
    HAN_DROP,
    HAN_WORDS,
    HONORIFIC_MARKERS,
    LATIN_FOLD,
    LEXICON,
    LONGEST_PHRASE,
    PHRASE_HEADS,
    STOP_WORDS,
    WEIGHT,
    WORD,
    LexiconEntry,
    Tier,
    consonant_skeleton,
    phonetic_skeleton,
)

# ---------------------------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------------------------


# The caches below hold tens of thousands of keys and words. They keep them as plain tuples of
# strings and numbers, which the garbage collector stops visiting after it has seen them once:
# as objects, they would make every full collection (and the pause of the event loop with it)
# take hundreds of milliseconds. Keys and words are named tuples, so turning one into the other
# costs little.

PlainToken = tuple[str, str, str, int, str, tuple[str, ...], bool]


PlainKey = tuple[
    str, str, tuple[str, ...], str, tuple[PlainToken, ...], tuple[str, ...], tuple[str, ...], str
]


class NameToken(NamedTuple):
    """One word of a name after transliteration, with what it is worth for matching."""

    text: str  # canonical form: the lexicon's word, or the skeleton
    skeleton: str  # phonetic skeleton of the word as written (for joins and fuzzy comparison)
    consonants: str  # skeleton without vowels (Arabic-script names carry no short vowels)
    tier: int  # a Tier, as a plain number (see above)
    raw: str  # ascii as written (words of a phrase separated by spaces), for acronyms
    abjad: tuple[str, ...] = ()  # from Arabic script: the consonant skeletons it may stand for
    caps: bool = False  # written in capitals, as acronyms are

    @property
    def initial(self) -> str:
        """First letter for acronyms, with C/K/Q folded together."""
        return fold_acronym(self.raw[:1])

    def abbreviations(self) -> tuple[str, ...]:
        """What this word can contribute to an acronym: a short prefix, or a phrase's initials."""
        words = self.raw.split()
        if len(words) > 1:
            return (fold_acronym("".join(w[0] for w in words)),)
        raw = fold_acronym(self.raw)
        compass = COMPASS_INITIALS.get(self.text, "")
        return (raw[:3], raw[:2], compass, raw[:1]) if compass else (raw[:3], raw[:2], raw[:1])

    @property
    def weight(self) -> float:
        """What agreeing on this word is worth: distinctive words count, legal-ish ones barely."""
        return WEIGHT[self.tier][0]


class NameKey(NamedTuple):
    """Everything precomputed for one name, so matching many candidates is cheap."""

    original: str
    normalized: str  # ascii, lowercase, legal forms removed, org words canonical, skeleton applied
    tokens: tuple[str, ...]
    acronym: str  # initials of the significant words ("cetc" style, before canonicalisation)
    parts: tuple[NameToken, ...] = ()
    legal_forms: tuple[str, ...] = ()
    scripts: tuple[str, ...] = ()  # non-Latin scripts seen, for the explanation
    compact: str = ""  # skeletons joined without spaces, for spacing variants

    def to_json(self) -> str:
        """The key as stored next to a denial, so screening need not transliterate it again."""
        # Spelled out: this runs for every name of every denial recorded.
        data = {
            "original": self.original,
            "normalized": self.normalized,
            "tokens": self.tokens,
            "acronym": self.acronym,
            "parts": [
                {
                    "text": p.text,
                    "skeleton": p.skeleton,
                    "consonants": p.consonants,
                    "tier": p.tier,
                    "raw": p.raw,
                    "abjad": p.abjad,
                    "caps": p.caps,
                }
                for p in self.parts
            ],
            "legal_forms": self.legal_forms,
            "scripts": self.scripts,
            "compact": self.compact,
        }
        return _KEY_ENCODER.encode(data)

    @classmethod
    def from_json(cls, text: str) -> NameKey:
        """A key stored with `to_json`; fails closed on anything else."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.keys() != _KEY_FIELDS:
                raise TypeError("not an object of the key's fields")
            parts = []
            for p in data["parts"]:
                if p.keys() != _TOKEN_FIELDS:
                    raise TypeError("a word without the token's fields")
                parts.append(
                    NameToken(
                        p["text"],
                        p["skeleton"],
                        p["consonants"],
                        int(Tier(p["tier"])),
                        p["raw"],
                        tuple(p["abjad"]),
                        p["caps"],
                    )
                )
            key = cls(
                data["original"],
                data["normalized"],
                tuple(data["tokens"]),
                data["acronym"],
                tuple(parts),
                tuple(data["legal_forms"]),
                tuple(data["scripts"]),
                data["compact"],
            )
        except (TypeError, ValueError, KeyError, AttributeError) as e:
            raise ValueError(f"malformed name key: {e}") from e
        if not isinstance(key.original, str) or key.normalized != " ".join(key.tokens):
            raise ValueError("malformed name key: tokens do not match the normalized name")
        return key

    def plain(self) -> PlainKey:
        """The key as tuples only (see PlainToken above), for caches."""
        parts = tuple(
            (p.text, p.skeleton, p.consonants, p.tier, p.raw, p.abjad, p.caps) for p in self.parts
        )
        return (
            self.original,
            self.normalized,
            self.tokens,
            self.acronym,
            parts,
            self.legal_forms,
            self.scripts,
            self.compact,
        )

    @classmethod
    def from_plain(cls, plain: PlainKey) -> NameKey:
        token = NameToken._make
        return cls._make((*plain[:4], tuple([token(t) for t in plain[4]]), *plain[5:]))

    def first_words(self, limit: int) -> NameKey:
        """The key of the name's first `limit` words, so that comparing one name costs a bounded
        amount however long a name stored before names were bounded is."""
        if len(self.parts) <= limit:
            return self
        return _key_of(self.original, self.parts[:limit], self.legal_forms, self.scripts)

    @property
    def acronym_letters(self) -> str:
        """The letters, if this name is one acronym (plus words for the kind of body): "IRGC"."""
        core = [p for p in self.parts if p.tier not in (Tier.KIND, Tier.SHORT)]
        if len(core) != 1 or core[0].abjad or core[0].tier != Tier.DISTINCTIVE:
            return ""
        letters = fold_acronym(core[0].raw)
        if not letters.isalpha() or not 2 <= len(letters) <= 8:
            return ""
        return letters if core[0].caps or len(letters) <= 5 else ""


_KEY_FIELDS = set(NameKey._fields)


_KEY_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


_TOKEN_FIELDS = set(NameToken._fields)


class _Word(NamedTuple):
    raw: str  # ascii lowercase as written
    abjad: tuple[str, ...] = ()  # Arabic script: its possible consonant skeletons


@lru_cache(maxsize=1 << 12)
def _script_of(ch: str) -> str:
    if ch.isascii():
        return "Latin"
    name = unicodedata.name(ch, "")
    for script in ("CYRILLIC", "GREEK", "ARABIC", "CJK", "HANGUL", "HEBREW", "ARMENIAN"):
        if name.startswith(script):
            return script.title() if script != "CJK" else "Han"
    return "Latin"


def _han_words(run: str) -> list[str]:
    """Cut a run of Han characters at known words; unknown stretches stay one word."""
    words: list[str] = []
    pending = ""
    i = 0
    while i < len(run):
        for size in (4, 3, 2):
            if run[i : i + size] in HAN_WORDS:
                if pending:
                    words.append(pending)
                    pending = ""
                words.append(run[i : i + size])
                i += size
                break
        else:
            if run[i] not in HAN_DROP:
                pending += run[i]
            i += 1
    if pending:
        words.append(pending)
    return [anyascii(w).lower() for w in words]


def _abjad_word(word: str) -> _Word:
    if word.translate(ABJAD_LETTERS) in ABJAD_WORDS:
        return _Word(ABJAD_WORDS[word.translate(ABJAD_LETTERS)])
    for prefix in ABJAD_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 3:
            word = word[len(prefix) :]
            break
    if word.translate(ABJAD_LETTERS) in ABJAD_WORDS:
        return _Word(ABJAD_WORDS[word.translate(ABJAD_LETTERS)])
    raw = re.sub("[^a-z0-9]", "", anyascii(word).lower())
    # letter by letter: digraph rules must not join two letters ("p"+"h" is not "f")
    letters = [ABJAD_SOUNDS.get(c, re.sub("[^a-z0-9]", "", anyascii(c).lower())) for c in word]
    skeletons = {"".join(letters).replace("D", sound) for sound in ("d", "s")}
    consonants = tuple(sorted(consonant_skeleton(s) for s in skeletons))
    return _Word(raw, consonants)


def _words(name: str) -> tuple[list[_Word], frozenset[str]]:
    text = unicodedata.normalize("NFKC", name).casefold()
    if not text.isascii():
        text = "".join(
            c for c in text if not (unicodedata.category(c) == "Mn" and _script_of(c) == "Arabic")
        )
    text = GREEK_DIPHTHONG.sub("β", text)
    text = text.replace("&", " and ").replace("+", " and ")
    text = ELISION.sub(r"\1 ", text)
    text = DOTTED_ABBREVIATION.sub(lambda m: m.group(0).replace(".", "") + " ", text)
    scripts: set[str] = set()
    out: list[_Word] = []
    for word in WORD.findall(text):
        parts, word_scripts = _word_parts(word)
        scripts.update(word_scripts)
        out.extend(_Word._make(p) for p in parts)
    return out, frozenset(scripts)


@lru_cache(maxsize=1 << 15)
def _word_parts(word: str) -> tuple[tuple[tuple[str, tuple[str, ...]], ...], tuple[str, ...]]:
    """The words one written word stands for, and its scripts other than Latin; words recur
    across names ("trading", "llc", the cities), so this is kept."""
    word = APOSTROPHES.sub("", word)
    word_scripts = {_script_of(c) for c in word if c.isalpha()}
    out: list[_Word] = []
    if "Han" in word_scripts:
        for part in re.findall(r"[^\W\d_]+|\d+", word):
            if any(_script_of(c) == "Han" for c in part):
                out.extend(_Word(w) for w in _han_words(part) if w)
            else:
                out.append(_Word(anyascii(part).lower()))
    elif "Arabic" in word_scripts:
        abjad_word = _abjad_word(word)
        if abjad_word.raw:
            out.append(abjad_word)
    else:
        ascii_form = anyascii(word.translate(LATIN_FOLD)).lower()
        out.extend(_Word(w) for w in re.findall("[a-z0-9]+", ascii_form))
    return tuple((w.raw, w.abjad) for w in out), tuple(sorted(word_scripts - {"Latin"}))


def _place_by_adjective(skeleton: str) -> LexiconEntry | None:
    """Russian adjectives of place: "Kovrovskiy", "Izhevskiy" name the town."""
    for ending in ADJECTIVE_ENDINGS:
        if skeleton.endswith(ending) and len(skeleton) - len(ending) >= 4:
            entry = LEXICON.get((skeleton[: -len(ending)],))
            if entry is not None and entry.tier == Tier.PLACE:
                return entry
    return None


def fold_acronym(text: str) -> str:
    """C/K and Q/K stand for one sound across languages ("CETC", "KRET" for Концерн)."""
    return text.replace("c", "k").replace("q", "k")


def _token(
    word: _Word, skeleton: str, entry: LexiconEntry, original: str, raw: str = ""
) -> NameToken:
    raw = raw or word.raw
    if word.abjad and entry.tier == Tier.DISTINCTIVE:
        skeleton = word.abjad[0]
        entry = LexiconEntry(skeleton, entry.tier)
    return NameToken(
        text=entry.canonical,
        skeleton=skeleton,
        consonants=word.abjad[0] if word.abjad else consonant_skeleton(skeleton),
        tier=int(entry.tier),
        raw=raw,
        abjad=word.abjad,
        caps=raw.isascii() and raw.upper() in original,
    )


def name_key(name: str) -> NameKey:
    """Precompute a name once so that comparing it with many candidates is cheap."""
    return NameKey.from_plain(_plain_name_key(name))


@lru_cache(maxsize=65536)
def _plain_name_key(name: str) -> PlainKey:
    return _name_key(name).plain()


def _name_key(name: str) -> NameKey:
    words, scripts = _words(name)
    skeletons = [phonetic_skeleton(w.raw) for w in words]
    stop = [w.raw in STOP_WORDS for w in words]
    parts: list[NameToken] = []
    legal: list[str] = []
    honorific = False  # after "imeni" / "named after": the person the body is named after
    i = 0
    while i < len(words):
        word, skel = words[i], skeletons[i]
        if not skel or stop[i]:
            honorific = honorific or word.raw in HONORIFIC_MARKERS
            i += 1
            continue
        entry: LexiconEntry | None = None
        size = 1
        longest = 1 if skel not in PHRASE_HEADS else min(LONGEST_PHRASE, len(words) - i)
        for n in range(0 if word.abjad else longest, 0, -1):
            if n > 1 and stop[i + n - 1]:
                continue
            window = tuple(skeletons[k] for k in range(i, i + n) if not stop[k])
            found = LEXICON.get(window)
            if found is not None:
                entry, size = found, n
                break
        span = words[i : i + size]
        raw = " ".join(w.raw for w in span if w.raw not in STOP_WORDS)
        if entry is not None and entry.canonical == "":
            legal.append(raw)
        elif entry is None and word.raw in EXPANSIONS:
            for canonical in EXPANSIONS[word.raw]:
                found = LEXICON[(phonetic_skeleton(canonical),)]
                parts.append(_token(word, phonetic_skeleton(canonical), found, name, raw=canonical))
        else:
            if entry is None and not word.abjad:
                entry = _place_by_adjective(skel)
            if entry is None:
                if any(c.isdigit() for c in word.raw):
                    tier = Tier.NUMBER
                elif len(word.raw) <= 2:
                    tier = Tier.SHORT
                else:
                    tier = Tier.HONORIFIC if honorific else Tier.DISTINCTIVE
                entry = LexiconEntry(skel, tier)
            parts.append(_token(word, "".join(skeletons[i : i + size]), entry, name, raw=raw))
        i += size
    if not parts and legal:
        # a name that is nothing but a legal form: keep it rather than lose the name
        parts = [
            _token(
                _Word(w),
                phonetic_skeleton(w),
                LexiconEntry(phonetic_skeleton(w), Tier.DISTINCTIVE),
                name,
            )
            for w in " ".join(legal).split()
        ]
        legal = []
    return _key_of(name, parts, tuple(legal), tuple(sorted(scripts)))


def _key_of(
    original: str, parts: Sequence[NameToken], legal: tuple[str, ...], scripts: tuple[str, ...]
) -> NameKey:
    tokens = tuple(p.text for p in parts)
    return NameKey(
        original=original,
        normalized=" ".join(tokens),
        tokens=tokens,
        acronym="".join(p.abbreviations()[-1] for p in parts if p.tier != Tier.SHORT),
        parts=tuple(parts),
        legal_forms=legal,
        scripts=scripts,
        compact="".join(p.skeleton for p in parts if p.tier not in (Tier.KIND, Tier.SHORT)),
    )


def query_tokens(key: NameKey) -> set[str]:
    """The keys a screened name looks up. A name of several distinctive words seeks acronyms only
    among names that are acronyms ("A:"), not among the thousands that merely share its initials;
    an acronym, or a name of one word, keeps its initials as they are its only short key."""
    keys = index_tokens(key)
    if key.acronym_letters or sum(p.tier == Tier.DISTINCTIVE for p in key.parts) <= 1:
        return keys
    return {"A:" + k[2:] if k.startswith("a:") else k for k in keys}


def index_tokens(key: NameKey) -> set[str]:
    """Blocking keys for an inverted index: a true variant shares at least one with the original."""
    keys: set[str] = set()
    for part in key.parts:
        if part.tier == Tier.KIND:
            continue
        if len(part.text) >= 3:
            keys.add("w:" + part.text)
        if part.tier in (Tier.DISTINCTIVE, Tier.NUMBER):
            if len(part.skeleton) >= 4:
                keys.add("p:" + part.skeleton[:4])
            if len(part.skeleton) >= 5:
                # the ending too, so that a slip early in the word still shares a key
                keys.add("e:" + part.skeleton[-4 if len(part.skeleton) >= 7 else -3 :])
            for consonants in part.abjad or (part.consonants,):
                if len(consonants) >= 2:
                    keys.add("c:" + consonants[:3])
    if len(key.compact) >= 4:
        keys.add("p:" + key.compact[:4])
    # acronyms: the two letters an acronym of this name could start with, leaving out at most
    # the first word and two more that do not identify the entity
    significant = [p for p in key.parts if p.tier != Tier.SHORT]
    for start in range(min(2, len(significant))):
        first = significant[start]
        keys.update("a:" + option for option in first.abbreviations() if len(option) == 2)
        for following in significant[start + 1 : start + 4]:
            keys.add("a:" + first.initial + following.initial)
            if following.tier in (Tier.DISTINCTIVE, Tier.NUMBER):
                break
        if first.tier in (Tier.DISTINCTIVE, Tier.NUMBER):
            break  # an acronym cannot leave out an identifying word
    if key.acronym_letters:
        keys.add("a:" + key.acronym_letters[:2])
        keys.add("A:" + key.acronym_letters[:2])  # what a written-out query looks for
    if key.normalized and not any(k.startswith("w:") for k in keys):
        # only short words (a short name in Arabic script is one or two consonants): the whole
        # name is the key, or it would share nothing rarer than its initials
        keys.add("n:" + key.normalized)
    return keys
