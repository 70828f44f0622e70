import FulcrumHTTP

/// What an exchange needs from the request head, captured once when it is
/// parsed. A retry reuses these; it never re-parses the rewritten head.
struct RequestFacts: Sendable {
    var method = HTTPMethod.get
    var http10 = false
    /// The client wants the connection kept after this exchange.
    var keepAlive = true
    /// Connection: upgrade + Upgrade (a 101 opens a tunnel).
    var upgrade = false
    var framing = BodyFraming.none
    var expectContinue = false
    /// Where the method, target and host (the absolute-form authority when
    /// there is one, else Host) sit in the *forwarded* head, whose bytes
    /// outlive the client's buffer: a retry's pick reads them there.
    var methodRange = 0..<0
    var targetRange = 0..<0
    var hostRange = 0..<0

    init() {}

    init(_ parsed: ParsedHead, draining: Bool) {
        method = parsed.method
        http10 = parsed.version == .http10
        keepAlive = parsed.wantsKeepAlive && !draining
        upgrade = parsed.isUpgradeRequest
        framing = parsed.requestFraming
        expectContinue = parsed.expectContinue
    }

    var idempotent: Bool { method.isIdempotent }
    var isConnect: Bool { method == .connect }
    var hasBody: Bool { framing != .none }
}
