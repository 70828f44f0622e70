// Fuzz target `admin-target`: the admin API's request-target splitter.
//
// ../run.sh builds it one of two ways:
//  - FUZZ_ADMIN_TARGET_STRUCT: the pure Sources/FulcrumControlPlane/AdminTarget.swift
//    (`AdminTarget.split`, from the admin branch) compiled alone with this file;
//  - FUZZ_CONTROL_PLANE_MODULE (today on this branch): the whole FulcrumControlPlane
//    module built with -enable-testing and imported @testable, for the internal
//    `splitTarget(_:) -> (String, [String: String])` in AdminServer.swift.
#if FUZZ_CONTROL_PLANE_MODULE
@testable import FulcrumControlPlane
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAdminTarget(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    // The server hands the splitter the request-target; the head parser lets
    // only visible ASCII through, but the splitter must not depend on that.
    let target = String(decoding: input, as: UTF8.self)
#if FUZZ_ADMIN_TARGET_STRUCT
    let split = AdminTarget.split(target)
    let (path, query) = (split.path, split.query)
    // The byte and String entry points agree on UTF-8 input.
    if target.utf8.elementsEqual(input), AdminTarget.split(input) != split { oracleFailure("split(bytes) != split(String)", input) }
    if split != AdminTarget.split(Array(target.utf8)) { oracleFailure("split not deterministic", input) }
#else
    let (path, query) = splitTarget(target)
#endif
    // Without "?" there is no query; decoding never lengthens the path.
    if !target.utf8.contains(UInt8(ascii: "?")) && !query.isEmpty { oracleFailure("query without '?'", input) }
    if path.utf8.count > target.utf8.count * 3 { oracleFailure("path longer than the target", input) }
    return 0
}
