"""Two name keys compared into a scored, explained `NameMatch`: exact, reordered,
acronym or fuzzy agreement, with what each differing word costs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from rapidfuzz import fuzz

from client.core.names.keys import NameKey, NameToken, fold_acronym
from client.core.names.lexicon import (
    COMPOUND_ENDINGS,
    WEIGHT,
    Tier,
    consonant_skeleton,
    phonetic_skeleton,
)

# Scores at or above this are proposed to the licensing officer as a probable match.
DEFAULT_THRESHOLD = 0.82


# Below this a comparison returns None: not worth showing at all.
MATCH_FLOOR = 0.5


_TOKEN_CUTOFF = 0.8  # token similarity below which two words do not correspond


_MERGE_CUTOFF = 0.9  # stricter for "Ural Vagon Zavod" ~ "Uralvagonzavod" joins


# rapidfuzz stops early below these (a hair under the cut-offs, which still decide)
_TOKEN_FLOOR = _TOKEN_CUTOFF * 100 - 0.01


_CONSONANT_FLOOR = _TOKEN_CUTOFF / 0.9 * 100 - 0.01


_MERGE_FLOOR = _MERGE_CUTOFF * 100 - 0.01


_SCORE_CAP_FUZZY = 0.97  # a fuzzy agreement never outranks an exact or reordered one


_SCORE_REORDERED = 0.98


_SCORE_ACRONYM = 0.92


# ---------------------------------------------------------------------------------------------
# Matching
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NameMatch:
    """How similar two names are, and in words why, for the officer who decides."""

    score: float  # 0..1
    how: str  # "exact", "alias" (set by the caller), "reordered", "acronym", "fuzzy"
    detail: str


def _token_similarity(a: NameToken, b: NameToken) -> float:
    if a.text == b.text:
        return 1.0
    if a.tier == Tier.NUMBER or b.tier == Tier.NUMBER:
        return 0.0
    if a.tier == Tier.KIND and b.tier == Tier.KIND:
        return 0.0  # two different kinds of body, both recognised
    if a.abjad or b.abjad:
        # Arabic script writes no short vowels: compare consonants, strictly when there are few
        best = 0.0
        for x in a.abjad or _arabic_readings(a.raw):
            for y in b.abjad or _arabic_readings(b.raw):
                if min(len(x), len(y)) < 2:
                    continue
                score = fuzz.ratio(x, y, score_cutoff=_TOKEN_FLOOR) / 100.0
                if min(len(x), len(y)) > 3 or score >= 0.85:
                    best = max(best, score)
        return best if best >= _TOKEN_CUTOFF else 0.0
    x, y = _distinct_stems(a.skeleton, b.skeleton)
    if min(len(x), len(y)) <= 3:
        return 1.0 if x == y else 0.0
    score = fuzz.ratio(x, y, score_cutoff=_TOKEN_FLOOR) / 100.0
    x, y = consonant_skeleton(x), consonant_skeleton(y)
    if min(len(x), len(y)) >= 4:
        score = max(score, 0.9 * fuzz.ratio(x, y, score_cutoff=_CONSONANT_FLOOR) / 100.0)
    return score if score >= _TOKEN_CUTOFF else 0.0


@lru_cache(maxsize=65536)
def _arabic_readings(raw: str) -> tuple[str, ...]:
    """Consonants of a Latin word read as romanised Arabic: j is ج, a final -ah/-at is ة."""
    arabic = re.sub("(?<=[aeiou])[ht]$", "", raw.replace(" ", "")).replace("j", "zh")
    return tuple(
        {
            consonant_skeleton(phonetic_skeleton(raw.replace(" ", ""))),
            consonant_skeleton(phonetic_skeleton(arabic)),
        }
    )


@lru_cache(maxsize=1 << 17)
def _compound_endings(word: str) -> tuple[str, ...]:
    return tuple(e for e in COMPOUND_ENDINGS if word.endswith(e))


def _distinct_stems(a: str, b: str) -> tuple[str, str]:
    endings = _compound_endings(a)
    if not any(e in endings for e in _compound_endings(b)):
        return a, b
    stripped = True
    while stripped:
        stripped = False
        for ending in COMPOUND_ENDINGS:
            size = len(ending)
            if a.endswith(ending) and b.endswith(ending) and min(len(a), len(b)) > size + 2:
                a, b, stripped = a[:-size], b[:-size], True
    return a, b


@dataclass(frozen=True)
class _Pair:
    left: tuple[int, ...]
    right: tuple[int, ...]
    similarity: float


def _candidate_pairs(a: NameKey, b: NameKey) -> list[_Pair]:
    pairs: list[_Pair] = []
    for i, x in enumerate(a.parts):
        for j, y in enumerate(b.parts):
            sim = _token_similarity(x, y)
            if sim > 0:
                pairs.append(_Pair((i,), (j,), sim))
    # one word on one side written as two to four on the other ("Rosoboron Export")
    for many, one, flip in ((a.parts, b.parts, False), (b.parts, a.parts, True)):
        targets = [
            (j, y, len(y.skeleton))
            for j, y in enumerate(one)
            if len(y.skeleton) >= 6 and y.tier != Tier.KIND
        ]
        if not targets:
            continue
        for start in range(len(many)):
            for size in range(2, min(4, len(many) - start) + 1):
                span = many[start : start + size]
                length = sum(len(p.skeleton) for p in span)
                abjad = any(p.abjad for p in span)
                skeleton = ""
                for j, y, y_length in targets:
                    # fuzz.ratio is at most 2*shorter/(sum of lengths): skip hopeless joins unjoined
                    bound = 200 * min(length, y_length) / (length + y_length)
                    if bound < _MERGE_FLOOR and not (abjad or y.abjad):
                        continue
                    skeleton = skeleton or "".join(p.skeleton for p in span)
                    sim = fuzz.ratio(skeleton, y.skeleton, score_cutoff=_MERGE_FLOOR) / 100.0
                    if abjad or y.abjad:
                        consonants = consonant_skeleton("".join(p.consonants for p in span))
                        found = fuzz.ratio(consonants, y.consonants, score_cutoff=_MERGE_FLOOR)
                        sim = max(sim, found / 100.0)
                    if sim >= _MERGE_CUTOFF:
                        idx = tuple(range(start, start + size))
                        pairs.append(_Pair((j,), idx, sim) if flip else _Pair(idx, (j,), sim))
    return pairs


def _acronym_matches(letters: str, parts: Sequence[NameToken]) -> bool:
    """Whether `letters` abbreviate `parts`: each word gives a prefix of one to three letters
    (a phrase its initials), and only words that do not identify the entity may be left out."""
    options = [p.abbreviations() for p in parts]
    skippable = [p.tier in (Tier.KIND, Tier.GENERIC, Tier.PLACE, Tier.SHORT) for p in parts]

    @cache
    def walk(i: int, j: int, used: int) -> bool:
        if i == len(letters):
            return used >= 2 and all(skippable[j:])
        if j == len(parts):
            return False
        if skippable[j] and walk(i, j + 1, used):
            return True
        return any(
            letters.startswith(option, i) and walk(i + len(option), j + 1, used + 1)
            for option in set(options[j])
            if option
        )

    return len(parts) >= 2 and walk(0, 0, 0)


def _absorb_acronyms(
    a: Sequence[NameToken], b: Sequence[NameToken], used_a: set[int], used_b: set[int]
) -> list[tuple[int, tuple[int, ...], bool]]:
    """A short unmatched word that abbreviates a run of unmatched words on the other side."""
    found: list[tuple[int, tuple[int, ...], bool]] = []
    for short, long, used_s, used_l, flip in (
        (a, b, used_a, used_b, False),
        (b, a, used_b, used_a, True),
    ):
        for i, token in enumerate(short):
            letters = fold_acronym(token.raw)
            if i in used_s or token.tier != Tier.DISTINCTIVE or not 2 <= len(letters) <= 5:
                continue
            for start in range(len(long)):
                size = len(letters)
                idx = tuple(range(start, start + size))
                if idx[-1] >= len(long) or used_l.intersection(idx):
                    continue
                if "".join(long[k].initial for k in idx) == letters:
                    used_s.add(i)
                    used_l.update(idx)
                    found.append((i, idx, flip))
                    break
    return found


def _fuzzy(key_a: NameKey, key_b: NameKey) -> tuple[float, list[str]]:
    a, b = key_a.parts, key_b.parts
    pairs = sorted(
        _candidate_pairs(key_a, key_b),
        key=lambda p: (p.similarity, len(p.left) + len(p.right) == 2),
        reverse=True,
    )
    used_a: set[int] = set()
    used_b: set[int] = set()
    matched = cost = 0.0
    notes: list[str] = []
    for pair in pairs:
        if used_a.intersection(pair.left) or used_b.intersection(pair.right):
            continue
        used_a.update(pair.left)
        used_b.update(pair.right)
        weight = sum(a[i].weight for i in pair.left) + sum(b[j].weight for j in pair.right)
        matched += weight * pair.similarity
        cost += weight * (1.0 - pair.similarity)
        if pair.similarity < 1.0 or len(pair.left) + len(pair.right) > 2:
            left = " ".join(a[i].raw for i in pair.left)
            right = " ".join(b[j].raw for j in pair.right)
            notes.append(f"{left}≈{right}")
    for i, idx, flip in _absorb_acronyms(a, b, used_a, used_b):
        short, long = (b, a) if flip else (a, b)
        weight = short[i].weight + sum(long[k].weight for k in idx)
        matched += weight * 0.9
        cost += weight * 0.1
        notes.append(f"{short[i].raw}=initials of {' '.join(long[k].raw for k in idx)}")
    left_over = [
        [t.tier for k, t in enumerate(side) if k not in used]
        for side, used in ((a, used_a), (b, used_b))
    ]
    for mine, theirs in (left_over, left_over[::-1]):
        for tier in mine:
            _, missing, conflict = WEIGHT[tier]
            cost += conflict if tier in theirs else missing
    total = matched + cost
    if matched <= 0 or total <= 0:
        return 0.0, notes
    return matched / total, notes


_SCRIPT_NAMES = {"Arabic": "Arabic script", "Han": "Chinese characters (pinyin)"}


def _explain(query: NameKey, candidate: NameKey) -> str:
    extras: list[str] = []
    scripts = sorted({*query.scripts, *candidate.scripts})
    if scripts:
        names = (_SCRIPT_NAMES.get(s, s) for s in scripts)
        extras.append("after transliteration from " + ", ".join(names))
    if set(query.legal_forms) != set(candidate.legal_forms):
        forms = sorted(set(query.legal_forms) ^ set(candidate.legal_forms))
        extras.append("legal form ignored (" + ", ".join(forms) + ")")
    return "; ".join(extras)


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def match_names(query: NameKey, candidate: NameKey) -> NameMatch | None:
    """Score two names; None when they are too far apart to be worth a look."""
    if not query.parts or not candidate.parts:
        return None
    context = _explain(query, candidate)
    if query.normalized == candidate.normalized:
        return NameMatch(1.0, "exact", _join("same name", context))
    if sorted(query.tokens) == sorted(candidate.tokens):
        return NameMatch(_SCORE_REORDERED, "reordered", _join("same words, other order", context))
    for short, long in ((query, candidate), (candidate, query)):
        letters = short.acronym_letters
        if (
            letters
            and not long.acronym_letters
            and all(fold_acronym(p.raw) != letters for p in long.parts)
            and _acronym_matches(letters, long.parts)
        ):
            return NameMatch(
                _SCORE_ACRONYM,
                "acronym",
                _join(f"'{short.original}' abbreviates '{long.original}'", context),
            )
    score, notes = _fuzzy(query, candidate)
    score = min(score, _SCORE_CAP_FUZZY)
    if score < MATCH_FLOOR:
        return None
    detail = f"fuzzy {score:.2f}"
    if notes:
        detail += " (" + ", ".join(notes[:4]) + ")"
    return NameMatch(round(score, 4), "fuzzy", _join(detail, context))


def comparison_cost(query: NameKey, candidate: NameKey) -> int:
    """What `match_names` costs, in word pairs: it weighs every word of one name against every
    word of the other (and each name counts one more, for the work of any comparison)."""
    return (len(query.parts) + 1) * (len(candidate.parts) + 1)


def match_with_aliases(
    query: NameKey, name: NameKey, aliases: Iterable[NameKey] = ()
) -> NameMatch | None:
    """Best match against a party's name or any alias listed with it; alias hits say so."""
    best = match_names(query, name)
    for alias in aliases:
        found = match_names(query, alias)
        if found is not None and (best is None or found.score > best.score):
            detail = f"listed alias '{alias.original}': {found.how}, {found.detail}"
            best = NameMatch(found.score, "alias", detail)
    return best
