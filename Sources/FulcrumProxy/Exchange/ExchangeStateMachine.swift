import FulcrumHTTP

/// One request/response exchange as a pure state machine: the client
/// connection (the driver) reports what happened on the sockets, the machine
/// says what to do. No I/O, no buffers, no clocks: every transition is a
/// unit test (`ExchangeStateMachineTests`). Impossible transitions trap.
///
///     connecting ──connected──▶ sending ──requestSent──▶ awaitingHead
///         │  ▲                     │                         │
///         │  └──retry(decision)────┴─────upstreamFailed──────┤
///         │                                                  ├─1xx─▶ awaitingHead
///         │                                                  ├─101/2xx CONNECT─▶ tunnel
///         └──────▶ responding(status) ◀──fail / 502 / 504────┤
///                        │                                   └─final head─▶ streaming
///                  clientDrained                                  │ bodyComplete + clientDrained
///                        ▼                                        ▼
///                      done ◀─────────────────── finish(reuseUpstream, keepClient)
///
/// The request body may still be flowing in `streaming` (an early response);
/// the finish decision accounts for it.
struct ExchangeStateMachine {
    enum State: Equatable {
        /// Waiting for the backend's connect to complete.
        case connecting
        /// Connected; writing the request; no response byte yet.
        case sending
        /// The whole request was written; waiting for the response head (`-timeout`).
        case awaitingHead
        /// The response head went to the client; the body streams.
        case streaming(Streaming)
        /// A response the proxy made itself is being written.
        case responding(status: Int, keepClient: Bool)
        /// Switched protocols: the exchange is over, a tunnel carries bytes.
        case tunnel(status: Int)
        case done
    }

    struct Streaming: Equatable {
        var status: Int
        /// The backend connection can serve another request afterwards.
        var reusable: Bool
        /// Close the client connection after this response (told in the head).
        var closeAfter: Bool
        var bodyComplete: Bool
    }

    /// What the driver should do next.
    enum Action: Equatable {
        case wait
        /// A connect is in progress: arm the connect timer (the connection's
        /// write readiness reports the outcome).
        case awaitConnect
        /// Write the request (head, then body) to the backend.
        case pumpRequest
        /// Pass a 1xx head on (HTTP/1.1 clients only) and keep waiting.
        case forwardInformational(toClient: Bool)
        /// Write the response head with these options; stream the body.
        case startStreaming(HeadRewriter.ResponseOptions, dechunk: Bool)
        case startTunnel
        /// Connect again: to the same backend (a stale pooled connection) or another.
        case retry(sameBackend: Bool, markDown: Bool)
        /// Answer with a proxy-made response (the backend connection is dropped).
        case respond(status: Int, markDown: Bool)
        /// Nothing more can be said: reset the client connection.
        case abort(bodyTimeout: Bool)
        /// The response is through: pool or close the backend connection, keep or close the client.
        case finish(reuseUpstream: Bool, keepClient: Bool)
        /// An inactivity deadline moved: arm the timer again.
        case rearmTimer
    }

    /// Which of the worker's deadline queues the backend connection waits in.
    enum Timer: Equatable { case none, connect, responseHead, bodyInactivity }

    let facts: RequestFacts
    private(set) var state = State.connecting
    private(set) var progress: RetryPolicy.Progress
    /// The whole request reached the backend's socket.
    private(set) var requestSent = false
    /// The client's request body was read to its end (nothing of it is left on the wire).
    private(set) var requestBodyRead: Bool
    private(set) var anyResponseByte = false
    private(set) var clientHalfClosed = false
    /// A backend TLS handshake is in progress: it is part of connecting, so
    /// `-connect-timeout` bounds it, and a stall there sent nothing.
    private(set) var handshaking = false
    /// The proxy is shutting down: no connection is kept after this exchange.
    var draining: Bool

    init(facts: RequestFacts, eligible: Int, draining: Bool = false) {
        self.facts = facts
        self.draining = draining
        requestBodyRead = !facts.hasBody
        progress = RetryPolicy.Progress(eligible: max(1, eligible))
    }

