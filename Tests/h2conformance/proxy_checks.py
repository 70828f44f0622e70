#!/usr/bin/env python3
"""HTTP/2 through Fulcrum to a recording HTTP/1.1 backend (issue 17's black-box checks).

Protocol with the caller (FulcrumIntegrationTests/H2ProxyTests.swift):
  1. this script starts its backend on a free port and prints `backend listening on PORT`;
  2. the caller starts fulcrum with `-backend http://127.0.0.1:PORT` and writes its proxy
     port into the file named by `--port-file` (or as one line on stdin without it);
  3. one line per check `PASS|FAIL <name>: <why>`, last line `proxycheck: N passed, M failed`.
Exit 0 when nothing failed, 2 when the h2 package is missing. Every wait is bounded.
"""
import socket, sys, threading, time

try:
    import h2.config, h2.connection, h2.events, h2.settings
except ImportError:
    print("h2 package missing"); sys.exit(2)

BIG = 1024 * 1024
received = {}  # path -> (body bytes received, complete)
lock = threading.Lock()


def backend_conn(c):
    c.settimeout(10)
    buf = b""
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                d = c.recv(65536)
                if not d: return
                buf += d
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            h = {}
            for l in lines[1:]:
                k, v = l.split(":", 1); h[k.strip().lower()] = v.strip()
            body, complete = b"", True
            if "content-length" in h:
                n = int(h["content-length"])
                while len(buf) < n:
                    with lock: received[path] = (len(buf), False)
                    d = c.recv(65536)
                    if not d: break
                    buf += d
                complete = len(buf) >= n
                body, buf = buf[:n], buf[n:]
            elif h.get("transfer-encoding", "").lower() == "chunked":
                complete = False
                while True:
                    while b"\r\n" not in buf:
                        d = c.recv(65536)
                        if not d: break
                        buf += d
                    if b"\r\n" not in buf: break
                    line, rest = buf.split(b"\r\n", 1)
                    size = int(line.split(b";")[0], 16)
                    if size == 0:
                        while b"\r\n\r\n" not in b"\r\n" + rest:
                            d = c.recv(65536)
                            if not d: break
                            rest += d
                        complete = True
                        buf = rest.split(b"\r\n\r\n", 1)[1] if not rest.startswith(b"\r\n") else rest[2:]
                        break
                    while len(rest) < size + 2:
                        d = c.recv(65536)
                        if not d: break
                        rest += d
                    if len(rest) < size + 2: break
                    body += rest[:size]; buf = rest[size + 2:]
                    with lock: received[path] = (len(body), False)
            with lock: received[path] = (len(body), complete)
            if not complete: return
            if path.startswith("/trailers"):
                c.sendall(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-checksum\r\n\r\n"
                          b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-checksum: abc123\r\nX-Done:  yes \r\n\r\n")
                continue
            if path.startswith("/big-cancel"):
                out = b"x" * (32 * BIG)  # more than every socket buffer on the way holds
            elif path.startswith("/big"):
                out = b"x" * BIG
            elif path.startswith("/echo"):
                out = body
            else:
                out = ("ok " + path).encode()
            try:
                c.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\nx-test: 1\r\n\r\n" % len(out) + out)
            except OSError:
                with lock: received[path + "#send"] = "aborted"
                raise
    except (OSError, ValueError):
        return
    finally:
        c.close()


def serve(ls):
    while True:
        c, _ = ls.accept()
        threading.Thread(target=backend_conn, args=(c,), daemon=True).start()


class Client:
    def __init__(self, port, window=65535, validate=True):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        cfg = h2.config.H2Configuration(client_side=True, validate_outbound_headers=validate,
                                        normalize_outbound_headers=validate)
        self.c = h2.connection.H2Connection(config=cfg)
        self.c.local_settings = h2.settings.Settings(client=True, initial_values={
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        self.c.initiate_connection()
        self.c.increment_flow_control_window(1 << 30)
        self.bodies, self.ended, self.resets, self.status = {}, set(), {}, {}
        self.auto_ack = set()
        self.trailers = {}
        self.flush()

    def flush(self):
        d = self.c.data_to_send()
        if d: self.s.sendall(d)

    def request(self, method, path, body=None, extra=(), end=True):
        sid = self.c.get_next_available_stream_id()
        hdrs = [(":method", method), (":path", path), (":scheme", "http"), (":authority", "h2.test")] + list(extra)
        self.c.send_headers(sid, hdrs, end_stream=end and not body)
        if body:
            self.send_body(sid, body, end)
        self.flush()
        self.auto_ack.add(sid)
        return sid

    def send_body(self, sid, body, end=True):
        while body:
            n = min(len(body), self.c.local_flow_control_window(sid), self.c.max_outbound_frame_size)
            if n == 0:
                self.pump(0.5); continue
            self.c.send_data(sid, body[:n], end_stream=end and n == len(body)); body = body[n:]
            self.flush()

    def pump(self, seconds, until=lambda: False):
        deadline = time.time() + seconds
        while time.time() < deadline and not until():
            self.s.settimeout(max(0.01, deadline - time.time()))
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                break
            if not d:
                break
            for e in self.c.receive_data(d):
                if isinstance(e, h2.events.ResponseReceived):
                    self.status[e.stream_id] = dict(e.headers).get(b":status")
                elif isinstance(e, h2.events.DataReceived):
                    self.bodies[e.stream_id] = self.bodies.get(e.stream_id, b"") + e.data
                    if e.stream_id in self.auto_ack:
                        self.c.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
                elif isinstance(e, h2.events.TrailersReceived):
                    self.trailers[e.stream_id] = e.headers
                elif isinstance(e, h2.events.StreamEnded):
                    self.ended.add(e.stream_id)
                elif isinstance(e, h2.events.StreamReset):
                    self.resets[e.stream_id] = e.error_code
            self.flush()


results = []


def check(name, ok, why):
    results.append(ok)
    print(("PASS " if ok else "FAIL ") + name + ": " + why, flush=True)


def run(port):
    # Several requests multiplexed on one connection.
    cl = Client(port)
    ids = [cl.request("GET", "/m%d" % i) for i in range(10)]
    cl.pump(15, until=lambda: all(i in cl.ended for i in ids))
    ok = all(cl.bodies.get(i) == ("ok /m%d" % n).encode() for n, i in enumerate(ids))
    check("multiplexing", ok, "%d of 10 answered on one connection" % sum(1 for i in ids if i in cl.ended))

    # POST with a body larger than the stream window, echoed back.
    body = bytes(range(256)) * 800  # 200 KiB
    sid = cl.request("POST", "/echo", body=body, extra=[("content-length", str(len(body)))])
    cl.pump(15, until=lambda: sid in cl.ended)
    check("post-echo", cl.bodies.get(sid) == body, "%d of %d bytes echoed" % (len(cl.bodies.get(sid, b"")), len(body)))

    # A chunked response with trailers: DATA de-chunked, the trailers a final HEADERS frame.
    sid = cl.request("GET", "/trailers")
    cl.pump(10, until=lambda: sid in cl.ended)
    tr = cl.trailers.get(sid)
    check("response-trailers", cl.bodies.get(sid) == b"hello world" and tr == [(b"x-checksum", b"abc123"), (b"x-done", b"yes")],
          "body=%r trailers=%r" % (cl.bodies.get(sid), tr))

    # A stalled stream (its window never opened) does not block another.
    cl2 = Client(port, window=65535)
    big = cl2.request("GET", "/big")
    cl2.auto_ack.discard(big)
    cl2.pump(5, until=lambda: len(cl2.bodies.get(big, b"")) >= 65535)
    small = cl2.request("GET", "/small")
    cl2.pump(10, until=lambda: small in cl2.ended)
    stalled = len(cl2.bodies.get(big, b""))
    check("stalled-stream-isolated", small in cl2.ended and big not in cl2.ended and stalled <= 65535,
          "small answered=%s, stalled stream got %d bytes" % (small in cl2.ended, stalled))
    cl2.auto_ack.add(big)
    cl2.c.acknowledge_received_data(stalled, big); cl2.flush()
    cl2.pump(20, until=lambda: big in cl2.ended)
    check("stalled-stream-resumes", len(cl2.bodies.get(big, b"")) == BIG, "%d of %d bytes" % (len(cl2.bodies.get(big, b"")), BIG))

    # The client cancels a stream mid-response: its backend connection is closed (the backend's
    # write fails), never pooled, and the connection goes on serving.
    cl5 = Client(port)
    sid = cl5.request("GET", "/big-cancel")
    cl5.auto_ack.discard(sid)
    cl5.pump(5, until=lambda: len(cl5.bodies.get(sid, b"")) > 0)
    cl5.c.reset_stream(sid, 8); cl5.flush()
    deadline = time.time() + 15
    while time.time() < deadline and received.get("/big-cancel#send") != "aborted":
        cl5.pump(0.1)
    after = cl5.request("GET", "/after-cancel")
    cl5.pump(5, until=lambda: after in cl5.ended)
    check("cancel-closes-backend", received.get("/big-cancel#send") == "aborted" and cl5.bodies.get(after) == b"ok /after-cancel",
          "backend write=%s, next stream=%r" % (received.get("/big-cancel#send"), cl5.bodies.get(after)))

    # Connection-specific header: RST_STREAM, never forwarded.
    cl3 = Client(port, validate=False)
    sid = cl3.request("GET", "/conn-specific", extra=[("connection", "keep-alive")])
    cl3.pump(5, until=lambda: sid in cl3.resets or sid in cl3.ended)
    time.sleep(0.2)
    check("connection-header-reset", sid in cl3.resets and "/conn-specific" not in received,
          "reset=%s forwarded=%s" % (cl3.resets.get(sid), "/conn-specific" in received))

    # content-length larger than the DATA: reset; the backend never gets the request complete.
    sid = cl3.request("POST", "/cl-short", body=b"12345", extra=[("content-length", "10")])
    cl3.pump(5, until=lambda: sid in cl3.resets or sid in cl3.ended)
    time.sleep(0.3)
    with lock: got = received.get("/cl-short")
    check("content-length-short", sid in cl3.resets and sid not in cl3.ended and (got is None or not got[1]),
          "reset=%s backend=%s" % (cl3.resets.get(sid), got))

    # More DATA than content-length (sent in two frames): reset, backend never complete.
    cl4 = Client(port, validate=False)
    sid = cl4.request("POST", "/cl-long", extra=[("content-length", "5")], end=False)
    cl4.c.send_data(sid, b"12345"); cl4.flush()
    time.sleep(0.3)
    cl4.c.send_data(sid, b"678", end_stream=True); cl4.flush()
    cl4.pump(5, until=lambda: sid in cl4.resets or sid in cl4.ended)
    time.sleep(0.3)
    with lock: got = received.get("/cl-long")
    check("content-length-long", sid in cl4.resets and sid not in cl4.ended and (got is None or not got[1]),
          "reset=%s backend=%s" % (cl4.resets.get(sid), got))

    # The connection still serves after the stream errors.
    sid = cl3.request("GET", "/after")
    cl3.pump(5, until=lambda: sid in cl3.ended)
    check("connection-survives-stream-errors", cl3.bodies.get(sid) == b"ok /after", "body=%r" % cl3.bodies.get(sid))


def main():
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0)); ls.listen(64)
    threading.Thread(target=serve, args=(ls,), daemon=True).start()
    print("backend listening on %d" % ls.getsockname()[1], flush=True)
    if "--port-file" in sys.argv:
        path = sys.argv[sys.argv.index("--port-file") + 1]
        deadline, line = time.time() + 60, ""
        while time.time() < deadline and not line.strip():
            try:
                line = open(path).read()
            except OSError:
                time.sleep(0.05)
    else:
        line = sys.stdin.readline()
    if not line.strip():
        print("no proxy port on stdin"); sys.exit(2)
    try:
        run(int(line))
    except Exception as e:  # a crash is a failure, not a hang
        check("script", False, repr(e))
    print("proxycheck: %d passed, %d failed" % (results.count(True), results.count(False)), flush=True)
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
