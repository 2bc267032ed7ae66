/// How an attempt ended, to be written by the completion batcher.
enum JobOutcome: Sendable {
    /// Succeeded (batched with others in one statement).
    case succeeded
    /// Failed: retryable after `retryDelay`, or discarded if it was the last attempt.
    case failed(message: String, retryDelay: Duration)
    /// Ended by its handler (`JobControl.cancel` / `.discard`).
    case finished(JobState, message: String)
    /// Run again after the delay, the attempt not counted.
    case snoozed(Duration)
    /// Back to the queue at once (shutdown, lost database). The attempt is not counted, except
    /// when `counted` and the job was handed back so a few times already: a job whose session
    /// keeps dying ends discarded instead of looping for ever.
    case handedBack(counted: Bool)
    /// Nothing to write: the handler completed the job itself, or the job is no longer ours.
    case none
}
