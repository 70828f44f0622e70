#!/usr/bin/env python3
"""Validate the suites against real HTTP/2 servers: nginx and HAProxy, h2c and h2/TLS.

  python3 Tests/h2conformance/servers.py [--only nginx|haproxy] [--suite h2spec|abuse]
      [--timeout 1] [--stall-timeout 25] [--path /proxy] [--section S] [--out DIR]
      [--serve SECONDS]

Starts, on free 127.0.0.1 ports, one nginx (h2c listener, TLS+ALPN h2 listener, and an
HTTP/1.1 `return 200` backend; /proxy on the h2 listeners proxies to that backend) and
one HAProxy (h2c `proto h2` and TLS `alpn h2`
frontends proxying to that nginx backend), runs h2spec.py and abuse.py against each of
the four endpoints, prints a pass/total table per section, and stops both servers by PID.
Every step is bounded in time; the servers are killed even when a suite fails.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
BODY = "hello from the h2 conformance backend\n"

NGINX_CONF = """
worker_processes 1;
daemon off;
master_process on;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    # Same 10 s bounds as HAProxy's `timeout client`, so stalls are compared fairly.
    send_timeout 10s;
    client_body_timeout 10s;
    client_header_timeout 10s;
    keepalive_timeout 10s;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{h2c} http2;
        listen 127.0.0.1:{tls} ssl http2;
        ssl_certificate {d}/cert.pem;
        ssl_certificate_key {d}/key.pem;
        location / {{ return 200 "{body}"; }}
        # Proxied like HAProxy's frontends (and Fulcrum): the request body is read
        # before the backend answers, so body rules are checked, not pre-empted.
        location /proxy {{ proxy_pass http://127.0.0.1:{backend}; }}
    }}
    server {{
        listen 127.0.0.1:{backend};
        location / {{ return 200 "{body}"; }}
    }}
}}
"""

HAPROXY_CONF = """
global
    maxconn 4096
    pidfile {d}/haproxy.pid
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend h2c
    bind 127.0.0.1:{h2c} proto h2
    default_backend app
frontend h2tls
    bind 127.0.0.1:{tls} ssl crt {d}/combined.pem alpn h2,http/1.1
    default_backend app
backend app
    server nginx 127.0.0.1:{backend}
