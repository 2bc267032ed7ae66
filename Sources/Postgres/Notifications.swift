import CLibPQ
import Foundation

/// A message sent with NOTIFY (or `pg_notify`) on a channel this connection listens to.
public struct PostgresNotification: Sendable, Equatable {
    public let channel: String
    public let payload: String
    /// The server process that sent it.
    public let senderPID: Int
}

extension Connection {
    /// Starts listening on a channel. The name is quoted, so any text is a safe channel name.
    /// After a reconnect, listen again: a new connection listens to nothing.
    public func listen(_ channel: String) async throws {
        let quoted = try await quoteIdentifier(channel)
        try await executeScript("LISTEN " + quoted)
    }

    public func unlisten(_ channel: String) async throws {
        let quoted = try await quoteIdentifier(channel)
        try await executeScript("UNLISTEN " + quoted)
    }

    /// Sends a notification; it is delivered when the surrounding transaction commits.
    public func notify(_ channel: String, payload: String = "") async throws {
        try await execute("SELECT pg_notify(\(channel), \(payload))")
    }

    /// Waits until at least one notification arrives, the timeout passes (returns none), or the
    /// task is cancelled (returns none). It polls the connection's socket, so it holds no thread
    /// of the cooperative pool while it waits. A lost connection throws `connectionLost`.
    public func waitForNotifications(timeout: Duration) async throws -> [PostgresNotification] {
        if Task.isCancelled { return [] }
        let (socket, wake) = socketAndWakeDescriptors
        let timeoutMilliseconds = max(0, Int(timeout.components.seconds) * 1000 + Int(timeout.components.attoseconds / 1_000_000_000_000_000))
        return try await onConnectionQueue(sendsStatement: false) { connection in
            var notifications = try Connection.takeNotifications(connection)
            if !notifications.isEmpty { return notifications }
            let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(timeoutMilliseconds) * 1_000_000
            while true {
                let now = DispatchTime.now().uptimeNanoseconds
                if now >= deadline { return [] }
                var descriptors = [
                    pollfd(fd: socket, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
                ]
                let remaining = Int32(min(UInt64(Int32.max), (deadline - now + 999_999) / 1_000_000))
                let ready = poll(&descriptors, 2, remaining)
                if ready < 0 {
                    if errno == EINTR { continue }
                    throw PostgresError.protocolViolation("poll failed (errno \(errno))")
                }
                if descriptors[1].revents != 0 {
                    // Woken by cancellation: empty the pipe, hand back what we have.
                    var sink = [UInt8](repeating: 0, count: 64)
                    while read(wake, &sink, sink.count) > 0 {}
                    return try Connection.takeNotifications(connection)
                }
                if descriptors[0].revents != 0 {
                    guard PQconsumeInput(connection) == 1 else { throw PostgresError.connectionLost }
                    notifications = try Connection.takeNotifications(connection)
                    if !notifications.isEmpty { return notifications }
                }
            }
        }
    }

    static func takeNotifications(_ connection: OpaquePointer) throws -> [PostgresNotification] {
        if PQstatus(connection) != CONNECTION_OK { throw PostgresError.connectionLost }
        var notifications: [PostgresNotification] = []
        while let notice = PQnotifies(connection) {
            notifications.append(PostgresNotification(
                channel: String(cString: notice.pointee.relname),
                payload: String(cString: notice.pointee.extra),
                senderPID: Int(notice.pointee.be_pid)))
            PQfreemem(notice)
        }
        return notifications
    }
}
