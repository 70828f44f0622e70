"""h2spec 'http2' cases for RFC 9113 §7–§8 (error codes, request/response exchange,
header field rules, malformed messages, push) and the 'hpack' cases for RFC 7541.
Numbering follows h2spec's http2/7_*.go, 8_*.go and hpack/*.go; the code is ours.
"""
from h2conn import (COMPRESSION_ERROR, HEADER_TABLE_SIZE, PROTOCOL_ERROR, PUSH_PROMISE,
                    END_HEADERS, hpack_int, literal, raw_frame)
from spec import case, connection_error, ping_ack, ping_ack_or_close
from cases_http2_streams import conn_err, strm_err
import struct


# ---- 7 Error Codes ------------------------------------------------------------------
@case("http2", "7", 1, "Sends a GOAWAY frame with unknown error code")
def h7_1(ctx, conn):
    conn.goaway(0, 0xff)
    return ping_ack_or_close(conn)


@case("http2", "7", 2, "Sends a RST_STREAM frame with unknown error code")
def h7_2(ctx, conn):
    conn.request(1, "POST", ctx.path, end_stream=False)
    conn.rst(1, 0xff)
    return ping_ack(conn)


# ---- 8.1 HTTP Request/Response Exchange ---------------------------------------------
@case("http2", "8.1", 1, "Sends a second HEADERS frame without the END_STREAM flag")
def h8_1_1(ctx, conn):
    conn.request(1, "POST", ctx.path, end_stream=False)
    conn.data(1, b"test", end_stream=False)
    conn.headers(1, conn.encode([("x-test", "ok")]), end_stream=False)
    return strm_err(ctx, conn, PROTOCOL_ERROR)


def _bad_request(ctx, conn, headers, block=None):
    conn.headers(1, block if block is not None else conn.encode(headers))
    return strm_err(ctx, conn, PROTOCOL_ERROR)


# ---- 8.1.2 HTTP Header Fields -------------------------------------------------------
@case("http2", "8.1.2", 1,
      "Sends a HEADERS frame that contains the header field name in uppercase letters")
def h8_1_2_1(ctx, conn):
    return _bad_request(ctx, conn, conn.common_headers(path=ctx.path) + [("X-TEST", "ok")])


# ---- 8.1.2.1 Pseudo-Header Fields ---------------------------------------------------
@case("http2", "8.1.2.1", 1, "Sends a HEADERS frame that contains a unknown pseudo-header field")
def h8_1_2_1_1(ctx, conn):
    return _bad_request(ctx, conn, conn.common_headers(path=ctx.path) + [(":test", "ok")])


@case("http2", "8.1.2.1", 2,
      "Sends a HEADERS frame that contains the pseudo-header field defined for response")
def h8_1_2_1_2(ctx, conn):
    return _bad_request(ctx, conn, conn.common_headers(path=ctx.path) + [(":status", "200")])


@case("http2", "8.1.2.1", 3, "Sends a HEADERS frame that contains a pseudo-header field as trailers")
def h8_1_2_1_3(ctx, conn):
    conn.request(1, "POST", ctx.path, end_stream=False)
    conn.data(1, b"test", end_stream=False)
    conn.headers(1, conn.encode([(":method", "POST")]))
    return strm_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "8.1.2.1", 4, "Sends a HEADERS frame that contains a pseudo-header field that "
      "appears in a header block after a regular header field")
def h8_1_2_1_4(ctx, conn):
    return _bad_request(ctx, conn, [("x-test", "ok")] + conn.common_headers(path=ctx.path))


# ---- 8.1.2.2 Connection-Specific Header Fields --------------------------------------
@case("http2", "8.1.2.2", 1, "Sends a HEADERS frame that contains the connection-specific header field")
def h8_1_2_2_1(ctx, conn):
    return _bad_request(ctx, conn, conn.common_headers(path=ctx.path) + [("connection", "keep-alive")])


@case("http2", "8.1.2.2", 2,
      "Sends a HEADERS frame that contains the TE header field with any value other than \"trailers\"")
def h8_1_2_2_2(ctx, conn):
    return _bad_request(ctx, conn, conn.common_headers(path=ctx.path) + [("te", "trailers, deflate")])


# ---- 8.1.2.3 Request Pseudo-Header Fields -------------------------------------------
def _pseudo_case(number, desc, mutate):
    @case("http2", "8.1.2.3", number, desc)
    def run(ctx, conn):
        return _bad_request(ctx, conn, mutate(conn.common_headers(path=ctx.path)))
    return run


def _without(name):
    return lambda hs: [h for h in hs if h[0] != name]


def _duplicated(name):
    return lambda hs: hs + [h for h in hs if h[0] == name]


_pseudo_case(1, "Sends a HEADERS frame with empty \":path\" pseudo-header field",
             lambda hs: [(n, "" if n == ":path" else v) for n, v in hs])
