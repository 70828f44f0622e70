/// The backends one request has tried, so a retry never picks one of them
/// again (CONTRACT §4: retried while another eligible backend exists). A
/// worker's strategy learns of a mark-down only through the asynchronous
/// publish, so without this a retry could be handed the backend that just
/// failed. Inline storage, no allocation: a request makes few attempts.
struct TriedBackends {
    static let capacity = 8
    private var ids: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    private(set) var count = 0

    /// Backend ids are never 0 (their tag half is non-zero), so 0 marks an empty slot.
    @inline(__always)
    func contains(_ id: UInt64) -> Bool {
        guard count > 0 else { return false }
        return withUnsafeBytes(of: ids) { raw in
            let p = raw.bindMemory(to: UInt64.self)
            for i in 0..<count where p[i] == id { return true }
            return false
        }
    }

    /// Notes `id`; past `capacity` ids are not kept (the attempt limit, at
    /// most the number of eligible backends, still ends the retries).
    mutating func insert(_ id: UInt64) {
        guard count < Self.capacity, !contains(id) else { return }
        withUnsafeMutableBytes(of: &ids) { $0.bindMemory(to: UInt64.self)[count] = id }
        count += 1
    }

    mutating func removeAll() { count = 0 }
}
