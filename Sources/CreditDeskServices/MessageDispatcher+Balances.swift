import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation

/// The jobs low balances write (sql/0021_balance_alerts_top_ups.sql): an alert or a failed
/// top-up mailed to the admins it concerns, and a top-up transferred from the parent's pool.
/// A top-up runs through the queue, right after the transaction that crossed the line, not in
/// it: the consumer holds its own balance row, and moving credits in its transaction would lock
/// the parent's after the child's, the reverse of every other transfer's order.
extension MessageDispatcher {
    func mailBalanceNotice(_ job: JobRecord) async throws {
        let loaded = try await pool.withConnection { connection -> (BalanceNoticeRecord, AccountRecord, [String])? in
            guard let notice = try BalanceRuleStore.notice(connection, id: job.subjectID),
                let account = try AccountStore.find(connection, id: notice.accountID)
            else { return nil }
            var accounts = [account.id]
            if notice.notifyParent || notice.kind == "top_up_failed", let parentID = account.parentID { accounts.append(parentID) }
            return (notice, account, try UserStore.adminEmails(connection, accountIDs: accounts))
        }
        guard let (notice, account, recipients) = loaded else {
            try await pool.withTransaction { try JobStore.finish($0, jobID: job.id, error: "notice not found") }
            return
        }
        guard let mailer = settings.mailer else {
            try await pool.withTransaction {
                try JobStore.finish($0, jobID: job.id, error: "not mailed: no SMTP relay is configured (CREDITDESK_SMTP_URL)")
            }
            return
        }
        let (subject, body) = Self.words(notice, account)
        do {
            for address in recipients {
                try await runBlocking { try mailer.send(to: address, subject: subject, body: body) }
            }
        } catch {
            if try await !retryWithBackoff(job, error: "\(error)") {
                try await pool.withTransaction { try JobStore.finish($0, jobID: job.id, error: "not mailed: \(error)") }
            }
            return
        }
        try await pool.withTransaction { connection in
            try BalanceRuleStore.markMailed(connection, noticeID: notice.id, to: recipients)
            try JobStore.finish(connection, jobID: job.id)
        }
    }

    static func words(_ notice: BalanceNoticeRecord, _ account: AccountRecord) -> (subject: String, body: String) {
        let unit = notice.unit.rawValue.uppercased()
        switch notice.kind {
        case "top_up_failed":
            return (
                "CreditDesk: automatic \(unit) top-up of \(account.name) failed",
                "The automatic \(unit) top-up of \(account.name) could not be made: \(notice.detail ?? "").\n"
                    + "It has \(notice.available) \(unit) credits available.")
        default:
            return (
                "CreditDesk: \(account.name) is low on \(unit) credits",
                "\(account.name) has \(notice.available) \(unit) credits available, \(notice.threshold)"
                    + (notice.detail.map { " (\($0))" } ?? "") + ".\nThis alert is sent once; it is sent again "
                    + "only after the balance has been back above the line.")
        }
    }

    func applyTopUp(_ job: JobRecord) async throws {
        // The transfer is made in the name of the admin who set the rule.
        let setBy = try await pool.withConnection { try TopUpStore.setter($0, runID: job.subjectID) }
        try await pool.withOperation(actorUserID: setBy, requestID: "job-\(job.id)") { connection, context in
            defer { _ = try? JobStore.finish(connection, jobID: job.id) }
            guard let run = try TopUpStore.lockRun(connection, id: job.subjectID), run.status == "pending" else { return }
            try Self.resolve(connection, context, run)
        }
    }

    /// Decides the run and records what became of it; a refusal is a `top_up_failed` notice
    /// to both sides.
    static func resolve(_ connection: PostgresConnection, _ context: OperationContext, _ run: TopUpRunRecord) throws {
        guard let record = try TopUpStore.rule(connection, tenantID: run.tenantID, accountID: run.accountID, unit: run.unit),
            let account = try AccountStore.find(connection, id: run.accountID),
            let source = try AccountStore.find(connection, id: record.sourceAccountID)
        else {
            try TopUpStore.resolve(connection, run, status: "skipped", amount: nil, entryID: nil, detail: "the rule was removed")
            return
        }
        let rule = record.rule
        let available = try LedgerStore.balances(connection, account: account).first { $0.unit == run.unit }?.available ?? 0
        let now = Date()
        let moved = try TopUpStore.moved(
            connection, run, dayStart: CapWindow.day.bounds(at: now, timeZone: "UTC").start,
            monthStart: CapWindow.month.bounds(at: now, timeZone: "UTC").start)
        var failure: String
        switch rule.decide(available: available, movedToday: moved.today, movedThisMonth: moved.thisMonth) {
        case .skip(let reason):
            try TopUpStore.resolve(connection, run, status: "skipped", amount: nil, entryID: nil, detail: reason)
            return
        case .fail(let reason):
            failure = reason
        case .transfer(let amount):
            do {
                let entry = try Operations.moveTransfer(
                    connection, context, source, account, run.unit, amount,
                    "automatic top-up: available \(available) fell below \(rule.below)")
                try TopUpStore.resolve(connection, run, status: "applied", amount: amount, entryID: entry.id, detail: nil)
                return
            } catch let error as DomainError where error.code == .insufficientCredits {
                failure = "\(source.name) has too few \(run.unit.rawValue.uppercased()) credits to transfer \(amount)"
            }
        }
        try TopUpStore.resolve(connection, run, status: "failed", amount: nil, entryID: nil, detail: failure)
        try BalanceRuleStore.notice(
            connection, tenantID: run.tenantID, accountID: run.accountID, unit: run.unit, kind: "top_up_failed",
            available: available, threshold: BalanceMeasure.credits.threshold(below: rule.below), notifyParent: true,
            detail: failure)
    }
}
