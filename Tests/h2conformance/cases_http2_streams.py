"""h2spec 'http2' cases for RFC 9113 §3.5–§5.5: preface, frame format and size, header
compression state, stream states and identifiers, concurrency, priority, error handling,
extensions. Numbering and expectations follow h2spec's http2/*.go; the code is ours.
"""
from h2conn import (CANCEL, COMPRESSION_ERROR, DATA, FRAME_SIZE_ERROR, HEADERS,
                    INITIAL_WINDOW_SIZE, MAX_CONCURRENT_STREAMS, PING, PROTOCOL_ERROR,
                    REFUSED_STREAM, SETTINGS, STREAM_CLOSED, ACK, END_HEADERS, END_STREAM,
                    PREFACE, raw_frame)
from spec import (Skip, case, connection_close, connection_error, headers_frame, ping_ack,
                  stream_ended, stream_error, wait_frame)


def conn_err(ctx, conn, *codes):
    return connection_error(conn, *codes, strict=ctx.strict)


def strm_err(ctx, conn, *codes):
    return stream_error(conn, *codes, strict=ctx.strict)


def dummy(ctx, n=1, start=0):
    return [("x-dummy%d" % i, "x" * ctx.max_header_len) for i in range(start, start + n)]


# ---- 3.5 HTTP/2 Connection Preface --------------------------------------------------
@case("http2", "3.5", 1, "Sends client connection preface", handshake=False)
def h3_5_1(ctx, conn):
    conn.send(PREFACE)
    conn.settings([(INITIAL_WINDOW_SIZE, 65535)])
    ev, seen = wait_frame(conn, SETTINGS, lambda e: not e.flags & ACK)
    return (True, "server SETTINGS") if ev else (False, "expected SETTINGS, got %s" % seen)


@case("http2", "3.5", 2, "Sends invalid connection preface", handshake=False)
def h3_5_2(ctx, conn):
    conn.send(b"INVALID CONNECTION PREFACE\r\n\r\n")
    return connection_close(conn)


# ---- 4.1 Frame Format ---------------------------------------------------------------
@case("http2", "4.1", 1, "Sends a frame with unknown type")
def h4_1_1(ctx, conn):
    conn.send(raw_frame(0x16, 0, 0, b"x" * 8))
    return ping_ack(conn)


@case("http2", "4.1", 2, "Sends a frame with undefined flag")
def h4_1_2(ctx, conn):
    conn.send(raw_frame(PING, 0x16, 0, b"unknown\x00"))
    return ping_ack(conn, b"unknown\x00", send=False)


@case("http2", "4.1", 3, "Sends a frame with reserved field bit")
def h4_1_3(ctx, conn):
    conn.send(raw_frame(PING, 0, 0x80000000, b"reserved"))
    return ping_ack(conn, b"reserved", send=False)


# ---- 4.2 Frame Size -----------------------------------------------------------------
@case("http2", "4.2", 1, "Sends a DATA frame with 2^14 octets in length")
def h4_2_1(ctx, conn):
    conn.request(1, "POST", ctx.path, end_stream=False)
    conn.data(1, b"x" * min(conn.max_frame_size(), 16384))
    return headers_frame(conn, 1)


@case("http2", "4.2", 2, "Sends a large size DATA frame that exceeds the SETTINGS_MAX_FRAME_SIZE")
def h4_2_2(ctx, conn):
    size = conn.max_frame_size() + 1
    if size > (1 << 24) - 1:
        raise Skip("server's SETTINGS_MAX_FRAME_SIZE is the protocol maximum")
    conn.request(1, "POST", ctx.path, end_stream=False)
    conn.send(raw_frame(DATA, END_STREAM, 1, b"x" * size))
    return strm_err(ctx, conn, FRAME_SIZE_ERROR)


@case("http2", "4.2", 3,
      "Sends a large size HEADERS frame that exceeds the SETTINGS_MAX_FRAME_SIZE")
