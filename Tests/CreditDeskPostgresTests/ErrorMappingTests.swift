import CreditDeskTestSupport
import Foundation
import Testing

@testable import CreditDeskDB
@testable import CreditDeskServices
@testable import CreditDeskStore

@Suite("Errors mapped by SQLSTATE")
struct ErrorMappingTests {
    static let schema = """
        CREATE TABLE parent (id int PRIMARY KEY);
        CREATE TABLE item (
            id int PRIMARY KEY,
            code text UNIQUE,
            quantity int CHECK (quantity >= 0),
            parent_id int REFERENCES parent (id)
        );
        INSERT INTO parent VALUES (1);
        INSERT INTO item (id, code, quantity) VALUES (1, 'secret-code', 5);
        """

    func failure(_ pool: DatabasePool, _ statement: String, _ parameters: [any PostgresBindable] = []) async
        -> DatabaseError?
    {
        await #expect(throws: DatabaseError.self) {
            try await pool.withConnection { connection in
                try connection.execute(statement, parameters)
            }
        }
    }

    @Test("unique, check, foreign-key and not-null violations have their own codes")
    func constraintViolations() async throws {
        try await withTestDatabase { pool in
            try await pool.withConnection { try $0.executeScript(Self.schema) }

            let unique = await failure(pool, "INSERT INTO item (id, code) VALUES (2, $1)", ["secret-code"])
            #expect(unique?.code == .uniqueViolation)
            #expect(unique?.sqlState == "23505")
            #expect(unique?.constraint == "item_code_key")
            // The detail names the duplicated value; the description must not.
            #expect(unique?.serverDetail?.contains("secret-code") == true)
            #expect(unique?.description.contains("secret-code") == false)

            let check = await failure(pool, "UPDATE item SET quantity = $1 WHERE id = 1", [-1])
            #expect(check?.code == .checkViolation)
            #expect(check?.constraint == "item_quantity_check")

            let foreignKey = await failure(pool, "INSERT INTO item (id, parent_id) VALUES (3, $1)", [99])
            #expect(foreignKey?.code == .foreignKeyViolation)

            let notNull = await failure(pool, "INSERT INTO item (id) VALUES ($1)", [Optional<Int>.none])
            #expect(notNull?.code == .notNullViolation)
        }
    }

    @Test("bad SQL, bad input values and statement timeouts are told apart")
    func otherClasses() async throws {
        try await withTestDatabase { pool in
            #expect(await failure(pool, "SELECT * FROM no_such_table")?.code == .programmingError)
            #expect(await failure(pool, "SELECT $1::int", ["twelve"])?.code == .invalidInput)
        }
        let url = try await TestCluster.shared.makeDatabase()
        let impatient = DatabasePool(
            settings: PoolSettings(connection: ConnectionSettings(url: url, statementTimeoutMilliseconds: 50), size: 1),
            logger: .init(label: "test"))
        let timeout = await failure(impatient, "SELECT pg_sleep(5)")
        #expect(timeout?.code == .queryCanceled)
        #expect(timeout?.sqlState == "57014")
        // The pool is still usable after a cancelled statement.
        let one = try await impatient.withConnection { try $0.execute("SELECT 1 AS one").single().decode(Int.self, "one") }
        #expect(one == 1)
        await impatient.shutdown()
    }

    @Test("a concurrent update under REPEATABLE READ is a serialization failure, marked transient")
    func serializationFailure() async throws {
        let url = try await TestCluster.shared.makeDatabase()
        // Two sessions driven by hand, in an order no pool would choose; blocking, so off the
        // cooperative threads.
        try await runBlocking { try Self.collide(url: url) }
    }

    static func collide(url: String) throws {
        let first = try PostgresConnection(settings: ConnectionSettings(url: url))
        let second = try PostgresConnection(settings: ConnectionSettings(url: url))
        try first.executeScript("CREATE TABLE counter (id int PRIMARY KEY, value int); INSERT INTO counter VALUES (1, 0);")
        try first.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        _ = try first.execute("SELECT value FROM counter WHERE id = 1")
        try second.execute("UPDATE counter SET value = value + 1 WHERE id = 1")
        let error = #expect(throws: DatabaseError.self) {
            try first.execute("UPDATE counter SET value = value + 1 WHERE id = 1")
        }
        #expect(error?.code == .serializationFailure)
        #expect(error?.isTransient == true)
        try first.execute("ROLLBACK")
    }

    @Test("SQLSTATE classes map to codes")
    func classMapping() {
        #expect(DatabaseError.code(forSQLState: "40P01") == .deadlockDetected)
        #expect(DatabaseError.code(forSQLState: "08006") == .connectionLost)
        #expect(DatabaseError.code(forSQLState: "57P01") == .connectionLost)
        #expect(DatabaseError.code(forSQLState: "22P02") == .invalidInput)
        #expect(DatabaseError.code(forSQLState: "XX000") == .other)
    }

    @Test("connection URLs are redacted before they are shown")
    func redaction() {
        #expect(!ConnectionSettings.redact("postgresql://u:hunter2@localhost:5432/db").contains("hunter2"))
        #expect(!ConnectionSettings.redact("host=x password=hunter2 dbname=y").contains("hunter2"))
        #expect(!ConnectionSettings.redact("postgresql://u@h/db?password=hunter2").contains("hunter2"))
    }
}
