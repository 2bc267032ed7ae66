import Synchronization

/// One user of a connection at a time: a statement, a COPY, a wait for notifications or a whole
/// transaction runs while its task holds the connection, and another task that wants it
/// meanwhile waits its turn, rather than slipping its statements into someone else's
/// transaction (libpq serialises calls on a connection, not conversations). What runs inside —
/// the statements of a transaction's body, and the tasks it starts — already holds it.
final class ConnectionOwnership: Sendable {
    /// The connections the current task holds, inherited by the tasks it starts.
    @TaskLocal static var held: [ObjectIdentifier] = []

    private struct State {
        var busy = false
        var waiting: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    func run<T>(for connection: ObjectIdentifier, _ body: () async throws -> T) async throws -> T {
        if Self.held.contains(connection) { return try await body() }
        await acquire()
        defer { release() }
        return try await Self.$held.withValue(Self.held + [connection]) { try await body() }
    }

    /// A waiter is not woken by cancellation: it waits for the holder's statement, which a
    /// cancelled holder ends at once (PQcancel), so the wait stays short.
    private func acquire() async {
        let free = state.withLock { state in
            if state.busy { return false }
            state.busy = true
            return true
        }
        if free { return }
        await withCheckedContinuation { continuation in
            let granted = state.withLock { state in
                if state.busy {
                    state.waiting.append(continuation)
                    return false
                }
                state.busy = true
                return true
            }
            if granted { continuation.resume() }
        }
    }

    /// Hands the connection to the next waiter, in arrival order, or frees it.
    private func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiting.isEmpty {
                state.busy = false
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }
}
