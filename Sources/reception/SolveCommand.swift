import ArgumentParser

// Placeholder until the placement engine lands (issue 4); replaced by its own file.
struct SolveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "solve", abstract: "Solve a placement instance (not yet built).")
    func run() async throws { throw ExitCode(70) }
}
