import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird

/// The gateways' callbacks (delivery reports and inbound messages): plain routes, outside the
/// generated server, because gateways send them as Kannel's GET with a query or Twilio's form.
struct MessagingController {
    let access: Access
    let settings: MessagingSettings

    func addRoutes(to router: Router<AppRequestContext>) {
        addCallbackRoutes(to: router)
    }
}
