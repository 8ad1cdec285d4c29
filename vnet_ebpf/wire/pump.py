"""The wire's forwarding loop, over two plain file descriptors.

Each fd is one end of a wire: a /dev/vnet file bound to a device in vnet-wire, a
SOCK_SEQPACKET socket in the tests.  Both keep message boundaries: a read returns one
frame and a write sends one.  Frames go both ways: A->B is what A's device transmitted,
written to B as received, and B->A the same.

Python's per-frame cost is what limits the rate, so the unshaped path does as little a
frame as it can: one poll() a round, then on each readable side up to BATCH reads into
one preallocated buffer, each written straight to the other side; no time calls, no
queue objects.  Frames wait in a per-direction queue only when --delay or --rate ask
for it, or when the far side is full (EAGAIN).

No frame is lost inside the wire: when the far side's RX ring is full, the refused frame
is kept and the direction stops reading until the far side polls writable, so the near
device's TX ring fills up and its stack queues or drops, as with a real slow link.
"""

from __future__ import annotations

import errno
import math
import os
import random
import select
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from vnet_ebpf.backend import MAX_FRAME, io_error
from vnet_ebpf.errors import UserError
from vnet_ebpf.wire.pcap import PcapWriter

#: Reads a side gets in a round before the other side's turn.
BATCH = 256
#: Frames a direction's delay/rate queue holds before the wire stops reading that side.
QUEUE_LIMIT = 1000
#: Write errors that drop the one frame and go on: the far device is down (ENETDOWN) or
#: refuses the frame's length (EINVAL: longer than its MTU + 18).  The far device's own
#: counters say which; the wire counts them as dropped_write.
DROPPED_WRITE_ERRNOS = frozenset({errno.ENETDOWN, errno.EINVAL})

_POLLIN = select.POLLIN
_POLLOUT = select.POLLOUT
_GONE = select.POLLERR | select.POLLHUP | select.POLLNVAL


@dataclass(frozen=True)
class Side:
    """One end of the wire: a non-blocking fd and the name messages give it."""

    fd: int
    name: str


@dataclass
class Counters:
    """One direction's frames.  frames/bytes: delivered to the far side."""

    frames: int = 0
    bytes: int = 0
    dropped_loss: int = 0
    dropped_write: int = 0
    #: Frames still inside the wire when it stopped (delay/rate queue or a refused frame),
    #: discarded: set at the end of run().
    queued: int = 0


@dataclass(frozen=True)
class Shaping:
    """What the wire does to frames besides carrying them (the default: nothing)."""

    delay: float = 0.0  # seconds, one way, each direction
    rate: float = 0.0  # bit/s of Ethernet frame bytes, each direction; 0: unlimited
    loss: float = 0.0  # percent of frames dropped at random, each direction
    seed: int | None = None  # for loss; None: a different drop pattern every run

    @property
    def queued(self) -> bool:
        """Frames wait in the wire for a due time."""
        return self.delay > 0 or self.rate > 0


class Shaper:
    """When frames of one direction are due at the far side: a link of RATE bit/s that
    sends one frame at a time (a frame starts once the one before it is out), then DELAY
    seconds of propagation.  An idle link saves up no credit, so there are no bursts
    above RATE."""

    def __init__(self, rate: float = 0.0, delay: float = 0.0) -> None:
        self.rate = rate
        self.delay = delay
        #: When the link finishes sending the frame before.
        self.busy_until = -math.inf

    def due(self, now: float, nbytes: int) -> float:
        """The due time of an NBYTES frame that arrived at NOW; call in arrival order."""
        if not self.rate:
            return now + self.delay
        self.busy_until = max(now, self.busy_until) + nbytes * 8 / self.rate
        return self.busy_until + self.delay


def direction_seed(seed: int, direction: int) -> str:
    """The seed of DIRECTION's (0: A->B, 1: B->A) loss generator.  One generator a
    direction, so that each one's drop pattern does not depend on how the two interleave."""
    return f"{seed}/{'a->b' if direction == 0 else 'b->a'}"


class _Direction:
    __slots__ = ("counters", "dst", "dst_name", "queue", "refused", "rng", "shaper", "src", "src_name")

    def __init__(self, src: Side, dst: Side, shaping: Shaping, seed: str | None) -> None:
        self.src, self.src_name = src.fd, src.name
        self.dst, self.dst_name = dst.fd, dst.name
        self.counters = Counters()
        #: Frames read but not yet delivered, with their due times (0: now).  Unshaped, it
        #: holds at most the one frame the far side refused.
        self.queue: deque[tuple[float, bytes]] = deque()
        #: The far side's last write got EAGAIN: nothing is written until it polls writable.
        self.refused = False
        self.rng = random.Random(seed) if shaping.loss > 0 else None
        self.shaper = Shaper(shaping.rate, shaping.delay) if shaping.queued else None


