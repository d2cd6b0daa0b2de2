"""The one ``system_activity`` payload shape, and the group message beside the text."""

import pytest

from trading import events


def test_activity_has_one_shape_whoever_says_it():
    line = events.activity(source="feed", message="reconnected", details={"markets": 3})
    assert line == {"source": "feed", "level": "info", "message": "reconnected", "details": {"markets": 3}}
    assert events.activity(source="execution", level="warning", message="x")["details"] == {}


def test_unknown_activity_level_is_refused():
    with pytest.raises(ValueError, match="unknown activity level 'loud'"):
        events.activity(source="feed", level="loud", message="x")


def test_group_message_carries_id_and_market_beside_the_text():
    text = events.envelope(events.MARKET, {"yes_bid": 1}, ts=1.0)
    assert events.group_message(text, market="KX-A") == {
        "type": events.BROADCAST,
        "text": text,
        "id": 0,
        "market": "KX-A",
    }
