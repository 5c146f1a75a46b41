import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation
import Testing

@testable import CreditDesk

/// The library's public API is a reviewed list: an accidental public change (a new symbol, a
/// changed signature, a module that starts to declare `public`) fails here and shows in review.
@Suite("The library's public surface")
struct PublicSurfaceTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let listFile = root.appendingPathComponent("Tests/CreditDeskLibraryTests/PublicAPI.txt")

    /// Every public declaration of the library, one per line, as `Context: declaration` with
    /// white space collapsed and bodies cut off, in source order per file, files by name.
    static func surface() throws -> [String] {
        let directory = root.appendingPathComponent("Sources/CreditDesk")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".swift") }
        var lines = [String]()
        for file in files.sorted() {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            lines += declarations(in: text.components(separatedBy: "\n"))
        }
        return lines
    }

    static func declarations(in source: [String]) -> [String] {
        var found = [String]()
        var context = ""
        var inPublicEnum = false
        var index = 0
        while index < source.count {
            let line = source[index]
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if !line.hasPrefix(" "), trimmed.hasPrefix("extension ") || trimmed.hasPrefix("public ") {
                let head = trimmed.prefix { $0 != "{" && $0 != ":" }.split(separator: " ")
                context = head.last.map(String.init) ?? ""
                inPublicEnum = trimmed.hasPrefix("public enum ")
            }
            if inPublicEnum, line.hasPrefix("    case ") {
                found.append("\(context): \(trimmed)")
            }
            guard trimmed.hasPrefix("public ") else {
                index += 1
                continue
            }
            // A declaration runs until its parentheses close; its body or conformances are cut.
            var declaration = trimmed
            while declaration.filter({ $0 == "(" }).count > declaration.filter({ $0 == ")" }).count, index + 1 < source.count {
                index += 1
                declaration += " " + source[index].trimmingCharacters(in: .whitespaces)
            }
            if let brace = declaration.firstIndex(of: "{") { declaration = String(declaration[..<brace]) }
            let isFunction = declaration.contains("func ") || declaration.contains("init(")
            if !isFunction, let assignment = declaration.range(of: " = ") {
                declaration = String(declaration[..<assignment.lowerBound])
            }
            let collapsed = declaration.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            found.append(line.hasPrefix(" ") ? "\(context): \(collapsed)" : collapsed)
            index += 1
        }
        return found
    }

    @Test("the public declarations are exactly those in PublicAPI.txt")
    func checkedInList() throws {
        let actual = try Self.surface()
        if ProcessInfo.processInfo.environment["CREDITDESK_UPDATE_PUBLIC_API"] == "1" {
            try (actual.joined(separator: "\n") + "\n").write(to: Self.listFile, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: Self.listFile, encoding: .utf8).split(separator: "\n").map(String.init)
        let added = actual.filter { !expected.contains($0) }
        let removed = expected.filter { !actual.contains($0) }
        #expect(
            added.isEmpty && removed.isEmpty,
            """
            The public API changed. If that is intended, run the tests with CREDITDESK_UPDATE_PUBLIC_API=1 and \
            review PublicAPI.txt. Added: \(added). Removed: \(removed).
            """)
        #expect(actual.count > 60, "the list is read from the library's sources")
    }

    @Test("every public declaration and enum case has a documentation comment")
    func documented() throws {
        let directory = Self.root.appendingPathComponent("Sources/CreditDesk")
        var undocumented = [String]()
        for file in try FileManager.default.contentsOfDirectory(atPath: directory.path) where file.hasSuffix(".swift") {
            let lines = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
                .components(separatedBy: "\n")
            var inPublicEnum = false
            for (index, line) in lines.enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if !line.hasPrefix(" "), trimmed.hasPrefix("public ") || trimmed.hasPrefix("extension ") {
                    inPublicEnum = trimmed.hasPrefix("public enum ")
                }
                guard trimmed.hasPrefix("public ") || (inPublicEnum && line.hasPrefix("    case ")) else { continue }
                var previous = index - 1
                while previous > 0, lines[previous].trimmingCharacters(in: .whitespaces).hasPrefix("@") { previous -= 1 }
                if previous < 0 || !lines[previous].trimmingCharacters(in: .whitespaces).hasPrefix("///") {
                    undocumented.append("\(file):\(index + 1): \(trimmed)")
                }
            }
        }
        #expect(undocumented.isEmpty, "\(undocumented)")
    }

    @Test("no other module declares anything public: all below the library is package or internal")
    func nothingElseIsPublic() throws {
        let sources = Self.root.appendingPathComponent("Sources")
        var offenders = [String]()
        for module in try FileManager.default.contentsOfDirectory(atPath: sources.path) where module != "CreditDesk" {
            let directory = sources.appendingPathComponent(module)
            guard let files = FileManager.default.enumerator(atPath: directory.path) else { continue }
            for case let file as String in files where file.hasSuffix(".swift") {
                let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
                for line in text.split(separator: "\n") where line.trimmingCharacters(in: .whitespaces).hasPrefix("public ") {
                    offenders.append("\(module)/\(file): \(line.trimmingCharacters(in: .whitespaces))")
                }
            }
        }
        #expect(offenders.isEmpty, "\(offenders)")
    }

    @Test("the library's enums spell the core's cases, so converting between them cannot fail")
    func enumPairs() {
        func same<A: CaseIterable & RawRepresentable, B: CaseIterable & RawRepresentable>(_: A.Type, _: B.Type) -> Bool
        where A.RawValue == String, B.RawValue == String {
            Set(A.allCases.map(\.rawValue)) == Set(B.allCases.map(\.rawValue))
        }
        #expect(same(CreditDesk.CreditUnit.self, CreditDeskCore.CreditUnit.self))
        #expect(same(CreditDesk.AccountKind.self, CreditDeskCore.AccountKind.self))
        #expect(same(CreditDesk.Role.self, CreditDeskCore.Role.self))
        #expect(same(CreditDesk.Feature.self, CreditDeskCore.Feature.self))
        #expect(same(CreditDesk.EntryKind.self, CreditDeskCore.EntryKind.self))
        #expect(same(CreditDesk.ReservationStatus.self, CreditDeskCore.ReservationStatus.self))
        #expect(same(CreditDesk.MessageStatus.self, CreditDeskCore.MessageStatus.self))
        #expect(same(CreditDesk.UsageScope.self, CreditDeskStore.UsageScope.self))
        #expect(same(CreditDesk.UsageGrouping.self, CreditDeskStore.UsageGrouping.self))
    }

    @Test("the migrations compiled in are the sql/ files, byte for byte")
    func bundledMigrations() throws {
        let bundled = try Migrator.bundled().migrations
        let files = try Migrator.load(directory: Self.root.appendingPathComponent("sql")).migrations
        #expect(bundled.map(\.version) == files.map(\.version) && bundled.count >= 8)
        #expect(bundled.map(\.sql) == files.map(\.sql) && bundled.map(\.name) == files.map(\.name))
    }
}
