"""h2spec 'http2' cases for RFC 9113 §6: the rules of each frame type, SETTINGS
parameters and synchronization, and flow control (§6.9.x). Numbering follows h2spec's
http2/6_*.go; the code is ours.
"""
import struct

from h2conn import (ACK, CANCEL, CONTINUATION, DATA, ENABLE_PUSH,
                    END_HEADERS, END_STREAM, FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR, GOAWAY,
                    HEADERS, INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, PADDED, PING, PRIORITY,
                    PROTOCOL_ERROR, RST_STREAM, SETTINGS, STREAM_CLOSED, WINDOW_UPDATE,
                    raw_frame, settings_payload)
from spec import (case, data_of_length, headers_frame, ping_ack, settings_ack, wait_frame)
from cases_http2_streams import conn_err, strm_err, dummy


# ---- 6.1 DATA -----------------------------------------------------------------------
@case("http2", "6.1", 1, "Sends a DATA frame with 0x0 stream identifier")
def h6_1_1(ctx, conn):
    conn.send(raw_frame(DATA, END_STREAM, 0, b"test"))
    return conn_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "6.1", 2,
      "Sends a DATA frame on the stream that is not in \"open\" or \"half-closed (local)\" state")
def h6_1_2(ctx, conn):
    conn.request(1, "POST", ctx.path)
    conn.data(1, b"test")
    return strm_err(ctx, conn, STREAM_CLOSED)


@case("http2", "6.1", 3, "Sends a DATA frame with invalid pad length")
def h6_1_3(ctx, conn):
    conn.request(1, "POST", ctx.path, end_stream=False, extra=[("content-length", "4")])
    # Length 5: a pad length of 6, then "Test"; the padding is longer than the payload.
    conn.send(raw_frame(DATA, END_STREAM | PADDED, 1, b"\x06Test"))
    return conn_err(ctx, conn, PROTOCOL_ERROR)


# ---- 6.2 HEADERS --------------------------------------------------------------------
@case("http2", "6.2", 1, "Sends a HEADERS frame without the END_HEADERS flag, and a PRIORITY frame")
def h6_2_1(ctx, conn):
    conn.headers(1, conn.encode(conn.common_headers(path=ctx.path)), end_stream=False,
                 end_headers=False)
    conn.priority(1, 0, 255)
    conn.continuation(1, conn.encode(dummy(ctx)))
    return conn_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "6.2", 2, "Sends a HEADERS frame to another stream while sending a HEADERS frame")
def h6_2_2(ctx, conn):
    conn.headers(1, conn.encode(conn.common_headers(path=ctx.path)), end_stream=False,
                 end_headers=False)
    conn.headers(3, conn.encode(conn.common_headers(path=ctx.path)))
    conn.continuation(1, conn.encode(dummy(ctx)))
    return conn_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "6.2", 3, "Sends a HEADERS frame with 0x0 stream identifier")
def h6_2_3(ctx, conn):
    conn.send(raw_frame(HEADERS, END_STREAM | END_HEADERS, 0,
                        conn.encode(conn.common_headers(path=ctx.path))))
    return conn_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "6.2", 4, "Sends a HEADERS frame with invalid pad length")
def h6_2_4(ctx, conn):
    block = conn.encode(conn.common_headers(path=ctx.path))
    payload = bytes([len(block) + 2]) + block  # pad length exceeds what remains
    conn.send(raw_frame(HEADERS, END_STREAM | END_HEADERS | PADDED, 1, payload))
    return strm_err(ctx, conn, PROTOCOL_ERROR)


# ---- 6.3 PRIORITY -------------------------------------------------------------------
@case("http2", "6.3", 1, "Sends a PRIORITY frame with 0x0 stream identifier")
def h6_3_1(ctx, conn):
    conn.priority(0, 0, 255)
    return conn_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "6.3", 2, "Sends a PRIORITY frame with a length other than 5 octets")
def h6_3_2(ctx, conn):
    conn.request(1, path=ctx.path)
    conn.send(raw_frame(PRIORITY, 0, 1, b"\x80\x00\x00\x01"))
    return strm_err(ctx, conn, FRAME_SIZE_ERROR)


@case("http2", "6.3", 3,
      "Sends a PRIORITY frame for an idle stream, then send a HEADER frame for a lower stream ID",
      optional=True)
