import Postgres
import ReceptionKit
import Testing

/// Validation without a database: every problem, with its line or path, field and reason.
@Suite("Case validation")
struct CaseValidationTests {
    static let rules = CaseRules(knownDimensions: ["persons", "dwellings", "large_dwellings", "school_places",
                                                   "preschool_places", "accessible_dwellings", "trauma_care"],
                                 today: CalendarDay(year: 2026, month: 11, day: 26)!)

    func csv(_ text: String) -> CaseImport.Contents {
        CaseImport.read(Array(text.utf8), format: .csv, rules: Self.rules)
    }

    @Test func readsAValidRowWithEveryColumn() throws {
        let contents = csv("""
            ref,ages,needs,language,occupations,family_ties,preferences,excluded,arrived
            MIG-1,34;31;9;4,trauma_care;accessible_dwellings:2,ar,nurse,2480,2480;2460,2284,2026-11-02
            """)
        #expect(contents.problems.isEmpty)
        let item = try #require(contents.entries.first?.newCase)
        #expect(item == NewCase(reference: "MIG-1", ages: [34, 31, 9, 4],
                                needs: [.init(dimension: "trauma_care", units: 1), .init(dimension: "accessible_dwellings", units: 2)],
                                language: "ar", occupations: ["nurse"], familyTies: ["2480"], preferences: ["2480", "2460"],
                                excluded: ["2284"], arrivedOn: CalendarDay(year: 2026, month: 11, day: 2)!))
    }

    @Test func onlyRefAndAgesAreRequiredAndArrivalDefaultsToToday() throws {
        let contents = csv("ages,ref\n\"30,2\",A-1\n")
        #expect(contents.problems.isEmpty)
        let item = try #require(contents.entries.first?.newCase)
        #expect(item.ages == [30, 2])
        #expect(item.arrivedOn == Self.rules.today)
    }

    @Test func reportsEveryProblemWithItsPhysicalLineAndField() {
        let contents = csv("""
            ref,ages,needs,language,occupations,family_ties,preferences,excluded,arrived
            OK-1,30,,,,,,,
            BAD-1,34;-3,,,,,,,
            BAD-2,"30;
            x",,,,,,,
            BAD-3,30,tramua_care,Arabic,,,,,2026-13-01
            bad-1,20,,,,,,,
            BAD-5,20,,,,,2480,2480,
            BAD-6,20,,,,,,
            """)
        // Valid rows are kept, but any problem means the file is not written.
        #expect(contents.entries.map(\.newCase.reference) == ["OK-1", "bad-1"])
        #expect(contents.problems.map(\.description) == [
            "line 3, field ages: -3 is not an age (0–120)",
            "line 4, field ages: \"x\" is not a whole number of years",
            "line 6, field needs: unknown need tramua_care (known: accessible_dwellings, trauma_care; --new-needs registers new ones)",
            "line 6, field language: \"Arabic\" is not a language code (ISO 639, e.g. ar, prs, ti)",
            "line 6, field arrived: \"2026-13-01\" is not a date (YYYY-MM-DD)",
            "line 7, field ref: bad-1 appears twice in the file (references ignore case), also on line 3",
            "line 8, field preferences: 2480 is both preferred and excluded",
            "line 9: 8 fields, but the header has 9",
        ])
    }

    @Test func refusesAHeaderWithoutRequiredOrWithUnknownColumns() {
        let contents = csv("ref,agez\nA,1\n")
        #expect(contents.entries.isEmpty)
        #expect(contents.problems.map(\.description) == [
            "line 1, field \"agez\": unknown column (the columns are ref,ages,needs,language,occupations,family_ties,preferences,excluded,arrived,anvisning,latest_reception,category)",
            "line 1, field ages: the header has no ages column, which is required",
        ])
    }

    @Test func refusesAnEmptyFile() {
        #expect(csv("").problems.map(\.location) == [.file])
    }

    @Test func computedDimensionsAreNotNeedsAndUnitsAreBounded() {
        let contents = csv("ref,ages,needs\nA,3,persons;trauma_care:0;trauma_care:1001\n")
        #expect(contents.problems.map(\.reason) == [
            "persons is computed from the ages and is not a need",
            "0 units of trauma_care; a need has 1 to 1000",
            "1001 units of trauma_care; a need has 1 to 1000",
        ])
    }

    @Test func unknownNeedsPassWhenNewNeedsAreAccepted() {
        var rules = Self.rules
        rules.acceptNewNeeds = true
        let contents = CaseImport.read(Array("ref,ages,needs\nA,70,dialysis:3\n".utf8), format: .csv, rules: rules)
        #expect(contents.problems.isEmpty)
        #expect(rules.unknownNeeds(in: contents.entries.map(\.newCase)) == ["dialysis"])
    }

    @Test func refusesArrivalsInTheFutureOrBefore1990() {
        // Today (the rules' clock) is 2026-11-26: the next day is already in the future.
        let contents = csv("ref,ages,arrived\nA,3,2026-12-24\nB,3,1989-12-31\nC,3,2026-11-26\nD,3,2026-11-27\n")
        #expect(contents.problems.map(\.description) == [
            "line 2, field arrived: 2026-12-24 is in the future",
            "line 3, field arrived: 1989-12-31 is before 1990-01-01",
            "line 5, field arrived: 2026-11-27 is in the future",
        ])
        #expect(contents.entries.map(\.newCase.reference) == ["C"])
    }

    @Test func jsonProblemsNameTheirPath() {
        let json = """
            [{"id": "J-1", "members": [{"age": 34}, {"age": 9.5}, {"age": -1}], "needs": {"trauma_care": 0}},
             {"id": "J-2", "members": [{"age": 34}], "excludd": ["2284"]},
             {"ref": "J-3", "ages": [3], "preferences": ["2480", 2404]},
             "hello",
             {"id": "J-1", "members": []}]
            """
        let contents = CaseImport.read(Array(json.utf8), format: .json, rules: Self.rules)
        #expect(contents.entries.isEmpty)
        #expect(contents.problems.map(\.description) == [
            "[0].members[1].age: 9.5 is not a whole number of years",
            "[0].members[2].age: -1 is not an age (0–120)",
            "[0].needs.trauma_care: 0 units of trauma_care; a need has 1 to 1000",
            "[1].excludd: unknown key (the keys are ages, anvisning, arrived, category, excluded, family_ties, id, language, latest_reception, members, needs, occupations, preferences, ref, waiting_days)",
            "[2].preferences[1]: expected a string, found a number",
            "[3]: expected a case object, found a string",
            "[4].members: a household has at least one member",
            "[4].id: J-1 appears twice in the file (references ignore case), also at [0]",
        ])
    }

    @Test func readsTheFormatOfPlacementInstances() throws {
        let json = """
            [{"id": "MIG-2026-000123", "members": [{"age": 34}, {"age": 31}, {"age": 9}, {"age": 4}],
              "needs": {"trauma_care": 1}, "language": "ar", "occupations": ["assistant_nurse"],
              "family_ties": ["2480"], "preferences": ["2480", "2460"], "excluded": ["2284"], "waiting_days": 45}]
            """
        let contents = CaseImport.read(Array(json.utf8), format: .json, rules: Self.rules)
        #expect(contents.problems.isEmpty)
        let item = try #require(contents.entries.first?.newCase)
        #expect(item.ages == [34, 31, 9, 4])
        #expect(item.needs == [.init(dimension: "trauma_care", units: 1)])
        #expect(item.arrivedOn.days(until: Self.rules.today) == 45)
    }

    @Test func jsonSyntaxErrorsSayWhere() {
        let contents = CaseImport.read(Array("[{\"id\": \"X\",\n  \"members\": [{\"age\": 3},, ]}]".utf8), format: .json, rules: Self.rules)
        #expect(contents.problems.count == 1)
        #expect(contents.problems.first?.reason.hasSuffix("at line 2, column 26") == true)
    }

    @Test func commandLineFieldsUseTheSameRules() {
        var problems: [ValidationProblem] = []
        let fields = CaseTextFields(reference: "MIG-1", ages: "34,31", needs: "trauma_care", familyTies: "2480,2480", preferences: "2460")
        let item = fields.validate(at: .arguments, rules: Self.rules, problems: &problems)
        #expect(problems.isEmpty)
        #expect(item?.familyTies == ["2480"])
        _ = CaseTextFields(reference: "-x", ages: "").validate(at: .arguments, rules: Self.rules, problems: &problems)
        #expect(problems.map(\.field) == ["ref", "ages"])
    }
}
