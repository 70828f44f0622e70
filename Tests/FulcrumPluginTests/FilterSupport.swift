import CFulcrumPlugin
import Foundation
import FulcrumPluginHost
import XCTest

/// A request head laid out as bytes with a FilterField table, as the proxy
/// would hand it to a chain.
final class TestHead {
    var bytes: [UInt8] = []
    var fields: [FilterField] = []
    let method: Range<Int>
    let target: Range<Int>
    var ip: [UInt8]
    let route: [UInt8]
    let pool: [UInt8]

    init(method: String = "GET", target: String = "/", headers: [(String, String)] = [], ip: [UInt8] = [127, 0, 0, 1],
         route: String = "r", pool: String = "default") {
        bytes += Array(method.utf8)
        self.method = 0..<bytes.count
        bytes.append(0x20)
        let t = bytes.count
        bytes += Array(target.utf8)
        self.target = t..<bytes.count
        bytes += Array(" HTTP/1.1\r\n".utf8)
        for (n, v) in headers {
            let ns = bytes.count
            bytes += Array(n.utf8)
            let ne = bytes.count
            bytes += Array(": ".utf8)
            let vs = bytes.count
            bytes += Array(v.utf8)
            fields.append(FilterField(nameStart: Int32(ns), nameEnd: Int32(ne), valueStart: Int32(vs), valueEnd: Int32(bytes.count)))
            bytes += Array("\r\n".utf8)
        }
        self.ip = ip
        self.route = Array(route.utf8)
        self.pool = Array(pool.utf8)
    }

    /// Runs `chain` on this head with `run`.
    func run(_ chain: FilterChain, _ run: FilterRun) -> FilterVerdict {
        bytes.withUnsafeBytes { b in
            fields.withUnsafeBytes { f in
                ip.withUnsafeBytes { i in
                    route.withUnsafeBytes { r in
                        pool.withUnsafeBytes { p in
                            let head = FilterHead(base: b.baseAddress, fields: f.baseAddress, count: fields.count,
                                                  stride: MemoryLayout<FilterField>.stride)
                            return chain.runRequest(FilterRequestView(head: head, method: method, target: target, clientIP: i, route: r, pool: p), run: run)
                        }
                    }
                }
            }
        }
    }
}

extension HeaderEdits {
    /// The sets, as text pairs (tests).
    var setsForTest: [String: String] {
        var out: [String: String] = [:]
        forEachSet { n, v in out[String(decoding: n, as: UTF8.self).lowercased()] = String(decoding: v, as: UTF8.self) }
        return out
    }
}

extension FilterRun {
    var localBody: String { withLocalBody { String(decoding: $0, as: UTF8.self) } }
    var chosenPool: String { withChosenPool { String(decoding: $0, as: UTF8.self) } }
}

