#!/usr/bin/env python3
"""Chaos run for cluster mode (issue 14 §4; not in CI, bounded in time).

    swift build && python3 bench/cluster-chaos.py [SECONDS]      (default 150)

Starts its own etcd (temporary data dir, free ports), a TCP relay in front
of it (this script), three fulcrum instances on -registry through the relay,
and three fulcrum-backends, all on 127.0.0.1. Steady GET traffic goes to the
three proxies (4 client threads, keep-alive off, bounded by the duration)
while, every few seconds, one fault at random: a backend killed and started
again (same port), etcd frozen (SIGSTOP) then thawed, etcd killed and
restarted on its data, or every etcd connection cut through the relay.
After each fault heals, one registry change (register or drain of a 4th
backend, through a random instance) is made and the time until all three
instances list the same set is measured. Reports requests, errors by class,
and the convergence times. FULCRUM_BIN_DIR picks the binaries (default
.build/debug).
"""
import http.client, json, os, random, shutil, signal, socket, subprocess, sys, tempfile, threading, time, urllib.parse

here = os.path.dirname(os.path.abspath(__file__))
bindir = os.environ.get("FULCRUM_BIN_DIR", os.path.join(here, "..", ".build", "debug"))
duration = float(sys.argv[1]) if len(sys.argv) > 1 else 150
random.seed(int(os.environ.get("CHAOS_SEED", "14")))

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def request(port, method, path, body=None, timeout=5):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    r = c.getresponse(); data = r.read(); c.close()
    return r.status, data, r.getheader("X-Backend")

def wait_for(what, condition, seconds=30):
    end = time.time() + seconds
    while time.time() < end:
        try:
            if condition(): return True
        except OSError:
            pass
        time.sleep(0.01)
    sys.exit(f"timed out waiting for {what}")