def h4_2_3(ctx, conn):
    limit = conn.max_frame_size()
    if limit + 1 > (1 << 24) - 1:
        raise Skip("server's SETTINGS_MAX_FRAME_SIZE is the protocol maximum")
    count = max(5, limit // ctx.max_header_len + 1)
    block = conn.encode(conn.common_headers(path=ctx.path) + dummy(ctx, count))
    conn.send(raw_frame(HEADERS, END_STREAM | END_HEADERS, 1, block))
    return conn_err(ctx, conn, FRAME_SIZE_ERROR)


# ---- 4.3 Header Compression and Decompression ---------------------------------------
@case("http2", "4.3", 1, "Sends invalid header block fragment")
def h4_3_1(ctx, conn):
    # A literal with incremental indexing whose name and value are missing.
    conn.send(raw_frame(HEADERS, END_STREAM | END_HEADERS, 1, b"\x40"))
    return conn_err(ctx, conn, COMPRESSION_ERROR)


@case("http2", "4.3", 2, "Sends a PRIORITY frame while sending the header blocks")
def h4_3_2(ctx, conn):
    conn.headers(1, conn.encode(conn.common_headers(path=ctx.path)), end_headers=False)
    conn.priority(1, 0, 255)
    return conn_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "4.3", 3, "Sends a HEADERS frame to another stream while sending the header blocks")
def h4_3_3(ctx, conn):
    conn.headers(1, conn.encode(conn.common_headers(path=ctx.path)), end_headers=False)
    conn.headers(3, conn.encode(conn.common_headers(path=ctx.path)))
    return conn_err(ctx, conn, PROTOCOL_ERROR)


# ---- 5.1 Stream States --------------------------------------------------------------
@case("http2", "5.1", 1, "idle: Sends a DATA frame")
def h5_1_1(ctx, conn):
    conn.data(1, b"test")
    return conn_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "5.1", 2, "idle: Sends a RST_STREAM frame")
def h5_1_2(ctx, conn):
    conn.rst(1, CANCEL)
    return conn_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "5.1", 3, "idle: Sends a WINDOW_UPDATE frame")
def h5_1_3(ctx, conn):
    conn.window_update(1, 100)
    return conn_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "5.1", 4, "idle: Sends a CONTINUATION frame")
def h5_1_4(ctx, conn):
    conn.continuation(1, conn.encode(conn.common_headers(path=ctx.path)))
    return conn_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "5.1", 5, "half closed (remote): Sends a DATA frame")
def h5_1_5(ctx, conn):
    conn.request(1, path=ctx.path)
    conn.data(1, b"test")
    return strm_err(ctx, conn, STREAM_CLOSED)


@case("http2", "5.1", 6, "half closed (remote): Sends a HEADERS frame")
def h5_1_6(ctx, conn):
    conn.request(1, path=ctx.path)
    conn.request(1, path=ctx.path)
    return strm_err(ctx, conn, STREAM_CLOSED)


@case("http2", "5.1", 7, "half closed (remote): Sends a CONTINUATION frame")
def h5_1_7(ctx, conn):
    block = conn.encode(conn.common_headers(path=ctx.path))
    conn.headers(1, block)
    conn.continuation(1, block)
    return strm_err(ctx, conn, STREAM_CLOSED, PROTOCOL_ERROR)


@case("http2", "5.1", 8, "closed: Sends a DATA frame after sending RST_STREAM frame")
def h5_1_8(ctx, conn):
    conn.request(1, path=ctx.path, end_stream=False)
    conn.rst(1, CANCEL)
    conn.data(1, b"test")
    return strm_err(ctx, conn, STREAM_CLOSED)


@case("http2", "5.1", 9, "closed: Sends a HEADERS frame after sending RST_STREAM frame")
def h5_1_9(ctx, conn):
    conn.request(1, path=ctx.path, end_stream=False)
    conn.rst(1, CANCEL)
    conn.request(1, path=ctx.path)
    return strm_err(ctx, conn, STREAM_CLOSED)


@case("http2", "5.1", 10, "closed: Sends a CONTINUATION frame after sending RST_STREAM frame")
def h5_1_10(ctx, conn):
    conn.request(1, path=ctx.path, end_stream=False)
    conn.rst(1, CANCEL)
    conn.continuation(1, conn.encode(dummy(ctx)))
    return strm_err(ctx, conn, STREAM_CLOSED, PROTOCOL_ERROR)


def _after_response(ctx, conn):
    conn.request(1, path=ctx.path)
    return stream_ended(conn, 1)


@case("http2", "5.1", 11, "closed: Sends a DATA frame")
def h5_1_11(ctx, conn):
    ok, why = _after_response(ctx, conn)
    if not ok:
        return ok, why
    conn.data(1, b"test")
    return conn_err(ctx, conn, STREAM_CLOSED)


