"""Recording raw exchange frames: receive times, hourly files, retention, a crash's
loss bounded to the unflushed second, and a real feed recorded end to end."""

import gzip

import orjson
import pytest

from tests.trading.feed.harness import feed_config, sim_client
from tests.waiting import eventually
from trading.feed.recording import BadRecording, FrameRecorder, hour_name, read_frames
from trading.feed.runner import FeedRunner
from trading.simulator.server import SimConfig, SimulatorServer

HOUR = 3600.0
T0 = 1_795_532_400.0  # 2026-11-23T10:00:00Z


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_frames_come_back_with_their_receive_times(tmp_path):
    clock = Clock(T0)
    recorder = FrameRecorder(tmp_path, keep_hours=3, clock=clock)
    recorder.write(b'{"type":"trade"}')
    clock.now += 0.25
    recorder.write(b'{"type":\n"ticker"}')  # a newline between tokens is whitespace
    recorder.close()

    assert list(read_frames(tmp_path)) == [(T0, b'{"type":"trade"}'), (T0 + 0.25, b'{"type": "ticker"}')]


def test_files_rotate_hourly_and_only_the_newest_are_kept(tmp_path):
    clock = Clock(T0)
    recorder = FrameRecorder(tmp_path, keep_hours=2, clock=clock)
    for hour in range(4):
        clock.now = T0 + hour * HOUR
        recorder.write(b'{"hour":%d}' % hour)
    recorder.close()

    assert sorted(p.name for p in tmp_path.iterdir()) == [hour_name(T0 + 2 * HOUR), hour_name(T0 + 3 * HOUR)]
    assert [orjson.loads(f)["hour"] for _, f in read_frames(tmp_path)] == [2, 3]


def test_a_killed_recorder_loses_only_the_unflushed_frames(tmp_path):
    clock = Clock(T0)
    recorder = FrameRecorder(tmp_path, keep_hours=2, clock=clock)
    recorder.write(b"{}")
    clock.now += 1.5
    recorder.write(b"[]")  # a second later: both flushed as one gzip member
    recorder.write(b'"lost"')  # never flushed: the process "dies" here
    # And a torn last member, as a kill mid-write leaves it.
    with open(tmp_path / hour_name(T0), "ab") as out:
        out.write(gzip.compress(b"%d {}\n" % (T0 * 1e6))[:12])

    assert [f for _, f in read_frames(tmp_path)] == [b"{}", b"[]"]


def test_a_bad_line_is_skipped_and_a_missing_recording_is_an_error(tmp_path):
    (tmp_path / hour_name(T0)).write_bytes(gzip.compress(b"garbage\n%d {}\n" % (T0 * 1e6)))
    assert list(read_frames(tmp_path)) == [(T0, b"{}")]
    with pytest.raises(BadRecording, match="does not exist"):
        list(read_frames(tmp_path / "nope"))


@pytest.mark.django_db(transaction=True)
async def test_the_feed_records_every_frame_it_receives(tmp_path):
    sim = SimulatorServer(SimConfig(markets=2, seed=3, rate=0, paused=True, whale_rate=0.0))
    await sim.start()
    recorder = FrameRecorder(tmp_path, keep_hours=2)
    client = sim_client(sim.ws_url, recorder=recorder)
    runner = FeedRunner(client, sim.exchange.tickers, feed_config(whale_min_notional=10**18))
    try:
        await runner.start()
        await eventually(lambda: runner.books.all_synced(), "books in sync")
        sim.step(50)
        await eventually(lambda: client.metrics.messages >= 50, "the stepped messages")
    finally:
        await runner.stop("test over")
        recorder.close()
        await sim.stop()

    frames = list(read_frames(tmp_path))
    assert len(frames) == client.metrics.messages
    types = {orjson.loads(f)["type"] for _, f in frames}
    assert {"orderbook_snapshot", "orderbook_delta", "subscribed"} <= types
    times = [t for t, _ in frames]
    assert times == sorted(times)
