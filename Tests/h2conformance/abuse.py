#!/usr/bin/env python3
"""HTTP/2 flood and abuse checks against a server (h2c prior knowledge or TLS+ALPN).

  python3 Tests/h2conformance/abuse.py --host 127.0.0.1 --port N [--tls] [--path /]
      [--timeout 2] [--stall-timeout 15] [--max-mib 16] [--max-frames 200000]
      [--flood-seconds 10] [--section rapid-reset] [-v]

Each case reports what the server did (GOAWAY and code, RST_STREAM codes, close, or
nothing) and passes when the server ended the abuse within the bounds (GOAWAY or close;
for the stall, a reset stream counts) and still answers a new connection afterwards.
One line per case, `PASS|FAIL|SKIP abuse/<name> <n>: <description> (<what happened>)`,
ending with exactly `h2abuse: N passed, M failed, K skipped`; exit 0 only when M == 0.
"""
import argparse
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import hpack  # noqa: F401  (the `h2` package brings hpack and hyperframe)
    import hyperframe  # noqa: F401
except ImportError:
    print("%s: needs the Python packages hpack and hyperframe (pip install h2)"
          % os.path.basename(__file__), file=sys.stderr)
    sys.exit(2)

from h2conn import (CANCEL, CONTINUATION, DATA, END_HEADERS, END_STREAM, HEADERS,  # noqa: E402
                    INITIAL_WINDOW_SIZE, MAX_CONCURRENT_STREAMS, PING, PRIORITY, SETTINGS,
                    WINDOW_UPDATE, literal, raw_frame, settings_payload)
from abuse_core import Outcome, alive, flood, poll, settle  # noqa: E402
import spec  # noqa: E402

CASES = []


def abuse(name, number, desc):
    def register(fn):
        CASES.append(spec.Case("abuse", name, number, desc, fn))
        return fn
    return register


def verdict(ctx, out, ok=None):
    """PASS when the server ended the abuse and still serves; `ok` overrides the first."""
    ended = out.ended if ok is None else ok
    up, why = alive(ctx)
    text = out.describe() + ("" if up else "; " + why)
    return ended and up, text


@abuse("rapid-reset", 1, "Opens and immediately resets many streams (CVE-2023-44487)")
def rapid_reset(ctx, conn):
    out = Outcome()
    block = conn.encode(conn.common_headers(path=ctx.path))
    sid, deadline = 1, time.monotonic() + ctx.flood_seconds
    while sid < 2 * ctx.max_streams and time.monotonic() < deadline and not out.ended:
        batch = b"".join(raw_frame(HEADERS, END_STREAM | END_HEADERS, s, block)
                         + raw_frame(3, 0, s, struct.pack(">I", CANCEL))
                         for s in range(sid, sid + 200, 2))
        if not conn.send(batch):
            out.blocked = conn.send_blocked
            break
        out.sent_bytes += len(batch)
        out.sent_frames += 200
        sid += 200
        poll(conn, out)
    settle(conn, out, ctx.timeout)
    return verdict(ctx, out)


@abuse("continuation-flood", 1, "HEADERS without END_HEADERS, then endless CONTINUATION frames")
def continuation_flood(ctx, conn):
    out = Outcome()
    conn.headers(1, conn.encode(conn.common_headers(path=ctx.path)), end_headers=False)
    fragment = b"".join(literal("x-flood", "a" * 1000) for _ in range(16))
    unit = raw_frame(CONTINUATION, 0, 1, fragment)
    flood(conn, out, unit, 1, ctx.max_bytes, ctx.max_frames, ctx.flood_seconds)
    settle(conn, out, ctx.stall_timeout if out.blocked else ctx.timeout)
    return verdict(ctx, out)


