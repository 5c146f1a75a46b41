import CreditDeskCore
import Foundation
import Hummingbird

/// The console's words, one catalogue per language (`Templates/<language>.catalogue`: lines of
/// `key = text`, `#` for comments). Templates read them as `{{t.key}}`; code as `text(key)`,
/// with `{name}` placeholders filled in. English is complete; a key another language lacks
/// falls back to English (the reseller pages are English; the client pages are also in French
/// and Dutch, which a test checks).
struct Catalogue: Sendable {
    static let languages = ["en", "fr", "nl"]
    static let names = ["en": "English", "fr": "Français", "nl": "Nederlands"]

    let language: String
    let entries: [String: String]

    /// Every language's catalogue, from the files compiled in; English under each, so a key a
    /// language lacks is said in English.
    static let bundled: [String: Catalogue] = {
        var entries = [String: [String: String]]()
        for (name, text) in BundledTemplates.files where name.hasSuffix(".catalogue") {
            entries[String(name.dropLast(".catalogue".count))] = parse(text)
        }
        let english = entries["en"] ?? [:]
        return Dictionary(
            uniqueKeysWithValues: languages.map { language in
                (language, Catalogue(language: language, entries: english.merging(entries[language] ?? [:]) { $1 }))
            })
    }()

    /// The catalogue for a request: the user's language setting, else the browser's.
    static func `for`(_ request: Request, setting: String? = nil) -> Catalogue {
        let language = negotiate(setting: setting, acceptLanguage: request.headers[.acceptLanguage])
        return bundled[language] ?? bundled["en"]!
    }

    /// A catalogue file's entries.
    static func parse(_ text: String) -> [String: String] {
        var entries = [String: String]()
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.hasPrefix("#"), let equals = trimmed.firstIndex(of: "=") else { continue }
            let key = trimmed[..<equals].trimmingCharacters(in: .whitespaces)
            entries[key] = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        }
        return entries
    }

    /// The text for `key`, with each `{name}` replaced by its value; the key itself if no
    /// catalogue has it (a test keeps that from happening).
    func text(_ key: String, _ values: [String: String] = [:]) -> String {
        var text = entries[key] ?? key
        for (name, value) in values { text = text.replacingOccurrences(of: "{\(name)}", with: value) }
        return text
    }

    /// A refusal in words: the catalogue's text for its code where this language has one
    /// (`error_<code>`), else the service's own English message, which names the field and limit.
    func error(_ error: DomainError) -> String {
        if language != "en", let text = entries["error_\(error.code.rawValue)"] { return text }
        return error.message
    }

    /// The language to speak: the user's setting, else the first of the browser's
    /// `Accept-Language` the console has, else English.
    static func negotiate(setting: String?, acceptLanguage: String?) -> String {
        if let setting, languages.contains(setting) { return setting }
        let preferences = (acceptLanguage ?? "").split(separator: ",").compactMap { part -> (String, Double)? in
            let pieces = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let tag = pieces.first, !tag.isEmpty else { return nil }
            let quality = pieces.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return (String(tag.prefix(2)).lowercased(), quality)
        }
        let ranked = preferences.enumerated().sorted { ($0.element.1, -$0.offset) > ($1.element.1, -$1.offset) }
        return ranked.map(\.element.0).first { languages.contains($0) && $0 != "*" } ?? "en"
    }
}
