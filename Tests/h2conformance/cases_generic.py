"""h2spec 'generic' cases: a server accepts every well-formed frame and representation.

Numbering and descriptions follow h2spec's generic/*.go; the code is ours.
"""
from h2conn import (INITIAL_WINDOW_SIZE, HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS,
                    MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE, SETTINGS, ACK, CANCEL, NO_ERROR,
                    literal)
from spec import (case, headers_frame, ping_ack, ping_ack_or_close,
                  stream_ended, wait_frame)
import h2conn


@case("generic", "1", 1, "Sends a client connection preface", handshake=False)
def g1_1(ctx, conn):
    conn.send(h2conn.PREFACE)
    conn.settings([(INITIAL_WINDOW_SIZE, 65535)])
    ev, seen = wait_frame(conn, SETTINGS, lambda e: not e.flags & ACK)
    return (True, "server SETTINGS") if ev else (False, "expected SETTINGS, got %s" % seen)


# ---- 2. Streams and Multiplexing ----------------------------------------------------
@case("generic", "2", 1, "Sends a PRIORITY frame on idle stream")
def g2_1(ctx, conn):
    conn.priority(1, 0, 255)
    return ping_ack(conn)


def _half_closed_remote(ctx, conn):
    """Stream 1 half-closed (remote) and kept open: the server may not send DATA yet."""
    conn.settings([(INITIAL_WINDOW_SIZE, 0)])
    conn.request(1, path=ctx.path)


@case("generic", "2", 2, "Sends a WINDOW_UPDATE frame on half-closed (remote) stream")
def g2_2(ctx, conn):
    _half_closed_remote(ctx, conn)
    conn.window_update(1, 1)
    ev, seen = wait_frame(conn, h2conn.DATA)
    return (True, "DATA after WINDOW_UPDATE") if ev else (False, "expected DATA, got %s" % seen)


@case("generic", "2", 3, "Sends a PRIORITY frame on half-closed (remote) stream")
def g2_3(ctx, conn):
    _half_closed_remote(ctx, conn)
    conn.priority(1, 0, 255)
    conn.window_update(1, 1)
    ev, seen = wait_frame(conn, h2conn.DATA)
    return (True, "DATA after PRIORITY") if ev else (False, "expected DATA, got %s" % seen)


@case("generic", "2", 4, "Sends a RST_STREAM frame on half-closed (remote) stream")
def g2_4(ctx, conn):
    conn.request(1, path=ctx.path)
    conn.rst(1, CANCEL)
    return ping_ack_or_close(conn)


@case("generic", "2", 5, "Sends a PRIORITY frame on closed stream")
def g2_5(ctx, conn):
    conn.request(1, path=ctx.path)
    ok, why = stream_ended(conn, 1)
    if not ok:
        return ok, why
    conn.priority(1, 0, 255)
    return ping_ack(conn)


# ---- 3. Frame Definitions -----------------------------------------------------------
@case("generic", "3.1", 1, "Sends a DATA frame")
def g3_1_1(ctx, conn):
    conn.request(1, "POST", ctx.path, end_stream=False)
    conn.data(1, b"test")
    return headers_frame(conn, 1)


@case("generic", "3.1", 2, "Sends multiple DATA frames")
def g3_1_2(ctx, conn):
    conn.request(1, "POST", ctx.path, end_stream=False)
    conn.data(1, b"test", end_stream=False)
    conn.data(1, b"test")
    return headers_frame(conn, 1)


@case("generic", "3.1", 3, "Sends a DATA frame with padding")
def g3_1_3(ctx, conn):
    conn.request(1, "POST", ctx.path, end_stream=False)
    conn.data(1, b"test", pad=4)
    return headers_frame(conn, 1)


@case("generic", "3.2", 1, "Sends a HEADERS frame")
def g3_2_1(ctx, conn):
    conn.request(1, path=ctx.path)
    return headers_frame(conn, 1)


@case("generic", "3.2", 2, "Sends a HEADERS frame with padding")
def g3_2_2(ctx, conn):
    conn.headers(1, conn.encode(conn.common_headers(path=ctx.path)), pad=4)
    return headers_frame(conn, 1)


@case("generic", "3.2", 3, "Sends a HEADERS frame with priority")
def g3_2_3(ctx, conn):
    conn.headers(1, conn.encode(conn.common_headers(path=ctx.path)), priority=(0, 255, False))
    return headers_frame(conn, 1)


def _priority_then_request(ctx, conn, target, dep, weight, exclusive):
    conn.priority(target, dep, weight, exclusive)
    conn.request(1, path=ctx.path)
    return headers_frame(conn, 1)


@case("generic", "3.3", 1, "Sends a PRIORITY frame with priority 1")
def g3_3_1(ctx, conn):
    return _priority_then_request(ctx, conn, 1, 0, 0, False)


@case("generic", "3.3", 2, "Sends a PRIORITY frame with priority 256")
def g3_3_2(ctx, conn):
    return _priority_then_request(ctx, conn, 1, 0, 255, False)


@case("generic", "3.3", 3, "Sends a PRIORITY frame with stream dependency")
def g3_3_3(ctx, conn):
    return _priority_then_request(ctx, conn, 3, 1, 0, False)


@case("generic", "3.3", 4, "Sends a PRIORITY frame with exclusive")
def g3_3_4(ctx, conn):
    return _priority_then_request(ctx, conn, 1, 0, 0, True)


@case("generic", "3.3", 5,
      "Sends a PRIORITY frame for an idle stream, then send a HEADER frame for a lower stream ID")
