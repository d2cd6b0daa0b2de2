"""How the admin shows the project's integers to a person (dollars, contracts, cents,
times), and keeps exchange text from running as a spreadsheet formula."""

from datetime import UTC, datetime
from typing import Any

from trading.execution.rules import dollars
from trading.units import PRICE_SCALE, human_count, human_money, human_price

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV
# injection"); tickers, reasons and error texts come from the exchange or a person.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def money(value: int | None) -> str:
    return "" if value is None else dollars(value)


def price(value: int | None) -> str:
    return "" if value is None else f"{value / PRICE_SCALE:.4f}"


def contracts(value: int | None) -> str:
    return "" if value is None else human_count(value)


def spreadsheet_safe(text: str) -> str:
    """Text a spreadsheet shows as text: a leading ``'`` turns a would-be formula into a literal."""
    return f"'{text}" if text.startswith(FORMULA_TRIGGERS) else text


def unix(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


# How the decision inputs' fields read (trading.execution.services.book_inputs,
# risk.AccountView, the rule and limit configs), by field name; the rest are shown as they are.
_INPUT_MONEY = {"notional", "exposure", "daily_pnl", "max_exposure", "max_daily_loss", "min_whale_notional"}
_INPUT_CONTRACTS = {
    "count", "yes_bid_size", "yes_ask_size", "long_exposure", "short_exposure", "max_position", "fixed_count",
    "max_count",
}  # fmt: skip
_INPUT_PRICES = {"yes_price", "yes_bid", "yes_ask", "spread", "max_spread", "slippage", "max_cross"}
_INPUT_TIMES = {"close_ts", "last_follow_at"}
_INPUT_SECONDS = {"age", "max_book_age", "max_whale_age", "min_time_to_close", "cooldown", "order_ttl"}


def input_value(name: str, value: Any) -> str:
    """One decision input as a person reads it: dollars, contracts, cents, UTC times, seconds."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if name in _INPUT_MONEY:
        return human_money(int(value))
    if name in _INPUT_CONTRACTS:
        return f"{human_count(int(value))} contracts"
    if name in _INPUT_PRICES:
        return human_price(int(value))
    if name in _INPUT_TIMES:
        return unix(value)
    if name in _INPUT_SECONDS:
        return f"{value:g} s"
    if name == "whale_fraction_ppm":
        return f"{value / 10_000:g} %"
    return f"{value:g}"