def h6_3_3(ctx, conn):
    conn.priority(3, 0, 255)
    conn.request(1, path=ctx.path)
    return headers_frame(conn, 1)


# ---- 6.4 RST_STREAM -----------------------------------------------------------------
@case("http2", "6.4", 1, "Sends a RST_STREAM frame with 0x0 stream identifier")
def h6_4_1(ctx, conn):
    conn.rst(0, CANCEL)
    return conn_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "6.4", 2, "Sends a RST_STREAM frame on a idle stream")
def h6_4_2(ctx, conn):
    conn.rst(1, CANCEL)
    return conn_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "6.4", 3, "Sends a RST_STREAM frame with a length other than 4 octets")
def h6_4_3(ctx, conn):
    conn.request(1, path=ctx.path)
    conn.send(raw_frame(RST_STREAM, 0, 1, b"\x00\x00\x00"))
    return strm_err(ctx, conn, FRAME_SIZE_ERROR)


# ---- 6.5 SETTINGS -------------------------------------------------------------------
@case("http2", "6.5", 1, "Sends a SETTINGS frame with ACK flag and payload")
def h6_5_1(ctx, conn):
    conn.send(raw_frame(SETTINGS, ACK, 0, b"\x00"))
    return conn_err(ctx, conn, FRAME_SIZE_ERROR)


@case("http2", "6.5", 2, "Sends a SETTINGS frame with a stream identifier other than 0x0")
def h6_5_2(ctx, conn):
    conn.send(raw_frame(SETTINGS, 0, 1, settings_payload([(3, 100)])))
    return conn_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "6.5", 3, "Sends a SETTINGS frame with a length other than a multiple of 6 octets")
def h6_5_3(ctx, conn):
    conn.send(raw_frame(SETTINGS, 0, 0, settings_payload([(3, 100)]) + b"\x00\x02"))
    return strm_err(ctx, conn, PROTOCOL_ERROR, FRAME_SIZE_ERROR)


# ---- 6.5.2 Defined SETTINGS Parameters ----------------------------------------------
@case("http2", "6.5.2", 1, "SETTINGS_ENABLE_PUSH (0x2): Sends the value other than 0 or 1")
def h6_5_2_1(ctx, conn):
    conn.settings([(ENABLE_PUSH, 2)])
    return conn_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "6.5.2", 2, "SETTINGS_INITIAL_WINDOW_SIZE (0x4): Sends the value above the "
      "maximum flow control window size")
def h6_5_2_2(ctx, conn):
    conn.settings([(INITIAL_WINDOW_SIZE, 2147483648)])
    return conn_err(ctx, conn, FLOW_CONTROL_ERROR)


@case("http2", "6.5.2", 3, "SETTINGS_MAX_FRAME_SIZE (0x5): Sends the value below the initial value")
def h6_5_2_3(ctx, conn):
    conn.settings([(MAX_FRAME_SIZE, 16383)])
    return conn_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "6.5.2", 4,
      "SETTINGS_MAX_FRAME_SIZE (0x5): Sends the value above the maximum allowed frame size")
def h6_5_2_4(ctx, conn):
    conn.settings([(MAX_FRAME_SIZE, 16777216)])
    return conn_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "6.5.2", 5, "Sends a SETTINGS frame with unknown identifier")
def h6_5_2_5(ctx, conn):
    conn.settings([(0xff, 1)])
    return ping_ack(conn)


# ---- 6.5.3 Settings Synchronization -------------------------------------------------
@case("http2", "6.5.3", 1, "Sends multiple values of SETTINGS_INITIAL_WINDOW_SIZE")
def h6_5_3_1(ctx, conn):
    ctx.data_length_or_skip(1)
    conn.settings([(INITIAL_WINDOW_SIZE, 100), (INITIAL_WINDOW_SIZE, 1)])
    ok, why = settings_ack(conn)
    if not ok:
        return ok, why
    conn.request(1, path=ctx.path)
    return data_of_length(conn, 1, 1)


@case("http2", "6.5.3", 2, "Sends a SETTINGS frame without ACK flag")
def h6_5_3_2(ctx, conn):
    conn.settings([(ENABLE_PUSH, 0)])
    return settings_ack(conn)


