import Foundation
import Testing
@testable import Placement

@Suite("Instance decoding and generation")
struct InstanceTests {
    static let valid = """
        {"format": "placement-instance/1",
         "weights": {"placed": 1000, "waiting_day": 1, "family_ties": 200, "language": 40, "occupation": 60, "preference": 30},
         "municipalities": [
           {"code": "2480", "name": "Umeå", "capacity": {"persons": 120, "dwellings": 45, "large_dwellings": 4,
            "school_places": 30, "preschool_places": 12, "accessible_dwellings": 3, "trauma_care": 4},
            "languages": ["ar", "prs", "so", "ti"], "shortage_occupations": ["assistant_nurse", "welder"], "extra": true}],
         "cases": [
           {"id": "MIG-2026-000123", "members": [{"age": 34}, {"age": 31}, {"age": 9}, {"age": 4}],
            "needs": {"trauma_care": 1}, "language": "ar", "occupations": ["assistant_nurse"],
            "family_ties": ["2480"], "preferences": ["2480", "2460"], "excluded": ["2284"], "waiting_days": 45},
           {"id": "MIG-2026-000124", "members": [{"age": 50}]}]}
        """

    @Test("the FORMAT.md example decodes, with defaults for absent keys")
    func decodesExample() async throws {
        let instance = try PlacementInstance.decode(from: Data(Self.valid.utf8))
        #expect(instance.weights == .standard)
        #expect(instance.municipalities[0].name == "Umeå")
        #expect(instance.municipalities[0].capacity["trauma_care"] == 4)
        #expect(instance.cases[0].members.map(\.age) == [34, 31, 9, 4])
        #expect(instance.cases[0].needs == ["trauma_care": 1])
        #expect(instance.cases[1].waitingDays == 0 && instance.cases[1].language == nil && instance.cases[1].excluded.isEmpty)
        let result = try await Solver(timeLimit: 10, effort: 0.05).solveOnOwnThread(instance)
        #expect(result.objective == 1000 + 45 + 200 + 40 + 60 + 30 + 1000 + 40 * 0)
        #expect(result.stats.provenOptimal)
    }

    /// Replaces the first occurrence of `target` in the valid document.
    static func broken(_ target: String, _ replacement: String) -> String {
        guard let range = valid.range(of: target) else { fatalError("no \(target)") }
        return valid.replacingCharacters(in: range, with: replacement)
    }

    static let badInputs: [(String, String)] = [
        ("not json", "not valid JSON"),
        ("[1, 2]", "the document must be a JSON object"),
        (broken("placement-instance/1", "placement-instance/2"), "format: \"placement-instance/2\" is not \"placement-instance/1\""),
        (broken("\"age\": 9", "\"age\": -3"), "cases[0].members[2].age: -3 is not an age (0 to 120)"),
        (broken("\"age\": 9", "\"age\": 9.5"), "cases[0].members[2].age: 9.5 is not a whole number"),
        (broken("\"age\": 9", "\"age\": \"nine\""), "cases[0].members[2].age: expected a whole number, found a string"),
        (broken("{\"age\": 50}", "{\"years\": 50}"), "cases[1].members[0].age: is missing"),
        (broken("[{\"age\": 50}]", "[]"), "cases[1].members: a household needs at least one member"),
        (broken("\"id\": \"MIG-2026-000124\"", "\"id\": \"MIG-2026-000123\""), "cases[1].id: \"MIG-2026-000123\" is used twice (also cases[0])"),
        (broken("\"id\": \"MIG-2026-000124\", ", ""), "cases[1].id: is missing"),
        (broken("\"trauma_care\": 1}", "\"trauma_care\": 0}"), "cases[0].needs.trauma_care: 0 is not a need (a whole number, 1 or more)"),
        (broken("\"waiting_days\": 45", "\"waiting_days\": -1"), "cases[0].waiting_days: -1 is negative"),
        (broken("\"persons\": 120", "\"persons\": -5"), "municipalities[0].capacity.persons: -5 is not a capacity (must be 0 or more)"),
        (broken("\"excluded\": [\"2284\"]", "\"excluded\": \"2284\""), "cases[0].excluded: expected an array of strings, found a string"),
        (broken("\"excluded\": [\"2284\"]", "\"excluded\": [2284]"), "cases[0].excluded[0]: expected a string"),
        (broken("\"placed\": 1000", "\"placed\": \"a lot\""), "weights.placed: expected a whole number, found a string"),
        (broken("\"code\": \"2480\"", "\"code\": 2480"), "municipalities[0].code: expected a string, found a number"),
        (broken("\"cases\": [", "\"kases\": ["), "cases: is missing"),
        (broken("\"members\": [{\"age\": 34}", "\"members\": [7"), "cases[0].members[0]: expected an object"),
    ]

    @Test("each kind of bad input is refused with its JSON path", arguments: 0..<badInputs.count)
    func badInput(index: Int) {
        let (json, message) = Self.badInputs[index]
        #expect(throws: InstanceError.self) { try PlacementInstance.decode(from: Data(json.utf8)) }
        do {
            _ = try PlacementInstance.decode(from: Data(json.utf8))
        } catch {
            #expect(error.description.hasPrefix(message), "got: \(error.description)")
        }
    }

    @Test("a municipality code used twice is refused")
    func duplicateCode() {
        var instance = try! PlacementInstance.decode(from: Data(Self.valid.utf8))
        instance.municipalities.append(instance.municipalities[0])
        #expect(throws: InstanceError(path: "municipalities[1].code", message: "\"2480\" is used twice (also municipalities[0])")) {
            try instance.validate()
        }
    }

    @Test("the generator is deterministic and its JSON decodes to the same instance", arguments: [InstanceGenerator.Kind.region, .national])
    func generator(kind: InstanceGenerator.Kind) throws {
        let a = InstanceGenerator.generate(kind: kind, cases: 300, seed: 42)
        let b = InstanceGenerator.generate(kind: kind, cases: 300, seed: 42)
        let c = InstanceGenerator.generate(kind: kind, cases: 300, seed: 43)
        #expect(a == b)
        #expect(a != c)
        #expect(a.cases.count == 300)
        #expect(a.municipalities.count == (kind == .national ? 290 : a.municipalities.count))
        #expect(Set(a.municipalities.map(\.code)).count == a.municipalities.count)
        try a.validate()
        #expect(try PlacementInstance.decode(from: a.jsonData()) == a)
        #expect(a.jsonData() == b.jsonData())
        // Realistic mix: singles and large families, needs, ties.
        #expect(a.cases.contains { $0.members.count == 1 } && a.cases.contains { $0.members.count >= 5 })
        #expect(a.cases.contains { !$0.needs.isEmpty } && a.cases.contains { !$0.familyTies.isEmpty })
    }

    @Test("examples decode")
    func examplesDecode() throws {
        let files = try FileManager.default.contentsOfDirectory(at: Reference.examplesDirectory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "json" }
        #expect(!files.isEmpty)
        for file in files {
            let instance = try PlacementInstance.decode(from: Data(contentsOf: file))
            #expect(!instance.cases.isEmpty)
        }
    }
}
