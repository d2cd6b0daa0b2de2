"""The strategy report: one aggregation over outcome rows, shared by
``manage.py strategy_report``, the Strategy page and ``manage.py backtest``, so the
live and the replayed strategy are judged by the same numbers.

What-if P&L is per contract (one contract per whale): it compares whales and rules,
not sizes. Only settled whales count towards P&L; the rest are ``unknown``.
Money is a dollar string with 4 decimals (the fee's resolution), moves are prices.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from trading.outcomes import arithmetic as a
from trading.units import format_money, format_price

HORIZON_NAMES = ("1m", "5m", "30m")
MONEY_PLACES = 4


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    """One whale and what came of it, in trading.units integers."""

    traded_at: float
    market_ticker: str
    taker_side: str
    yes_price: int
    decision: str | None  # "follow", "skip", or None while undecided
    reason: str | None
    price_band: str
    size_percentile: int | None
    mids: tuple[int | None, int | None, int | None]  # YES mid at +1, +5, +30 min
    result: str  # "yes" / "no", "" while unknown
    pnl_follow: int | None
    pnl_fade: int | None
    pnl_actual: int | None


def money(amount: int) -> str:
    return format_money(amount, MONEY_PLACES)


def _group(rows: Sequence[OutcomeRow]) -> dict[str, Any]:
    settled = [r for r in rows if r.result]
    return {
        "count": len(rows),
        "follows": sum(r.decision == "follow" for r in rows),
        "settled": len(settled),
        "what_if_follow": money(sum(r.pnl_follow or 0 for r in settled)),
        "what_if_fade": money(sum(r.pnl_fade or 0 for r in settled)),
        "actual": money(sum(r.pnl_actual or 0 for r in settled)),
    }


def _by(rows: Iterable[OutcomeRow], key: Any) -> dict[str, Any]:
    groups: dict[str, list[OutcomeRow]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return {name: _group(groups[name]) for name in sorted(groups)}


def _markouts(rows: Sequence[OutcomeRow]) -> dict[str, Any]:
    out = {}
    for i, name in enumerate(HORIZON_NAMES):
        moves = [a.markout(r.taker_side, r.yes_price, m) for r in rows if (m := r.mids[i]) is not None]
        # Rounded towards zero to the exchange's 1/10,000 $: a mean finer than a price means nothing here.
        mean = int(sum(moves) / len(moves)) if moves else None
        out[name] = {"count": len(moves), "mean_move": None if mean is None else format_price(mean)}
    return out


def curve(rows: Sequence[OutcomeRow]) -> list[dict[str, Any]]:
    """Cumulative P&L of settled whales in trading order: actual, follow-all, and the rule's choice
    (following only the whales the rule followed, one contract each)."""
    points, actual, follow_all, rule = [], 0, 0, 0
    for row in sorted((r for r in rows if r.result), key=lambda r: (r.traded_at, r.market_ticker)):
        actual += row.pnl_actual or 0
        follow_all += row.pnl_follow or 0
        rule += (row.pnl_follow or 0) if row.decision == "follow" else 0
        points.append(
            {"ts": row.traded_at, "actual": money(actual), "follow_all": money(follow_all), "rule": money(rule)}
        )
    return points


def build(rows: Sequence[OutcomeRow], *, since: float | None = None) -> dict[str, Any]:
    """The report's JSON (README, "Judging the strategy")."""
    settled = [r for r in rows if r.result]
    follows = [r for r in settled if r.decision == "follow"]
    return {
        "since": since,
        "whales": len(rows),
        "decisions": {
            "follow": sum(r.decision == "follow" for r in rows),
            "skip": sum(r.decision == "skip" for r in rows),
            "undecided": sum(r.decision is None for r in rows),
        },
        "settled": len(settled),
        "unknown": len(rows) - len(settled),
        "pnl": {
            "actual": money(sum(r.pnl_actual or 0 for r in settled)),
            "what_if_follow_all": money(sum(r.pnl_follow or 0 for r in settled)),
            "what_if_fade_all": money(sum(r.pnl_fade or 0 for r in settled)),
            "what_if_rule": money(sum(r.pnl_follow or 0 for r in follows)),
        },
        "by_reason": _by(rows, lambda r: r.reason or "undecided"),
        "markouts": _markouts(rows),
        "by_price_band": _by(rows, lambda r: r.price_band),
        "by_size": _by(rows, lambda r: a.size_bucket(r.size_percentile)),
    }


def text(report: dict[str, Any]) -> str:
    """The report for a terminal."""
    pnl, d = report["pnl"], report["decisions"]
    lines = [
        f"whales {report['whales']}: follow {d['follow']}, skip {d['skip']}, undecided {d['undecided']}",
        f"settled {report['settled']}, outcome unknown {report['unknown']}",
        f"P&L actual ${pnl['actual']}; per contract: follow all ${pnl['what_if_follow_all']}, "
        f"fade all ${pnl['what_if_fade_all']}, the rule's follows ${pnl['what_if_rule']}",
        "markouts (mean YES move in the whale's direction): "
        + ", ".join(f"{h} {m['mean_move'] or '-'} (n={m['count']})" for h, m in report["markouts"].items()),
    ]
    for title, key in (("by reason", "by_reason"), ("by price band", "by_price_band"), ("by size", "by_size")):
        lines.append(f"{title}:")
        lines.append(f"  {'':<22}{'count':>7}{'settled':>9}{'follow':>12}{'fade':>12}{'actual':>12}")
        for name, g in report[key].items():
            lines.append(
                f"  {name:<22}{g['count']:>7}{g['settled']:>9}{g['what_if_follow']:>12}"
                f"{g['what_if_fade']:>12}{g['actual']:>12}"
            )
    return "\n".join(lines)