_pseudo_case(2, "Sends a HEADERS frame that omits \":method\" pseudo-header field", _without(":method"))
_pseudo_case(3, "Sends a HEADERS frame that omits \":scheme\" pseudo-header field", _without(":scheme"))
_pseudo_case(4, "Sends a HEADERS frame that omits \":path\" pseudo-header field", _without(":path"))
_pseudo_case(5, "Sends a HEADERS frame with duplicated \":method\" pseudo-header field",
             _duplicated(":method"))
_pseudo_case(6, "Sends a HEADERS frame with duplicated \":scheme\" pseudo-header field",
             _duplicated(":scheme"))
_pseudo_case(7, "Sends a HEADERS frame with duplicated \":path\" pseudo-header field",
             _duplicated(":path"))


# ---- 8.1.2.6 Malformed Requests and Responses ---------------------------------------
@case("http2", "8.1.2.6", 1, "Sends a HEADERS frame with the \"content-length\" header field "
      "which does not equal the DATA frame payload length")
def h8_1_2_6_1(ctx, conn):
    conn.request(1, "POST", ctx.path, end_stream=False, extra=[("content-length", "1")])
    conn.data(1, b"test")
    return strm_err(ctx, conn, PROTOCOL_ERROR)


@case("http2", "8.1.2.6", 2, "Sends a HEADERS frame with the \"content-length\" header field "
      "which does not equal the sum of the multiple DATA frames payload length")
def h8_1_2_6_2(ctx, conn):
    conn.request(1, "POST", ctx.path, end_stream=False, extra=[("content-length", "1")])
    conn.data(1, b"test", end_stream=False)
    conn.data(1, b"test")
    return strm_err(ctx, conn, PROTOCOL_ERROR)


# ---- 8.2 Server Push ----------------------------------------------------------------
@case("http2", "8.2", 1, "Sends a PUSH_PROMISE frame")
def h8_2_1(ctx, conn):
    block = conn.encode(conn.common_headers(path=ctx.path))
    conn.send(raw_frame(PUSH_PROMISE, END_HEADERS, 1, struct.pack(">I", 3) + block))
    return conn_err(ctx, conn, PROTOCOL_ERROR)


# ---- HPACK (RFC 7541) ---------------------------------------------------------------
def _decoding_error(ctx, conn, block):
    conn.headers(1, block)
    return connection_error(conn, COMPRESSION_ERROR, strict=ctx.strict)


@case("hpack", "2.3.3", 1, "Sends a indexed header field representation with invalid index")
def p2_3_3_1(ctx, conn):
    return _decoding_error(ctx, conn, conn.encode(conn.common_headers(path=ctx.path)) + b"\xfe")


@case("hpack", "2.3.3", 2, "Sends a literal header field representation with invalid index")
def p2_3_3_2(ctx, conn):
    block = conn.encode(conn.common_headers(path=ctx.path))
    return _decoding_error(ctx, conn, block + literal("", "test", "incremental", name_index=126))


@case("hpack", "4.2", 1, "Sends a dynamic table size update at the end of header block")
def p4_2_1(ctx, conn):
    return _decoding_error(ctx, conn, conn.encode(conn.common_headers(path=ctx.path)) + b"\x21")


@case("hpack", "5.2", 1,
      "Sends a Huffman-encoded string literal representation with padding longer than 7 bits")
def p5_2_1(ctx, conn):
    # x-test: test, with one whole octet of EOS padding after the value.
    rep = b"\x00\x85\xf2\xb2\x4a\x84\xff\x84\x49\x50\x9f\xff"
    return _decoding_error(ctx, conn, conn.encode(conn.common_headers(path=ctx.path)) + rep)


@case("hpack", "5.2", 2, "Sends a Huffman-encoded string literal representation padded by zero")
def p5_2_2(ctx, conn):
    rep = b"\x00\x85\xf2\xb2\x4a\x84\xff\x83\x49\x50\x90"
    return _decoding_error(ctx, conn, conn.encode(conn.common_headers(path=ctx.path)) + rep)


@case("hpack", "5.2", 3,
      "Sends a Huffman-encoded string literal representation containing the EOS symbol")
def p5_2_3(ctx, conn):
    rep = b"\x00\x85\xf2\xb2\x4a\x87\xff\xff\xff\xfd\x25\x42\x7f"
    return _decoding_error(ctx, conn, conn.encode(conn.common_headers(path=ctx.path)) + rep)


@case("hpack", "6.1", 1, "Sends a indexed header field representation with index 0")
def p6_1_1(ctx, conn):
    return _decoding_error(ctx, conn, conn.encode(conn.common_headers(path=ctx.path)) + b"\x80")


@case("hpack", "6.3", 1,
      "Sends a dynamic table size update larger than the value of SETTINGS_HEADER_TABLE_SIZE")
def p6_3_1(ctx, conn):
    limit = conn.server_settings.get(HEADER_TABLE_SIZE, 4096)
    update = hpack_int(limit + 1, 5, 0x20)
    return _decoding_error(ctx, conn, update + conn.encode(conn.common_headers(path=ctx.path)))
