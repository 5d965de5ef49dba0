import CCurl
import Foundation
import ImagePrepOCI
import Synchronization

/// Set from any thread to abort a transfer at its next progress callback.
final class CancellationFlag: Sendable {
    private let value = Atomic(false)

    var isCancelled: Bool { value.load(ordering: .relaxed) }

    func cancel() {
        value.store(true, ordering: .relaxed)
    }
}

/// The state of one transfer, reached from libcurl's C callbacks through their userdata
/// pointer. It lives on the transfer thread only.
final class CurlTransferContext {
    let request: HTTPRequest
    let cancellation: CancellationFlag
    var status = 0
    var headers = HTTPHeaders()
    var collected = Data()
    var streamedBytes: Int64 = 0
    var bodyFailure: (any Error)?
    /// Whether the final response's header block has ended.
    var headersComplete = false
    private var uploadOffset = 0
    let timeouts: TransferTimeouts
    private let started = ContinuousClock.now
    /// The deadline that passed, with the bytes it was reckoned for, once it has.
    private(set) var passedDeadline: (deadline: Duration, bytes: Int64)?

    init(request: HTTPRequest, timeouts: TransferTimeouts, cancellation: CancellationFlag) {
        self.request = request
        self.timeouts = timeouts
        self.cancellation = cancellation
    }

    /// The most bytes the request may move: its upload's length and the largest answer it
    /// takes (its cap, or the announced length when smaller). Nil when either is unbounded.
    func boundedBytes(announcedDownload: Int64) -> Int64? {
        let upload: Int64?
        switch request.body {
        case .empty: upload = 0
        case .data(let data): upload = Int64(data.count)
        case .stream(let length, _): upload = length
        }
        let cap: Int64? = request.method == .head ? 0
            : request.bodyWriter == nil ? Int64(request.maxCollectedBody) : request.maxStreamedBody
        let download = announcedDownload > 0 ? min(announcedDownload, cap ?? announcedDownload) : cap
        guard let upload, let download else { return nil }
        return upload.addingSaturated(download)
    }

    /// Returns false to make libcurl abort the transfer: cancelled, or past its deadline.
    func progress(announcedDownload: Int64) -> Bool {
        if cancellation.isCancelled { return false }
        guard let bytes = boundedBytes(announcedDownload: announcedDownload) else { return true }
        let deadline = timeouts.deadline(bytes: bytes)
        guard ContinuousClock.now - started > deadline else { return true }
        passedDeadline = (deadline, bytes)
        return false
    }

    /// Returns false to make libcurl abort the transfer.
    func receiveHeaderLine(_ line: String) -> Bool {
        let trimmed = Self.trimmingHTTPWhitespace(Substring(line))
        if trimmed.hasPrefix("HTTP/") {
            // A new response (after a redirect or a 100 Continue) replaces the previous one.
            let parts = trimmed.split(separator: " ", maxSplits: 2)
            status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            headers = HTTPHeaders()
            collected = Data()
            headersComplete = false
        } else if trimmed.isEmpty {
            headersComplete = status >= 200
            if let check = request.responseCheck, (200..<300).contains(status) {
                // Before the body: a refused answer writes nothing.
                do {
                    try check(status, headers)
                } catch {
                    bodyFailure = error
                    return false
                }
            }
        } else if let colon = trimmed.firstIndex(of: ":") {
            let name = Self.trimmingHTTPWhitespace(trimmed[..<colon])
            let value = Self.trimmingHTTPWhitespace(trimmed[trimmed.index(after: colon)...])
            headers.add(String(name), String(value))
        }
        return true
    }

    /// `text` without leading and trailing spaces, tabs, CRs and LFs (HTTP's whitespace),
    /// on bytes: every response has a dozen header lines.
    static func trimmingHTTPWhitespace(_ text: Substring) -> Substring {
        let isSpace = { (byte: UInt8) in byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }
        let bytes = text.utf8
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, isSpace(bytes[start]) { start = bytes.index(after: start) }
        while end > start, isSpace(bytes[bytes.index(before: end)]) { end = bytes.index(before: end) }
        return text[start..<end]
    }

    func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if let writer = request.bodyWriter, (200..<300).contains(status) {
            do {
                try writer(bytes)
                streamedBytes += Int64(bytes.count)
                return true
            } catch {
                bodyFailure = error
                return false
            }
        }
        // Error bodies and small documents are collected; one larger than its cap is an
        // error, never a silently shortened document.
        guard collected.count + bytes.count <= request.maxCollectedBody else {
            bodyFailure = ResponseTooLarge(limit: request.maxCollectedBody)
            return false
        }
        collected.append(contentsOf: bytes)
        return true
    }

    /// Returns the number of bytes produced, 0 at the end, or nil to abort.
    func produceBody(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        switch request.body {
        case .empty:
            return 0
        case .data(let data):
            let count = min(buffer.count, data.count - uploadOffset)
            guard count > 0 else { return 0 }
            data.withUnsafeBytes { source in
                let start = source.baseAddress!.advanced(by: uploadOffset)
                buffer.baseAddress!.copyMemory(from: start, byteCount: count)
            }
            uploadOffset += count
            return count
        case .stream(_, let reader):
            do {
                return try reader(buffer)
            } catch {
                bodyFailure = error
                return nil
            }
        }
    }
}

private func context(_ userdata: UnsafeMutableRawPointer?) -> CurlTransferContext {
    Unmanaged<CurlTransferContext>.fromOpaque(userdata!).takeUnretainedValue()
}

let curlWriteCallback: imageprep_curl_data_callback = { buffer, size, count, userdata in
    let total = size * count
    let bytes = UnsafeRawBufferPointer(start: buffer, count: total)
    return context(userdata).receiveBody(bytes) ? total : 0
}

let curlHeaderCallback: imageprep_curl_data_callback = { buffer, size, count, userdata in
    let total = size * count
    let bytes = UnsafeRawBufferPointer(start: buffer, count: total)
    let line = String(decoding: bytes, as: UTF8.self)
    return context(userdata).receiveHeaderLine(line) ? total : 0
}

let curlReadCallback: imageprep_curl_data_callback = { buffer, size, count, userdata in
    let target = UnsafeMutableRawBufferPointer(start: buffer, count: size * count)
    return context(userdata).produceBody(into: target) ?? imageprep_curl_readfunc_abort()
}

let curlProgressCallback: imageprep_curl_xferinfo_callback = { userdata, dltotal, _, _, _ in
    context(userdata).progress(announcedDownload: Int64(dltotal)) ? 0 : 1
}

/// A collected response body went past the request's cap.
struct ResponseTooLarge: Error, CustomStringConvertible {
    var limit: Int

    var description: String { "the answer is larger than \(limit) bytes" }
}
