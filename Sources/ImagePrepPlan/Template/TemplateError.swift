/// A template that can't be read or rendered, with the file and line.
public struct TemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    /// The variable nothing defines, when that is the error.
    public var undefinedVariable: String?

    public init(file: String, line: Int, message: String, undefinedVariable: String? = nil) {
        self.file = file
        self.line = line
        self.message = message
        self.undefinedVariable = undefinedVariable
    }

    public var description: String { "\(file):\(line): \(message)" }
}
