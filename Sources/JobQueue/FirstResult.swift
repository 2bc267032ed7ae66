import Synchronization

/// The first of several racing tasks to produce a value wins; the others' values are dropped.
/// `wait` starts the racers and returns the winner's value; the task it gets back from `start`
/// (a watchdog) is cancelled then.
final class FirstResult<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var continuation: CheckedContinuation<Value, Never>?
    }
    private let state = Mutex(State())

    func resolve(_ value: Value) {
        let continuation = state.withLock { state -> CheckedContinuation<Value, Never>? in
            guard state.value == nil else { return nil }
            state.value = value
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(returning: value)
    }

    func wait(start: () -> Task<Void, Never>) async -> Value {
        let watchdog = start()
        let value = await withCheckedContinuation { (continuation: CheckedContinuation<Value, Never>) in
            let ready = state.withLock { state -> Value? in
                if let value = state.value { return value }
                state.continuation = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
        watchdog.cancel()
        return value
    }
}
