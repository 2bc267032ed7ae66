import ArgumentParser

@main
struct ReceptionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reception",
        abstract: "Coordinate refugee reception across a group of municipalities.",
        subcommands: [
            SolveCommand.self,
        ]
    )
}