@abuse("hpack-bomb", 1, "One large dynamic-table entry referenced thousands of times per block")
def hpack_bomb(ctx, conn):
    out = Outcome()
    entry = literal("x-bomb", "b" * 4000, "incremental")  # lands at dynamic index 62
    conn.headers(1, conn.encode(conn.common_headers(path=ctx.path)) + entry)
    poll(conn, out, budget=ctx.timeout / 2)
    refs = b"\xbe" * 15000  # 15000 × 4 KB ≈ 58 MiB once decoded, per request
    for i in range(20):
        sid = 3 + 2 * i
        block = conn.encode(conn.common_headers(path=ctx.path)) + refs
        if not conn.headers(sid, block):
            break
        out.sent_bytes += len(block)
        out.sent_frames += 1
        poll(conn, out)
        if out.ended:
            break
    settle(conn, out, ctx.timeout)
    return verdict(ctx, out, ok=out.ended or bool(out.rst))


def _ack_flood(ctx, conn, unit):
    out = Outcome()
    # No frame budget here: the client keeps writing until the server stops reading
    # (back-pressure), closes, or the byte/time budget is spent.
    flood(conn, out, unit, 1, ctx.max_bytes, float("inf"), ctx.flood_seconds, read=False)
    # The client never read, so it cannot tell a server still working through the backlog
    # from one that gave up reading: give it the stall bound either way.
    settle(conn, out, ctx.stall_timeout)
    return verdict(ctx, out)


@abuse("settings-flood", 1, "SETTINGS frames without reading their ACKs")
def settings_flood(ctx, conn):
    return _ack_flood(ctx, conn, raw_frame(SETTINGS, 0, 0, settings_payload([(3, 100)])))


@abuse("ping-flood", 1, "PING frames without reading their ACKs")
def ping_flood(ctx, conn):
    return _ack_flood(ctx, conn, raw_frame(PING, 0, 0, b"floodpin"))


@abuse("empty-data-flood", 1, "Empty DATA frames without END_STREAM on an open stream")
def empty_data_flood(ctx, conn):
    out = Outcome()
    conn.request(1, "POST", ctx.path, end_stream=False)
    flood(conn, out, raw_frame(DATA, 0, 1, b""), 1, ctx.max_bytes, ctx.max_frames,
          ctx.flood_seconds)
    settle(conn, out, ctx.stall_timeout if out.blocked else ctx.timeout)
    return verdict(ctx, out)


@abuse("window-update-flood", 1, "WINDOW_UPDATE frames of increment 1 on the connection")
def window_update_flood(ctx, conn):
    out = Outcome()
    flood(conn, out, raw_frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1)), 1, ctx.max_bytes,
          ctx.max_frames, ctx.flood_seconds)
    settle(conn, out, ctx.stall_timeout if out.blocked else ctx.timeout)
    return verdict(ctx, out)


@abuse("priority-storm", 1, "PRIORITY frames for many idle streams")
def priority_storm(ctx, conn):
    out = Outcome()
    sid, deadline = 1, time.monotonic() + ctx.flood_seconds
    while out.sent_frames < ctx.max_frames and time.monotonic() < deadline and not out.ended:
        batch = b"".join(raw_frame(PRIORITY, 0, s, struct.pack(">IB", max(0, s - 2), 16))
                         for s in range(sid, sid + 2000, 2))
        if not conn.send(batch):
            out.blocked = conn.send_blocked
            break
        out.sent_bytes += len(batch)
        out.sent_frames += 1000
        sid += 2000
        poll(conn, out)
    settle(conn, out, ctx.stall_timeout if out.blocked else ctx.timeout)
    return verdict(ctx, out)


@abuse("zero-window-stall", 1, "Requests with a zero stream window that the client never opens")
def zero_window_stall(ctx, conn):
    out = Outcome()
    out.reset_ends = True
    conn.settings([(INITIAL_WINDOW_SIZE, 0)])
    conn.request(1, path=ctx.path)
    settle(conn, out, ctx.stall_timeout, until=lambda o: o.ended or o.rst)
    ended = out.ended or bool(out.rst)
    return verdict(ctx, out, ok=ended)


