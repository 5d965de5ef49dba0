import Foundation

/// A bounded byte queue between the thread downloading a blob and the thread uploading it,
/// so a blob flows through in pieces and is never held whole in memory.
final class BlobPipe: Sendable {
    private struct State {
        var chunks: [Data] = []
        var head = 0
        var offset = 0
        var buffered = 0
        var finished = false
        var failure: (any Error)?
    }

    private let capacity: Int
    private let condition = NSCondition()
    // Every access to `state` happens with `condition` locked.
    nonisolated(unsafe) private var state = State()

    init(capacity: Int = 4 * 1024 * 1024) {
        self.capacity = capacity
    }

    /// Blocks while the pipe is full. Throws once the pipe failed.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        // An empty chunk would be read as one with no base address.
        guard !bytes.isEmpty else { return }
        condition.lock()
        defer { condition.unlock() }
        while state.buffered >= capacity && state.failure == nil {
            condition.wait()
        }
        if let failure = state.failure { throw failure }
        state.chunks.append(Data(bytes))
        state.buffered += bytes.count
        condition.broadcast()
    }

    /// Blocks until bytes are available; returns 0 only after `finish()`.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        condition.lock()
        defer { condition.unlock() }
        while state.head == state.chunks.count && !state.finished && state.failure == nil {
            condition.wait()
        }
        if let failure = state.failure { throw failure }
        guard state.head < state.chunks.count else { return 0 }
        let chunk = state.chunks[state.head]
        let count = min(buffer.count, chunk.count - state.offset)
        chunk.withUnsafeBytes { source in
            let start = source.baseAddress!.advanced(by: state.offset)
            buffer.baseAddress!.copyMemory(from: start, byteCount: count)
        }
        state.offset += count
        state.buffered -= count
        if state.offset == chunk.count {
            state.chunks[state.head] = Data()
            state.head += 1
            state.offset = 0
            if state.head == state.chunks.count {
                state.chunks.removeAll(keepingCapacity: true)
                state.head = 0
            }
        }
        condition.broadcast()
        return count
    }

    /// Marks the end of the data: the reader sees EOF after the buffered bytes.
    func finish() {
        condition.lock()
        state.finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// Wakes both sides with `error`; the first failure wins.
    func fail(_ error: any Error) {
        condition.lock()
        if state.failure == nil { state.failure = error }
        condition.broadcast()
        condition.unlock()
    }
}
