import FulcrumEventLoop

/// The epoll interest of an exchange's two sockets, derived in one place
/// from what each side is waiting for. The client socket stays
/// readable|rdhup (as while awaiting a head) unless back-pressure applies,
/// so a plain keep-alive exchange changes no epoll registration.
struct ExchangeInterest: Equatable {
    var client: UInt32
    var upstream: UInt32

    struct Inputs {
        var requestBodyRead: Bool
        var clientHalfClosed: Bool
        /// The client buffer has no room left for reading.
        var clientBufferFull: Bool
        var clientWriteBlocked: Bool
        var upstreamWriteBlocked: Bool
        /// Response bytes received but not yet written to the client.
        var responsePending: Int
        var responseComplete: Bool
        /// The backend sent EOF (nothing more to read).
        var upstreamReadClosed: Bool
    }

    static func compute(_ i: Inputs) -> ExchangeInterest {
        var client: UInt32 = 0
        let wantRead = i.requestBodyRead ? !i.clientHalfClosed && !i.clientBufferFull : !i.upstreamWriteBlocked && !i.clientBufferFull
        if wantRead { client |= EventMask.readable }
        if i.clientWriteBlocked { client |= EventMask.writable }
        if !i.clientHalfClosed { client |= EventMask.readHangUp }
        var upstream: UInt32 = 0
        if i.upstreamWriteBlocked { upstream |= EventMask.writable }
        // Read the backend while the client can take more; once the
        // response is complete, stay readable to notice a close or extra bytes.
        if !i.upstreamReadClosed && (i.responseComplete || (!i.clientWriteBlocked && i.responsePending == 0)) {
            upstream |= EventMask.readable
        }
        return ExchangeInterest(client: client, upstream: upstream)
    }
}
