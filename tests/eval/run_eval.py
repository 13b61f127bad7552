"""Evaluate the party-name matcher on the labelled pairs in tests/data/name_pairs.csv.

Prints precision, recall and F1 at the default threshold (on all pairs and on the held-out fifth:
every 5th row), the errors per category, the false negatives and positives, and the trade-off at
other thresholds. If nomenklatura is importable, scores the same pairs with its logic-v2
algorithm for comparison. Writes everything to bench-results/eval.json and exits non-zero when
recall < 0.95 or precision < 0.90 on all pairs.

Run from the repository root: python -m tests.eval.run_eval
"""

from __future__ import annotations

import csv
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.core.names import DEFAULT_THRESHOLD, index_tokens, match_names, name_key

ROOT = Path(__file__).resolve().parents[2]
PAIRS = ROOT / "tests" / "data" / "name_pairs.csv"
RESULTS = ROOT / "bench-results" / "eval.json"
MIN_RECALL = 0.95
MIN_PRECISION = 0.90
OTHER_THRESHOLDS = (0.70, 0.75, 0.80, 0.85, 0.90, 0.95)
HELD_OUT_EVERY = 5
# yente, the OpenSanctions API built on nomenklatura, treats scores from 0.70 up as a match.
NOMENKLATURA_THRESHOLD = 0.70
MAX_LISTED = 20


@dataclass(frozen=True)
class Pair:
    row: int  # 1-based data row
    left: str
    right: str
    label: int
    category: str
    source: str

    @property
    def held_out(self) -> bool:
        return self.row % HELD_OUT_EVERY == 0


@dataclass(frozen=True)
class Scored:
    pair: Pair
    score: float
    how: str
    detail: str


def load_pairs(path: Path = PAIRS) -> list[Pair]:
    with path.open(encoding="utf-8", newline="") as f:
        return [
            Pair(n, r["left"], r["right"], int(r["label"]), r["category"], r["source"])
            for n, r in enumerate(csv.DictReader(f), start=1)
        ]


def score_ecx(pairs: Sequence[Pair]) -> list[Scored]:
    out = []
    for pair in pairs:
        match = match_names(name_key(pair.left), name_key(pair.right))
        if match is None:
            out.append(Scored(pair, 0.0, "none", "below floor"))
        else:
            out.append(Scored(pair, match.score, match.how, match.detail))
    return out


def metrics(scored: Sequence[Scored], threshold: float) -> dict[str, float | int]:
    tp = sum(1 for s in scored if s.pair.label == 1 and s.score >= threshold)
    fp = sum(1 for s in scored if s.pair.label == 0 and s.score >= threshold)
    fn = sum(1 for s in scored if s.pair.label == 1 and s.score < threshold)
    tn = len(scored) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "threshold": threshold,
        "pairs": len(scored),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
    }


def per_category(scored: Sequence[Scored], threshold: float) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for s in scored:
        row = rows.setdefault(
            s.pair.category, {"category": s.pair.category, "pairs": 0, "fn": 0, "fp": 0}
        )
        row["pairs"] += 1
        predicted = s.score >= threshold
        if s.pair.label == 1 and not predicted:
            row["fn"] += 1
        if s.pair.label == 0 and predicted:
            row["fp"] += 1
    for row in rows.values():
        row["accuracy"] = round(1 - (row["fn"] + row["fp"]) / row["pairs"], 4)
    return sorted(rows.values(), key=lambda r: (-(r["fn"] + r["fp"]), r["category"]))


def errors(scored: Sequence[Scored], threshold: float, label: int) -> list[dict[str, Any]]:
    wrong = [s for s in scored if s.pair.label == label and (s.score >= threshold) != (label == 1)]
    wrong.sort(key=lambda s: s.score, reverse=(label == 0))
    return [
        {
            "row": s.pair.row,
            "left": s.pair.left,
            "right": s.pair.right,
            "category": s.pair.category,
            "score": round(s.score, 4),
            "how": s.how,
            "detail": s.detail,
        }
        for s in wrong
    ]


def blocking_recall(pairs: Sequence[Pair]) -> float:
    positives = [p for p in pairs if p.label == 1]
    shared = sum(
        1 for p in positives if index_tokens(name_key(p.left)) & index_tokens(name_key(p.right))
    )
    return shared / len(positives) if positives else 1.0


def nomenklatura_scorer() -> Callable[[str, str], float] | None:
    """logic-v2 from nomenklatura on two Company entities carrying only a name, if installed."""
    try:
        from followthemoney import model
        from nomenklatura.matching import LogicV2
    except ImportError:
        return None
    config = LogicV2.default_config()
    counter = iter(range(10**9))

    def entity(name: str) -> Any:
        # unique ids: the matcher caches per entity id
        proxy = model.make_entity("Company")
        proxy.id = f"eval-{next(counter)}"
        proxy.add("name", name)
        return proxy

    def score(left: str, right: str) -> float:
        return float(LogicV2.compare(entity(left), entity(right), config).score)

    return score


def _print_metrics(title: str, m: dict[str, float | int]) -> None:
    print(
        f"{title:<34} precision {m['precision']:.3f}  recall {m['recall']:.3f}  "
        f"F1 {m['f1']:.3f}  (tp {m['tp']}, fp {m['fp']}, fn {m['fn']}, tn {m['tn']})"
    )


