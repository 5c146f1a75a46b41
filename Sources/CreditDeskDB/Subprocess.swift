#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Runs a program to completion with `posix_spawn` and `waitpid`.
///
/// Foundation's `Process` on Linux reaps children from a dispatch source that can be starved
/// when the cooperative pool is busy, leaving callers blocked on a zombie; this helper waits
/// for its own child directly. Output (stdout and stderr together) is collected in memory.
package enum Subprocess {
    static let spawnLock = NSLock()

    package struct Result: Sendable {
        package let status: Int32
        package let output: String
    }

    package static func run(_ executable: String, _ arguments: [String], directory: String? = nil) throws -> Result {
        // A child spawned by another thread (a postmaster, which lives on) must never inherit
        // this pipe, or our read would wait forever for end of file. So the pipe is
        // close-on-exec (dup2 onto the child's stdout/stderr clears the flag for its own
        // copies), and creating it and spawning happen under one process-wide lock, leaving
        // no window between pipe() and fcntl() in which another spawn could copy it.
        spawnLock.lock()
        var pipeDescriptors: [Int32] = [0, 0]
        guard pipe(&pipeDescriptors) == 0 else {
            spawnLock.unlock()
            throw DatabaseError(.embeddedServer, message: "pipe() failed: errno \(errno)")
        }
        let (readEnd, writeEnd) = (pipeDescriptors[0], pipeDescriptors[1])
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 2)
        posix_spawn_file_actions_addclose(&actions, readEnd)
        posix_spawn_file_actions_addclose(&actions, writeEnd)
        // posix_spawn_file_actions_addchdir_np is not visible from Swift; coreutils' env
        // changes directory and then execs the program, which has the same effect.
        let command = directory.map { ["/usr/bin/env", "--chdir=\($0)", executable] } ?? [executable]
        let argv = (command + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawnStatus = posix_spawn(&pid, command[0], &actions, nil, argv, environ)
        close(writeEnd)
        spawnLock.unlock()
        guard spawnStatus == 0 else {
            close(readEnd)
            throw DatabaseError(.embeddedServer, message: "cannot run \(executable): error \(spawnStatus)")
        }

        var output = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if count > 0 {
                output.append(contentsOf: buffer[0..<count])
            } else if count == 0 || errno != EINTR {
                break
            }
        }
        close(readEnd)

        var waitStatus: Int32 = 0
        while waitpid(pid, &waitStatus, 0) == -1 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS, spelled out: the macros are not imported into Swift.
        let exited = waitStatus & 0x7f == 0
        let status = exited ? (waitStatus >> 8) & 0xff : 128 + (waitStatus & 0x7f)
        return Result(status: status, output: String(decoding: output, as: UTF8.self))
    }
}

/// A long-running child (a test's Kannel boxes): output appended to a log file, stdin a pipe
/// held open until `stop`, so a child that reads stdin does not see end of file. Spawned under the same lock as `Subprocess.run`, with close-on-exec
/// descriptors, so no other child inherits the pipe.
package final class BackgroundProcess: @unchecked Sendable {
    package let pid: pid_t
    private var stdinWrite: Int32
    private var exited = false
    private let lock = NSLock()

    package init(_ executable: String, _ arguments: [String], logPath: String) throws {
        Subprocess.spawnLock.lock()
        defer { Subprocess.spawnLock.unlock() }
        var descriptors: [Int32] = [0, 0]
        guard pipe(&descriptors) == 0 else { throw DatabaseError(.other, message: "pipe() failed: errno \(errno)") }
        _ = fcntl(descriptors[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(descriptors[1], F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, descriptors[0], 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        close(descriptors[0])
        guard status == 0 else {
            close(descriptors[1])
            throw DatabaseError(.other, message: "cannot run \(executable): error \(status)")
        }
        self.pid = pid
        stdinWrite = descriptors[1]
    }

    /// Whether the child has ended (it is reaped here if so).
    package var hasExited: Bool {
        lock.lock()
        defer { lock.unlock() }
        if exited { return true }
        var waitStatus: Int32 = 0
        exited = waitpid(pid, &waitStatus, WNOHANG) == pid
        return exited
    }

    /// Sends `signal`, waits up to `seconds` for the child to end, then kills it.
    package func stop(signal: Int32 = SIGTERM, seconds: Double = 10) {
        lock.lock()
        if stdinWrite >= 0 { close(stdinWrite); stdinWrite = -1 }
        let alreadyExited = exited
        lock.unlock()
        if alreadyExited { return }
        kill(pid, signal)
        var waitStatus: Int32 = 0
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if waitpid(pid, &waitStatus, WNOHANG) == pid { return }
            usleep(50_000)
        }
        kill(pid, SIGKILL)
        while waitpid(pid, &waitStatus, 0) == -1 && errno == EINTR {}
    }

    deinit {
        if stdinWrite >= 0 { close(stdinWrite) }
    }
}

/// Runs blocking work (process spawning, a direct libpq call) on a thread of its own, so that
/// it never occupies one of Swift's cooperative threads: on a 2-core machine there are only two,
/// and one blocked for seconds stalls every task in the process.
package func runBlocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result { try body() })
        }
    }
}
