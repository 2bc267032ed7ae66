extension Solver {
    /// Solves on a thread of its own (``OwnThread``): a solve is seconds to minutes of CPU.
    ///
    /// Cancelling the calling task stops the solve within one of its time checks; this then
    /// throws `CancellationError` rather than return a placement nobody asked to keep. `stop`
    /// is an extra way to stop it (the placement found so far is returned).
    public func solveOnOwnThread(_ instance: PlacementInstance, stop: StopSignal = StopSignal()) async throws -> PlacementResult {
        let result = try await withTaskCancellationHandler {
            try await OwnThread.run("placement-solver") { self.solve(instance, stop: stop) }
        } onCancel: {
            stop.stop()
        }
        try Task.checkCancellation()
        return result
    }
}
