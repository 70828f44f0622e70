/// CONTRACT §4's retry rule as one decision table, pure so that every row
/// is a unit test. nginx's `proxy_next_upstream` rule: a request may go to
/// another backend only if the backend cannot have acted on it.
enum RetryPolicy {
    /// What the attempt had done when it failed.
    struct Progress: Equatable, Sendable {
        /// Bytes of the request (head or body) written to this connection.
        var requestBytesWritten: Int64 = 0
        /// Body bytes written to this connection.
        var bodyBytesWritten: Int64 = 0
        /// The connection came from the keep-alive pool.
        var reusedConnection = false
        /// A fresh-connection retry on the same backend was used already.
        var freshRetryUsed = false
        /// Attempts so far on distinct backends, this one included.
        var attempts = 1
        /// Backends eligible when the request arrived.
        var eligible = 1
        /// Every failed attempt so far was a connect timeout.
        var allConnectTimeouts = true
    }

    enum Decision: Equatable, Sendable {
        /// A pooled connection the server had closed: the same backend again,
        /// on a new connection, not marked down.
        case retrySameBackendFresh
        /// Pick another backend; mark the failed one down first if `markDown`.
        case retryAnotherBackend(markDown: Bool)
        /// Answer the client with `status` (502, 503 or 504).
        case fail(status: Int, markDown: Bool)
    }

    /// Whether replaying the request elsewhere is safe (RFC 9110 §9.2.2):
    /// nothing reached the backend, or the method is idempotent and no body
    /// byte was sent.
    static func isSafeToReplay(_ failure: UpstreamFailure, _ p: Progress, idempotent: Bool) -> Bool {
        if failure.nothingSent || p.requestBytesWritten == 0 { return true }
        return idempotent && p.bodyBytesWritten == 0
    }

    static func decide(_ failure: UpstreamFailure, _ p: Progress, idempotent: Bool) -> Decision {
        if case .localResource = failure { return .fail(status: 503, markDown: false) }
        let safe = isSafeToReplay(failure, p, idempotent: idempotent)
        // A reused connection that fails before any response byte was most
        // likely closed by the server while idle: not the backend's fault.
        let stale = p.reusedConnection && !failure.nothingSent
        if stale {
            if safe && !p.freshRetryUsed { return .retrySameBackendFresh }
            if !safe { return .fail(status: 502, markDown: false) }
        }
        let markDown = !stale
        // Only connect timeouts, all the way: the client gets 504, else 502.
        let timeoutsOnly = p.allConnectTimeouts && failure == .connectTimeout
        guard safe && p.attempts < p.eligible else {
            return .fail(status: timeoutsOnly ? 504 : 502, markDown: markDown)
        }
        return .retryAnotherBackend(markDown: markDown)
    }
}
