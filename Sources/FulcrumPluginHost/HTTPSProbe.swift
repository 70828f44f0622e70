import CFulcrumShim
import FulcrumCore
import FulcrumSDK
import Glibc

/// The `http` probe for `https://` backends, run by the host itself: the
/// probe plugin speaks plain TCP through the SDK, and giving plugins TLS
/// would mean growing the plugin ABI. Same semantics as the plugin (GET the
/// health path, a 2xx/3xx status line within the timeout is healthy), over
/// TLS verified like proxied traffic (CA store or -backend-ca, SNI = host).
enum HTTPSProbe {
    static func check(_ target: FulcrumAddress, path: String, timeoutMilliseconds: UInt32) -> String? {
        let start = (Clock.monotonicNanos() / 1_000_000)
        switch FulcrumProbeSocket.connect(to: target, timeoutMilliseconds: timeoutMilliseconds) {
        case .success(let socket):
            return exchange(socket.fd, target, path: path, start: start, timeoutMilliseconds: timeoutMilliseconds)
        case .failure(let failure):
            return failure.detail
        }
    }

    private static func exchange(_ fd: Int32, _ target: FulcrumAddress, path: String, start: UInt64, timeoutMilliseconds: UInt32) -> String? {
        let left = Int32(max(1, Int64(timeoutMilliseconds) - Int64((Clock.monotonicNanos() / 1_000_000) - start)))
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(target.authority)\r\nUser-Agent: fulcrum-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n".utf8)
        var response = [UInt8](repeating: 0, count: 4096)
        var detail = [CChar](repeating: 0, count: 256)
        let n = request.withUnsafeBytes { req in
            response.withUnsafeMutableBytes { resp in
                fulcrum_tls_probe(fd, target.host, req.baseAddress, req.count, resp.baseAddress, resp.count, left, &detail, detail.count)
            }
        }
        guard n >= 0 else { return String(cString: detail) }
        let bytes = Array(response[0..<n])
        guard let status = httpStatusCode(bytes) else { return bytes.isEmpty ? "connection closed without a response" : "invalid response" }
        return (200...399).contains(status) ? nil : "status \(status)"
    }

}