class Relay:
    """Forwards 127.0.0.1:port to etcd; cut() resets every connection."""
    def __init__(self, target):
        self.target, self.conns, self.lock = target, [], threading.Lock()
        self.sock = socket.socket(); self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0)); self.sock.listen(128); self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()
    def accept(self):
        while True:
            c, _ = self.sock.accept()
            try: u = socket.create_connection(("127.0.0.1", self.target), timeout=1); u.settimeout(None)
            except OSError: c.close(); continue
            with self.lock: self.conns += [c, u]
            for a, b in ((c, u), (u, c)): threading.Thread(target=self.pump, args=(a, b), daemon=True).start()
    def pump(self, a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d: break
                b.sendall(d)
        except OSError: pass
        for s in (a, b):
            try: s.shutdown(socket.SHUT_RDWR)
            except OSError: pass
    def cut(self):
        with self.lock: conns, self.conns = self.conns, []
        for s in conns:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"); s.close()
            except OSError: pass

procs, data_dir = {}, tempfile.mkdtemp(prefix="fulcrum-chaos-etcd-")
client_port, peer_port = free_port(), free_port()
def start_etcd():
    procs["etcd"] = subprocess.Popen([shutil.which("etcd") or "etcd", "--name", "chaos", "--data-dir", data_dir,
        "--listen-client-urls", f"http://127.0.0.1:{client_port}", "--advertise-client-urls", f"http://127.0.0.1:{client_port}",
        "--listen-peer-urls", f"http://127.0.0.1:{peer_port}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
        "--initial-cluster", f"chaos=http://127.0.0.1:{peer_port}", "--log-level", "error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for("etcd", lambda: request(client_port, "GET", "/health")[0] == 200)

backend_ports = [free_port() for _ in range(4)]
def start_backend(i):
    procs[f"b{i}"] = subprocess.Popen([os.path.join(bindir, "fulcrum-backend"), "-listen", f"127.0.0.1:{backend_ports[i]}", "-name", f"b{i}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(f"backend {i}", lambda: request(backend_ports[i], "GET", "/")[0] == 200)

stats = {"requests": 0, "2xx": 0, "502": 0, "503": 0, "504": 0, "other": 0, "conn_error": 0}
stats_lock, stop = threading.Lock(), threading.Event()
def traffic(proxies):
    i = 0
    while not stop.is_set():
        i += 1
        try: status = request(proxies[i % 3], "GET", "/", timeout=10)[0]; k = "2xx" if status < 300 else (str(status) if str(status) in stats else "other")
        except OSError: k = "conn_error"
        with stats_lock: stats["requests"] += 1; stats[k] += 1

def addresses(admin):
    s, d, _ = request(admin, "GET", "/backends")
    return sorted((b["address"], b.get("draining", False)) for b in json.loads(d)["data"]["backends"])

faults, convergence = [], []
try:
    start_etcd()
    relay = Relay(client_port)
    for i in range(4): start_backend(i)
    instances = []
    for n in range(3):
        proxy, admin = free_port(), free_port()
        procs[f"f{n}"] = subprocess.Popen([os.path.join(bindir, "fulcrum"), "-registry", f"etcd://127.0.0.1:{relay.port}/chaos",
            "-listen", f"127.0.0.1:{proxy}", "-admin", f"127.0.0.1:{admin}", "-workers", "1", "-t", "0.5", "-log-level", "warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        instances.append((proxy, admin))
        wait_for("instance", lambda: request(admin, "GET", "/cluster")[0] == 200)
    for i in range(3):
        wait_for("register", lambda: request(instances[0][1], "POST", "/register", json.dumps({"address": f"http://127.0.0.1:{backend_ports[i]}"}))[0] == 200)
    wait_for("all three agree", lambda: all(len(addresses(a)) == 3 for _, a in instances))
    threads = [threading.Thread(target=traffic, args=([p for p, _ in instances],), daemon=True) for _ in range(4)]
    for t in threads: t.start()
    end, fourth_in = time.time() + duration, False
    while time.time() < end - 8:
        time.sleep(random.uniform(2, 4))
        kind = random.choice(["backend", "freeze", "etcd-restart", "cut"])
        faults.append(kind)
        if kind == "backend":
            i = random.randrange(3); procs[f"b{i}"].kill(); procs[f"b{i}"].wait(); time.sleep(2); start_backend(i)
        elif kind == "freeze":
            os.kill(procs["etcd"].pid, signal.SIGSTOP); time.sleep(3); os.kill(procs["etcd"].pid, signal.SIGCONT)
        elif kind == "etcd-restart":
            procs["etcd"].kill(); procs["etcd"].wait(); time.sleep(2); start_etcd()
        else:
            relay.cut()
        # One change through a random instance once etcd takes writes again, then convergence.
        target = f"http://127.0.0.1:{backend_ports[3]}"
        admin = random.choice(instances)[1]
        def change():
            if fourth_in: return request(admin, "DELETE", "/backends?address=" + urllib.parse.quote(target, safe=""))[0] in (200, 404)
            return request(admin, "POST", "/register", json.dumps({"address": target}))[0] == 200
        wait_for("a registry write accepted after the fault", change, seconds=30)
        fourth_in = not fourth_in
        t0 = time.time()
        def agree():
            sets = [addresses(a) for _, a in instances]
            want = (target in [x for x, d in sets[0] if not d]) == fourth_in
            return want and sets[0] == sets[1] == sets[2]
        ok = False
        while time.time() - t0 < 10:
            try:
                if agree(): ok = True; break
            except (OSError, ValueError): pass
            time.sleep(0.01)
        convergence.append((kind, time.time() - t0 if ok else None))
    stop.set()
    for t in threads: t.join(15)
finally:
    stop.set()
    for p in procs.values():
        try: os.kill(p.pid, signal.SIGCONT); p.kill(); p.wait(5)
        except (OSError, subprocess.TimeoutExpired): pass
    shutil.rmtree(data_dir, ignore_errors=True)

print(f"duration {duration:.0f} s, faults {len(faults)}: " + ", ".join(f"{k} {faults.count(k)}" for k in sorted(set(faults))))
print("requests " + ", ".join(f"{k} {v}" for k, v in stats.items()))
times = [t for _, t in convergence if t is not None]
late = [(k, t) for k, t in convergence if t is None or t > 1]
print(f"convergence after each fault: {len(times)}/{len(convergence)} converged; max {max(times) * 1000 if times else 0:.0f} ms; "
      f"over 1 s: {len(late)} {late}")