@abuse("idle-streams", 1, "Opens the advertised maximum of streams plus more, and never finishes them")
def idle_streams(ctx, conn):
    out = Outcome()
    limit = conn.server_settings.get(MAX_CONCURRENT_STREAMS, 100)
    if limit > 10000:
        raise spec.Skip("SETTINGS_MAX_CONCURRENT_STREAMS %d too large" % limit)
    block = conn.encode(conn.common_headers("POST", ctx.path))
    extra = 10
    frames = b"".join(raw_frame(HEADERS, END_HEADERS, 1 + 2 * i, block)
                      for i in range(limit + extra))
    conn.send(frames)
    out.sent_bytes, out.sent_frames = len(frames), limit + extra
    settle(conn, out, ctx.stall_timeout,
           until=lambda o: o.ended or len(o.finished) >= limit + extra)
    # Bounded means: the streams beyond the limit were refused (or the connection
    # ended), and the held streams did not stay open past the stall bound.
    refused = out.rst.get("REFUSED_STREAM", 0) + out.rst.get("PROTOCOL_ERROR", 0)
    ok = out.ended or len(out.finished) >= limit + extra
    up, why = alive(ctx)
    return ok and up, "%s; %d of %d streams ended, %d refused, limit %d%s" % (
        out.describe(), len(out.finished), limit + extra, refused, limit, "" if up else "; " + why)


@abuse("stream-id-exhaustion", 1, "Request on stream 2^31-1, then a stream id that goes backwards")
def stream_id_exhaustion(ctx, conn):
    out = Outcome()
    top = 0x7fffffff
    conn.request(top, path=ctx.path)
    poll(conn, out, budget=ctx.timeout)
    answered = out.responses > 0
    conn.request(1, path=ctx.path)  # the id space is spent: only a new connection can go on
    settle(conn, out, ctx.timeout)
    up, why = alive(ctx)
    ok = answered and out.ended and up
    return ok, "%s; stream 2^31-1 %s%s" % (out.describe(), "answered" if answered else
                                          "not answered", "" if up else "; " + why)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tls", action="store_true")
    p.add_argument("--path", default="/")
    p.add_argument("--timeout", type=float, default=2.0)
    p.add_argument("--stall-timeout", type=float, default=15.0,
                   help="seconds a stalled or non-reading connection may live")
    p.add_argument("--max-mib", type=float, default=16.0, help="byte budget of one flood")
    p.add_argument("--max-frames", type=int, default=200000, help="frame budget of one flood")
    p.add_argument("--max-streams", type=int, default=20000, help="streams for rapid reset")
    p.add_argument("--flood-seconds", type=float, default=10.0, help="time budget of one flood")
    p.add_argument("--section", action="append", default=[])
    p.add_argument("--list", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    args.strict = False
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    cases = [c for c in CASES if not args.section or c.section in args.section]
    if args.list:
        for c in cases:
            print("%s: %s" % (c.ident, c.desc))
        return 0
    if not cases:
        print("no case matches %s" % args.section, file=sys.stderr)
        print("h2abuse: 0 passed, 0 failed, 0 skipped")
        return 2
    ctx = spec.Ctx(args)
    ctx.stall_timeout, ctx.flood_seconds = args.stall_timeout, args.flood_seconds
    ctx.max_bytes, ctx.max_frames = int(args.max_mib * 1024 * 1024), args.max_frames
    ctx.max_streams = args.max_streams
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    for c in cases:
        conn = None
        try:
            conn = ctx.connect()
            conn.handshake()
            passed, why = c.fn(ctx, conn)
            result = "PASS" if passed else "FAIL"
        except spec.Skip as e:
            result, why = "SKIP", str(e)
        except Exception as e:
            result, why = "FAIL", "%s: %s" % (e.__class__.__name__, e)
        finally:
            if conn is not None:
                conn.close()
        counts[result] += 1
        print("%s %s: %s (%s)" % (result, c.ident, c.desc, why), flush=True)
    print("h2abuse: %d passed, %d failed, %d skipped" % (counts["PASS"], counts["FAIL"],
                                                        counts["SKIP"]))
    return 0 if counts["FAIL"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