def _print_errors(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{title}: {len(rows)}")
    for e in rows[:MAX_LISTED]:
        print(
            f"  [{e['row']:>3}] {e['score']:.3f} {e['category']:<24} {e['left']!r} ~ {e['right']!r}"
        )
        print(f"        {e['how']}: {e['detail']}")


def main() -> int:
    pairs = load_pairs()
    started = time.perf_counter()
    scored = score_ecx(pairs)
    elapsed = time.perf_counter() - started
    held_out = [s for s in scored if s.pair.held_out]
    development = [s for s in scored if not s.pair.held_out]
    positives = sum(p.label for p in pairs)

    print(
        f"{len(pairs)} labelled pairs ({positives} same entity, {len(pairs) - positives} different)"
    )
    print(f"held out: every {HELD_OUT_EVERY}th row ({len(held_out)} pairs)")
    print(f"scored in {elapsed:.2f}s ({1e6 * elapsed / len(pairs):.0f} µs per pair, keys included)")
    print(f"\necx matcher at the default threshold {DEFAULT_THRESHOLD}:")
    full = metrics(scored, DEFAULT_THRESHOLD)
    held = metrics(held_out, DEFAULT_THRESHOLD)
    dev = metrics(development, DEFAULT_THRESHOLD)
    _print_metrics("  all pairs", full)
    _print_metrics("  development (4 of 5 rows)", dev)
    _print_metrics("  held out (every 5th row)", held)
    block = blocking_recall(pairs)
    print(f"  blocking: {block:.3f} of positive pairs share an index key")

    categories = per_category(scored, DEFAULT_THRESHOLD)
    print(f"\n{'category':<26}{'pairs':>6}{'fn':>5}{'fp':>5}{'accuracy':>10}")
    for row in categories:
        print(
            f"{row['category']:<26}{row['pairs']:>6}{row['fn']:>5}{row['fp']:>5}"
            f"{row['accuracy']:>10.3f}"
        )

    false_negatives = errors(scored, DEFAULT_THRESHOLD, 1)
    false_positives = errors(scored, DEFAULT_THRESHOLD, 0)
    _print_errors("false negatives", false_negatives)
    _print_errors("false positives", false_positives)

    print("\nother thresholds (all pairs / held out):")
    sweep = []
    for t in sorted({*OTHER_THRESHOLDS, DEFAULT_THRESHOLD}):
        a, h = metrics(scored, t), metrics(held_out, t)
        sweep.append({"threshold": t, "all": a, "held_out": h})
        print(
            f"  {t:.2f}  P {a['precision']:.3f} R {a['recall']:.3f} F1 {a['f1']:.3f}"
            f"   |   P {h['precision']:.3f} R {h['recall']:.3f} F1 {h['f1']:.3f}"
        )

    report: dict[str, Any] = {
        "pairs": len(pairs),
        "positives": positives,
        "held_out_rule": f"every {HELD_OUT_EVERY}th data row",
        "ecx": {
            "threshold": DEFAULT_THRESHOLD,
            "all": full,
            "development": dev,
            "held_out": held,
            "blocking_recall": round(block, 4),
            "seconds": round(elapsed, 3),
            "per_category": categories,
            "false_negatives": false_negatives,
            "false_positives": false_positives,
            "thresholds": sweep,
        },
    }

    scorer = nomenklatura_scorer()
    if scorer is None:
        print("\nnomenklatura: not available (pip install nomenklatura; needs libicu-dev)")
        report["nomenklatura"] = {"available": False}
    else:
        started = time.perf_counter()
        nk = [Scored(p, scorer(p.left, p.right), "logic-v2", "") for p in pairs]
        nk_elapsed = time.perf_counter() - started
        nk_held = [s for s in nk if s.pair.held_out]
        nk_full = metrics(nk, NOMENKLATURA_THRESHOLD)
        nk_h = metrics(nk_held, NOMENKLATURA_THRESHOLD)
        print(f"\nside by side (ecx at {DEFAULT_THRESHOLD}, logic-v2 at {NOMENKLATURA_THRESHOLD}):")
        _print_metrics("  ecx, all pairs", full)
        _print_metrics("  logic-v2, all pairs", nk_full)
        _print_metrics("  ecx, held out", held)
        _print_metrics("  logic-v2, held out", nk_h)
        nk_categories = per_category(nk, NOMENKLATURA_THRESHOLD)
        print(f"\n{'category':<26}{'ecx errors':>11}{'logic-v2 errors':>17}")
        nk_by_cat = {r["category"]: r["fn"] + r["fp"] for r in nk_categories}
        for row in sorted(categories, key=lambda r: r["category"]):
            print(
                f"{row['category']:<26}{row['fn'] + row['fp']:>11}"
                f"{nk_by_cat.get(row['category'], 0):>17}"
            )
        report["nomenklatura"] = {
            "available": True,
            "algorithm": "logic-v2",
            "threshold": NOMENKLATURA_THRESHOLD,
            "all": nk_full,
            "held_out": nk_h,
            "seconds": round(nk_elapsed, 3),
            "per_category": nk_categories,
            "thresholds": [
                {"threshold": t, "all": metrics(nk, t), "held_out": metrics(nk_held, t)}
                for t in OTHER_THRESHOLDS
            ],
        }

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwritten {RESULTS.relative_to(ROOT)}")

    failed = []
    if float(full["recall"]) < MIN_RECALL:
        failed.append(f"recall {full['recall']} < {MIN_RECALL}")
    if float(full["precision"]) < MIN_PRECISION:
        failed.append(f"precision {full['precision']} < {MIN_PRECISION}")
    if failed:
        print("FAILED: " + "; ".join(failed))
        return 1
    print(f"OK: recall >= {MIN_RECALL} and precision >= {MIN_PRECISION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
