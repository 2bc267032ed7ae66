import CLibPQ
import Synchronization

/// A libpq connect under way on its connection's queue, which the awaiting task may leave when
/// it is cancelled: libpq's connect blocks (up to `connect_timeout` per host), and a daemon told
/// to stop must not wait for it. A connect left behind finishes on its queue and closes what it
/// opened. (Not `PQconnectPoll`: its caller would have to enforce `connect_timeout` itself, and
/// with it libpq's move to the next host of a multi-host string.)
final class PendingConnect: Sendable {
    /// A connection libpq opened, handed from its queue to the awaiting task.
    struct Opened: @unchecked Sendable {
        let handle: OpaquePointer
    }

    private enum State {
        case starting
        case waiting(CheckedContinuation<Opened, any Error>)
        case ended
    }
    private let state = Mutex(State.starting)

    /// Waits for the connect started by `start`, or for the task's cancellation, whichever
    /// comes first.
    static func run(_ start: @escaping @Sendable (PendingConnect) -> Void) async throws -> OpaquePointer {
        let pending = PendingConnect()
        let opened = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Opened, any Error>) in
                let cancelled = pending.state.withLock { state -> Bool in
                    guard case .starting = state else { return true }
                    state = .waiting(continuation)
                    return false
                }
                if cancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    start(pending)
                }
            }
        } onCancel: {
            pending.end(.failure(CancellationError()))
        }
        return opened.handle
    }

    /// The connect's outcome, from its queue. A connection nobody waits for any more is closed.
    func finish(_ result: Result<OpaquePointer, any Error>) {
        if !end(result.map(Opened.init)), case .success(let handle) = result {
            PQfinish(handle)
        }
    }

    /// Resumes the waiting task with `result`, once; false when it had ended already.
    @discardableResult
    private func end(_ result: Result<Opened, any Error>) -> Bool {
        let continuation = state.withLock { state -> CheckedContinuation<Opened, any Error>?? in
            switch state {
            case .ended:
                return .none
            case .starting:
                state = .ended
                return .some(nil)
            case .waiting(let continuation):
                state = .ended
                return .some(continuation)
            }
        }
        guard let continuation else { return false }
        continuation?.resume(with: result)
        return true
    }
}
