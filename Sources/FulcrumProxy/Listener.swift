import CFulcrumShim
import FulcrumCore
import FulcrumEventLoop
import Glibc

/// A worker's own listening socket (SO_REUSEPORT: the kernel spreads new
/// connections over the workers' listeners, no shared accept lock).
final class Listener: EventHandler {
    unowned(unsafe) let worker: ProxyWorker
    /// Set when accept ran out of file descriptors: listening pauses for a second.
    var pausedUntil: UInt64 = 0
    /// The HTTPS listener: accepted connections get a TLS session.
    let servesTLS: Bool

    init(worker: ProxyWorker, tls: Bool = false) {
        self.worker = worker
        self.servesTLS = tls
    }

    override func handleEvent(_ events: UInt32) {
        var peer = SocketAddress(storage: sockaddr_storage(), length: 0)
        for _ in 0..<64 {
            let fd = Socket.accept(self.fd, peer: &peer)
            if fd < 0 {
                let e = errno
                if e == EMFILE || e == ENFILE {
                    Log.error("accept: out of file descriptors; pausing new connections for a second")
                    pausedUntil = worker.loop.now &+ 1000
                    worker.loop.setInterest(self, 0)
                }
                return
            }
            // TCP_NODELAY is inherited from the listening socket (Linux).
            worker.adopt(fd: fd, peer: peer, tls: servesTLS)
        }
    }

    /// Called every second: resume after an EMFILE pause.
    func tick(now: UInt64) {
        if pausedUntil != 0 && now >= pausedUntil {
            pausedUntil = 0
            worker.loop.setInterest(self, EventMask.readable)
        }
    }
}
