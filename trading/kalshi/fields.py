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


# type -> (decimal places on the fast path, scale, exact fallback)
_UNITS: dict[type, tuple[int, int, Callable[[str], int]]] = {
    Price: (4, PRICE_SCALE, parse_price),
    Count: (2, COUNT_SCALE, parse_count),
    Money: (6, MONEY_SCALE, parse_money),
}


def dec_hook(type_: type, obj: Any) -> Any:
    """msgspec hook: wire string -> Price/Count/Money. One flat function, since it runs
    for every number of every frame; UnitError is a ValueError, so msgspec names the field."""
    try:
        places, scale, slow = _UNITS[type_]
    except KeyError:
        raise NotImplementedError(f"no decoder for {type_!r}") from None
    if not isinstance(obj, str):
        raise TypeError(f"expected a fixed-point string, got {type(obj).__name__}")
    match = _FIXED(obj)
    if match is None:
        return type_(slow(obj))
    sign, whole, frac = match.groups()
    if frac is None:
        value = int(whole) * scale
    elif len(frac) <= places:
        value = int(whole) * scale + int(frac) * 10 ** (places - len(frac))
    else:
        return type_(slow(obj))  # more digits than the unit holds: exact only if they are zeros
    return type_(-value if sign else value)


def json_decoder(type_: Any) -> msgspec.json.Decoder:
    """A JSON decoder for ``type_`` (a struct or union of structs) that understands the unit fields."""
    return msgspec.json.Decoder(type_, dec_hook=dec_hook)
