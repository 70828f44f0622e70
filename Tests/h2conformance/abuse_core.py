"""What a server did while a client abused it, and the bounded loops that do the abusing.

An `Outcome` collects the server's answers (GOAWAY and its code, RST_STREAM codes,
responses, a close) and what the client managed to send (bytes, frames, whether the
server stopped reading). A flood writes pre-built frames in chunks, never reading while
it floods when the attack is "the client does not read", and stops at the first sign
the server ended it, at a byte/frame budget, or at a time limit.
"""
import time

from h2conn import DATA, END_STREAM, GOAWAY, HEADERS, RST_STREAM, error_name


class Outcome:
    def __init__(self):
        self.goaway = None
        self.rst = {}
        self.finished = set()
        self.reset_ends = False  # a RST_STREAM ends the abuse (a stalled stream)
        self.responses = 0
        self.closed = False
        self.blocked = False
        self.sent_bytes = 0
        self.sent_frames = 0
        self.started = time.monotonic()
        self.ended_at = None

    @property
    def ended(self):
        """The server ended the abuse: GOAWAY or a closed connection."""
        return self.goaway is not None or self.closed

    def mark_closed(self):
        self.closed = True
        if self.ended_at is None:
            self.ended_at = time.monotonic()

    def note(self, ev):
        if ev.kind == "closed":
            self.closed = True
        elif ev.kind == "frame":
            if ev.ftype == GOAWAY and self.goaway is None:
                self.goaway = ev.error_code
            elif ev.ftype == RST_STREAM:
                name = error_name(ev.error_code)
                self.rst[name] = self.rst.get(name, 0) + 1
                self.finished.add(ev.stream_id)
                if self.ended_at is None and self.reset_ends:
                    self.ended_at = time.monotonic()
            elif ev.ftype == HEADERS:
                self.responses += 1
            if ev.ftype in (HEADERS, DATA) and ev.flags & END_STREAM:
                self.finished.add(ev.stream_id)
        if self.ended and self.ended_at is None:
            self.ended_at = time.monotonic()

    def describe(self):
        parts = []
        if self.goaway is not None:
            parts.append("GOAWAY %s" % error_name(self.goaway))
        if self.closed:
            parts.append("closed")
        if self.rst:
            parts.append("RST_STREAM " + ",".join("%s×%d" % kv for kv in sorted(self.rst.items())))
        if self.responses:
            parts.append("%d HEADERS" % self.responses)
        if self.blocked:
            parts.append("stopped reading")
        if not parts:
            parts.append("nothing")
        at = (self.ended_at or time.monotonic()) - self.started
        parts.append("after %s in %d frames, %.1fs" % (human(self.sent_bytes), self.sent_frames, at))
        return "; ".join(parts)


def human(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return "%.0f %s" % (n, unit) if unit == "B" else "%.1f %s" % (n, unit)
        n /= 1024.0


def poll(conn, out, wait=0.0005, budget=None):
    """Read what the server sent so far (or for `budget` seconds) into `out`."""
    end = time.monotonic() + (budget or 0)
    while True:
        ev = conn.read_event(wait)
        if ev.kind == "timeout":
            if budget is None or time.monotonic() >= end:
                return
            continue
        out.note(ev)
        if ev.kind == "closed":
            return


def flood(conn, out, unit, frames_per_unit, max_bytes, max_frames, time_limit, read=True,
          chunk=64 * 1024):
    """Write `unit` (pre-serialized frames) repeatedly until the server ends it or a bound
    is hit. With read=False the client never reads while flooding (ack floods)."""
    reps = max(1, chunk // len(unit))
    block = unit * reps
    deadline = time.monotonic() + time_limit
    while out.sent_bytes < max_bytes and out.sent_frames < max_frames:
        if time.monotonic() > deadline:
            break
        if not conn.send(block):
            out.blocked = conn.send_blocked
            if not conn.send_blocked:
                out.mark_closed()
            break
        out.sent_bytes += len(block)
        out.sent_frames += frames_per_unit * reps
        if read:
            poll(conn, out)
            if out.ended:
                break
    return out


def settle(conn, out, seconds, until=None):
    """After a flood: read until the server ends the connection (or `until(out)` holds)
    or `seconds` pass."""
    done = until or (lambda o: o.ended)
    end = time.monotonic() + seconds
    while not done(out) and time.monotonic() < end:
        poll(conn, out, wait=min(0.5, max(0.01, end - time.monotonic())),
             budget=min(0.5, max(0.0, end - time.monotonic())))


def alive(ctx):
    """A new connection still gets a response: the abuse did not take the server down."""
    conn = None
    try:
        conn = ctx.connect()
        conn.handshake()
        conn.request(1, path=ctx.path)
        end = time.monotonic() + ctx.timeout * 2
        while time.monotonic() < end:
            ev = conn.read_event()
            if ev.kind != "frame":
                return False, "new connection: %s" % ev
            if ev.ftype == HEADERS and ev.stream_id == 1:
                return True, "alive"
        return False, "new connection: no response"
    except Exception as e:
        return False, "new connection failed: %s" % e
    finally:
        if conn is not None:
            conn.close()

