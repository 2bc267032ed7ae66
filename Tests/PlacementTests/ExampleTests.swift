import Foundation
import Testing
@testable import Placement

/// The examples beside FORMAT.md, with optima proven by an exact MIP solver.
@Suite("Examples")
struct ExampleTests {
    static var names: [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: Reference.examplesDirectory.path)) ?? []
        return files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }

    @Test("each example reaches its proven optimum within 0.1%, feasibly, with a bound above the optimum", arguments: names)
    func example(name: String) async throws {
        let directory = Reference.examplesDirectory
        let instance = try PlacementInstance.decode(from: Data(contentsOf: directory.appendingPathComponent("\(name).json")))
        let optimumFile = try Data(contentsOf: directory.appendingPathComponent("\(name).optimum"))
        let optimum = try #require((try JSONSerialization.jsonObject(with: optimumFile) as? [String: Any])?["objective"] as? Double)
        let result = try await Solver(timeLimit: 120).solveOnOwnThread(instance)
        #expect(Reference.problems(instance, result) == [])
        #expect(Double(result.objective) <= optimum)
        #expect(Double(result.bound) >= optimum)
        #expect((optimum - Double(result.objective)) / optimum <= 0.001, "objective \(result.objective), optimum \(optimum)")
    }
}