@case("http2", "5.1", 12, "closed: Sends a HEADERS frame")
def h5_1_12(ctx, conn):
    ok, why = _after_response(ctx, conn)
    if not ok:
        return ok, why
    conn.request(1, path=ctx.path)
    return conn_err(ctx, conn, STREAM_CLOSED)


@case("http2", "5.1", 13, "closed: Sends a CONTINUATION frame")
def h5_1_13(ctx, conn):
    ok, why = _after_response(ctx, conn)
    if not ok:
        return ok, why
    conn.continuation(1, conn.encode(dummy(ctx)))
    return conn_err(ctx, conn, STREAM_CLOSED, PROTOCOL_ERROR)


# ---- 5.1.1 Stream Identifiers -------------------------------------------------------
@case("http2", "5.1.1", 1, "Sends even-numbered stream identifier")
def h5_1_1_1(ctx, conn):
    conn.request(2, path=ctx.path)
    return conn_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "5.1.1", 2, "Sends stream identifier that is numerically smaller than previous")
def h5_1_1_2(ctx, conn):
    conn.request(5, path=ctx.path)
    conn.request(3, path=ctx.path)
    return conn_err(ctx, conn, PROTOCOL_ERROR)


# ---- 5.1.2 Stream Concurrency -------------------------------------------------------
@case("http2", "5.1.2", 1,
      "Sends HEADERS frames that causes their advertised concurrent stream limit to be exceeded")
def h5_1_2_1(ctx, conn):
    limit = conn.server_settings.get(MAX_CONCURRENT_STREAMS)
    if limit is None:
        raise Skip("server advertises no SETTINGS_MAX_CONCURRENT_STREAMS")
    if limit > 1000:
        raise Skip("SETTINGS_MAX_CONCURRENT_STREAMS %d is too large to exceed here" % limit)
    conn.settings([(INITIAL_WINDOW_SIZE, 0)])
    block = conn.encode(conn.common_headers(path=ctx.path))
    frames = b"".join(raw_frame(HEADERS, END_STREAM | END_HEADERS, 1 + 2 * i, block)
                      for i in range(limit + 1))
    conn.send(frames)
    return strm_err(ctx, conn, PROTOCOL_ERROR, REFUSED_STREAM)


# ---- 5.3.1 Stream Dependencies ------------------------------------------------------
@case("http2", "5.3.1", 1, "Sends HEADERS frame that depends on itself")
def h5_3_1_1(ctx, conn):
    conn.headers(1, conn.encode(conn.common_headers(path=ctx.path)), priority=(1, 255, False))
    return strm_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "5.3.1", 2, "Sends PRIORITY frame that depend on itself")
def h5_3_1_2(ctx, conn):
    conn.priority(2, 2, 255)
    return strm_err(ctx, conn, PROTOCOL_ERROR)


# ---- 5.4.1 Connection Error Handling ------------------------------------------------
@case("http2", "5.4.1", 1, "Sends an invalid PING frame for connection close")
def h5_4_1_1(ctx, conn):
    conn.send(raw_frame(PING, 0, 3, b"\x00" * 8))
    return connection_close(conn)


@case("http2", "5.4.1", 2, "Sends an invalid PING frame to receive GOAWAY frame", optional=True)
def h5_4_1_2(ctx, conn):
    conn.send(raw_frame(PING, 0, 3, b"\x00" * 8))
    ev, seen = wait_frame(conn, 7)  # GOAWAY
    return (True, "GOAWAY") if ev else (False, "expected GOAWAY before close, got %s" % seen)


# ---- 5.5 Extending HTTP/2 -----------------------------------------------------------
@case("http2", "5.5", 1, "Sends an unknown extension frame")
def h5_5_1(ctx, conn):
    conn.send(raw_frame(0xff, 0, 0, b"\x00" * 8))
    return ping_ack(conn)


@case("http2", "5.5", 2, "Sends an unknown extension frame in the middle of a header block")
def h5_5_2(ctx, conn):
    conn.headers(1, conn.encode(conn.common_headers(path=ctx.path)), end_headers=False)
    conn.send(raw_frame(0xff, 0, 1, b"\x00" * 8))
    conn.continuation(1, conn.encode(dummy(ctx)))
    return conn_err(ctx, conn, PROTOCOL_ERROR)

