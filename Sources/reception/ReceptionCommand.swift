import ArgumentParser
import Foundation
import Logging
import Postgres
import ReceptionKit

@main
struct ReceptionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reception",
        abstract: "Coordinate refugee reception across a group of municipalities.",
        discussion: """
            Reception officers register arrivals, run placement batches that match each
            household to the municipality whose capacity best fits it, decide on the
            proposals, and audit each municipality's intake against its quota.

            Every command that uses the database takes --database-url (or
            $RECEPTION_DATABASE_URL, or libpq's PG* defaults). Commands that list things
            take --json for scripts. Exit codes: 0 ok, 1 refused or failed, 64 usage, 65
            bad input data, 66 unreadable input, 67 not found, 69 database unavailable, 70
            internal error, 74 unwritable output, 75 temporary conflict, 77 no permission,
            78 configuration.

            A first session:
              scripts/db start                 # a local cluster; prints its URL
              export RECEPTION_DATABASE_URL=$(scripts/db url)
              reception db migrate
            """,
        subcommands: [
            DatabaseCommand.self,
            MunicipalityCommand.self,
            CapacityCommand.self,
            CaseCommand.self,
            BatchCommand.self,
            AllocationCommand.self,
            AuditCommand.self,
            SolveCommand.self,
            SimulateCommand.self,
            JobsCommand.self,
            OfficerCommand.self,
        ]
    )

    /// Runs the command and turns every error into one line on stderr and a documented exit
    /// code. Messages name what and where, never personal data.
    static func main() async {
        // Libraries log through swift-log; a CLI shows only warnings and errors, on stderr,
        // unless RECEPTION_LOG_LEVEL asks for more.
        let level = ProcessInfo.processInfo.environment["RECEPTION_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as CLIError {
            fail(error.message, code: error.exitCode)
        } catch let error as ReceptionError {
            switch error {
            case .notFound(let message): fail(message, code: ExitCodes.notFound)
            case .refused(let message): fail(message, code: ExitCodes.failure)
            case .invalid(let message): fail(message, code: ExitCodes.badData)
            }
        } catch let error as PostgresError {
            fail(describe(error), code: exitCode(for: error))
        } catch let error as Migrator.MigrationError {
            fail("\(error)", code: ExitCodes.configuration)
        } catch let error as Migrations.NotFound {
            fail("\(error)", code: ExitCodes.configuration)
        } catch {
            // Help, --version, and argument errors: ArgumentParser prints and exits (64 for usage).
            exit(withError: error)
        }
    }

    static func fail(_ message: String, code: Int32) -> Never {
        // A message may quote stored text (a name, a server's words): never raw controls.
        FileHandle.standardError.write(Data("reception: error: \(TerminalText.escaped(message, keepingLineBreaks: true))\n".utf8))
        Foundation.exit(code)
    }

    static func describe(_ error: PostgresError) -> String {
        switch error {
        case .connectionFailed(let reason) where error.isConfigurationProblem:
            "cannot connect, and trying again will not help: \(reason)\n(check --database-url or RECEPTION_DATABASE_URL: the string itself, the database, the role and its password)"
        case .connectionFailed(let reason):
            "cannot reach the database: \(reason)\n(set --database-url or RECEPTION_DATABASE_URL; scripts/db start runs a local one)"
        case .server(let server) where server.sqlState == .undefinedTable:
            "\(server) — has the database been migrated? Run: reception db migrate"
        case .server(let server) where server.sqlState == .insufficientPrivilege:
            "the database role may not do this: \(server)"
        default:
            "\(error)"
        }
    }

    static func exitCode(for error: PostgresError) -> Int32 {
        // A wrong database, role or password is configuration; a server that is not there, not reachable.
        if error.isConfigurationProblem { return ExitCodes.configuration }
        if error.isConnectionProblem { return ExitCodes.unavailable }
        switch error.sqlState {
        case .insufficientPrivilege?: return ExitCodes.noPermission
        case .undefinedTable?: return ExitCodes.configuration
        case .serializationFailure?, .deadlockDetected?, .lockNotAvailable?: return ExitCodes.temporaryFailure
        case let state? where state.errorClass == "22" || state.errorClass == "23": return ExitCodes.badData
        default: return ExitCodes.failure
        }
    }
}
