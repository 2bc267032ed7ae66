import Foundation
import Placement
import Testing
import TestSupport

/// `reception solve` as a process, as an operator or a script runs it.
@Suite("reception solve")
struct SolveCommandTests {
    func instanceFile(in folder: URL) throws -> URL {
        let file = folder.appendingPathComponent("instance.json")
        try InstanceGenerator.generate(kind: .region, cases: 60, seed: 3).jsonData().write(to: file)
        return file
    }

    func withFolder(_ body: (URL) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("solve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try await body(folder)
    }

    @Test func progressGoesToStandardErrorAndTheResultToStandardOutput() async throws {
        try await withFolder { folder in
            let instance = try instanceFile(in: folder)
            let both = try await Process.output(of: try TestDatabase.executable("reception"),
                                                ["solve", instance.path, "--time-limit", "2", "--progress"])
            let stdout = try await Process.output(of: try TestDatabase.executable("reception"),
                                                  ["solve", instance.path, "--time-limit", "2", "--progress"], standardErrorToo: false)
            #expect(both.status == 0 && stdout.status == 0)
            #expect(both.output.contains(" finished: objective "), "\(both.output.suffix(400))")
            #expect(both.output.contains("proven optimal") || both.output.contains("below the best possible"))
            #expect(!stdout.output.contains("finished: objective"), "standard output holds the result only")
            let result = try JSONSerialization.jsonObject(with: Data(stdout.output.utf8)) as? [String: Any]
            #expect(result?["format"] as? String == "placement-result/1")
        }
    }

    @Test func reproducibleRunsGiveTheSamePlacement() async throws {
        try await withFolder { folder in
            let instance = try instanceFile(in: folder)
            var outputs: [String] = []
            for _ in 0..<2 {
                let run = try await Process.output(of: try TestDatabase.executable("reception"),
                                                   ["solve", instance.path, "--reproducible", "--time-limit", "600"], standardErrorToo: false)   // budgets, never the clock, end it
                #expect(run.status == 0)
                let json = try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any]
                let placed = (json?["assignments"] as? [[String: Any]] ?? []).map { "\($0["case"] ?? "")>\($0["municipality"] ?? "")" }
                outputs.append("\(json?["objective"] ?? "") \(json?["bound"] ?? "") \(placed)")
            }
            #expect(outputs[0] == outputs[1])
        }
    }

    /// `--output` writes a file atomically, but a device or a pipe must be written to, never
    /// replaced by a file (run as root, a rename over /dev/null once replaced it).
    @Test func anOutputThatIsAPipeStaysAPipe() async throws {
        try await withFolder { folder in
            let instance = try instanceFile(in: folder)
            let fifo = folder.appendingPathComponent("result.fifo")
            #expect(mkfifo(fifo.path, 0o600) == 0)
            let copy = folder.appendingPathComponent("copy.json")
            let reader = Process()
            reader.executableURL = URL(fileURLWithPath: "/bin/sh")
            reader.arguments = ["-c", "cat \"$0\" > \"$1\"", fifo.path, copy.path]
            try reader.run()
            let run = try await Process.output(of: try TestDatabase.executable("reception"),
                                               ["solve", instance.path, "--reproducible", "--output", fifo.path])
            #expect(run.status == 0, "\(run.output)")
            let type = try FileManager.default.attributesOfItem(atPath: fifo.path)[.type] as? FileAttributeType
            #expect(type != nil && type != .typeRegular, "the pipe is still a pipe")
            if type == .typeRegular { reader.terminate() }   // nobody will ever write to its pipe
            _ = await reader.exitStatus()
            let result = try JSONSerialization.jsonObject(with: try Data(contentsOf: copy)) as? [String: Any]
            #expect(result?["format"] as? String == "placement-result/1")
        }
    }
}
