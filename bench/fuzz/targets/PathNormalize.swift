// Fuzz target `path`: request-path normalisation (FulcrumRouting).
//
// Oracle, for the path of any target: normalising never crashes; a path it
// accepts becomes one that starts with "/", holds no "." or ".." segment
// and no "//", is no longer than the input (plus a leading "/"), and is its
// own normal form (idempotent); a path the fast check passes is already
// normal; and an "/admin/" prefix route meets the request exactly when the
// normal form starts with "/admin/".
import FulcrumRouting

let admin = RouteTable([{ var r = RouteConfig(); r.pathPrefix = "/admin/"; return r }()], pools: ["default"], defaultPool: "default")
let scratch = RouteScratch(capacity: 70_000)
nonisolated(unsafe) let out = UnsafeMutablePointer<UInt8>.allocate(capacity: 70_002)
nonisolated(unsafe) let again = UnsafeMutablePointer<UInt8>.allocate(capacity: 70_002)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPath(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: min(size, 65_536))
    let (start, end) = RouteRequest.pathRange(of: input)
    let path = UnsafeRawBufferPointer(rebasing: input[start..<end])
    guard path.first == 0x2F else { return 0 }
    let (outcome, n) = PathNormalizer.normalize(path, into: out)
    let outcomeRouted = admin.route(RouteRequest(method: UnsafeRawBufferPointer(start: nil, count: 0), target: input,
                                                 host: UnsafeRawBufferPointer(start: nil, count: 0)), scratch: scratch) { _ in nil }
    guard outcome == .ok else {
        if outcomeRouted != .refused(outcome) { oracleFailure("route table saw \(outcomeRouted), normaliser \(outcome)", input) }
        return 0
    }
    let normal = UnsafeRawBufferPointer(start: out, count: n)
    if normal.first != 0x2F { oracleFailure("normal form does not start with /", input) }
    if n > path.count + 1 { oracleFailure("normal form longer than the input", input) }
    var segment = 0
    for i in 1...n {
        if i == n || normal[i] == 0x2F {
            let s = UnsafeRawBufferPointer(rebasing: normal[(segment + 1)..<i])
            if s.elementsEqual([0x2E]) || s.elementsEqual([0x2E, 0x2E]) { oracleFailure("dot segment left", input) }
            if s.isEmpty && i < n { oracleFailure("empty segment left", input) }
            segment = i
        }
    }
    let (outcome2, n2) = PathNormalizer.normalize(normal, into: again)
    if outcome2 != .ok || !UnsafeRawBufferPointer(start: again, count: n2).elementsEqual(normal) {
        oracleFailure("not idempotent", input)
    }
    if !PathNormalizer.needsWork(path) && !path.elementsEqual(normal) { oracleFailure("fast path skipped a path that is not normal", input) }
    let expectAdmin = n >= 7 && normal.prefix(7).elementsEqual("/admin/".utf8)
    if (outcomeRouted == .route(0)) != expectAdmin { oracleFailure("admin route \(outcomeRouted) but normal form says \(expectAdmin)", input) }
    return 0
}
