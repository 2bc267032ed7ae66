import Foundation
import Testing
@testable import Placement

/// `reception solve` input that Foundation's JSONDecoder alone would accept or trap on: keys
/// given twice, whole numbers no Int holds.
@Suite("Instance hardening")
struct InstanceHardeningTests {
    func decodingError(_ json: String) -> InstanceError? {
        do throws(InstanceError) {
            _ = try PlacementInstance.decode(from: Data(json.utf8))
            return nil
        } catch {
            return error
        }
    }

    static let twice = "is given twice; a key may appear once in an object"

    @Test("a key given twice is refused with its path", arguments: [
        // The second "excluded" would silently replace the first.
        (InstanceTests.broken("\"excluded\": [\"2284\"]", "\"excluded\": [\"2284\"], \"excluded\": []"), "cases[0].excluded"),
        (InstanceTests.broken("\"format\":", "\"format\": \"placement-instance/1\", \"format\":"), "format"),
        (InstanceTests.broken("\"persons\": 120", "\"persons\": 120, \"persons\": 0"), "municipalities[0].capacity.persons"),
        (InstanceTests.broken("{\"age\": 50}", "{\"age\": 50, \"age\": 5}"), "cases[1].members[0].age"),
        // The same key once its escape is decoded, as the decoder sees it.
        (InstanceTests.broken("\"waiting_days\": 45", "\"waiting_days\": 45, \"waiting\\u005fdays\": 0"), "cases[0].waiting_days"),
    ])
    func duplicateKey(json: String, path: String) {
        #expect(decodingError(json) == InstanceError(path: path, message: Self.twice))
    }

    @Test("strings holding quotes, braces and keys do not confuse the scan")
    func stringsAreNotStructure() throws {
        let name = #"Ume\"å {\"code\": 1, \"code\": [ \\"#
        let json = InstanceTests.broken("\"name\": \"Umeå\"", "\"name\": \"\(name)\"")
        let instance = try PlacementInstance.decode(from: Data(json.utf8))
        #expect(instance.municipalities[0].name == #"Ume"å {"code": 1, "code": [ \"#)
    }

    @Test("the same key in different objects is fine")
    func sameKeyInDifferentObjects() throws {
        // Every case has an "id", every member an "age".
        #expect(try PlacementInstance.decode(from: Data(InstanceTests.valid.utf8)).cases.count == 2)
        #expect(DuplicateKeys.first(in: Data(#"[{"a": {"a": 1}}, {"a": [{"a": 2}]}]"#.utf8)) == nil)
    }

    @Test("bytes that are not JSON are left to the decoder")
    func notJSON() {
        #expect(DuplicateKeys.first(in: Data(#"{"a": "never closed"#.utf8)) == nil)
        #expect(DuplicateKeys.first(in: Data("]]]".utf8)) == nil)
        #expect(decodingError("{\"a\": ")?.message.hasPrefix("not valid JSON") == true)
    }

    @Test("whole numbers no Int holds are out of range, not a trap or a fraction", arguments: [
        (InstanceTests.broken("\"waiting_days\": 45", "\"waiting_days\": 1e30"), "cases[0].waiting_days"),
        (InstanceTests.broken("\"age\": 9", "\"age\": 99999999999999999999"), "cases[0].members[2].age"),
        // abs(Int.min) traps in validation.
        (InstanceTests.broken("\"placed\": 1000", "\"placed\": -9223372036854775808"), "weights.placed"),
        (InstanceTests.broken("\"trauma_care\": 1}", "\"trauma_care\": -1e300}"), "cases[0].needs.trauma_care"),
    ])
    func outOfRange(json: String, path: String) {
        #expect(decodingError(json) == InstanceError(path: path, message: "is out of range"))
    }

    @Test("1e1 and 9.0 are whole numbers")
    func wholeNumbersWrittenAsDoubles() throws {
        let json = InstanceTests.broken("\"age\": 9", "\"age\": 9.0").replacingOccurrences(of: "\"waiting_days\": 45", with: "\"waiting_days\": 1e1")
        let instance = try PlacementInstance.decode(from: Data(json.utf8))
        #expect(instance.cases[0].members[2].age == 9)
        #expect(instance.cases[0].waitingDays == 10)
    }
}
