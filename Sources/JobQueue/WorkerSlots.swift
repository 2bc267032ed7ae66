import Synchronization

/// Why the worker stopped a job's handler before it ended by itself.
enum Interruption: Sendable, Equatable {
    /// The attempt ran past its timeout: it fails (and is retried like any failure).
    case timedOut(Duration)
    /// The job is no longer this worker's: an operator cancelled it, or its lease expired and
    /// another worker rescued it. Nothing is written; its writes, if any, roll back.
    case lost(cancelledByOperator: Bool)
    /// Graceful shutdown: back to the queue, the attempt not counted.
    case shutdown
}

/// The jobs a worker runs right now, against its concurrency limit, and the means to stop
/// each one's handler.
final class WorkerSlots: Sendable {
    let concurrency: Int

    private struct Running {
        var interruptedAtShutdown = false
        var cancel: (@Sendable () -> Void)?
        var interruption: Interruption?
    }
    private let running = Mutex([Int64: Running]())
    /// The claim loop's wake-up: signalled when enough slots came free to claim again.
    private let wake: Wakeup
    /// Signalled when the last running job finished.
    private let idle = Wakeup()

    init(concurrency: Int, wake: Wakeup) {
        self.concurrency = concurrency
        self.wake = wake
    }

    var free: Int { running.withLock { concurrency - $0.count } }
    var runningCount: Int { running.withLock { $0.count } }
    var runningIDs: [Int64] { running.withLock { Array($0.keys) } }

    func start(_ id: Int64) {
        running.withLock { $0[id] = Running() }
    }

    /// Gives the slot the way to cancel its handler, and whether a graceful shutdown stops it
    /// at once. If the job was interrupted before this, `cancel` runs now.
    func attach(_ id: Int64, interruptedAtShutdown: Bool, cancel: @escaping @Sendable () -> Void) {
        let cancelNow = running.withLock { running -> Bool in
            running[id]?.cancel = cancel
            running[id]?.interruptedAtShutdown = interruptedAtShutdown
            return running[id]?.interruption != nil
        }
        if cancelNow { cancel() }
    }

    /// Stops a job's handler (the first reason given is the one that counts). False if the
    /// job no longer runs here.
    @discardableResult
    func interrupt(_ id: Int64, _ reason: Interruption) -> Bool {
        let cancel = running.withLock { running -> (@Sendable () -> Void)?? in
            guard running[id] != nil else { return .none }
            if running[id]!.interruption == nil { running[id]!.interruption = reason }
            return .some(running[id]!.cancel)
        }
        guard let cancel else { return false }
        cancel?()
        return true
    }

    /// At graceful shutdown: stops the handlers that ask for it (`ShutdownBehaviour.interrupt`).
    func interruptAtShutdown() -> Int {
        let ids = running.withLock { $0.filter { $0.value.interruptedAtShutdown }.map(\.key) }
        for id in ids { interrupt(id, .shutdown) }
        return ids.count
    }

    func interruption(of id: Int64) -> Interruption? {
        running.withLock { $0[id]?.interruption }
    }

    /// Frees the slot and wakes the claim loop, which starts a prefetched job in it (the
    /// wake-up coalesces: a burst of finishes costs one turn of the loop).
    func finish(_ id: Int64) {
        let none = running.withLock { running -> Bool in
            running.removeValue(forKey: id)
            return running.isEmpty
        }
        wake.signal()
        if none { idle.signal() }
    }

    /// Waits until no job runs, up to `timeout`. True if none runs.
    func waitUntilIdle(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while runningCount > 0 {
            let remaining = deadline - .now
            if remaining <= .zero || Task.isCancelled { return false }
            await idle.wait(timeout: remaining)
        }
        return true
    }
}
