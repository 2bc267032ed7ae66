import Foundation

extension Solver {
    /// Solves on a thread of its own, never on Swift's cooperative pool: a solve is seconds to
    /// minutes of CPU, and on a small machine it would otherwise starve every other task of the
    /// process (heartbeats, LISTEN, signal handling).
    ///
    /// Cancelling the calling task stops the solve within one of its time checks; this then
    /// throws `CancellationError` rather than return a placement nobody asked to keep. `stop`
    /// is an extra way to stop it (the placement found so far is returned).
    public func solveOnOwnThread(_ instance: PlacementInstance, stop: StopSignal = StopSignal()) async throws -> PlacementResult {
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<PlacementResult, Never>) in
                let thread = Thread {
                    continuation.resume(returning: self.solve(instance, stop: stop))
                }
                thread.name = "placement-solver"
                thread.stackSize = 16 << 20
                thread.start()
            }
        } onCancel: {
            stop.stop()
        }
        try Task.checkCancellation()
        return result
    }
}
