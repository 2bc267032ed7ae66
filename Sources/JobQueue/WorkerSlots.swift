import Synchronization

/// The jobs a worker runs right now, against its concurrency limit, and the means to stop
/// each one's handler.
///
/// Each start of a job gets a token of its own: an interruption decided on an older view (a
/// heartbeat's answer about an attempt that has since been handed back and claimed again)
/// names the token it saw, and does not touch the new attempt.
final class WorkerSlots: Sendable {
    let concurrency: Int

    struct Token: Hashable, Sendable {
        fileprivate let value: UInt64
    }

    private struct Running {
        let token: Token
        var interruptedAtShutdown = false
        var cancel: (@Sendable () -> Void)?
        /// Gives up waiting for a handler that does not stop.
        var abandon: (@Sendable () -> Void)?
        var deadline: ContinuousClock.Instant?
        var timeout: Duration = .zero
        var interruption: Interruption?
        var interruptedAt: ContinuousClock.Instant?
    }
    private struct State {
        var running: [Int64: Running] = [:]
        var nextToken: UInt64 = 0
    }
    private let state = Mutex(State())
    /// The claim loop's wake-up: signalled when a slot frees.
    private let wake: Wakeup
    /// Signalled when the last running job finished.
    private let idle = Wakeup()

    init(concurrency: Int, wake: Wakeup) {
        self.concurrency = concurrency
        self.wake = wake
    }

    var free: Int { state.withLock { concurrency - $0.running.count } }
    var runningCount: Int { state.withLock { $0.running.count } }
    var runningIDs: [Int64] { state.withLock { Array($0.running.keys) } }
    /// The running jobs with the token of their start, for decisions taken on this view.
    var runningSnapshot: [(id: Int64, token: Token)] { state.withLock { $0.running.map { ($0.key, $0.value.token) } } }

    func start(_ id: Int64) {
        state.withLock { state in
            state.nextToken &+= 1
            state.running[id] = Running(token: Token(value: state.nextToken))
        }
    }

    /// Gives the slot its attempt's timeout, the way to cancel its handler and to stop waiting
    /// for it, and whether a graceful shutdown stops it at once. If the job was interrupted
    /// before this, `cancel` runs now.
    func attach(_ id: Int64, timeout: Duration, interruptedAtShutdown: Bool,
                cancel: @escaping @Sendable () -> Void, abandon: @escaping @Sendable () -> Void) {
        let cancelNow = state.withLock { state -> Bool in
            guard state.running[id] != nil else { return false }
            state.running[id]!.cancel = cancel
            state.running[id]!.abandon = abandon
            state.running[id]!.timeout = timeout
            state.running[id]!.deadline = .now + timeout
            state.running[id]!.interruptedAtShutdown = interruptedAtShutdown
            return state.running[id]!.interruption != nil
        }
        if cancelNow { cancel() }
    }

    /// The worker's watchdog, called a few times a second: stops the handlers whose attempt
    /// ran past its timeout, and abandons those that were asked to stop `stopTimeout` ago and
    /// did not. One pass over the running jobs, instead of a timer per job.
    func sweep(stopTimeout: Duration) {
        let now = ContinuousClock.now
        let (late, stuck) = state.withLock { state -> ([(Int64, Duration)], [@Sendable () -> Void]) in
            var late: [(Int64, Duration)] = []
            var stuck: [@Sendable () -> Void] = []
            for (id, running) in state.running {
                if let since = running.interruptedAt {
                    if now >= since + stopTimeout, let abandon = running.abandon { stuck.append(abandon) }
                } else if let deadline = running.deadline, now >= deadline {
                    late.append((id, running.timeout))
                }
            }
            return (late, stuck)
        }
        for (id, timeout) in late { interrupt(id, .timedOut(timeout)) }
        for abandon in stuck { abandon() }
    }

    /// Stops a job's handler (the first reason given is the one that counts); with `token`,
    /// only if the job is still in the start that token names. False if nothing was stopped.
    @discardableResult
    func interrupt(_ id: Int64, _ reason: Interruption, token: Token? = nil) -> Bool {
        var cancel: (@Sendable () -> Void)?
        let found = state.withLock { state -> Bool in
            guard var running = state.running[id], token == nil || running.token == token else { return false }
            if running.interruption == nil {
                running.interruption = reason
                running.interruptedAt = .now
            }
            cancel = running.cancel
            state.running[id] = running
            return true
        }
        cancel?()
        return found
    }

    /// At graceful shutdown: stops the handlers that ask for it (`ShutdownBehaviour.interrupt`).
    func interruptAtShutdown() -> Int {
        let ids = state.withLock { $0.running.filter { $0.value.interruptedAtShutdown }.map(\.key) }
        for id in ids { interrupt(id, .shutdown) }
        return ids.count
    }

    /// Why, and since when, a job's handler was asked to stop; nil if it was not.
    func interruption(of id: Int64) -> (reason: Interruption, since: ContinuousClock.Instant)? {
        state.withLock { state in
            guard let running = state.running[id], let reason = running.interruption, let since = running.interruptedAt else { return nil }
            return (reason, since)
        }
    }

    /// Frees the slot and wakes the claim loop, which starts a prefetched job in it (the
    /// wake-up coalesces: a burst of finishes costs one turn of the loop).
    func finish(_ id: Int64) {
        let none = state.withLock { state -> Bool in
            state.running.removeValue(forKey: id)
            return state.running.isEmpty
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
