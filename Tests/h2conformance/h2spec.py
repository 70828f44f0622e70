#!/usr/bin/env python3
"""An h2spec-style conformance run against an HTTP/2 server (h2c prior knowledge or TLS+ALPN).

  python3 Tests/h2conformance/h2spec.py --host 127.0.0.1 --port N [--tls] [--path /]
      [--timeout 2] [--section 6.5] [--strict] [--jobs 4] [-v]

Prints one line per case, `PASS|FAIL|SKIP <suite>/<section> <n>: <description> (<why>)`,
and ends with exactly `h2spec: N passed, M failed, K skipped`. Exit status 0 only when
M == 0 (and at least one case ran); 2 on bad usage or when nothing matched.
"""
import argparse
import concurrent.futures
import os
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

import spec  # noqa: E402
import cases_generic  # noqa: E402,F401  (registers cases)
import cases_http2_streams  # noqa: E402,F401
import cases_http2_frames  # noqa: E402,F401
import cases_http2_messages  # noqa: E402,F401

SUITE_ORDER = {"generic": 0, "http2": 1, "hpack": 2}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tls", action="store_true", help="TLS with ALPN h2 (certificate not verified)")
    p.add_argument("--path", default="/", help="request path for cases that need a response")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for one event")
    p.add_argument("--section", action="append", default=[],
                   help="run only these: 'http2', '6.5', 'http2/6.5.2', 'generic/3.1/2' (repeatable)")
    p.add_argument("--strict", action="store_true",
                   help="a GOAWAY/RST_STREAM with an unexpected error code fails the case "
                        "(h2spec accepts it when the connection then closes)")
    p.add_argument("--h2spec-default", action="store_true",
                   help="skip the 2 cases h2spec runs only in its strict mode (146 cases left)")
    p.add_argument("--jobs", type=int, default=4, help="cases run in parallel (own connections)")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("-v", "--verbose", action="store_true", help="print every frame (use --jobs 1)")
    return p.parse_args(argv)


def run_case(ctx, c):
    started = time.monotonic()
    conn = None
    try:
        conn = ctx.connect()
        if c.handshake:
            conn.handshake()
        passed, why = c.fn(ctx, conn)
        verdict = "PASS" if passed else "FAIL"
    except spec.Skip as e:
        verdict, why = "SKIP", str(e)
    except Exception as e:  # connect/handshake failures and case bugs are failures
        verdict, why = "FAIL", "%s: %s" % (e.__class__.__name__, e)
    finally:
        if conn is not None:
            conn.close()
    return verdict, why, time.monotonic() - started


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    cases = sorted(spec.CASES, key=lambda c: SUITE_ORDER[c.suite])  # stable: file order within
    if args.section:
        cases = [c for c in cases if any(c.matches(s) for s in args.section)]
    if args.h2spec_default:
        cases = [c for c in cases if not c.optional]
    if args.list:
        for c in cases:
            print("%s: %s" % (c.ident, c.desc))
        print("%d cases" % len(cases))
        return 0
    if not cases:
        print("no case matches %s" % args.section, file=sys.stderr)
        print("h2spec: 0 passed, 0 failed, 0 skipped")
        return 2
    ctx = spec.Ctx(args)
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(run_case, ctx, c) for c in cases]
        for c, fut in zip(cases, futures):
            verdict, why, took = fut.result()
            counts[verdict] += 1
            print("%s %s: %s (%s)%s" % (verdict, c.ident, c.desc, why,
                                       " [%.1fs]" % took if args.verbose else ""), flush=True)
    print("h2spec: %d passed, %d failed, %d skipped" % (counts["PASS"], counts["FAIL"],
                                                       counts["SKIP"]))
    return 0 if counts["FAIL"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
