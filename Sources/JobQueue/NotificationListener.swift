import Logging
import Postgres

/// Wakes the claim loop when jobs of its queues are enqueued: LISTENs on `jobs_available`,
/// which every INSERT into `jobs` notifies once per queue of ready jobs (so a COPY of 100,000
/// jobs wakes it once).
/// Its connection LISTENs again after each reconnect, and wakes the claim loop then, since a
/// notification may have been missed meanwhile; the claim loop also polls, as a fallback.
struct NotificationListener: Sendable {
    let database: ReconnectingConnection
    let wake: Wakeup
    /// The worker's queues: a notification names its queue (sql/010_jobs_control.sql); one for
    /// another queue wakes nothing, one with no queue named wakes the loop.
    let queues: Set<String>

    /// The connection for a listener: LISTEN and wake on every (re)connect.
    static func connection(conninfo: String?, applicationName: String, settings: [(name: String, value: String)] = [],
                           logger: Logger, wake: Wakeup) -> ReconnectingConnection {
        ReconnectingConnection(conninfo: conninfo, applicationName: applicationName, settings: settings, role: "listen", logger: logger) { connection in
            try await connection.listen(JobStatements.channel)
            wake.signal()
        }
    }

    func run() async {
        while !Task.isCancelled {
            do {
                let notifications = try await database.run { connection in
                    try await connection.waitForNotifications(timeout: .seconds(30))
                }
                if notifications.contains(where: { $0.payload.isEmpty || queues.contains($0.payload) }) { wake.signal() }
            } catch {
                if Task.isCancelled { return }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}
