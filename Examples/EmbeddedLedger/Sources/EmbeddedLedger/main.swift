import CreditDesk
import Foundation

// A reseller sells a package to a client, whose office reserves credits for an SMS and posts
// them; then the balances. On the database in CREDITDESK_DATABASE_URL (an empty one), or on a
// throwaway PostgreSQL cluster of its own.
let scratch = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("embedded-ledger-\(getpid())")
let desk: Desk
if let url = ProcessInfo.processInfo.environment["CREDITDESK_DATABASE_URL"] {
    desk = try await Desk.open(databaseURL: url)
} else {
    desk = try await Desk.openEmbedded(directory: scratch)
}

let (platform, _) = try await desk.bootstrap(operatorName: "Operator")
let reseller = try await platform.createAccount(under: platform.accountID, kind: .reseller, name: "Acme Messaging")
let client = try await platform.createAccount(under: reseller.id, kind: .client, name: "Harbour Dental")
_ = try await platform.transfer(5_000, .sms, from: platform.accountID, to: reseller.id)
let starter = try await platform.createPackage(
    on: reseller.id, name: "Starter", smsCredits: 1_000, priceMinor: 4_900, currency: "EUR")
_ = try await platform.sell(starter.id, to: client.id)
let held = try await platform.reserve(3, .sms, on: client.id, reference: "appointment reminder")
_ = try await platform.post(held.id, amount: 2)

for account in [reseller, client] {
    let sms = try await platform.balances(of: account.id).first { $0.unit == .sms }!
    print("\(account.name): \(sms.posted) SMS posted, \(sms.reserved) reserved, \(sms.available) available")
}
print(try await desk.verify().isEmpty ? "ledger verified" : "LEDGER VIOLATIONS")
await desk.close()
try? FileManager.default.removeItem(at: scratch)