class Pump:
    """Forwards frames between A and B both ways (see the module's doc).

    STOP_FD: run() returns once it is readable (vnet-wire's signal wake-up pipe).
    WATCH: more fds to poll, each with what to call when it is readable (the cable's
    rtnetlink sockets).
    CLOCK times --delay and --rate and the run; WALL stamps the pcap records.
    """

    def __init__(self, a: Side, b: Side, *, shaping: Shaping | None = None, pcap: PcapWriter | None = None,
                 stop_fd: int | None = None, watch: dict[int, Callable[[int], None]] | None = None,
                 batch: int = BATCH, queue_limit: int = QUEUE_LIMIT,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        if a.fd == b.fd:
            raise ValueError("the two sides of a wire must be different files")
        self.shaping = shaping or Shaping()
        seed = self.shaping.seed
        self.dirs = (_Direction(a, b, self.shaping, None if seed is None else direction_seed(seed, 0)),
                     _Direction(b, a, self.shaping, None if seed is None else direction_seed(seed, 1)))
        self.pcap = pcap
        self.stop_fd = stop_fd
        self.batch = batch
        self.queue_limit = queue_limit if self.shaping.queued else 1
        self.clock = clock
        self.wall = wall
        self.loss = self.shaping.loss / 100
        self.stopped = False
        self.seconds = 0.0
        # A blocking write would stall both directions on one full ring.
        for side in (a, b):
            os.set_blocking(side.fd, False)
        self._buf = bytearray(MAX_FRAME)
        self._view = memoryview(self._buf)
        self._bufs = [self._buf]  # os.readv's argument, built once
        self._poll = select.poll()
        self._masks: dict[int, int] = {}
        if stop_fd is not None:
            self._poll.register(stop_fd, _POLLIN)
        self.watch = watch or {}
        for fd in self.watch:
            self._poll.register(fd, _POLLIN)

    @property
    def counters(self) -> tuple[Counters, Counters]:
        """(A->B, B->A)."""
        return self.dirs[0].counters, self.dirs[1].counters

    def delivered(self) -> int:
        return self.dirs[0].counters.frames + self.dirs[1].counters.frames

    def run(self, seconds: float | None = None, count: int | None = None) -> None:
        """Forward until STOP_FD is readable, SECONDS have passed or COUNT frames (both
        directions together) were delivered.  Frames left inside the wire are counted
        as queued and discarded."""
        start = self.clock()
        deadline = None if seconds is None else start + seconds
        try:
            while not self.stopped:
                left = None
                if count is not None:
                    if self.delivered() >= count:
                        break
                    # Frames already inside the wire will be delivered (or dropped) too.
                    left = max(0, count - self.delivered() - sum(len(d.queue) for d in self.dirs))
                timeout = None
                if deadline is not None:
                    timeout = deadline - self.clock()
                    if timeout <= 0:
                        break
                self.round(timeout, left)
        finally:
            self.seconds = self.clock() - start
            for d in self.dirs:
                d.counters.queued = len(d.queue)
            if self.pcap:
                self.pcap.flush()

    def round(self, timeout: float | None = None, limit: int | None = None) -> None:
        """One poll(), waiting up to TIMEOUT seconds (None: until something happens),
        then what it allows: deliver due or refused frames, read readable sides (up to
        LIMIT frames in all, for run()'s COUNT)."""
        ab, ba = self.dirs
        may_read = limit is None or limit > 0
        self._arm(ab.src, self._mask(ab, ba, may_read))
        self._arm(ba.src, self._mask(ba, ab, may_read))
        shaped = self.shaping.queued
        if shaped:
            now = self.clock()
            for d in self.dirs:
                if d.queue and not d.refused:
                    wait = max(0.0, d.queue[0][0] - now)
                    timeout = wait if timeout is None else min(timeout, wait)
        events = self._poll.poll(None if timeout is None else timeout * 1000)
        readable: set[int] = set()
        for fd, ev in events:
            if fd == self.stop_fd:
                self.stopped = True
                continue
            if fd in self.watch:
                self.watch[fd](fd)
                continue
            if ev & _POLLOUT:
                for d in self.dirs:
                    if d.dst == fd:
                        d.refused = False
            if ev & _POLLIN:
                readable.add(fd)
            elif ev & _GONE:
                # No frame left to read and the file hangs up: vnet says so when the
                # device is deleted (the next call would fail with ENXIO).
                raise UserError(f"{ab.src_name if fd == ab.src else ba.src_name} was deleted")
        now = self.clock() if shaped else 0.0
        for d in self.dirs:
            if d.queue and not d.refused:
                self._deliver(d, now)
            # Each side gets a batch a round, so that a busy one cannot starve the other.
            batch = self.batch if limit is None else min(self.batch, limit)
            if d.src not in readable or batch <= 0:
                continue
            if shaped:
                room = self.queue_limit - len(d.queue)
                got = self._read_shaped(d, min(batch, room)) if room > 0 else 0
            elif not d.queue:
                got = self._forward(d, batch)
            else:
                continue
            if limit is not None:
                limit -= got
        if self.pcap:
            # Each round, so that a reader of the file (tcpdump -r, a test) sees the frames during the run.
            self.pcap.flush()

    def _mask(self, d: _Direction, back: _Direction, may_read: bool) -> int:
        """D's source's poll events: readable when D may read (room in its queue, which
        unshaped means an empty one), writable when BACK waits to write to it.  Not
        asking for POLLIN is what stops reading a side."""
        mask = 0
        if may_read and len(d.queue) < self.queue_limit:
            mask |= _POLLIN
        if back.refused:
            mask |= _POLLOUT
        return mask

    def _arm(self, fd: int, mask: int) -> None:
        old = self._masks.get(fd)
        if old == mask:
            return
        if old is None:
            self._poll.register(fd, mask)
        else:
            self._poll.modify(fd, mask)
        self._masks[fd] = mask

    def _forward(self, d: _Direction, limit: int) -> int:
        """The fast path: read up to LIMIT frames, each written straight to the far side;
        how many were read and not lost."""
        readv, write, bufs, view = os.readv, os.write, self._bufs, self._view
        src, dst = d.src, d.dst
        rng, loss, pcap, wall = d.rng, self.loss, self.pcap, self.wall
        frames = nbytes = lost = rejected = 0
        try:
            for _ in range(limit):
                try:
                    n = readv(src, bufs)
                except BlockingIOError:
                    break
                except OSError as err:
                    raise io_error(d.src_name, "read from", err, MAX_FRAME) from None
                if not n:
                    raise UserError(f"{d.src_name} was closed")
                if rng is not None and rng.random() < loss:
                    lost += 1
                    continue
                frame = view[:n]
                try:
                    write(dst, frame)
                except BlockingIOError:
                    # The far RX ring is full: keep the frame, stop reading until POLLOUT.
                    d.queue.append((0.0, bytes(frame)))
                    d.refused = True
                    break
                except OSError as err:
                    if err.errno not in DROPPED_WRITE_ERRNOS:
                        raise io_error(d.dst_name, "write to", err, n) from None
                    rejected += 1
                    continue
                frames += 1
                nbytes += n
                if pcap is not None:
                    pcap.record(frame, wall())
        finally:
            c = d.counters
            c.frames += frames
            c.bytes += nbytes
            c.dropped_loss += lost
            c.dropped_write += rejected
        return frames + rejected + len(d.queue)

    def _read_shaped(self, d: _Direction, limit: int) -> int:
        """Read up to LIMIT frames into D's queue, each with its due time; how many were
        read and not lost.  The read and loss steps are _forward's, written out again
        rather than shared: a Python call per frame costs the fast path measurably."""
        readv, bufs, view, clock = os.readv, self._bufs, self._view, self.clock
        rng, loss, shaper, queue = d.rng, self.loss, d.shaper, d.queue
        assert shaper is not None
        kept = 0
        for _ in range(limit):
            try:
                n = readv(d.src, bufs)
            except BlockingIOError:
                break
            except OSError as err:
                raise io_error(d.src_name, "read from", err, MAX_FRAME) from None
            if not n:
                raise UserError(f"{d.src_name} was closed")
            if rng is not None and rng.random() < loss:
                d.counters.dropped_loss += 1
                continue
            # Stamped as read (not once a batch): a batch can take milliseconds under emulation.
            queue.append((shaper.due(clock(), n), bytes(view[:n])))
            kept += 1
        return kept

    def _deliver(self, d: _Direction, now: float) -> None:
        """Write D's queued frames that are due by NOW, in order, until the far side is full."""
        queue, c, pcap = d.queue, d.counters, self.pcap
        while queue and queue[0][0] <= now:
            frame = queue[0][1]
            try:
                os.write(d.dst, frame)
            except BlockingIOError:
                d.refused = True
                return
            except OSError as err:
                if err.errno not in DROPPED_WRITE_ERRNOS:
                    raise io_error(d.dst_name, "write to", err, len(frame)) from None
                c.dropped_write += 1
            else:
                c.frames += 1
                c.bytes += len(frame)
                if pcap is not None:
                    pcap.record(frame, self.wall())
            queue.popleft()
