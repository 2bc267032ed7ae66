import Synchronization

/// A coalescing signal for one waiting task: any number of `signal()`s before or during a
/// wait end that wait once. Cheap to signal from any thread.
final class Wakeup: Sendable {
    private struct State {
        var signaled = false
        var waiter: (id: UInt64, continuation: CheckedContinuation<Void, Never>)?
        var cancelledBeforeWaiting: Set<UInt64> = []
        var nextID: UInt64 = 0
    }
    private let state = Mutex(State())

    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter.continuation
            }
            state.signaled = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns at the next signal (or at once if one came since the last wait), when
    /// `timeout` passes, or when the task is cancelled.
    func wait(timeout: Duration?) async {
        let already = state.withLock { state in
            defer { state.signaled = false }
            return state.signaled
        }
        if already || Task.isCancelled { return }
        guard let timeout else { return await waitForSignal() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForSignal() }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForSignal() async {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.cancelledBeforeWaiting.remove(id) != nil { return true }
                    if state.signaled {
                        state.signaled = false
                        return true
                    }
                    state.waiter = (id, continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                if let waiter = state.waiter, waiter.id == id {
                    state.waiter = nil
                    return waiter.continuation
                }
                state.cancelledBeforeWaiting.insert(id)
                return nil
            }
            waiter?.resume()
        }
        // A cancellation that came after the continuation resumed leaves its id behind.
        state.withLock { _ = $0.cancelledBeforeWaiting.remove(id) }
    }
}

/// Runs `operation`, and gives up on it (cancelling it) after `timeout`: nil then.
func withTimeout<T: Sendable>(_ timeout: Duration, _ operation: @escaping @Sendable () async -> T) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask { await operation() }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}
