// fulcrum-backend: the demo/test backend as its own process.
//   fulcrum-backend -listen 127.0.0.1:9001 [-name backend-1] [-mode normal|hang|oneshot]
import FulcrumCore
import FulcrumDemoBackend
import Glibc

signal(SIGPIPE, SIG_IGN)
var listen = "127.0.0.1:0"
var name = ""
var mode = DemoBackend.Mode.normal
var args = CommandLine.arguments.dropFirst().makeIterator()
while let arg = args.next() {
    let flag = arg.hasPrefix("--") ? String(arg.dropFirst()) : arg
    switch flag {
    case "-listen": listen = args.next() ?? listen
    case "-name": name = args.next() ?? name
    case "-mode":
        guard let m = args.next().flatMap(DemoBackend.Mode.init(rawValue:)) else {
            Console.error("fulcrum-backend: -mode must be normal, hang or oneshot")
            exit(2)
        }
        mode = m
    default:
        Console.error("fulcrum-backend: unknown flag \(arg)\nusage: fulcrum-backend -listen HOST:PORT [-name NAME] [-mode normal|hang|oneshot]")
        exit(2)
    }
}
guard let (host, port) = splitHostPort(listen), case .success(let address) = SocketAddress.resolve(host: host, port: port) else {
    Console.error("fulcrum-backend: invalid -listen \(listen)")
    exit(2)
}
do {
    let backend = try DemoBackend(name: name.isEmpty ? "backend" : name, listen: address, mode: mode)
    Console.out("listening on \(backend.address)")
    backend.start()
    while true { pause() }
} catch {
    Console.error("fulcrum-backend: \(error)")
    exit(1)
}
