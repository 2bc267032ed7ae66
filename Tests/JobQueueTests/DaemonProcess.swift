import Foundation
import TestSupport
import Testing

/// A child process of the tests: `receptiond`, `reception` or a script.
///
/// Spawned with posix_spawn rather than Foundation's Process, which learns that a child ended
/// when a socket the child inherited closes: a server that a script leaves running
/// (`scripts/db start`) would hold that socket — and every other descriptor of this process —
/// forever. Here a child gets stdin (/dev/null), stdout and stderr (files) only, and its end
/// is polled with waitpid, so no thread of the cooperative pool blocks.
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    let outputPath: String
    let errorPath: String
    private var status: Int32?

    init(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        outputPath = folder.appendingPathComponent("stdout").path
        errorPath = folder.appendingPathComponent("stderr").path

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        Self.closeOthers(&actions)

        let variables = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
        let argv = ([executable.path] + arguments).map { strdup($0) } + [nil]
        let envp = variables.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable.path, &actions, nil, argv, envp)
        guard spawned == 0 else { throw SpawnFailed(path: executable.path, code: spawned) }
        self.pid = pid
    }

    /// glibc's posix_spawn_file_actions_addclosefrom_np (2.34+), which Swift does not import:
    /// the child keeps no descriptor beyond 0, 1 and 2.
    private static func closeOthers(_ actions: inout posix_spawn_file_actions_t) {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return }
        _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
    }

    func signal(_ signal: Int32) {
        if status == nil { kill(pid, signal) }
    }

    /// The exit status (128 + the signal when killed by one), or nil if it still runs after
    /// `timeout`.
    func waitForExit(timeout: Duration = .seconds(120)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while status == nil {
            var raw: Int32 = 0
            let result = waitpid(pid, &raw, WNOHANG)
            if result == pid {
                status = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
                break
            }
            if ContinuousClock.now > deadline { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return status
    }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
    var errorOutput: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    deinit {
        if status == nil {
            kill(pid, SIGKILL)
            var raw: Int32 = 0
            _ = waitpid(pid, &raw, 0)
        }
        try? FileManager.default.removeItem(atPath: (outputPath as NSString).deletingLastPathComponent)
    }
}

struct SpawnFailed: Error, CustomStringConvertible {
    let path: String
    let code: Int32
    var description: String { "could not run \(path) (error \(code))" }
}

/// A `receptiond` from the build that scripts/test made (`$RECEPTION_BIN_DIR`), with the test
/// kinds registered. Its log (stderr) is read on failure.
final class DaemonProcess: Sendable {
    let child: ChildProcess

    /// Without periodic jobs unless asked: retention's prune-jobs and the daily deadline-check
    /// would be among the jobs the tests count (MaintenanceTests and DeadlineTests test them).
    init(url: String, _ arguments: [String]) throws {
        let retention = arguments.contains("--retention") ? [] : ["--retention", "off"]
        let deadlines = arguments.contains("--deadline-check-schedule") ? [] : ["--deadline-check-schedule", "off"]
        child = try ChildProcess(try TestDatabase.executable("receptiond"),
            ["--database-url", url, "--testing-kinds", "--log-level", "info", "--poll-interval", "100ms"] + retention + deadlines + arguments)
    }

    var pid: Int32 { child.pid }
    func signal(_ signal: Int32) { child.signal(signal) }
    func waitForExit(timeout: Duration = .seconds(120)) async -> Int32? { await child.waitForExit(timeout: timeout) }
    var log: String { child.errorOutput }
}

/// Runs a command line tool to its end: status, stdout, stderr.
func runTool(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, output: String, error: String) {
    let child = try ChildProcess(executable, arguments, environment: environment)
    let status = await child.waitForExit(timeout: .seconds(300)) ?? -1
    return (status, child.output, child.errorOutput)
}