def g3_3_5(ctx, conn):
    return _priority_then_request(ctx, conn, 3, 0, 255, False)


@case("generic", "3.4", 1, "Sends a RST_STREAM frame")
def g3_4_1(ctx, conn):
    conn.request(1, path=ctx.path, end_stream=False)
    conn.rst(1, CANCEL)
    return ping_ack(conn)


@case("generic", "3.5", 1, "Sends a SETTINGS frame")
def g3_5_1(ctx, conn):
    conn.settings([(HEADER_TABLE_SIZE, 4096), (ENABLE_PUSH, 1), (MAX_CONCURRENT_STREAMS, 100),
                   (INITIAL_WINDOW_SIZE, 65535), (MAX_FRAME_SIZE, 16384),
                   (MAX_HEADER_LIST_SIZE, 100)])
    ev, seen = wait_frame(conn, SETTINGS, lambda e: e.flags & ACK)
    return (True, "SETTINGS ACK") if ev else (False, "expected SETTINGS ACK, got %s" % seen)


@case("generic", "3.7", 1, "Sends a PING frame")
def g3_7_1(ctx, conn):
    return ping_ack(conn)


@case("generic", "3.8", 1, "Sends a GOAWAY frame")
def g3_8_1(ctx, conn):
    conn.goaway(0, NO_ERROR)
    return ping_ack_or_close(conn)


@case("generic", "3.9", 1, "Sends a WINDOW_UPDATE frame with stream ID 0")
def g3_9_1(ctx, conn):
    conn.window_update(0, 1)
    return ping_ack(conn)


@case("generic", "3.9", 2, "Sends a WINDOW_UPDATE frame with arbitrary stream ID")
def g3_9_2(ctx, conn):
    conn.request(1, "POST", ctx.path, end_stream=False)
    conn.window_update(1, 1)
    return ping_ack(conn)


@case("generic", "3.10", 1, "Sends a CONTINUATION frame")
def g3_10_1(ctx, conn):
    conn.headers(1, conn.encode(conn.common_headers(path=ctx.path)), end_headers=False)
    conn.continuation(1, conn.encode([("x-dummy0", "x" * ctx.max_header_len)]))
    return headers_frame(conn, 1)


@case("generic", "3.10", 2, "Sends multiple CONTINUATION frames")
def g3_10_2(ctx, conn):
    conn.headers(1, conn.encode(conn.common_headers(path=ctx.path)), end_headers=False)
    conn.continuation(1, conn.encode([("x-dummy0", "x" * ctx.max_header_len)]), False)
    conn.continuation(1, conn.encode([("x-dummy1", "x" * ctx.max_header_len)]))
    return headers_frame(conn, 1)


# ---- 4. HTTP Message Exchanges ------------------------------------------------------
@case("generic", "4", 1, "Sends a GET request")
def g4_1(ctx, conn):
    conn.request(1, "GET", ctx.path)
    return headers_frame(conn, 1)


@case("generic", "4", 2, "Sends a HEAD request")
def g4_2(ctx, conn):
    conn.request(1, "HEAD", ctx.path)
    return headers_frame(conn, 1)


@case("generic", "4", 3, "Sends a POST request")
def g4_3(ctx, conn):
    conn.request(1, "POST", ctx.path, end_stream=False)
    conn.data(1, b"test")
    return headers_frame(conn, 1)


@case("generic", "4", 4, "Sends a POST request with trailers")
def g4_4(ctx, conn):
    conn.request(1, "POST", ctx.path, end_stream=False, extra=[("trailer", "x-test")])
    conn.data(1, b"test", end_stream=False)
    conn.headers(1, conn.encode([("x-test", "ok")]))
    return headers_frame(conn, 1)


# ---- 5. HPACK -----------------------------------------------------------------------
# Each case appends one representation to an ordinary request's header block.
_REPRESENTATIONS = [
    ("Sends a indexed header field representation", b"\xba"),  # 58: user-agent (empty)
]
for _kind, _label in (("incremental", "with incremental indexing"),
                      ("without", "without indexing"), ("never", "never indexed")):
    _REPRESENTATIONS += [
        ("Sends a literal header field %s - indexed name" % _label,
         literal("", "h2spec", _kind, False, name_index=58)),
        ("Sends a literal header field %s - indexed name (with Huffman coding)" % _label,
         literal("", "h2spec", _kind, True, name_index=58)),
        ("Sends a literal header field %s - new name" % _label,
         literal("x-test", "h2spec", _kind, False)),
        ("Sends a literal header field %s - new name (with Huffman coding)" % _label,
         literal("x-test", "h2spec", _kind, True)),
    ]


def _representation_case(number, desc, rep):
    @case("generic", "5", number, desc)
    def run(ctx, conn):
        conn.headers(1, conn.encode(conn.common_headers(path=ctx.path)) + rep)
        return headers_frame(conn, 1)
    return run


for _i, (_desc, _rep) in enumerate(_REPRESENTATIONS, start=1):
    _representation_case(_i, _desc, _rep)


@case("generic", "5", 14, "Sends a dynamic table size update")
def g5_14(ctx, conn):
    conn.headers(1, b"\x20" + conn.encode(conn.common_headers(path=ctx.path)))
    return headers_frame(conn, 1)


@case("generic", "5", 15, "Sends multiple dynamic table size update")
def g5_15(ctx, conn):
    # Two updates at the start of a block: to 0, then back to 4096 (RFC 7541 §4.2).
    conn.headers(1, b"\x20" + h2conn.hpack_int(4096, 5, 0x20)
                 + conn.encode(conn.common_headers(path=ctx.path)))
    return headers_frame(conn, 1)

