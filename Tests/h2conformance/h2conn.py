"""A raw HTTP/2 client connection for conformance and abuse tests.

Frames are built with hyperframe when they are legal and by hand (`raw_frame`) when a
case needs an illegal one (hyperframe refuses to build those). Header blocks come from
the `hpack` encoder, one encoding context per connection, as a real client keeps it.
Every read is bounded by a timeout; a closed or reset socket is an event, not an error.
"""
import socket
import ssl
import struct
import time

import hpack
from hyperframe import frame as hf
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DEFAULT_WINDOW = 65535

# Frame types and flags (RFC 9113 §6).
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, \
    WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20

# Settings identifiers.
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE, \
    MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE = range(1, 7)

ERROR_NAMES = {
    0x0: "NO_ERROR", 0x1: "PROTOCOL_ERROR", 0x2: "INTERNAL_ERROR", 0x3: "FLOW_CONTROL_ERROR",
    0x4: "SETTINGS_TIMEOUT", 0x5: "STREAM_CLOSED", 0x6: "FRAME_SIZE_ERROR",
    0x7: "REFUSED_STREAM", 0x8: "CANCEL", 0x9: "COMPRESSION_ERROR", 0xa: "CONNECT_ERROR",
    0xb: "ENHANCE_YOUR_CALM", 0xc: "INADEQUATE_SECURITY", 0xd: "HTTP_1_1_REQUIRED",
}
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, \
    STREAM_CLOSED, FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, COMPRESSION_ERROR = range(10)
ENHANCE_YOUR_CALM = 0xb

_HUFFMAN = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH)


def error_name(code):
    return ERROR_NAMES.get(code, "0x%x" % code)


def raw_frame(ftype, flags, stream_id, payload=b"", length=None):
    """Serialize a frame header + payload by hand; `length` may lie on purpose."""
    n = len(payload) if length is None else length
    return struct.pack(">I", n)[1:] + struct.pack(">BBI", ftype, flags, stream_id) + payload


def settings_payload(pairs):
    return b"".join(struct.pack(">HI", k, v) for k, v in pairs)


