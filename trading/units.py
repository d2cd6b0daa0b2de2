"""Kalshi's fixed-point strings as integers, so money is never a float.

* prices: integer 1/10,000 dollars (``"0.4500"`` -> 4500); Kalshi's finest tick is $0.0001;
* counts: integer 1/100 contracts (``"25.00"`` -> 2500); fractional contracts go to 0.01;
* money (costs, fees, balances, notionals): integer micro-dollars (``"0.429000"`` -> 429000).

price x count = micro-dollars, so a notional needs no rescaling.
"""

from decimal import Decimal, InvalidOperation

PRICE_SCALE = 10_000
COUNT_SCALE = 100
MONEY_SCALE = 1_000_000
ONE_DOLLAR = PRICE_SCALE


class UnitError(ValueError):
    """A fixed-point string that is not a number, or has more precision than its unit holds."""


def _scaled(text: str, scale: int, what: str) -> int:
    try:
        value = Decimal(text) * scale
    except (InvalidOperation, TypeError) as exc:
        raise UnitError(f"{what} {text!r} is not a decimal string") from exc
    if not value.is_finite() or value != value.to_integral_value():
        raise UnitError(f"{what} {text!r} has more precision than 1/{scale}")
    return int(value)


def parse_price(text: str) -> int:
    """``"0.4500"`` -> 4500 (1/10,000 dollars)."""
    return _scaled(text, PRICE_SCALE, "price")


def parse_count(text: str) -> int:
    """``"25.00"`` -> 2500 (1/100 contracts)."""
    return _scaled(text, COUNT_SCALE, "count")


def parse_money(text: str) -> int:
    """``"0.429000"`` -> 429000 (micro-dollars)."""
    return _scaled(text, MONEY_SCALE, "amount")


def format_price(price: int) -> str:
    """4500 -> ``"0.4500"``, Kalshi's 4-decimal dollar string."""
    return _fixed(price, PRICE_SCALE, 4)


def format_count(count: int) -> str:
    """2500 -> ``"25.00"``, Kalshi's 2-decimal count string."""
    return _fixed(count, COUNT_SCALE, 2)


def format_money(amount: int, places: int = 6) -> str:
    """429000 -> ``"0.429000"``; ``places=4`` for the 4-decimal payload fields (rounds half away from zero)."""
    if places < 6:
        step = 10 ** (6 - places)
        amount = (abs(amount) + step // 2) // step * (1 if amount >= 0 else -1)
        return _fixed(amount, MONEY_SCALE // step, places)
    return _fixed(amount, MONEY_SCALE, 6)


def human_count(count: int) -> str:
    """Contracts as people read them: 3_361_700 -> ``"33,617"``, 150 -> ``"1.5"``."""
    whole, frac = divmod(abs(count), COUNT_SCALE)
    text = f"{whole:,}" + (f".{frac:02d}".rstrip("0") if frac else "")
    return f"-{text}" if count < 0 else text


def human_price(price: int) -> str:
    """A price in cents, as Kalshi shows it: 5330 -> ``"53.3¢"``, 4500 -> ``"45¢"``."""
    whole, frac = divmod(price, 100)
    return f"{whole}" + (f".{frac:02d}".rstrip("0") if frac else "") + "¢"


def human_money(amount: int) -> str:
    """Dollars to the cent with thousands separators: 954_983_700 -> ``"$954.98"``."""
    cents = (abs(amount) + 5_000) // 10_000
    return f"{'-' if amount < 0 and cents else ''}${cents // 100:,}.{cents % 100:02d}"


def human_position(position: int) -> str:
    """A signed position as the side held: 5000 -> ``"YES 50"``, -250 -> ``"NO 2.5"``, 0 -> ``"flat"``."""
    if position == 0:
        return "flat"
    return f"{'YES' if position > 0 else 'NO'} {human_count(abs(position))}"


def _fixed(value: int, scale: int, places: int) -> str:
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), scale)
    return f"{sign}{whole}.{frac:0{places}d}"


def notional(price: int, count: int) -> int:
    """Micro-dollars paid for ``count`` contracts at ``price``."""
    return price * count
