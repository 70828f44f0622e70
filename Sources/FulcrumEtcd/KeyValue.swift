import FulcrumSDK

/// One key as etcd returns it (mvccpb.KeyValue), keys and values decoded.
public struct KeyValue: Sendable, Equatable {
    public let key: String
    public let value: String
    public let createRevision: Int64
    public let modRevision: Int64
    public let lease: Int64

    public init(key: String, value: String, createRevision: Int64 = 0, modRevision: Int64 = 0, lease: Int64 = 0) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.lease = lease
    }

    /// From the gateway's JSON: base64 `key`/`value`, int64s as strings,
    /// fields at their default value left out.
    init?(json: JSONValue) {
        guard let k = json["key"]?.stringValue, let key = Base64.decodeText(k) else { return nil }
        self.key = key
        value = json["value"]?.stringValue.flatMap(Base64.decodeText) ?? ""
        createRevision = int64(json["create_revision"])
        modRevision = int64(json["mod_revision"])
        lease = int64(json["lease"])
    }
}

/// A watch event.
public struct WatchEvent: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case put, delete }
    public let kind: Kind
    /// For a delete: the key, and `modRevision` the revision of the delete.
    public let kv: KeyValue
}

/// An int64 as the gateway writes it: a JSON string ("42"); a number is
/// accepted too; absent means 0 (proto3 leaves defaults out).
func int64(_ v: JSONValue?) -> Int64 {
    guard let v else { return 0 }
    if let s = v.stringValue { return Int64(s) ?? 0 }
    if let d = v.doubleValue { return Int64(d) }
    return 0
}

/// The JSON for an int64 field.
func jsonInt64(_ n: Int64) -> JSONValue { .string(String(n)) }

/// The end of the range holding every key that starts with `prefix`: the
/// prefix with its last byte incremented (etcd's "prefix" range).
func prefixRangeEnd(_ prefix: String) -> [UInt8] {
    var bytes = Array(prefix.utf8)
    while let last = bytes.last {
        if last < 0xFF { bytes[bytes.count - 1] = last + 1; return bytes }
        bytes.removeLast()
    }
    return [0]  // every key
}
