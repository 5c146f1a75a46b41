import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation

// Contacts, contact lists and messaging settings as the API answers them.

struct ContactDTO: Encodable, Sendable {
    let id: String
    let accountId: String
    let firstName: String
    let lastName: String?
    let mobile: String?
    let workPhone: String?
    let homePhone: String?
    let email: String?
    let smsConsent: Bool
    /// Campaigns skip this contact (the reason is on the campaign's recipients): no mobile or no consent.
    let smsReachable: Bool
    let createdAt: Date

    init(_ contact: ContactRecord) {
        id = contact.id.lower
        accountId = contact.accountID.lower
        firstName = contact.firstName
        lastName = contact.lastName
        mobile = contact.mobile
        workPhone = contact.workPhone
        homePhone = contact.homePhone
        email = contact.email
        smsConsent = contact.smsConsent
        smsReachable = contact.mobile != nil && contact.smsConsent
        createdAt = contact.createdAt
    }
}

struct ContactListDTO: Encodable, Sendable {
    let id: String
    let accountId: String
    let name: String
    let members: Int
    let createdAt: Date

    init(_ list: ContactListRecord) {
        id = list.id.lower
        accountId = list.accountID.lower
        name = list.name
        members = list.members
        createdAt = list.createdAt
    }
}

struct SettingsDTO: Encodable, Sendable {
    let accountId: String
    let replyMatchOrder: [ContactPhoneField]
}
