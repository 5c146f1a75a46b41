import ArgumentParser

@main
struct CreditDeskCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "creditdesk",
        abstract: "CreditDesk: multi-tenant SMS/MMS credit administration for resellers.",
        subcommands: [
            ServeCommand.self, MigrateCommand.self, BootstrapCommand.self, VerifyCommand.self, AccountsCommand.self,
            CreditsCommand.self, UsersCommand.self, PackagesCommand.self, ReportCommand.self,
            AuditCommand.self, GatewaysCommand.self,
        ]
    )
}