    /// The status the client got (0 while unknown, e.g. after an abort before any response).
    private(set) var status = 0

    var responseStarted: Bool {
        switch state {
        case .streaming, .responding, .tunnel, .done: return true
        default: return false
        }
    }

    var upstreamTimer: Timer {
        switch state {
        case .connecting: return .connect
        case .sending: return handshaking ? .connect : .bodyInactivity
        case .awaitingHead: return .responseHead
        // Until the last byte is written to the client: a client that stops
        // reading a response already received in full is cut too.
        case .streaming: return .bodyInactivity
        case .responding, .tunnel, .done: return .none
        }
    }

    // MARK: - attempts

    /// A backend connection is attached: pooled or connected at once, or
    /// still connecting. `handshake`: a TLS handshake must run first.
    mutating func attached(connected: Bool, reused: Bool, handshake: Bool = false) -> Action {
        precondition(state == .connecting, "attach in \(state)")
        progress.reusedConnection = reused
        progress.requestBytesWritten = 0
        progress.bodyBytesWritten = 0
        requestSent = false
        anyResponseByte = false
        handshaking = handshake
        if connected { state = .sending; return .pumpRequest }
        return .awaitConnect
    }

    /// The backend TLS handshake completed: from now on the body inactivity limit applies.
    mutating func handshakeCompleted() { handshaking = false }

    mutating func connected() -> Action {
        precondition(state == .connecting, "connected in \(state)")
        state = .sending
        return .pumpRequest
    }

    /// Bytes of the request went to the backend.
    mutating func wrote(requestBytes: Int, bodyBytes: Int) {
        progress.requestBytesWritten += Int64(requestBytes)
        progress.bodyBytesWritten += Int64(bodyBytes)
    }

    mutating func requestBodyFinishedReading() { requestBodyRead = true }

    /// The last request byte was written.
    mutating func requestFullySent() {
        requestSent = true
        if state == .sending { state = .awaitingHead }
    }

    mutating func clientHalfClose() { clientHalfClosed = true }

    /// The attempt failed before any response byte.
    mutating func upstreamFailed(_ failure: UpstreamFailure) -> Action {
        precondition(state == .connecting || state == .sending || state == .awaitingHead, "upstream failure in \(state)")
        handshaking = false
        if failure != .connectTimeout { progress.allConnectTimeouts = false }
        let decision = RetryPolicy.decide(failure, progress, idempotent: facts.idempotent)
        switch decision {
        case .retrySameBackendFresh:
            progress.freshRetryUsed = true
            state = .connecting
            return .retry(sameBackend: true, markDown: false)
        case .retryAnotherBackend(let markDown):
            progress.attempts += 1
            progress.freshRetryUsed = false
            state = .connecting
            return .retry(sameBackend: false, markDown: markDown)
        case .fail(let status, let markDown):
            return respond(status, markDown: markDown)
        }
    }

    /// A retry found no eligible backend this request has not tried: 504
    /// when every try timed out connecting, else 502.
    mutating func noOtherBackend() -> Action {
        precondition(state == .connecting, "no other backend in \(state)")
        return respond(progress.allConnectTimeouts ? 504 : 502)
    }

    // MARK: - response

    mutating func responseBytesArrived() { anyResponseByte = true }

    /// A response head was parsed. `serverKeepsAlive`: the backend did not ask to close.
    mutating func responseHead(status: Int, framing: BodyFraming, serverKeepsAlive: Bool) -> Action {
        precondition(state == .sending || state == .awaitingHead, "response head in \(state)")
        if status == 101 || (facts.isConnect && status >= 200 && status < 300) {
            guard facts.upgrade || facts.isConnect, status != 101 || facts.upgrade else { return respond(502) }
            state = .tunnel(status: status)
            self.status = status
            return .startTunnel
        }
        if status < 200 { return .forwardInformational(toClient: !facts.http10) }
        let dechunk = facts.http10 && framing == .chunked
        let closeAfter = framing == .untilClose || dechunk || !facts.keepAlive || clientHalfClosed || draining || !requestBodyRead
        let reusable = serverKeepsAlive && framing != .untilClose
        self.status = status
        state = .streaming(Streaming(status: status, reusable: reusable, closeAfter: closeAfter, bodyComplete: framing == .none))
        let options = HeadRewriter.ResponseOptions(close: closeAfter, keepAlive10: facts.http10 && !closeAfter, dechunk: dechunk)
        return .startStreaming(options, dechunk: dechunk)
    }

