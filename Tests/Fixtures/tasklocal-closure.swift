// The reduction of the release build's crash (issue 19): a closure-typed task-local bound
// with `withValue` crashes in `swift_task_localValuePush` when built with -O by Swift 6.3.1
// (the optimizer names the value's type metadata with ~Copyable/~Escapable requirements the
// runtime cannot demangle: swiftlang/swift#88321), and runs at -Onone.
// Built and run by ReleaseBuildTests; exits 0 and prints "ok 1" where the toolchain is fixed.
enum Progress {
    @TaskLocal static var report: (@Sendable (Int) -> Void)?
}

@inline(never) func work() async -> Int {
    Progress.report?(1)
    return 1
}

@main struct Main {
    static func main() async {
        let result = await Progress.$report.withValue({ _ in }) { await work() }
        print("ok", result)
    }
}
