"""Case registry and the verdicts h2spec uses (spec/verifier.go), re-stated in Python.

A case is a function `run(ctx, conn) -> (passed, why)`; it may raise `Skip(why)`. The
verifiers read events until the expected one, a close, or the case's deadline. As in
h2spec, a connection close satisfies "connection error" and "stream error" verdicts;
with `strict`, a GOAWAY or RST_STREAM carrying an unexpected code fails the case.
"""
import threading
import time

from h2conn import (ACK, DATA, GOAWAY, HEADERS, PING, RST_STREAM, SETTINGS, END_STREAM,
                    error_name)

CASES = []


class Skip(Exception):
    pass


class Case:
    def __init__(self, suite, section, number, desc, fn, handshake=True, optional=False):
        self.suite, self.section, self.number, self.desc = suite, section, number, desc
        self.fn, self.handshake = fn, handshake
        # h2spec runs these two only with -S (strict): a SHOULD, and a PRIORITY nuance.
        self.optional = optional

    @property
    def ident(self):
        return "%s/%s %d" % (self.suite, self.section, self.number)

    def matches(self, selector):
        """'http2', '6.5', 'http2/6.5', 'generic/3', 'http2/6.5.2/3': a section, its
        subsections, or one numbered case."""
        parts = selector.strip("/").split("/")
        if parts[0] in ("generic", "http2", "hpack"):
            if parts.pop(0) != self.suite:
                return False
        if not parts:
            return True
        section = parts[0]
        if len(parts) > 1 and parts[1] != str(self.number):
            return False
        return self.section == section or self.section.startswith(section + ".")


def case(suite, section, number, desc, handshake=True, optional=False):
    def register(fn):
        CASES.append(Case(suite, section, number, desc, fn, handshake, optional))
        return fn
    return register


class Ctx:
    """Per-run configuration shared by all cases."""

    def __init__(self, args):
        self.host, self.port, self.tls = args.host, args.port, args.tls
        self.path, self.timeout, self.strict = args.path, args.timeout, args.strict
        self.verbose = args.verbose
        self.max_header_len = 4000
        self._data_length = None
        self._lock = threading.Lock()

    def connect(self, **kw):
        from h2conn import Conn
        return Conn(self.host, self.port, tls=self.tls, timeout=self.timeout,
                    verbose=self.verbose, **kw)

    def data_length_or_skip(self, minimum):
        """h2spec skips flow-control cases when the response body is too short."""
        n = self.data_length()
        if n < minimum:
            raise Skip("response body of %d bytes is shorter than %d" % (n, minimum))
        return n

    def data_length(self):
        """Bytes in the body of GET path (h2spec's ServerDataLength), measured once."""
        with self._lock:
            if self._data_length is None:
                self._data_length = self._measure()
        if self._data_length < 0:
            raise Skip("could not measure the response body length")
        return self._data_length

    def _measure(self):
        conn = self.connect()
        try:
            conn.handshake()
            conn.request(1, path=self.path)
            total, done = 0, False
            deadline = time.monotonic() + self.timeout * 2
            while not done and time.monotonic() < deadline:
                ev = conn.read_event()
                if ev.kind != "frame":
                    break
                if ev.stream_id == 1 and ev.ftype == DATA:
                    total += ev.length
                if ev.stream_id == 1 and ev.ftype in (DATA, HEADERS):
                    done = bool(ev.flags & END_STREAM)
            return total if done else -1
        except Exception:
            return -1
        finally:
            conn.close()


def _events(conn, budget):
    deadline = time.monotonic() + budget
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        yield conn.read_event(min(conn.timeout, remaining))


def _budget(conn):
    return conn.timeout * 2


def connection_error(conn, *codes, strict=False):
    actual = None
    for ev in _events(conn, _budget(conn)):
        if ev.kind == "closed":
            return True, "connection closed" + (" after %s" % actual if actual else "")
        if ev.kind == "timeout":
            return False, "expected GOAWAY %s or close, got %s" % (
                "/".join(error_name(c) for c in codes), actual or "timeout")
        if ev.ftype == GOAWAY:
            if ev.error_code in codes:
                return True, "GOAWAY %s" % error_name(ev.error_code)
            if strict:
                return False, "GOAWAY %s, expected %s" % (
                    error_name(ev.error_code), "/".join(error_name(c) for c in codes))
        actual = str(ev)
    return False, "expected GOAWAY or close, got %s" % (actual or "timeout")


