#!/usr/bin/env python3
"""Propagation latency through etcd: from a POST /register answered by
instance A to the first request that instance B routes to that backend.

    swift build -c release && python3 bench/cluster-propagation.py [ROUNDS]

Starts its own etcd (temporary data dir, free ports), two fulcrum instances
(-registry, one worker each) and one fulcrum-backend, all on 127.0.0.1.
Each round: register the backend through A, then poll B on a keep-alive
connection until it answers from that backend; then drain it through A and
wait until B has no backend at all (so every round measures a new backend,
not a drain being undone). FULCRUM_BIN_DIR picks the binaries (default
.build/release).
"""
import http.client, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time, urllib.parse

here = os.path.dirname(os.path.abspath(__file__))
bindir = os.environ.get("FULCRUM_BIN_DIR", os.path.join(here, "..", ".build", "release"))
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def wait_for(what, condition, seconds=20):
    end = time.time() + seconds
    while time.time() < end:
        try:
            if condition(): return
        except OSError:
            pass
        time.sleep(0.01)
    sys.exit(f"timed out waiting for {what}")

def request(port, method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    r = c.getresponse(); data = r.read(); c.close()
    return r.status, data

procs = []
data_dir = tempfile.mkdtemp(prefix="fulcrum-bench-etcd-")
try:
    client, peer = free_port(), free_port()
    procs.append(subprocess.Popen([shutil.which("etcd") or "etcd", "--name", "bench", "--data-dir", data_dir,
        "--listen-client-urls", f"http://127.0.0.1:{client}", "--advertise-client-urls", f"http://127.0.0.1:{client}",
        "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
        "--initial-cluster", f"bench=http://127.0.0.1:{peer}", "--log-level", "error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_for("etcd", lambda: request(client, "GET", "/health")[0] == 200)

    ports = {}
    for name in ("a", "b"):
        proxy, admin = free_port(), free_port()
        procs.append(subprocess.Popen([os.path.join(bindir, "fulcrum"), "-registry", f"etcd://127.0.0.1:{client}/bench",
            "-listen", f"127.0.0.1:{proxy}", "-admin", f"127.0.0.1:{admin}", "-workers", "1", "-t", "60", "-log-level", "warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        ports[name] = (proxy, admin)
    backend = free_port()
    procs.append(subprocess.Popen([os.path.join(bindir, "fulcrum-backend"), "-listen", f"127.0.0.1:{backend}", "-name", "bench"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    address = f"http://127.0.0.1:{backend}"
    for name in ("a", "b"):
        wait_for(f"instance {name}", lambda: json.loads(request(ports[name][1], "GET", "/cluster")[1])["data"]["connected"])
    wait_for("backend", lambda: socket.create_connection(("127.0.0.1", backend), 1).close() is None)

    b_proxy = http.client.HTTPConnection("127.0.0.1", ports["b"][0], timeout=10)
    def b_status():
        b_proxy.request("GET", "/")
        r = b_proxy.getresponse(); r.read()
        return r.status, r.getheader("X-Backend")

    latencies = []
    encoded = urllib.parse.quote(address, safe="")
    for i in range(rounds):
        status, body = request(ports["a"][1], "POST", "/register", json.dumps({"address": address}))
        answered = time.perf_counter()
        if status != 200: sys.exit(f"register: {status} {body}")
        while b_status() != (200, "bench"):
            if time.perf_counter() - answered > 5: sys.exit("B never routed to the backend")
        latencies.append((time.perf_counter() - answered) * 1000)
        request(ports["a"][1], "DELETE", f"/backends?address={encoded}")
        wait_for("drain on B", lambda: json.loads(request(ports["b"][1], "GET", "/backends")[1])["data"]["backends"] == [])
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"{rounds} registrations: median {statistics.median(latencies):.2f} ms, p99 {p99:.2f} ms, max {latencies[-1]:.2f} ms")
finally:
    for p in reversed(procs):
        p.send_signal(signal.SIGKILL); p.wait()
    shutil.rmtree(data_dir, ignore_errors=True)
