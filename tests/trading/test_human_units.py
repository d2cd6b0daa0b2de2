"""Dollars and contracts as people read them (the console, ``manage.py trading status``)."""

from trading import units


def test_counts_prices_and_money_read_like_the_dashboard():
    assert units.human_count(3_361_700) == "33,617" and units.human_count(150) == "1.5"
    assert (
        units.human_price(5330) == "53.3¢" and units.human_price(4500) == "45¢" and units.human_price(4537) == "45.37¢"
    )
    assert units.human_money(17_917_860_000) == "$17,917.86" and units.human_money(-1_500_000) == "-$1.50"
    assert units.human_money(-1) == "$0.00"


def test_positions_say_the_side_held():
    assert units.human_position(5_000) == "YES 50"
    assert units.human_position(-250) == "NO 2.5"
    assert units.human_position(0) == "flat"
