import Foundation
import Postgres
import ReceptionKit
import Testing

/// Bad input never crashes an import and never loses a rule: keys given twice, numbers far out
/// of range, files with no cases, files too large. No database: parsing and validation only.
@Suite("Import hardening")
struct ImportHardeningTests {
    static let rules = CaseValidationTests.rules

    func json(_ text: String) -> CaseImport.Contents {
        CaseImport.read(Array(text.utf8), format: .json, rules: Self.rules)
    }

    func csv(_ text: String) -> CaseImport.Contents {
        CaseImport.read(Array(text.utf8), format: .csv, rules: Self.rules)
    }

    // MARK: Keys given twice

    @Test func aKeyGivenTwiceIsRefusedWithItsPath() {
        // Before: the second "excluded" replaced the first, and the household was registered
        // without its exclusion.
        let contents = json(#"[{"id": "A-1", "ages": [30], "excluded": ["2460"], "excluded": []}]"#)
        #expect(contents.entries.isEmpty)
        #expect(contents.problems.map(\.description) == [
            "[0].excluded: is given twice; a key may appear once in an object (line 1, column 52)",
        ])
    }

    @Test func aKeyGivenTwiceDeepInACaseIsReportedAtThatCase() {
        let contents = json("""
            [{"id": "A-1", "ages": [30]},
             {"id": "A-2", "members": [{"age": 3}, {"age": 4, "age": 40}]},
             {"id": "A-3", "ages": [5], "needs": {"trauma_care": 1, "trauma_care": 2}}]
            """)
        #expect(contents.entries.isEmpty)
        // The reader stops at the first: like a syntax error, it leaves the rest unread.
        #expect(contents.problems.map(\.location) == [.element(1)])
        #expect(contents.problems.map(\.field) == ["members[1].age"])
    }

    @Test func keysThatAreTheSameOnceUnescapedAreTheSameKey() {
        let contents = json(#"[{"id": "A-1", "ages": [30], "needs": {"trauma_care": 1, "trauma\u005fcare": 2}}]"#)
        #expect(contents.problems.map(\.field) == ["needs.trauma_care"])
    }

    @Test func aKeyGivenTwiceOutsideAnyCaseIsTheFilesProblem() {
        let contents = json(#"{"a": 1, "a": 2}"#)
        #expect(contents.problems.map(\.location) == [.file])
        #expect(contents.problems.first?.reason == "not valid JSON: a: the key is given twice in one object at line 1, column 10")
    }

    @Test func theReaderGivesTheKeyAndItsPath() {
        do throws(JSONReader.SyntaxError) {
            _ = try JSONReader.parse(Array(#"{"a": {"b": 1, "b": 2}}"#.utf8))
            Issue.record("a key given twice was accepted")
        } catch {
            #expect(error.duplicateKey == "b")
            #expect(error.path == [.key("a"), .key("b")])
            #expect(error.description == "a.b: the key is given twice in one object at line 1, column 16")
        }
    }

    @Test func theSameKeyInDifferentObjectsIsFine() throws {
        let tree = try JSONReader.parse(Array(#"[{"a": 1}, {"a": 2, "b": {"a": 3}}]"#.utf8))
        #expect(tree == .array([.object(["a": .integer(1)]), .object(["a": .integer(2), "b": .object(["a": .integer(3)])])]))
    }

    // MARK: Numbers out of range

    /// Days from 1990-01-01, the earliest arrival, to the rules' today (2026-11-26).
    static let longestWait = 13_478

    @Test(arguments: ["800000", "9223372036854775807", "-9223372036854775808", "99999999999999999999", "1e20", "-1"])
    func waitingDaysOutOfRangeIsAProblemNotACrash(days: String) {
        // Before: 800000 days back is before year 1, and CalendarDay's force-unwrap trapped.
        let contents = json(#"[{"id": "A-1", "ages": [30], "waiting_days": \#(days)}]"#)
        #expect(contents.entries.isEmpty)
        #expect(contents.problems.map(\.description) == [
            "[0].waiting_days: must be between 0 and \(Self.longestWait) (an arrival from 1990-01-01 to today)",
        ])
    }

    @Test func waitingDaysOfInfinityIsAProblemNotACrash() {
        // 1e400 reads as infinity, or is refused by the reader: either way a problem.
        let contents = json(#"[{"id": "A-1", "ages": [30], "waiting_days": 1e400}]"#)
        #expect(contents.entries.isEmpty)
        #expect(contents.problems.count == 1)
    }

    @Test func theLongestWaitArrivedOnTheEarliestDay() throws {
        let contents = json(#"[{"id": "A-1", "ages": [30], "waiting_days": \#(Self.longestWait)}]"#)
        #expect(contents.problems.isEmpty)
        let entry = try #require(contents.entries.first)
        #expect(entry.newCase.arrivedOn == CalendarDay(year: 1990, month: 1, day: 1))
    }

    @Test func waitingDaysThatAreNotWholeAreRefused() {
        let contents = json(#"[{"id": "A-1", "ages": [30], "waiting_days": 4.5}]"#)
        #expect(contents.problems.map(\.description) == ["[0].waiting_days: is not a whole number of days"])
    }

    @Test func arrivedAndWaitingDaysTogetherAreRefused() {
        // One would silently win over the other.
        let contents = json(#"[{"id": "A-1", "ages": [30], "arrived": "2026-11-02", "waiting_days": 3}]"#)
        #expect(contents.problems.map(\.description) == ["[0].waiting_days: give arrived or waiting_days, not both"])
    }

    @Test func hugeAgesInJSONAreProblemsNamingTheRange() {
        let contents = json(#"""
            [{"id": "A-1", "ages": [99999999999999999999, 1e20, -1e300, 30]},
             {"id": "A-2", "members": [{"age": 1e19}, {"age": 9223372036854775807}]}]
            """#)
        #expect(contents.entries.isEmpty)
        #expect(contents.problems.map(\.location) == [.element(0), .element(0), .element(0), .element(1), .element(1)])
        #expect(contents.problems.map(\.field) == ["ages[0]", "ages[1]", "ages[2]", "members[0].age", "members[1].age"])
        // Far beyond any Int, only the range is named; an Int out of range has the age rule's reason.
        #expect(contents.problems.prefix(4).allSatisfy { $0.reason == "must be between 0 and 120" })
    }

    @Test func hugeUnitsInJSONAreProblemsNamingTheRange() {
        let contents = json(#"[{"id": "A-1", "ages": [30], "needs": {"accessible_dwellings": 2.5, "trauma_care": 1e30}}]"#)
        #expect(contents.problems.map(\.description) == [
            "[0].needs.accessible_dwellings: is not a whole number of units (a need has 1 to 1000)",
            "[0].needs.trauma_care: must be between 1 and 1000",
        ])
    }

    @Test func hugeNumbersInCSVAreProblemsNamingTheRange() {
        let contents = csv("ref,ages,needs\nA-1,99999999999999999999;30,trauma_care:-99999999999999999999\n")
        #expect(contents.entries.isEmpty)
        #expect(contents.problems.map(\.description) == [
            "line 2, field ages: must be between 0 and 120",
            "line 2, field needs: the units of \"trauma_care\" must be between 1 and 1000",
        ])
    }

    // MARK: Files with no cases

    @Test(arguments: ["ref,ages\n", "ref,ages", "\u{FEFF}ref,ages\r\n\r\n\n"])
    func aHeaderWithoutRowsIsRefused(text: String) {
        let contents = csv(text)
        #expect(contents.count == 0)
        #expect(contents.problems.map(\.description) == ["no cases in the file (a header row and no rows)"])
        #expect(contents.problems.map(\.location) == [.file])
    }

    @Test(arguments: ["[]", " [\n ] \n"])
    func anEmptyArrayIsRefused(text: String) {
        #expect(json(text).problems.map(\.description) == ["no cases in the file (an empty array)"])
    }

    // MARK: Files too large

    func temporaryFile(bytes: Int) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("import-\(UUID().uuidString).csv")
        try Data(repeating: UInt8(ascii: "x"), count: bytes).write(to: url)
        return url
    }

    @Test func aFileLargerThanTheLimitIsRefusedBeforeItIsRead() throws {
        let url = try temporaryFile(bytes: 2_000)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(throws: ImportFile.ReadError.tooLarge(limit: 1_999)) {
            try ImportFile.contents(atPath: url.path, limit: 1_999)
        }
        #expect(try ImportFile.contents(atPath: url.path, limit: 2_000).count == 2_000)
    }

    @Test func aStreamWithoutASizeIsCutOffPastTheLimit() {
        // /dev/zero never ends and says it has size 0: only the limit while reading stops it.
        #expect(throws: ImportFile.ReadError.tooLarge(limit: 4_096)) {
            try ImportFile.contents(atPath: "/dev/zero", limit: 4_096)
        }
    }

    @Test func theLimitIsDocumentedAndSaidInTheMessage() {
        #expect(ImportFile.maxBytes == 64 << 20)
        #expect(ImportFile.ReadError.tooLarge(limit: ImportFile.maxBytes).description
                == "the file is larger than 64 MiB, the most one import reads; split it into smaller files")
    }

    @Test func aMissingFileIsUnreadable() {
        do throws(ImportFile.ReadError) {
            _ = try ImportFile.contents(atPath: "/nonexistent/arrivals.csv")
            Issue.record("read a file that does not exist")
        } catch {
            guard case .unreadable(let reason) = error else {
                Issue.record("expected unreadable, got \(error)")
                return
            }
            #expect(!reason.isEmpty)
        }
    }
}
