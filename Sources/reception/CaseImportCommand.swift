import ArgumentParser
import Foundation
import Postgres
import ReceptionKit

struct CaseImportCommand: AsyncParsableCommand {
    /// `64 MiB`, the largest file an import reads (ImportFile.maxBytes).
    static let sizeLimit = ImportFile.describe(bytes: ImportFile.maxBytes)

    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Register the arrivals of a CSV or JSON file, all or nothing.",
        discussion: """
            The whole file is checked first; if any row is wrong, every problem is
            listed with its line (CSV) or path (JSON), field and reason, nothing is
            written, and the exit code is 65. Otherwise all cases are registered in one
            transaction.

            CSV: a header row naming the columns, in any order:
              ref,ages,needs,language,occupations,family_ties,
              preferences,excluded,arrived,anvisning,latest_reception,category
            Only ref and ages are required. Lists are separated by ; (ages 34;31;9;4), a
            need is name or name:units (trauma_care;accessible_dwellings:1), dates
            YYYY-MM-DD (arrived defaults to today, anvisning to the arrival,
            latest_reception to two months after the anvisning). category is
            agency_accommodation (the default), quota_refugee or temporary_protection.
            UTF-8, comma-separated, quoted fields as usual.

            JSON: an array of case objects as in placement-instance/1, plus "arrived",
            "anvisning", "latest_reception" and "category", as in the CSV:
              [{"id": "MIG-2026-000123", "members": [{"age": 34}, {"age": 9}],
                "needs": {"trauma_care": 1}, "language": "ar", "family_ties": ["2480"],
                "preferences": ["2480"], "excluded": ["2284"], "arrived": "2026-11-02",
                "anvisning": "2026-10-28", "category": "quota_refugee",
                "latest_reception": "2027-02-28"}]

            A file with no cases (a header and no rows, an empty array) is refused, and so
            is a JSON object that gives a key twice. A file larger than \(CaseImportCommand.sizeLimit) is
            refused before it is read: split it. The file may be /dev/stdin (give
            --format); reading stops once past \(CaseImportCommand.sizeLimit).

            A reference that is already registered is an error, unless --skip-existing
            leaves such cases out (to re-run an import that was partly done by hand). A
            need that is not a capacity dimension yet is an error (a likely typo),
            unless --new-needs registers it; no municipality has capacity for it until a
            quota is set.

            Exit codes: 0 registered; 65 the file has problems, holds no cases or is
            larger than \(CaseImportCommand.sizeLimit) (each problem is listed; nothing was written); 66 the
            file cannot be read; 69 the database cannot be reached; 75 a case of the
            file was registered by someone else meanwhile (run it again).

            Example:
              reception case import arrivals-2026-11.csv
            """)

    @Argument(help: ArgumentHelp("The file: .csv or .json, at most \(CaseImportCommand.sizeLimit).")) var file: String
    @Option(help: ArgumentHelp("csv or json; default from the file's extension.", valueName: "format"))
    var format: String?
    @Flag(help: "Leave out cases whose reference is already registered.") var skipExisting = false
    @Flag(help: "Register need names that are not yet capacity dimensions.") var newNeeds = false
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions

    func resolvedFormat() throws -> CaseImport.Format {
        if let format {
            guard let chosen = CaseImport.Format(rawValue: format.lowercased()) else {
                throw CLIError("--format: \(format) is not csv or json", exitCode: ExitCodes.usage)
            }
            return chosen
        }
        guard let guessed = CaseImport.Format(path: file) else {
            throw CLIError("cannot tell the format of \(file) from its extension; give --format csv or --format json", exitCode: ExitCodes.usage)
        }
        return guessed
    }

    func run() async throws {
        let format = try resolvedFormat()
        let data = try ProblemReport.readImportFile(file, json: output.json)
        let progress = TerminalProgress()
        let database = try await connection.connect()
        let rules = try await CaseRules.load(on: database, acceptNewNeeds: newNeeds)

        progress.show("validating…")
        let contents = CaseImport.read(data, format: format, rules: rules)
        progress.done()
        if !contents.problems.isEmpty {
            // Also the references registered already, so that one report has it all.
            let registered = skipExisting ? [] : try await CaseRegistration.alreadyRegistered(contents.entries, on: database)
            try ProblemReport.fail(InvalidInput(CaseImport.sorted(contents.problems + registered)), json: output.json)
        }
        if progress.enabled {
            FileHandle.standardError.write(Data("validated \(grouped(contents.count)) rows\n".utf8))
        }

        let report: CaseRegistration.Report
        do {
            report = try await CaseRegistration.register(
                contents.entries,
                options: .init(skipExisting: skipExisting, registerNewNeeds: newNeeds),
                on: database,
                progress: { written, total in
                    progress.show("writing… \(total == 0 ? 100 : written * 100 / total)%")
                })
            progress.done()
        } catch let error as InvalidInput {
            progress.done()
            try ProblemReport.fail(error, json: output.json)
        } catch let PostgresError.server(error) where error.sqlState == .uniqueViolation {
            progress.done()
            throw CLIError("a case of the file was registered by someone else during the import; nothing was written. Run it again (with --skip-existing to leave such cases out)",
                           exitCode: ExitCodes.temporaryFailure)
        }

        if output.json {
            try JSONOutput.print(report)
            return
        }
        var line = "Registered \(grouped(report.registered)) case\(report.registered == 1 ? "" : "s")"
        if !report.skipped.isEmpty {
            line += "; left out \(grouped(report.skipped.count)) already registered"
        }
        print(line + ".")
        CaseCommand.noteNewDimensions(report.newDimensions)
    }
}
