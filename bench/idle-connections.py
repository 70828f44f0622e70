#!/usr/bin/env python3
"""RSS of the proxy with N idle keep-alive client connections (target: 10,000 → ≤ 64 MiB).

Starts release fulcrum with one demo backend, sends one request on each of N
connections (so each has been through a full exchange and is now idle), keeps
them open, and reads VmRSS / VmHWM from /proc. Loopback only; bounded in time.

    swift build -c release && python3 bench/idle-connections.py [N]
"""
import os, resource, socket, subprocess, sys, time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.join(HERE, "..", ".build", "release")
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

def kib(pid, field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field):
            return int(line.split()[1])
    return 0

backend = subprocess.Popen([f"{BIN}/fulcrum-backend", "-listen", "127.0.0.1:0", "-name", "idle"], stdout=subprocess.PIPE, text=True)
bport = int(backend.stdout.readline().strip().rsplit(":", 1)[1])
proxy = subprocess.Popen([f"{BIN}/fulcrum", "-listen", "127.0.0.1:0", "-admin", "127.0.0.1:0", "-backend", f"http://127.0.0.1:{bport}", "-t", "60"],
                         stderr=subprocess.PIPE, text=True)
deadline = time.time() + 30
port = None
while time.time() < deadline and port is None:
    line = proxy.stderr.readline()
    if "proxy listening on" in line:
        port = int(line.split("proxy listening on ")[1].split(" ")[0].rsplit(":", 1)[1])
try:
    base = kib(proxy.pid, "VmRSS")
    conns = []
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    t0 = time.time()
    for i in range(N):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(request)
        conns.append(s)
        if len(conns) % 500 == 0:  # collect responses in batches
            for c in conns[-500:]:
                c.settimeout(10)
                data = b""
                while b"\r\n\r\n" not in data or not data.endswith(b"\n"):
                    chunk = c.recv(4096)
                    if not chunk:
                        break
                    data += chunk
    print(f"{len(conns)} connections opened and each served one request in {time.time() - t0:.1f} s")
    time.sleep(1)  # let the proxy settle into idle
    rss, hwm = kib(proxy.pid, "VmRSS"), kib(proxy.pid, "VmHWM")
    print(f"fulcrum RSS: {base / 1024:.1f} MiB at start, {rss / 1024:.1f} MiB with {N} idle connections "
          f"(peak {hwm / 1024:.1f} MiB); {(rss - base) * 1024 / N:.0f} bytes per idle connection")
    s = socket.create_connection(("127.0.0.1", port)); s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    print("a new request still succeeds:", s.recv(100).split(b"\r\n")[0].decode())
finally:
    proxy.kill(); backend.kill()
