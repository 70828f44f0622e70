// Fuzz target `admin-target`: the admin API's request-target splitter
// `splitTarget(_:) -> (path, query)`.
//
// Built one of two ways by ../run.sh: when the pure file
// Sources/FulcrumControlPlane/AdminTarget.swift exists it is compiled alone
// with this file; otherwise the whole FulcrumControlPlane module is built with
// -enable-testing and imported @testable (today: the function is internal, in
// AdminServer.swift). -DFUZZ_CONTROL_PLANE_MODULE selects the second way.
#if FUZZ_CONTROL_PLANE_MODULE
@testable import FulcrumControlPlane
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAdminTarget(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    // The server hands the splitter the request-target as decoded UTF-8; the
    // head parser lets only visible ASCII through, but the splitter must not
    // depend on that.
    let target = String(decoding: input, as: UTF8.self)
    let (path, query) = splitTarget(target)
    // Oracles: without "?" there is no query; the path never holds the query.
    if !target.contains("?") && !query.isEmpty { oracleFailure("query without '?'", input) }
    if path.utf8.count > target.utf8.count { oracleFailure("path longer than the target", input) }
    return 0
}
