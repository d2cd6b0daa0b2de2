"""The per-sid sequence state, driven without a socket (PROTOCOL.md 6.1)."""

import pytest

from trading.kalshi.subscriptions import SeqCheck, SequenceState, Subscription


@pytest.fixture
def book_sub() -> Subscription:
    return Subscription(("orderbook_delta",), ["KXBTCD-26DEC3117-T99999.99"], {})


@pytest.fixture
def state(book_sub: Subscription) -> SequenceState:
    """sid 1 owned and anchored by a snapshot with seq 1."""
    state = SequenceState()
    state.own(1, book_sub, "orderbook_delta")
    assert state.check(1, 1, anchors=True) is SeqCheck.IN_ORDER
    return state


def test_in_order_messages_advance_the_expected_seq(state) -> None:
    assert [state.check(1, seq, anchors=False) for seq in (2, 3, 4)] == [SeqCheck.IN_ORDER] * 3
    assert state.expected(1) == 5


def test_a_repeated_seq_is_a_duplicate_and_changes_nothing(state) -> None:
    assert state.check(1, 2, anchors=False) is SeqCheck.IN_ORDER
    assert state.check(1, 2, anchors=False) is SeqCheck.DUPLICATE
    assert state.expected(1) == 3
    assert state.check(1, 3, anchors=False) is SeqCheck.IN_ORDER


def test_a_skipped_seq_is_a_gap_that_leaves_the_decision_to_the_client(state) -> None:
    assert state.check(1, 4, anchors=False) is SeqCheck.GAP
    assert state.expected(1) == 2  # neither skipped ahead nor dropped
    assert state.check(1, 0, anchors=True) is SeqCheck.GAP  # behind by more than one is a gap too
    state.anchor(1, 4)  # the client accepts the gap (a trade channel): go on from there
    assert state.check(1, 5, anchors=False) is SeqCheck.IN_ORDER


def test_data_on_a_sid_that_is_not_ours_is_stray(state) -> None:
    assert state.check(2, 1, anchors=True) is SeqCheck.STRAY
    assert state.expected(2) is None
    state.release(1)  # unsubscribed: what is still in flight on it is stray
    assert state.check(1, 2, anchors=False) is SeqCheck.STRAY
    assert not state.owns(1) and state.owner(1) is None


def test_an_unanchored_sid_drops_deltas_until_a_snapshot_anchors_it(state, book_sub) -> None:
    state.unanchor(1)  # the client resyncs after a gap
    assert state.owner(1) == (book_sub, "orderbook_delta")
    assert state.check(1, 7, anchors=False) is SeqCheck.UNANCHORED
    assert state.expected(1) is None
    assert state.check(1, 9, anchors=True) is SeqCheck.IN_ORDER  # the resync snapshot, any seq
    assert state.check(1, 10, anchors=False) is SeqCheck.IN_ORDER


def test_a_lost_connection_forgets_every_sid(state) -> None:
    state.clear()
    assert state.check(1, 2, anchors=True) is SeqCheck.STRAY


def test_a_subscription_is_ready_once_every_channel_is_confirmed() -> None:
    sub = Subscription(("orderbook_delta", "trade"), ["KXBTCD-26DEC3117-T99999.99"], {})
    sub.confirm("orderbook_delta", 1)
    assert not sub.active and not sub.ready.is_set()
    sub.confirm("trade", 2)
    assert sub.active and sub.ready.is_set()
    sub.reset()
    assert sub.sids == {} and not sub.ready.is_set()
