import Foundation
import ImagePrepTestSupport
import XCTest

@testable import ImagePrepPlan

/// The built-in catalogs and the template renderer checked against the
/// upstream templates and against Python's Jinja2.
final class CatalogTests: XCTestCase {
    static let drivers: [String?] = ["ovn", "odl", "other", nil]

    private func context(_ catalog: Catalog, driver: String?, extra: TemplateContext = [:]) -> TemplateContext {
        var context = catalog.defaults
        context["neutron_driver"] = driver.map(TemplateValue.string)
        context.merge(extra) { _, new in new }
        return context
    }

    private func upstreamTemplate(_ catalog: Catalog) throws -> CatalogTemplate {
        let path = try Reference.path(catalog.upstreamTemplate)
        return try CatalogTemplate(source: try String(contentsOfFile: path, encoding: .utf8), file: path) { path in
            try? String(contentsOfFile: path, encoding: .utf8)
        }
    }

    func testBuiltInCatalogsRenderWhatTheUpstreamTemplatesRender() throws {
        for catalog in Catalog.all {
            let template = try upstreamTemplate(catalog)
            var extras: [TemplateContext] = [[:]]
            if catalog.name == "master" { extras.append(["ceph_images": .bool(false)]) }
            for driver in Self.drivers {
                for extra in extras {
                    let context = context(catalog, driver: driver, extra: extra)
                    let expected = try template.entries(context)
                    XCTAssertFalse(expected.isEmpty)
                    XCTAssertEqual(
                        catalog.entries(context), expected,
                        "\(catalog.name), neutron_driver \(driver ?? "unset"), \(extra)")
                }
            }
        }
    }

    func testSteinCatalogHasTheSeedsImagesAndParameters() {
        let entries = Catalog.stein.entries(context(.stein, driver: "ovn", extra: [
            "namespace": .string("docker.io/tripleomaster"), "name_prefix": .string("centos-binary-"),
            "name_suffix": .string(""), "tag": .string("current-tripleo"),
        ]))
        let novaApi = entries.first { $0.params.contains("DockerNovaApiImage") }
        XCTAssertEqual(novaApi?.imageName, "docker.io/tripleomaster/centos-binary-nova-api:current-tripleo")
        XCTAssertEqual(novaApi?.source, "kolla")
        XCTAssertTrue(entries.contains { $0.imageName.hasSuffix("centos-binary-ovn-controller:current-tripleo") })
        XCTAssertFalse(entries.contains { $0.imageName.contains("opendaylight") })
    }

    func testMasterCatalogDropsCephImagesWhenAsked() {
        let with = Catalog.master.entries(context(.master, driver: "ovn"))
        let without = Catalog.master.entries(context(.master, driver: "ovn", extra: ["ceph_images": .bool(false)]))
        XCTAssertTrue(with.contains { $0.params.contains("ContainerCephDaemonImage") })
        XCTAssertFalse(without.contains { $0.params.contains("ContainerCephDaemonImage") })
        XCTAssertEqual(with.count - without.count, 7)
    }

    func testMasterNeutronServerServesOVNControllerOnlyWithOVN() {
        let server = { (driver: String) in
            Catalog.master.entries(self.context(.master, driver: driver)).first { $0.params.contains("ContainerNeutronApiImage") }
        }
        XCTAssertEqual(server("ovn")?.services.contains("OS::TripleO::Services::OVNController"), true)
        XCTAssertEqual(server("other")?.services.contains("OS::TripleO::Services::OVNController"), false)
    }

    /// Renders both real templates with Python's Jinja2 and with imageprep's
    /// renderer, for every neutron_driver, and compares the text byte for byte.
    func testRendererMatchesPythonJinja2OnTheUpstreamTemplates() throws {
        let python = try Self.pythonWithJinja2()
        for catalog in Catalog.all {
            let path = try Reference.path(catalog.upstreamTemplate)
            let template = try Template(source: try String(contentsOfFile: path, encoding: .utf8), file: path)
            for driver in Self.drivers {
                let context = context(catalog, driver: driver)
                let ours = try template.render(context) { try? String(contentsOfFile: $0, encoding: .utf8) }
                let theirs = try Self.jinja2(python: python, template: path, context: context)
                XCTAssertEqual(ours, theirs, "\(catalog.upstreamTemplate) with neutron_driver \(driver ?? "unset")")
            }
        }
    }

    func testRendererMatchesPythonJinja2OnTheFixtureTemplate() throws {
        let python = try Self.pythonWithJinja2()
        let path = Reference.fixture("small_containers.yaml.j2")
        let template = try Template(source: try String(contentsOfFile: path, encoding: .utf8), file: path)
        for context: TemplateContext in [
            // (namespace is always given: Jinja2 has a global of that name.)
            ["namespace": .string("ns")],
            ["neutron_driver": .string("odl"), "namespace": .string("r.example/ns"), "tag": .string("t")],
            ["extra_images": .bool(false), "neutron_driver": .null, "namespace": .string("ns"), "name_prefix": .null],
        ] {
            let ours = try template.render(context) { try? String(contentsOfFile: $0, encoding: .utf8) }
            XCTAssertEqual(ours, try Self.jinja2(python: python, template: path, context: context), "\(context)")
        }
    }

    static func pythonWithJinja2() throws -> String {
        for candidate in ["/usr/bin/python3", "/usr/local/bin/python3", "python3"] {
            if (try? run(candidate, ["-c", "import jinja2"])) != nil { return candidate }
        }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            XCTFail("python3 with jinja2 is needed (apt-get install python3-jinja2)")
        }
        throw XCTSkip("python3 with jinja2 is not installed")
    }

    static func jinja2(python: String, template: String, context: TemplateContext) throws -> String {
        var json: [String: Any] = [:]
        for (key, value) in context {
            switch value {
            case .undefined: continue
            case .null: json[key] = NSNull()
            case .bool(let b): json[key] = b
            case .string(let s): json[key] = s
            }
        }
        let contextJSON = String(decoding: try JSONSerialization.data(withJSONObject: json), as: UTF8.self)
        let script = """
            import json, os, sys, jinja2
            path, context = sys.argv[1], json.loads(sys.argv[2])
            env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.dirname(path)))
            sys.stdout.write(env.get_template(os.path.basename(path)).render(context))
            """
        return try run(python, ["-c", script, template, contextJSON])
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let absolute = executable.hasPrefix("/")
        let result = try CLI.runProcess(
            URL(fileURLWithPath: absolute ? executable : "/usr/bin/env"), absolute ? arguments : [executable] + arguments)
        guard result.status == 0 else { throw NSError(domain: "run", code: Int(result.status)) }
        return result.stdout
    }
}
