import Foundation
import Placement

extension Process {
    /// Waits until the process ends, without holding a thread: the test runner shares the
    /// cooperative pool (two threads on a small machine) with every worker the tests run in
    /// process, and a blocking `waitUntilExit` there stalls their heartbeats. A cancelled wait
    /// (a test's time guard ran out) ends the process, so that nothing waits on it for ever.
    public func exitStatus() async -> Int32 {
        while isRunning {
            do { try await Task.sleep(for: .milliseconds(20)) } catch {
                terminate()
                while isRunning { usleep(10_000) }
                break
            }
        }
        return terminationStatus
    }

    /// Runs a program to its end with its output (stdout and stderr) in a file, never a pipe
    /// that a blocking read would have to drain.
    public static func output(of executable: URL, _ arguments: [String], in folder: URL? = nil,
                              standardErrorToo: Bool = true) async throws -> (status: Int32, output: String) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("output-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: file.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: file) }
        let handle = try FileHandle(forWritingTo: file)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let folder { process.currentDirectoryURL = folder }
        process.standardOutput = handle
        process.standardError = standardErrorToo ? handle : FileHandle.nullDevice
        try process.run()
        let status = await process.exitStatus()
        try handle.close()
        return (status, (try? String(contentsOf: file, encoding: .utf8)) ?? "")
    }
}

/// Runs CPU-bound test work (parsing 100,000 rows, say) off the cooperative pool, as the
/// engine runs its solves (``OwnThread``): on the pool it would hold one of its two threads
/// for seconds, and stall the workers that other suites run in this process.
public func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await OwnThread.run("test-work", work)
}
