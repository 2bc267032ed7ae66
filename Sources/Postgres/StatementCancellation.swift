import Synchronization

/// One statement's cancellation. PQcancel reaches a statement only while the server runs it:
/// a cancel that arrives before (the statement still queued behind the connection's queue, or
/// on its way to the server) is dropped, and the statement then runs to its end. So a statement
/// cancelled before it is sent is not sent at all, and one cancelled while it runs is asked
/// again, a few times a second, until it ends.
final class StatementCancellation: Sendable {
    private enum Phase {
        case queued
        case running
        case ended
    }
    private let state = Mutex<(phase: Phase, cancelled: Bool)>((.queued, false))

    /// On the connection's queue, right before sending: false if it was cancelled meanwhile,
    /// and then it must not be sent.
    func start() -> Bool {
        state.withLock { state in
            guard !state.cancelled else { return false }
            state.phase = .running
            return true
        }
    }

    /// On the connection's queue, once the server has answered.
    func end() {
        state.withLock { $0.phase = .ended }
    }

    /// From the cancelled task: true if the statement is at the server, so that the server must
    /// be asked to cancel it.
    func cancel() -> Bool {
        state.withLock { state in
            state.cancelled = true
            return state.phase == .running
        }
    }

    var isRunning: Bool {
        state.withLock { $0.phase == .running }
    }
}
