"""Kalshi's fixed-point strings as typed integer fields for msgspec structs.

A struct field annotated ``Price``, ``Count`` or ``Money`` is decoded from the
wire's dollar or count string straight into trading.units integers, so a message
is never half-converted. The common exact forms (``"0.4500"``, ``"-300.00"``)
take a regex fast path: the feed decodes tens of thousands of these a second,
and ``Decimal`` costs several times more. Anything else (``"1e-2"``, extra
trailing zeros) goes through trading.units, which is exact and raises UnitError.
"""

import re
from collections.abc import Callable
from typing import Any

import msgspec

from trading.units import COUNT_SCALE, MONEY_SCALE, PRICE_SCALE, parse_count, parse_money, parse_price

_FIXED = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?").fullmatch


class Price(int):
    """1/10,000 dollars, from a ``*_dollars`` price string."""


class Count(int):
    """1/100 contracts, from a ``*_fp`` count string."""


class Money(int):
    """Micro-dollars, from a cost, fee or balance dollar string."""


def _fast(text: str, places: int, scale: int) -> int | None:
    match = _FIXED(text)
    if match is None:
        return None
    sign, whole, frac = match.groups()
    if frac is None:
        value = int(whole) * scale
    elif len(frac) <= places:
        value = int(whole) * scale + int(frac) * 10 ** (places - len(frac))
    else:
        return None
    return -value if sign else value


def _parser(places: int, scale: int, slow: Callable[[str], int]) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"expected a fixed-point string, got {type(text).__name__}")
        value = _fast(text, places, scale)
        return slow(text) if value is None else value

    return parse


fast_price = _parser(4, PRICE_SCALE, parse_price)
fast_count = _parser(2, COUNT_SCALE, parse_count)
fast_money = _parser(6, MONEY_SCALE, parse_money)

_PARSERS: dict[type, tuple[type, Callable[[str], int]]] = {
    Price: (Price, fast_price),
    Count: (Count, fast_count),
    Money: (Money, fast_money),
}


def dec_hook(type_: type, obj: Any) -> Any:
    """msgspec hook: wire string -> Price/Count/Money (UnitError is a ValueError, so msgspec reports the field)."""
    try:
        cls, parse = _PARSERS[type_]
    except KeyError:
        raise NotImplementedError(f"no decoder for {type_!r}") from None
    return cls(parse(obj))


def json_decoder(type_: Any) -> msgspec.json.Decoder:
    """A JSON decoder for ``type_`` (a struct or union of structs) that understands the unit fields."""
    return msgspec.json.Decoder(type_, dec_hook=dec_hook)