# ---- 6.7 PING -----------------------------------------------------------------------
@case("http2", "6.7", 1, "Sends a PING frame")
def h6_7_1(ctx, conn):
    return ping_ack(conn, b"h2spec\x00\x00")


@case("http2", "6.7", 2, "Sends a PING frame with ACK")
def h6_7_2(ctx, conn):
    conn.ping(b"invalid\x00", ack=True)
    conn.ping(b"h2spec\x00\x00")
    ev, seen = wait_frame(conn, PING, lambda e: e.frame is not None)
    if ev is None:
        return False, "expected PING ACK, got %s" % seen
    if ev.frame.opaque_data == b"invalid\x00":
        return False, "the server answered a PING that carried ACK"
    return (True, "only our PING was answered") if ev.flags & ACK else (False, str(ev))


@case("http2", "6.7", 3, "Sends a PING frame with a stream identifier field value other than 0x0")
def h6_7_3(ctx, conn):
    conn.send(raw_frame(PING, 0, 1, b"\x00" * 8))
    return conn_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "6.7", 4, "Sends a PING frame with a length field value other than 8")
def h6_7_4(ctx, conn):
    conn.send(raw_frame(PING, 0, 0, b"\x00" * 6))
    return conn_err(ctx, conn, FRAME_SIZE_ERROR)


# ---- 6.8 GOAWAY ---------------------------------------------------------------------
@case("http2", "6.8", 1, "Sends a GOAWAY frame with a stream identifier other than 0x0")
def h6_8_1(ctx, conn):
    conn.send(raw_frame(GOAWAY, 0, 1, struct.pack(">II", 0, 0)))
    return conn_err(ctx, conn, PROTOCOL_ERROR)


# ---- 6.9 WINDOW_UPDATE --------------------------------------------------------------
@case("http2", "6.9", 1, "Sends a WINDOW_UPDATE frame with a flow control window increment of 0")
def h6_9_1(ctx, conn):
    conn.window_update(0, 0)
    return conn_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "6.9", 2,
      "Sends a WINDOW_UPDATE frame with a flow control window increment of 0 on a stream")
def h6_9_2(ctx, conn):
    conn.request(1, path=ctx.path, end_stream=False)
    conn.window_update(1, 0)
    return strm_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "6.9", 3, "Sends a WINDOW_UPDATE frame with a length other than 4 octets")
def h6_9_3(ctx, conn):
    conn.send(raw_frame(WINDOW_UPDATE, 0, 0, b"\x00\x00\x01"))
    return conn_err(ctx, conn, FRAME_SIZE_ERROR)


# ---- 6.9.1 The Flow-Control Window --------------------------------------------------
@case("http2", "6.9.1", 1,
      "Sends SETTINGS frame to set the initial window size to 1 and sends HEADERS frame")
def h6_9_1_1(ctx, conn):
    ctx.data_length_or_skip(1)
    conn.settings([(INITIAL_WINDOW_SIZE, 1)])
    ok, why = settings_ack(conn)
    if not ok:
        return ok, why
    conn.request(1, path=ctx.path)
    return data_of_length(conn, 1, 1)


@case("http2", "6.9.1", 2,
      "Sends multiple WINDOW_UPDATE frames increasing the flow control window to above 2^31-1")
def h6_9_1_2(ctx, conn):
    conn.window_update(0, 2147483647)
    conn.window_update(0, 2147483647)
    ev, seen = wait_frame(conn, GOAWAY)
    if ev is None:
        return False, "expected GOAWAY FLOW_CONTROL_ERROR, got %s" % seen
    ok = ev.error_code == FLOW_CONTROL_ERROR
    return ok, str(ev)


@case("http2", "6.9.1", 3, "Sends multiple WINDOW_UPDATE frames increasing the flow control "
      "window to above 2^31-1 on a stream")
def h6_9_1_3(ctx, conn):
    conn.request(1, path=ctx.path, end_stream=False)
    conn.window_update(1, 2147483647)
    conn.window_update(1, 2147483647)
    ev, seen = wait_frame(conn, RST_STREAM, lambda e: e.stream_id == 1)
    if ev is None:
        return False, "expected RST_STREAM FLOW_CONTROL_ERROR, got %s" % seen
    return ev.error_code == FLOW_CONTROL_ERROR, str(ev)


