import Foundation
import FulcrumPluginHost
import FulcrumTestSupport
import XCTest

/// ABI compatibility: plugins built against the header before filters, and
/// filter lists whose entries are shorter (older) or longer (newer) than
/// this host's fulcrum_filter.
final class FilterABITests: XCTestCase {
    var directory = ""
    override func setUpWithError() throws { directory = try temporaryDirectory("filter-abi") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func testAStrategyBuiltAgainstThePreviousHeaderStillLoads() throws {
        // Tests/Fixtures holds fulcrum_plugin.h as it was before filters.
        let old = directory + "/old-include"
        try FileManager.default.createDirectory(atPath: old, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: repositoryRoot + "/Tests/Fixtures/fulcrum_plugin-before-filters.h", toPath: old + "/fulcrum_plugin.h")
        let c = directory + "/old.c"
        try cStrategySource(name: "old-last").write(toFile: c, atomically: true, encoding: .utf8)
        try runCommand("cc", ["-shared", "-fPIC", "-I", old, c, "-o", directory + "/old.so"])
        let catalog = PluginCatalog()
        let (warnings, errors) = catalog.loadDirectory(directory)
        XCTAssertTrue(errors.isEmpty && warnings.isEmpty, "\(warnings) \(errors)")
        let instance = try XCTUnwrap(catalog.strategy(named: "old-last")?.makeInstance())
        let backends = TestBackends(count: 3)
        instance.update(backends.all)
        XCTAssertEqual(instance.pick(), 2)
        XCTAssertTrue(catalog.filters.isEmpty)
    }

    /// Two filters declared with a struct of `size` bytes: a revision-0-like
    /// one that stops after on_request_head (absent later hooks), or a future
    /// one with an extra hook appended (the host walks by filter_size).
    func strideSource(extraField: Bool) -> String {
        """
        #include <fulcrum_plugin.h>
        #include <stdlib.h>
        typedef struct {
            const char *name; const char *description;
            void *(*on_config_new)(const fulcrum_filter_host *, const char *, char *, size_t);
            void (*on_config_destroy)(void *);
            void *(*on_filter_new)(void *, uint32_t);
            void (*on_filter_destroy)(void *);
            int32_t (*on_request_head)(void *, const fulcrum_filter_request *, fulcrum_filter_decision *);
            \(extraField ? "void (*on_response_head)(void *, const fulcrum_filter_response *); void (*on_complete)(void *, const fulcrum_filter_completion *); void (*on_future_hook)(void *);" : "")
        } my_filter;
        static int dummy;
        static void *cfg(const fulcrum_filter_host *h, const char *j, char *e, size_t n) { (void)h; (void)j; (void)e; (void)n; return &dummy; }
        static int32_t deny(void *i, const fulcrum_filter_request *r, fulcrum_filter_decision *d) { (void)i; (void)r; d->status = 451; return FULCRUM_FILTER_RESPOND; }
        static int32_t pass(void *i, const fulcrum_filter_request *r, fulcrum_filter_decision *d) { (void)i; (void)r; (void)d; return FULCRUM_FILTER_CONTINUE; }
        static void never(void *i) { (void)i; abort(); }
        static const my_filter filters[] = {
            { "first", "", cfg, NULL, NULL, NULL, pass \(extraField ? ", NULL, NULL, never" : "") },
            { "second", "", cfg, NULL, NULL, NULL, deny \(extraField ? ", NULL, NULL, never" : "") },
        };
        static const fulcrum_filter_list list = { FULCRUM_ABI_VERSION, FULCRUM_FILTER_REVISION, sizeof(my_filter), (const fulcrum_filter *)filters, 2 };
        static const fulcrum_plugin plugin = { FULCRUM_ABI_VERSION, "stride", "0", NULL, 0, NULL, 0 };
        const fulcrum_plugin *fulcrum_plugin_entry(void) { return &plugin; }
        const fulcrum_filter_list *fulcrum_plugin_filters(const fulcrum_filter_host *h) { (void)h; return &list; }
        """
    }

    func testShorterAndLongerFilterStructsAreWalkedByTheirOwnSize() throws {
        for extra in [false, true] {
            let dir = directory + (extra ? "/newer" : "/older")
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try compileCPlugin(strideSource(extraField: extra), named: "stride", in: dir)
            let catalog = PluginCatalog()
            let (warnings, errors) = catalog.loadDirectory(dir)
            XCTAssertTrue(errors.isEmpty && warnings.isEmpty, "\(warnings) \(errors)")
            XCTAssertEqual(catalog.filters.map(\.name), ["first", "second"])
            let c = chain(try filterFactory("first", catalog: catalog), try filterFactory("second", catalog: catalog))
            let run = FilterRun()
            XCTAssertEqual(TestHead().run(c, run), .respond(status: 451))
            // Response and completion hooks are absent (older) or NULL (newer): nothing to call.
            c.runResponse(status: 451, head: nil, run: run)
            c.complete(run: run, status: 451, bytesIn: 0, bytesOut: 0, durationMicros: 0)
        }
    }

    func testAFilterOnlyPluginLoadsAndAMissingConfigHookIsRefused() throws {
        let source = cTracerFilterSource.replacingOccurrences(of: "\"c-tracer\", \"records hook order\", config_new", with: "\"c-tracer\", \"records hook order\", NULL")
        let so = try compileCPlugin(source, named: "broken", in: directory)
        XCTAssertThrowsError(try PluginCatalog().load(file: so, strict: true)) { error in
            XCTAssertTrue("\(error)".contains("on_config_new must not be NULL"), "\(error)")
        }
    }

    func testBuiltInFiltersAreListed() {
        XCTAssertEqual(Set(builtIns.filters.map(\.name)), ["ip-filter", "rate-limit", "request-id"])
        let lib = builtIns.libraries.first { $0.filters.contains { $0.name == "rate-limit" } }
        XCTAssertEqual(lib?.strategies.count, 0)
    }
}
