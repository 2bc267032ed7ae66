import ArgumentParser

/// Documented exit codes (after BSD's sysexits.h, as officers' scripts may rely on them).
enum ExitCodes {
    static let ok: Int32 = 0
    /// A general failure that fits no other code (a refused decision, a job that failed).
    static let failure: Int32 = 1
    /// The command line is wrong.
    static let usage: Int32 = 64
    /// The input data is wrong (a bad import file, an invalid instance): nothing was written.
    static let badData: Int32 = 65
    /// An input file does not exist or cannot be read.
    static let noInput: Int32 = 66
    /// Something named does not exist (a case reference, a municipality code, a job id).
    static let notFound: Int32 = 67
    /// The database cannot be reached.
    static let unavailable: Int32 = 69
    /// A bug: please report it.
    static let software: Int32 = 70
    /// An output file cannot be written.
    static let cannotWrite: Int32 = 74
    /// A conflict that may pass (a serialization failure that persisted, a lock held elsewhere).
    static let temporaryFailure: Int32 = 75
    /// The database role lacks the privilege for this command.
    static let noPermission: Int32 = 77
    /// The configuration is wrong (no migrations folder, the schema is not migrated).
    static let configuration: Int32 = 78
}

/// An error meant for the person at the terminal: printed as `reception: error: <message>`
/// and exited with its code. It must never contain personal data.
struct CLIError: Error, CustomStringConvertible {
    let message: String
    let exitCode: Int32

    init(_ message: String, exitCode: Int32 = ExitCodes.failure) {
        self.message = message
        self.exitCode = exitCode
    }

    var description: String { message }
}