def hpack_int(value, prefix_bits, first_byte_flags=0):
    """RFC 7541 §5.1 integer with an N-bit prefix."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte_flags | value])
    out = [first_byte_flags | limit]
    value -= limit
    while value >= 128:
        out.append((value & 0x7f) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_string(text, huffman=False):
    data = text.encode() if isinstance(text, str) else text
    if huffman:
        data = _HUFFMAN.encode(data)
        return hpack_int(len(data), 7, 0x80) + data
    return hpack_int(len(data), 7) + data


def literal(name, value, kind="without", huffman=False, name_index=None):
    """A literal header field: kind is 'incremental', 'without' or 'never' (RFC 7541 §6.2)."""
    prefix, flags = {"incremental": (6, 0x40), "without": (4, 0x00), "never": (4, 0x10)}[kind]
    if name_index is not None:
        return hpack_int(name_index, prefix, flags) + hpack_string(value, huffman)
    return bytes([flags]) + hpack_string(name, huffman) + hpack_string(value, huffman)


class Event:
    """What one read produced: a frame, or closed / timeout / error."""

    def __init__(self, kind, frame=None, ftype=None, flags=0, stream_id=0, length=0, detail=""):
        self.kind, self.frame, self.ftype = kind, frame, ftype
        self.flags, self.stream_id, self.length, self.detail = flags, stream_id, length, detail

    @property
    def error_code(self):
        return getattr(self.frame, "error_code", None)

    def __str__(self):
        if self.kind != "frame":
            return self.kind + (" (%s)" % self.detail if self.detail else "")
        names = {DATA: "DATA", HEADERS: "HEADERS", PRIORITY: "PRIORITY", RST_STREAM: "RST_STREAM",
                 SETTINGS: "SETTINGS", PUSH_PROMISE: "PUSH_PROMISE", PING: "PING",
                 GOAWAY: "GOAWAY", WINDOW_UPDATE: "WINDOW_UPDATE",
                 CONTINUATION: "CONTINUATION"}
        text = "%s(len=%d flags=0x%x stream=%d" % (names.get(self.ftype, "type%d" % self.ftype),
                                                   self.length, self.flags, self.stream_id)
        if self.ftype in (GOAWAY, RST_STREAM) and self.error_code is not None:
            text += " " + error_name(self.error_code)
        return text + ")"


class Conn:
    def __init__(self, host, port, tls=False, timeout=2.0, authority=None, verbose=False,
                 auto_window=True):
        self.host, self.port, self.tls, self.timeout = host, port, tls, timeout
        self.verbose, self.auto_window = verbose, auto_window
        self.closed = False
        self.send_blocked = False
        self.server_settings = {}
        self.encoder = hpack.Encoder()
        self.buf = bytearray()
        self.windows = {0: DEFAULT_WINDOW}
        self.authority = authority or "%s:%d" % (host, port)
        self.scheme = "https" if tls else "http"
        raw = socket.create_connection((host, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
            raw = ctx.wrap_socket(raw, server_hostname=host)
            if raw.selected_alpn_protocol() != "h2":
                raw.close()
                raise ConnectionError("ALPN did not select h2")
        self.sock = raw

    # ---- writing -------------------------------------------------------------------
    def send(self, data):
        """Write bytes; a peer that already closed is seen by the next read, not here.
        A write that cannot finish within the timeout (the peer stopped reading) sets
        `send_blocked` and returns False."""
        try:
            self.sock.settimeout(self.timeout)
            self.sock.sendall(data)
            return True
        except (socket.timeout, TimeoutError):
            self.send_blocked = True
            return False
        except (OSError, ssl.SSLError):
            return False

    def send_frame(self, frame):
        if self.verbose:
            print("     <- %r" % (frame,))
        return self.send(frame.serialize())

    def encode(self, headers):
        return self.encoder.encode(headers)

    def common_headers(self, method="GET", path="/"):
        return [(":method", method), (":scheme", self.scheme), (":path", path),
                (":authority", self.authority)]

    def headers(self, stream_id, block, end_stream=True, end_headers=True, priority=None,
                pad=None):
        f = hf.HeadersFrame(stream_id, data=block)
        if end_stream:
            f.flags.add("END_STREAM")
        if end_headers:
            f.flags.add("END_HEADERS")
        if priority is not None:
            dep, weight, exclusive = priority
            f.flags.add("PRIORITY")
            f.depends_on, f.stream_weight, f.exclusive = dep, weight, exclusive
        if pad is not None:
            f.flags.add("PADDED")
            f.pad_length = pad
        return self.send_frame(f)

    def request(self, stream_id, method="GET", path="/", end_stream=True, extra=()):
        block = self.encode(self.common_headers(method, path) + list(extra))
        return self.headers(stream_id, block, end_stream=end_stream)

    def data(self, stream_id, payload, end_stream=True, pad=None):
        f = hf.DataFrame(stream_id, data=payload)
        if end_stream:
            f.flags.add("END_STREAM")
        if pad is not None:
            f.flags.add("PADDED")
            f.pad_length = pad
        return self.send_frame(f)

    def continuation(self, stream_id, block, end_headers=True):
        return self.send(raw_frame(CONTINUATION, END_HEADERS if end_headers else 0,
                                   stream_id, block))

    def settings(self, pairs=(), ack=False):
        return self.send(raw_frame(SETTINGS, ACK if ack else 0, 0, settings_payload(pairs)))

    def ping(self, data=b"h2spec\x00\x00", ack=False):
        return self.send(raw_frame(PING, ACK if ack else 0, 0, data))

    def priority(self, stream_id, dep=0, weight=15, exclusive=False):
        word = dep | (0x80000000 if exclusive else 0)
        return self.send(raw_frame(PRIORITY, 0, stream_id, struct.pack(">IB", word, weight)))

    def rst(self, stream_id, code=CANCEL):
        return self.send(raw_frame(RST_STREAM, 0, stream_id, struct.pack(">I", code)))

    def window_update(self, stream_id, increment):
        return self.send(raw_frame(WINDOW_UPDATE, 0, stream_id, struct.pack(">I", increment)))

    def goaway(self, last_stream=0, code=NO_ERROR, debug=b"", stream_id=0):
        return self.send(raw_frame(GOAWAY, 0, stream_id,
                                   struct.pack(">II", last_stream, code) + debug))

    # ---- reading -------------------------------------------------------------------
    def _fill(self, need, deadline):
        while len(self.buf) < need:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, TimeoutError):
                return "timeout"
            except ssl.SSLError as e:
                self.closed = True
                return "closed:%s" % e.__class__.__name__
            except OSError as e:
                self.closed = True
                return "closed:%s" % e.__class__.__name__
            if not chunk:
                self.closed = True
                return "closed"
            self.buf += chunk
        return None

    def read_event(self, timeout=None):
        """One frame, or a closed/timeout event, within `timeout` seconds."""
        if self.closed:
            return Event("closed")
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        status = self._fill(9, deadline)
        if status is None:
            length = int.from_bytes(self.buf[0:3], "big")
            status = self._fill(9 + length, deadline)
        if status is not None:
            kind = "timeout" if status == "timeout" else "closed"
            detail = status.split(":", 1)[1] if ":" in status else ""
            ev = Event(kind, detail=detail)
            if self.verbose:
                print("     -> %s" % ev)
            return ev
        head = bytes(self.buf[:9])
        body = bytes(self.buf[9:9 + length])
        del self.buf[:9 + length]
        ftype, flags = head[3], head[4]
        stream_id = int.from_bytes(head[5:9], "big") & 0x7fffffff
        try:
            frame, _ = hf.Frame.parse_frame_header(memoryview(head))
            frame.parse_body(memoryview(body))
        except Exception as e:  # a server frame hyperframe cannot parse: keep the header
            frame = None
            if self.verbose:
                print("     -> unparsable frame type %d: %s" % (ftype, e))
        ev = Event("frame", frame, ftype, flags, stream_id, length)
        if self.verbose:
            print("     -> %s" % ev)
        if ftype == DATA:
            self._account(stream_id, length)
        return ev

    def _account(self, stream_id, length):
        """Re-open windows as h2spec does, so a long response never stalls a case."""
        if not self.auto_window or length == 0:
            return
        for sid in (stream_id, 0):
            self.windows.setdefault(sid, DEFAULT_WINDOW)
            self.windows[sid] -= length
            if self.windows[sid] <= 0:
                incr = DEFAULT_WINDOW - self.windows[sid]
                self.window_update(sid, incr)
                self.windows[sid] += incr

    def handshake(self, extra_settings=()):
        """Preface + SETTINGS; wait for the server's SETTINGS and the ACK of ours."""
        self.send(PREFACE)
        self.settings([(INITIAL_WINDOW_SIZE, DEFAULT_WINDOW)] + list(extra_settings))
        local = remote = False
        deadline = time.monotonic() + self.timeout
        while not (local and remote):
            ev = self.read_event(max(0.0, deadline - time.monotonic()))
            if ev.kind != "frame":
                raise ConnectionError("handshake: %s" % ev)
            if ev.ftype != SETTINGS:
                continue
            if ev.flags & ACK:
                local = True
            else:
                remote = True
                self.server_settings.update(dict(ev.frame.settings) if ev.frame else {})
                self.settings(ack=True)

    def max_frame_size(self):
        return self.server_settings.get(MAX_FRAME_SIZE, 16384)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
