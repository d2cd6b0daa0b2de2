"""Recording the exchange feed (``run_feeds --record DIR`` / ``FEED_RECORD_DIR``) and
reading a recording back (``simulate_exchange --replay``, ``manage.py backtest``).

A recording is a folder of hourly files, ``frames-YYYYMMDDTHH.gz`` (UTC hour of
receipt), each a series of gzip members; one line per frame: the receive time
(Unix microseconds, an integer: formatting a float cost twice as much), a space,
the raw frame as the exchange sent it. JSON
has no raw newline inside a value, so a frame's own newlines (whitespace only) are
written as spaces and a line is always one frame.

Why whole gzip members, one per flush: a killed runner loses at most the unflushed
second, and every file stays readable (gzip reads concatenated members). Level 1:
frames are repetitive JSON, so the fastest level already shrinks them ~10x, and the
recorder runs on the feed's event loop (bench/pipeline.py measures its cost).
"""

import gzip
import logging
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from trading.health import ComponentHealth, Criticality

logger = logging.getLogger(__name__)

PREFIX = "frames-"
SUFFIX = ".gz"
# Buffered frames are compressed and written at least this often (the most a crash
# loses) and whenever this many bytes are waiting (one member stays well compressible).
FLUSH_INTERVAL = 1.0
FLUSH_BYTES = 256 * 1024
COMPRESS_LEVEL = 1
HOUR = 3600.0


def hour_name(ts: float) -> str:
    return f"{PREFIX}{datetime.fromtimestamp(ts, UTC):%Y%m%dT%H}{SUFFIX}"


class FrameRecorder:
    """Writes raw frames with their receive time; rotates hourly; keeps ``keep_hours`` of files."""

    def __init__(self, folder: Path, *, keep_hours: int, clock: Callable[[], float] = time.time) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.keep_hours = keep_hours
        self.clock = clock
        self.frames = 0
        self.bytes_written = 0
        self.errors = 0
        self.last_error = ""
        self._parts: list[bytes] = []
        self._size = 0
        self._hour = ""
        self._hour_end = 0.0  # the first frame opens the current hour's file
        self._flushed_at = clock()

    def write(self, frame: bytes) -> None:
        """One frame; on the feed's loop for every message, so kept to a few appends (the hour's
        name is worked out once an hour, not per frame: that alone was half the cost)."""
        now = self.clock()
        if now >= self._hour_end:
            self._rotate(now)
        if b"\n" in frame:
            frame = frame.replace(b"\n", b" ")
        line = b"%d %s\n" % (now * 1_000_000, frame)
        self._parts.append(line)
        self._size += len(line)
        self.frames += 1
        if self._size >= FLUSH_BYTES or now - self._flushed_at >= FLUSH_INTERVAL:
            self.flush()

    def flush(self) -> None:
        """Write what is buffered as one gzip member. A failed write (disk full) is counted
        and logged, the frames dropped: the recorder must never stop the feed."""
        self._flushed_at = self.clock()
        if not self._parts:
            return
        data = b"".join(self._parts)
        self._parts, self._size = [], 0
        try:
            with open(self.folder / self._hour, "ab") as out:
                out.write(gzip.compress(data, COMPRESS_LEVEL, mtime=0))
            self.bytes_written += len(data)
        except OSError as exc:
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.error("recording to %s failed, %d bytes of frames lost: %s", self.folder, len(data), exc)

    def _rotate(self, now: float) -> None:
        """A new hour: what is buffered goes to the old file, then old files beyond the retention go."""
        self.flush()
        self._hour = hour_name(now)
        self._hour_end = (now // HOUR + 1) * HOUR
        self._prune()

    def close(self) -> None:
        self.flush()

    def _prune(self) -> None:
        """Files beyond the newest ``keep_hours`` go (their names sort by time)."""
        files = sorted(p for p in self.folder.glob(f"{PREFIX}*{SUFFIX}") if p.name != self._hour)
        for old in files[: max(0, len(files) - (self.keep_hours - 1))]:
            try:
                old.unlink()
                logger.info("recording: %s removed (keeping %d hours)", old.name, self.keep_hours)
            except OSError as exc:
                logger.warning("recording: could not remove %s: %s", old, exc)

    def health(self) -> ComponentHealth:
        return ComponentHealth(
            "recorder",
            self.errors == 0,
            Criticality.NON_CRITICAL,
            self.last_error,
            {"frames": self.frames, "bytes": self.bytes_written, "errors": self.errors, "folder": str(self.folder)},
        )


class BadRecording(Exception):
    """A recording that cannot be read: the message names the file and what is wrong."""


def recording_files(path: Path) -> list[Path]:
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob(f"{PREFIX}*{SUFFIX}"))
        if not files:
            raise BadRecording(f"{path} holds no {PREFIX}*{SUFFIX} files")
        return files
    if path.is_file():
        return [path]
    raise BadRecording(f"{path} does not exist")


def read_frames(path: Path) -> Iterator[tuple[float, bytes]]:
    """(receive time, raw frame) in order, from one file or a recording folder. A line that
    is not "<time> <frame>" is logged and skipped; a file cut short ends its hour early."""
    for file in recording_files(path):
        try:
            with gzip.open(file, "rb") as lines:
                for number, line in enumerate(lines, 1):
                    stamp, _, frame = line.rstrip(b"\n").partition(b" ")
                    try:
                        received = int(stamp) / 1_000_000
                    except ValueError:
                        logger.warning("%s line %d: no receive time; skipped", file.name, number)
                        continue
                    yield received, frame
        except (OSError, EOFError) as exc:
            logger.warning("%s: cut short (%s); the rest of this hour is missing", file.name, exc)


def record_dir_from(option: str | None, setting: str) -> Path | None:
    """The folder to record to: the command's option wins over the setting; None means off."""
    chosen = option or setting
    return Path(os.path.expanduser(chosen)) if chosen else None