/// A configured entry of a built-in (or any loaded) filter, or the test fails.
func filterFactory(_ name: String, _ config: String = "{}", catalog: PluginCatalog = builtIns,
                   host: UnsafePointer<fulcrum_host>? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> FilterFactory {
    let descriptor = try XCTUnwrap(catalog.filter(named: name), "no filter \(name)", file: file, line: line)
    let result = host.map { descriptor.makeFactory(config: config, host: $0) } ?? descriptor.makeFactory(config: config)
    switch result {
    case .success(let f): return f
    case .failure(let e): XCTFail("\(e)", file: file, line: line); throw e
    }
}

/// The reason a configuration is refused (nil when accepted).
func refusal(_ name: String, _ config: String) -> String? {
    switch builtIns.makeFilterFactory(name: name, config: config) {
    case .success: return nil
    case .failure(let e): return e.description
    }
}

func chain(_ factories: FilterFactory..., worker: UInt32 = 0) -> FilterChain {
    FilterChain(factories.map { $0.makeInstance(worker: worker)! })
}

/// A C filter written against the header alone: it appends its tag to the
/// "trace" annotation in every hook ("a>" request, "<a" response, "a." end),
/// answers `respond` when its config holds "respond", chooses pool "other"
/// when it holds "pool", and when it holds "edits" tries refused edits and
/// records their codes in annotation "codes" before setting X-Ok.
let cTracerFilterSource = """
#include <fulcrum_plugin.h>
#include <stdlib.h>
#include <string.h>

typedef struct { const fulcrum_filter_host *fh; char tag; int respond, pool, edits; } cfg;

static void *config_new(const fulcrum_filter_host *fh, const char *json, char *error, size_t cap) {
    if (!FULCRUM_HAS_FIELD(fh, fulcrum_filter_host, annotation)) return NULL;
    const char *t = strstr(json, "\\"tag\\":\\"");
    if (!t) { strncpy(error, "tag is required", cap - 1); error[cap - 1] = 0; return NULL; }
    cfg *c = calloc(1, sizeof *c);
    c->fh = fh; c->tag = t[7];
    c->respond = strstr(json, "respond") != NULL;
    c->pool = strstr(json, "pool") != NULL;
    c->edits = strstr(json, "edits") != NULL;
    return c;
}
static void config_destroy(void *c) { free(c); }

static void trace(cfg *c, void *ex, const char *suffix) {
    fulcrum_str old = {0};
    char buf[256];
    size_t n = 0;
    if (c->fh->annotation(ex, "trace", 5, &old) == 1) { memcpy(buf, old.ptr, old.len); n = old.len; }
    buf[n++] = c->tag;
    memcpy(buf + n, suffix, strlen(suffix)); n += strlen(suffix);
    c->fh->annotate(ex, "trace", 5, buf, n);
}

static int32_t on_request(void *i, const fulcrum_filter_request *r, fulcrum_filter_decision *d) {
    cfg *c = i;
    trace(c, r->head, ">");
    r->state->u64[0] = 42;
    if (c->edits) {
        char codes[128];
        int n = 0;
        const char *names[] = {"Content-Length", "transfer-encoding", "Connection", "Host", "Keep-Alive", "Upgrade"};
        for (int k = 0; k < 6; k++) n += snprintf(codes + n, sizeof codes - n, "%d,", c->fh->header_set(r->head, names[k], strlen(names[k]), "1", 1));
        n += snprintf(codes + n, sizeof codes - n, "%d,", c->fh->header_remove(r->head, "content-length", 14));
        n += snprintf(codes + n, sizeof codes - n, "%d,", c->fh->header_set(r->head, "X-Evil", 6, "a\\r\\nB: c", 7));
        n += snprintf(codes + n, sizeof codes - n, "%d,", c->fh->header_set(r->head, "Bad Name", 8, "x", 1));
        n += snprintf(codes + n, sizeof codes - n, "%d", c->fh->header_set(r->head, "X-Ok", 4, "yes", 3));
        c->fh->annotate(r->head, "codes", 5, codes, (size_t)n);
    }
    if (c->pool) { d->pool.ptr = "other"; d->pool.len = 5; return FULCRUM_FILTER_CHOOSE_POOL; }
    if (c->respond) {
        static const fulcrum_header h[] = {{{"X-Why", 5}, {"refused", 7}}, {{"Content-Length", 14}, {"99", 2}}};
        d->status = 403; d->headers = h; d->header_count = 2;
        d->body.ptr = "no"; d->body.len = 2;
        return FULCRUM_FILTER_RESPOND;
    }
    return FULCRUM_FILTER_CONTINUE;
}
static void on_response(void *i, const fulcrum_filter_response *r) {
    cfg *c = i;
    char t[2] = {'<', 0};
    fulcrum_str old = {0};
    char buf[256]; size_t n = 0;
    if (c->fh->annotation(r->head, "trace", 5, &old) == 1) { memcpy(buf, old.ptr, old.len); n = old.len; }
    buf[n++] = '<'; buf[n++] = c->tag;
    c->fh->annotate(r->head, "trace", 5, buf, n);
    (void)t;
    char name[8] = "X-Seen-";
    char full[9]; memcpy(full, name, 7); full[7] = c->tag; full[8] = 0;
    c->fh->header_set(r->head, full, 8, r->state->u64[0] == 42 ? "state" : "lost", r->state->u64[0] == 42 ? 5 : 4);
}
static void on_complete(void *i, const fulcrum_filter_completion *done) {
    cfg *c = i;
    trace(c, done->exchange, ".");
}

static const fulcrum_filter filters[] = {{
    "c-tracer", "records hook order", config_new, config_destroy, NULL, NULL, on_request, on_response, on_complete,
}};
static const fulcrum_filter_list list = { FULCRUM_ABI_VERSION, FULCRUM_FILTER_REVISION, sizeof(fulcrum_filter), filters, 1 };
static const fulcrum_plugin plugin = { FULCRUM_ABI_VERSION, "test-c-tracer", "0.1", NULL, 0, NULL, 0 };
const fulcrum_plugin *fulcrum_plugin_entry(void) { return &plugin; }
const fulcrum_filter_list *fulcrum_plugin_filters(const fulcrum_filter_host *host) { (void)host; return &list; }
"""
