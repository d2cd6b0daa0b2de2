"""Which markets get books: the runner's own, held, watched, then the newest whales, capped."""

from trading.feed.book_markets import wanted_books

NOW = 1_795_532_400.0


def _wanted(**overrides):
    args = {"static": ["S1", "S2"], "held": set(), "watched": set(), "whales": {}, "now": NOW, "window": 600.0}
    return wanted_books(**{**args, "limit": 10, **overrides})


def test_own_then_held_then_watched_then_newest_whales_without_repeats():
    wanted, capped = _wanted(held={"H"}, watched={"W", "S1"}, whales={"OLD": NOW - 500, "NEW": NOW - 5, "H": NOW - 1})
    assert wanted == ["S1", "S2", "H", "W", "NEW", "OLD"] and capped == 0


def test_whales_older_than_the_window_keep_no_book():
    wanted, _ = _wanted(whales={"GONE": NOW - 601, "KEPT": NOW - 599})
    assert wanted == ["S1", "S2", "KEPT"]


def test_the_limit_drops_the_oldest_whales_first_and_counts_them():
    wanted, capped = _wanted(held={"H"}, whales={"A": NOW - 30, "B": NOW - 20, "C": NOW - 10}, limit=4)
    assert wanted == ["S1", "S2", "H", "C"] and capped == 2