# ---- 6.9.2 Initial Flow-Control Window Size -----------------------------------------
@case("http2", "6.9.2", 1, "Changes SETTINGS_INITIAL_WINDOW_SIZE after sending HEADERS frame")
def h6_9_2_1(ctx, conn):
    ctx.data_length_or_skip(1)
    conn.settings([(INITIAL_WINDOW_SIZE, 0)])
    ok, why = settings_ack(conn)
    if not ok:
        return ok, why
    conn.request(1, path=ctx.path)
    conn.settings([(INITIAL_WINDOW_SIZE, 1)])
    ok, why = settings_ack(conn)
    if not ok:
        return ok, why
    return data_of_length(conn, 1, 1)


@case("http2", "6.9.2", 2, "Sends a SETTINGS frame for window size to be negative")
def h6_9_2_2(ctx, conn):
    ctx.data_length_or_skip(5)
    conn.settings([(INITIAL_WINDOW_SIZE, 3)])
    ok, why = settings_ack(conn)
    if not ok:
        return ok, why
    conn.request(1, path=ctx.path)
    ev, seen = wait_frame(conn, DATA, lambda e: e.stream_id == 1)
    if ev is None:
        return False, "expected DATA, got %s" % seen
    conn.settings([(INITIAL_WINDOW_SIZE, 2)])  # window: 3 - 3 + (2 - 3) = -1
    ok, why = settings_ack(conn)
    if not ok:
        return ok, why
    conn.window_update(1, 2)  # window: +1
    return data_of_length(conn, 1, 1)


@case("http2", "6.9.2", 3, "Sends a SETTINGS_INITIAL_WINDOW_SIZE settings with an exceeded "
      "maximum window size value")
def h6_9_2_3(ctx, conn):
    conn.send(raw_frame(SETTINGS, 0, 0, b"\x00\x04\x80\x00\x00\x00"))
    return conn_err(ctx, conn, FLOW_CONTROL_ERROR)


# ---- 6.10 CONTINUATION --------------------------------------------------------------
@case("http2", "6.10", 1, "Sends multiple CONTINUATION frames preceded by a HEADERS frame")
def h6_10_1(ctx, conn):
    conn.headers(1, conn.encode(conn.common_headers(path=ctx.path)), end_headers=False)
    conn.continuation(1, conn.encode(dummy(ctx)), end_headers=False)
    conn.continuation(1, conn.encode(dummy(ctx, 1, 1)))
    return headers_frame(conn, 1)


@case("http2", "6.10", 2, "Sends a CONTINUATION frame followed by any frame other than CONTINUATION")
def h6_10_2(ctx, conn):
    conn.headers(1, conn.encode(conn.common_headers("POST", ctx.path)), end_stream=False,
                 end_headers=False)
    conn.continuation(1, conn.encode(dummy(ctx)), end_headers=False)
    conn.send(raw_frame(DATA, END_STREAM, 1, b"test"))
    return conn_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "6.10", 3, "Sends a CONTINUATION frame with 0x0 stream identifier")
def h6_10_3(ctx, conn):
    conn.headers(1, conn.encode(conn.common_headers(path=ctx.path)), end_headers=False)
    conn.continuation(0, conn.encode(dummy(ctx)))
    return conn_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "6.10", 4,
      "Sends a CONTINUATION frame preceded by a HEADERS frame with END_HEADERS flag")
def h6_10_4(ctx, conn):
    conn.request(1, path=ctx.path)
    conn.continuation(1, conn.encode(dummy(ctx)))
    return conn_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "6.10", 5,
      "Sends a CONTINUATION frame preceded by a CONTINUATION frame with END_HEADERS flag")
def h6_10_5(ctx, conn):
    conn.headers(1, conn.encode(conn.common_headers(path=ctx.path)), end_headers=False)
    conn.continuation(1, conn.encode(dummy(ctx)))
    conn.continuation(1, conn.encode(dummy(ctx, 1, 1)))
    return conn_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "6.10", 6, "Sends a CONTINUATION frame preceded by a DATA frame")
def h6_10_6(ctx, conn):
    conn.request(1, "POST", ctx.path, end_stream=False)
    conn.data(1, b"test")
    conn.send(raw_frame(CONTINUATION, 0, 1, conn.encode(dummy(ctx))))
    return conn_err(ctx, conn, PROTOCOL_ERROR)
