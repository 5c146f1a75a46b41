import Foundation

/// A fixed set of sender threads, each owning one libcurl handle for the life of the daemon,
/// so submissions reuse their keep-alive connections (libcurl keeps one per gateway host and
/// handle) instead of opening a connection and a thread per message. Work waits in one queue;
/// at most `count` submissions are on the wire at once.
package final class SenderThreads: @unchecked Sendable {
    package let count: Int
    private let condition = NSCondition()
    private var queue: [@Sendable (BlockingHTTPClient) -> Void] = []
    private var head = 0
    private var stopping = false

    package init(count: Int, timeoutMilliseconds: Int) {
        self.count = count
        for index in 0..<count {
            let thread = Thread { [self] in work(BlockingHTTPClient(timeoutMilliseconds: timeoutMilliseconds)) }
            thread.name = "creditdesk-sender-\(index)"
            // Blocking I/O and small frames: a small stack keeps the threads cheap.
            thread.stackSize = 512 * 1024
            thread.start()
        }
    }

    /// Runs `body` on a sender thread with its client and answers what it returns.
    package func run<T: Sendable>(_ body: @escaping @Sendable (BlockingHTTPClient) -> T) async -> T {
        await withCheckedContinuation { continuation in
            enqueue { client in continuation.resume(returning: body(client)) }
        }
    }

    /// Lets the threads finish the work in hand, then end (their handles are cleaned up).
    package func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func enqueue(_ item: @escaping @Sendable (BlockingHTTPClient) -> Void) {
        condition.lock()
        queue.append(item)
        condition.signal()
        condition.unlock()
    }

    private func work(_ client: BlockingHTTPClient) {
        while let item = next() { item(client) }
    }

    /// The next piece of work; nil once shut down and nothing is left.
    private func next() -> (@Sendable (BlockingHTTPClient) -> Void)? {
        condition.lock()
        defer { condition.unlock() }
        while head == queue.count {
            if stopping { return nil }
            condition.wait()
        }
        let item = queue[head]
        head += 1
        // Drop what has been taken once it is most of the array, so the queue stays small.
        if head > 1_024, head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
        return item
    }
}
