import FulcrumCore
import FulcrumHTTP
import FulcrumSDK

/// One watch on a key range: a single long POST /v3/watch whose chunked
/// response carries one JSON message per line.
///
/// The caller reads it with `next(idle:)` on its own thread; every read is
/// bounded, so a silent watch returns `.idle` (the caller then checks the
/// watch is still current) instead of blocking forever.
public final class EtcdWatch: @unchecked Sendable {
    public enum Message: Sendable {
        /// etcd confirmed the watch.
        case created
        /// Changes, oldest first; `revision` is the store revision when sent.
        case events([WatchEvent], revision: Int64)
        /// The start revision is older than etcd's history: list again.
        case compacted(Int64)
        /// Nothing arrived within the idle time.
        case idle
    }

    private let connection: HTTPConnection
    private var body: BodyTracker
    private var lines = WatchLines()
    private var queued: [[UInt8]] = []
    public let endpoint: String

    private init(connection: HTTPConnection, body: BodyTracker) {
        self.connection = connection
        self.body = body
        endpoint = connection.endpoint.description
    }

    /// Opens a watch on every key under `prefix` from `revision` (inclusive).
    /// Fails unless etcd answers 200 within the client's call timeout.
    public static func open(_ client: EtcdClient, prefix: String, fromRevision revision: Int64) throws(EtcdError) -> EtcdWatch {
        let deadline = Deadline(seconds: client.callTimeout)
        let (c, _, _) = try client.connect(deadline: deadline, reuse: false)
        c.enableKeepAlive()
        let request: JSONValue = ["create_request": [
            "key": .string(Base64.encode(prefix)),
            "range_end": .string(Base64.encode(prefixRangeEnd(prefix))),
            "start_revision": jsonInt64(revision),
            "progress_notify": true,
        ]]
        try c.send(path: "/v3/watch", body: request.serialized, deadline: deadline)
        let (status, tracker, _) = try c.readHead(deadline: deadline)
        guard status == 200 else { throw EtcdError(.server, "etcd \(c.endpoint) /v3/watch: HTTP \(status)") }
        return EtcdWatch(connection: c, body: tracker)
    }

    /// The next message, waiting at most `idle` seconds for bytes.
    public func next(idle: Double) throws(EtcdError) -> Message {
        let deadline = Deadline(seconds: idle)
        while true {
            if !queued.isEmpty {
                let line = queued.removeFirst()
                if let message = try parse(line) { return message }
                continue
            }
            var parsedLines: [[UInt8]]? = []
            let step = try connection.bodyStep(&body, until: deadline, idleOK: true) { bytes in parsedLines = lines.feed(bytes) }
            guard let got = parsedLines else { throw EtcdError(.protocolError, "etcd \(endpoint) watch: message too long") }
            queued += got
            if !queued.isEmpty { continue }
            switch step {
            case .idle: return .idle
            case .complete: throw EtcdError(.unavailable, "etcd \(endpoint) closed the watch")
            case .progress: if deadline.passed { return .idle }
            }
        }
    }

    /// One line: nil for messages that change nothing.
    private func parse(_ line: [UInt8]) throws(EtcdError) -> Message? {
        let json: JSONValue
        do {
            json = try line.withUnsafeBytes { raw throws(JSONError) in try JSONValue.parse(raw) }
        } catch {
            throw EtcdError(.protocolError, "etcd \(endpoint) watch: a message is not JSON (\(error))")
        }
        if let e = json["error"] {
            let message = e["message"]?.stringValue ?? e.serialized
            throw EtcdError(message.contains("compacted") ? .compacted : .unavailable, "etcd \(endpoint) watch: \(message)")
        }
        guard let result = json["result"] else { throw EtcdError(.protocolError, "etcd \(endpoint) watch: message without result") }
        let compactRevision = int64(result["compact_revision"])
        if compactRevision != 0 { return .compacted(compactRevision) }
        if result["canceled"]?.boolValue == true {
            throw EtcdError(.unavailable, "etcd \(endpoint) canceled the watch: \(result["cancel_reason"]?.stringValue ?? "no reason given")")
        }
        if result["created"]?.boolValue == true { return .created }
        let revision = int64(result["header"]?["revision"])
        var events: [WatchEvent] = []
        for e in result["events"]?.arrayValue ?? [] {
            guard let kvJSON = e["kv"], let kv = KeyValue(json: kvJSON) else {
                throw EtcdError(.protocolError, "etcd \(endpoint) watch: an event without a key")
            }
            events.append(WatchEvent(kind: e["type"]?.stringValue == "DELETE" ? .delete : .put, kv: kv))
        }
        return .events(events, revision: revision)
    }
}
