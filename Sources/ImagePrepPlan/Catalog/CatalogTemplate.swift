/// An operator's own catalog template (`--template-file`), rendered as is.
public struct CatalogTemplate: Sendable {
    public let template: Template
    let loader: Template.Loader

    public init(source: String, file: String, loader: @escaping Template.Loader) throws(PlanError) {
        do {
            self.template = try Template(source: source, file: file)
        } catch {
            throw PlanError.template(error)
        }
        self.loader = loader
    }

    /// The first variable the template uses that `context` leaves undefined;
    /// nil when it renders (or fails for another reason, which rendering for
    /// the plan reports).
    func undefinedVariable(_ context: TemplateContext) -> String? {
        do {
            _ = try template.render(context, loader: loader, strict: true)
            return nil
        } catch {
            return error.undefinedVariable
        }
    }

    /// Renders the template and reads its `container_images_template` list.
    public func entries(_ context: TemplateContext) throws(PlanError) -> [CatalogEntry] {
        let file = template.file
        let text: String
        do {
            // Strict: an undefined variable would leave a hole in an image name.
            text = try template.render(context, loader: loader, strict: true)
        } catch {
            throw PlanError.template(error)
        }
        let document: ConfigValue
        do {
            document = try ConfigDocument.parse(text, file: "\(file) (rendered)")
        }
        guard case .map = document, let list = document["container_images_template"] else {
            throw PlanError.invalidCatalog(file: file, reason: "expected a mapping with a 'container_images_template' list")
        }
        guard case .list(let items) = list else {
            throw PlanError.invalidValue(
                file: file, key: "container_images_template", expected: "a list of images", found: list.kindDescription)
        }
        var entries: [CatalogEntry] = []
        for (index, item) in items.enumerated() {
            let key = "container_images_template[\(index)]"
            guard case .map = item else {
                throw PlanError.invalidValue(file: file, key: key, expected: "a mapping", found: item.kindDescription)
            }
            guard let name = item["imagename"]?.scalarText, !name.isEmpty else {
                throw PlanError.invalidValue(
                    file: file, key: "\(key).imagename", expected: "an image name",
                    found: item["imagename"]?.kindDescription ?? "nothing")
            }
            entries.append(
                CatalogEntry(
                    imageName: name,
                    source: item["image_source"]?.scalarText,
                    params: try Role.strings(item["params"], file: file, key: "\(key).params"),
                    services: try Role.strings(item["services"], file: file, key: "\(key).services")))
        }
        return entries
    }
}