"""


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def wait_port(port, proc, deadline=10.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("server exited with %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("port %d not listening after %.0fs" % (port, deadline))


def make_cert(d):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-keyout", os.path.join(d, "key.pem"),
                    "-out", os.path.join(d, "cert.pem")], check=True, capture_output=True,
                   timeout=60)
    with open(os.path.join(d, "combined.pem"), "w") as out:
        for name in ("cert.pem", "key.pem"):
            out.write(open(os.path.join(d, name)).read())


def start_servers(d, which):
    n_h2c, n_tls, backend, h_h2c, h_tls = free_ports(5)
    fmt = dict(d=d, body=BODY.replace("\n", "\\n"), backend=backend)
    procs, endpoints = {}, []
    # nginx always runs: it is HAProxy's backend too.
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(NGINX_CONF.format(h2c=n_h2c, tls=n_tls, **fmt))
    procs["nginx"] = subprocess.Popen(["nginx", "-p", d, "-c", os.path.join(d, "nginx.conf")],
                                      stdout=subprocess.DEVNULL, stderr=open(
                                          os.path.join(d, "nginx.out"), "w"))
    for port in (n_h2c, n_tls, backend):
        wait_port(port, procs["nginx"])
    if which in (None, "nginx"):
        endpoints += [("nginx", "h2c", n_h2c, False), ("nginx", "tls", n_tls, True)]
    if which in (None, "haproxy"):
        with open(os.path.join(d, "haproxy.cfg"), "w") as f:
            f.write(HAPROXY_CONF.format(h2c=h_h2c, tls=h_tls, **fmt))
        procs["haproxy"] = subprocess.Popen(["haproxy", "-db", "-f",
                                             os.path.join(d, "haproxy.cfg")],
                                            stdout=subprocess.DEVNULL, stderr=open(
                                                os.path.join(d, "haproxy.out"), "w"))
        for port in (h_h2c, h_tls):
            wait_port(port, procs["haproxy"])
        endpoints += [("haproxy", "h2c", h_h2c, False), ("haproxy", "tls", h_tls, True)]
    return procs, endpoints


def stop(procs):
    for name, p in procs.items():
        if p.poll() is None:
            p.send_signal(signal.SIGTERM if name == "haproxy" else signal.SIGQUIT)
    for name, p in procs.items():
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)


LINE = re.compile(r"^(PASS|FAIL|SKIP) (\S+?)/(\S+) (\d+): (.*)$")


def run_suite(script, prefix, port, tls, args):
    cmd = [sys.executable, os.path.join(HERE, script), "--port", str(port),
           "--timeout", str(args.timeout), "--path", args.path]
    if tls:
        cmd.append("--tls")
    for s in args.section:
        cmd += ["--section", s]
    if script == "abuse.py":
        cmd += ["--stall-timeout", str(args.stall_timeout)]
    started = time.monotonic()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.suite_timeout)
        text, rc = out.stdout, out.returncode
    except subprocess.TimeoutExpired as e:
        text, rc = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or ""), -1
    took = time.monotonic() - started
    results = [LINE.match(line) for line in text.splitlines()]
    results = [m.groups() for m in results if m]
    summary = [line for line in text.splitlines() if line.startswith(prefix + ":")]
    return results, (summary[-1] if summary else "%s: no summary (rc %s)" % (prefix, rc)), rc, took, text


def section_table(all_results, columns):
    """Rows: suite/section; cells: passed/total per endpoint."""
    rows = OrderedDict()
    for col in columns:
        for verdict, suite, section, _n, _d in all_results[col]:
            key = "%s/%s" % (suite, section)
            cell = rows.setdefault(key, {}).setdefault(col, [0, 0, 0])
            cell[1] += verdict != "SKIP"
            cell[0] += verdict == "PASS"
            cell[2] += verdict == "SKIP"
    width = max([len(k) for k in rows] + [10])
    head = "%-*s " % (width, "section") + " ".join("%14s" % c for c in columns)
    lines = [head, "-" * len(head)]
    for key, cells in rows.items():
        parts = []
        for c in columns:
            p, t, s = cells.get(c, [0, 0, 0])
            parts.append("%14s" % ("%d/%d%s" % (p, t, " +%ds" % s if s else "")))
        lines.append("%-*s " % (width, key) + " ".join(parts))
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--only", choices=["nginx", "haproxy"])
    p.add_argument("--suite", choices=["h2spec", "abuse"], action="append")
    p.add_argument("--timeout", type=float, default=1.0)
    p.add_argument("--path", default="/proxy",
                   help="/proxy: nginx proxies to the backend (reads the body first), like "
                        "HAProxy; /: nginx answers at once with `return 200`")
    p.add_argument("--stall-timeout", type=float, default=25.0)
    p.add_argument("--suite-timeout", type=float, default=240.0)
    p.add_argument("--section", action="append", default=[])
    p.add_argument("--out", help="keep each run's full output in this directory")
    p.add_argument("--serve", type=float, metavar="SECONDS",
                   help="only start the servers, print their ports, keep them up this long")
    args = p.parse_args()
    suites = args.suite or ["h2spec", "abuse"]
    for tool in ("nginx", "openssl") + (() if args.only == "nginx" else ("haproxy",)):
        if shutil.which(tool) is None:
            print("servers.py: %s not installed" % tool, file=sys.stderr)
            return 2
    # SIGTERM/SIGINT unwind through `finally`, so the servers are always stopped.
    def _terminate(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, _terminate)
    d = tempfile.mkdtemp(prefix="h2conf-")
    procs = {}
    failed = False
    try:
        make_cert(d)
        procs, endpoints = start_servers(d, args.only)
        if args.serve:
            for server, mode, port, tls in endpoints:
                print("%s-%s 127.0.0.1:%d%s" % (server, mode, port, " --tls" if tls else ""),
                      flush=True)
            time.sleep(args.serve)
            suites = []
        for suite in suites:
            script, prefix = ("h2spec.py", "h2spec") if suite == "h2spec" else ("abuse.py", "h2abuse")
            all_results, columns = {}, []
            for server, mode, port, tls in endpoints:
                col = "%s-%s" % (server, mode)
                results, summary, rc, took, text = run_suite(script, prefix, port, tls, args)
                all_results[col] = results
                columns.append(col)
                failed |= rc != 0
                print("%-14s %s  [%.0fs]" % (col, summary, took), flush=True)
                if args.out:
                    os.makedirs(args.out, exist_ok=True)
                    with open(os.path.join(args.out, "%s-%s.txt" % (suite, col)), "w") as f:
                        f.write(text)
            print()
            print(section_table(all_results, columns))
            print()
    finally:
        stop(procs)
        shutil.rmtree(d, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