    /// Bytes past the response body: the backend connection is not reusable.
    mutating func responseExtraBytes() {
        guard case .streaming(var s) = state else { return }
        s.reusable = false
        state = .streaming(s)
    }

    mutating func responseBodyComplete() {
        guard case .streaming(var s) = state else { preconditionFailure("body complete in \(state)") }
        s.bodyComplete = true
        state = .streaming(s)
    }

    /// Everything queued for the client was written.
    mutating func clientDrained() -> Action {
        switch state {
        case .streaming(let s) where s.bodyComplete:
            state = .done
            // Body bytes the backend never took are dropped by the driver
            // (their end is known); bytes the client has not sent yet are
            // still on the wire, so then the client connection must close.
            return .finish(reuseUpstream: s.reusable && requestSent,
                           keepClient: !s.closeAfter && requestBodyRead && !clientHalfClosed && !draining)
        case .responding(_, let keep):
            state = .done
            return .finish(reuseUpstream: false, keepClient: keep && requestBodyRead && !clientHalfClosed && !draining)
        default:
            return .wait
        }
    }

    /// The backend closed its side (EOF). `untilClose`: the response body is close-delimited.
    mutating func upstreamClosed(untilClose: Bool) -> Action {
        switch state {
        case .connecting, .sending, .awaitingHead:
            return anyResponseByte ? respond(502) : upstreamFailed(.closedEarly)
        case .streaming(var s):
            if s.bodyComplete || untilClose {
                s.bodyComplete = true
                s.reusable = false
                state = .streaming(s)
                return .wait
            }
            return abort()
        default:
            preconditionFailure("upstream EOF in \(state)")
        }
    }

    /// The backend connection failed (errno) or sent something unparseable.
    mutating func upstreamBroke(_ failure: UpstreamFailure?) -> Action {
        switch state {
        case .connecting, .sending, .awaitingHead:
            if let failure, !anyResponseByte { return upstreamFailed(failure) }
            return respond(502)
        case .streaming:
            return abort()
        default:
            preconditionFailure("upstream failure in \(state)")
        }
    }

    /// The backend connection's deadline passed; `idle` is how long since it
    /// last made progress, `bodyLimit` the body inactivity limit (ms).
    mutating func upstreamTimerFired(idle: UInt64, bodyLimit: UInt64) -> Action {
        switch upstreamTimer {
        case .connect:
            return upstreamFailed(.connectTimeout)
        case .responseHead:
            return respond(504)
        case .bodyInactivity:
            if idle < bodyLimit { return .rearmTimer }
            if case .streaming = state { return abort(bodyTimeout: true) }
            return respond(504)
        case .none:
            return .wait
        }
    }

    /// The client's body broke the chunk grammar: 400 if nothing was answered yet.
    mutating func requestBodyInvalid() -> Action { responseStarted ? abort() : respond(400) }

    /// The client connection failed or reset.
    mutating func clientFailed() -> Action { abort() }

    /// A proxy-made answer (no response byte has reached the client).
    mutating func respond(_ status: Int, markDown: Bool = false) -> Action {
        precondition(!responseStarted, "local response after the response started")
        self.status = status
        state = .responding(status: status, keepClient: false)
        return .respond(status: status, markDown: markDown)
    }

    /// A local answer that may keep the connection (503 with no backend, before any attempt).
    mutating func respondKeeping(_ status: Int) -> Action {
        precondition(state == .connecting, "early local response in \(state)")
        self.status = status
        state = .responding(status: status, keepClient: facts.keepAlive && requestBodyRead)
        return .respond(status: status, markDown: false)
    }

    private mutating func abort(bodyTimeout: Bool = false) -> Action {
        state = .done
        return .abort(bodyTimeout: bodyTimeout)
    }
}
