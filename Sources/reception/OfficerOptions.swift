import ArgumentParser
import Foundation

/// Who makes a decision, for the audit trail.
struct OfficerOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The officer making the decision, as recorded in the audit trail.",
                               discussion: "Defaults to $RECEPTION_OFFICER, then to the database user.",
                               valueName: "name"))
    var officer: String?

    var resolved: String? {
        if let officer, !officer.isEmpty { return officer }
        if let value = ProcessInfo.processInfo.environment["RECEPTION_OFFICER"], !value.isEmpty { return value }
        return nil
    }
}