def stream_error(conn, *codes, strict=False):
    actual = None
    for ev in _events(conn, _budget(conn)):
        if ev.kind == "closed":
            return True, "connection closed" + (" after %s" % actual if actual else "")
        if ev.kind == "timeout":
            break
        if ev.ftype in (GOAWAY, RST_STREAM):
            kind = "GOAWAY" if ev.ftype == GOAWAY else "RST_STREAM"
            if ev.error_code in codes:
                return True, "%s %s" % (kind, error_name(ev.error_code))
            if strict:
                return False, "%s %s, expected %s" % (kind, error_name(ev.error_code),
                                                      "/".join(error_name(c) for c in codes))
        actual = str(ev)
    return False, "expected RST_STREAM/GOAWAY %s or close, got %s" % (
        "/".join(error_name(c) for c in codes), actual or "timeout")


def connection_close(conn):
    actual = None
    for ev in _events(conn, _budget(conn)):
        if ev.kind == "closed":
            return True, "connection closed"
        if ev.kind == "timeout":
            break
        actual = str(ev)
    return False, "expected close, got %s" % (actual or "timeout")


def wait_frame(conn, ftype, predicate=lambda ev: True):
    """The first frame of `ftype` that satisfies predicate; (event or None, last seen)."""
    actual = None
    for ev in _events(conn, _budget(conn)):
        if ev.kind != "frame":
            return None, str(ev) if actual is None else "%s, then %s" % (actual, ev)
        if ev.ftype == ftype and predicate(ev):
            return ev, None
        actual = str(ev)
    return None, actual or "timeout"


def headers_frame(conn, stream_id):
    ev, seen = wait_frame(conn, HEADERS, lambda e: e.stream_id == stream_id)
    return (True, "HEADERS on stream %d" % stream_id) if ev else (
        False, "expected HEADERS on stream %d, got %s" % (stream_id, seen))


def ping_ack(conn, data=b"h2spec\x00\x00", send=True):
    """The server answered our PING: proof it accepted everything sent before it."""
    if send:
        conn.ping(data)
    ev, seen = wait_frame(conn, PING, lambda e: e.flags & ACK and (
        e.frame is None or e.frame.opaque_data == data))
    if ev is None:
        return False, "expected PING ACK %r, got %s" % (data, seen)
    return True, "PING ACK"


def ping_ack_or_close(conn, data=b"h2spec\x00\x00"):
    conn.ping(data)
    actual = None
    for ev in _events(conn, _budget(conn)):
        if ev.kind == "closed":
            return True, "connection closed"
        if ev.kind == "timeout":
            break
        if ev.ftype == PING and ev.flags & ACK:
            return True, "PING ACK"
        actual = str(ev)
    return False, "expected PING ACK or close, got %s" % (actual or "timeout")


def settings_ack(conn):
    ev, seen = wait_frame(conn, SETTINGS, lambda e: e.flags & ACK)
    return (True, "SETTINGS ACK") if ev else (False, "expected SETTINGS ACK, got %s" % seen)


def stream_ended(conn, stream_id=1):
    actual = None
    for ev in _events(conn, _budget(conn)):
        if ev.kind != "frame":
            return False, "expected end of stream %d, got %s" % (stream_id, ev)
        if ev.stream_id == stream_id and ev.ftype in (DATA, HEADERS) and ev.flags & END_STREAM:
            return True, "stream %d ended" % stream_id
        actual = str(ev)
    return False, "expected end of stream %d, got %s" % (stream_id, actual or "timeout")


def data_of_length(conn, stream_id, length):
    ev, seen = wait_frame(conn, DATA, lambda e: e.stream_id == stream_id)
    if ev is None:
        return False, "expected DATA(len=%d), got %s" % (length, seen)
    if ev.length != length:
        return False, "DATA of length %d, expected %d" % (ev.length, length)
    return True, "DATA(len=%d)" % length
