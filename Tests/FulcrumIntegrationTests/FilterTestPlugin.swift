import Foundation
import FulcrumTestSupport

/// `t-filter`, a C filter the tests compile with `cc` from the SDK header
/// alone (CONTRACT §11). Its configuration (read with strstr, as a test may):
/// - `"tag":"X"`: on the request, appends X to request header `X-Chain`
///   (so the backend sees the order the chain ran in); on the response, to
///   response header `X-Resp-Order` (the reverse order).
/// - `"respond"`: answers 418 with `X-Answered-By: X` and body `teapot`.
/// - `"framing"`: tries to set Content-Length, Transfer-Encoding and
///   Connection and to remove Content-Length, and puts the return codes in
///   request header `X-Codes`.
/// - `"where"`: puts `METHOD TARGET ROUTE POOL IPLEN` in request header
///   `X-Seen`, and tries to set X-Forwarded-For (the proxy's own wins).
/// - `"choose":"NAME"`: sends the request to pool NAME.
/// - at the end, annotates `t-done=STATUS/BYTES_IN/BYTES_OUT` (access log).
/// - a config holding `"refuse"` is refused with the reason `told to refuse`.
let cTestFilterSource = """
#include <fulcrum_plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { const fulcrum_filter_host *fh; char tag; int respond, framing, where; char choose[32]; fulcrum_header answer[2]; } cfg;

static void *config_new(const fulcrum_filter_host *fh, const char *json, char *error, size_t cap) {
    if (strstr(json, "refuse")) { snprintf(error, cap, "told to refuse"); return NULL; }
    const char *t = strstr(json, "\\"tag\\":\\"");
    if (!t) { snprintf(error, cap, "tag is required"); return NULL; }
    cfg *c = calloc(1, sizeof *c);
    c->fh = fh; c->tag = t[7];
    c->respond = strstr(json, "respond") != NULL;
    c->framing = strstr(json, "framing") != NULL;
    c->where = strstr(json, "where") != NULL;
    const char *p = strstr(json, "\\"choose\\":\\"");
    if (p) { p += 10; size_t n = 0; while (p[n] && p[n] != '"' && n < 31) { c->choose[n] = p[n]; n++; } }
    /* The answer's headers, made once (read-only while requests run). */
    c->answer[0].name.ptr = "X-Answered-By"; c->answer[0].name.len = 13;
    c->answer[0].value.ptr = &c->tag; c->answer[0].value.len = 1;
    c->answer[1].name.ptr = "Content-Length"; c->answer[1].name.len = 14;
    c->answer[1].value.ptr = "99"; c->answer[1].value.len = 2;
    return c;
}
static void config_destroy(void *c) { free(c); }

/* Sets header `name` to its current value (if any) followed by `tag`. */
static void append_tag(cfg *c, const void *head, const char *name, char tag) {
    fulcrum_str old = {0};
    char buf[128]; size_t n = 0;
    if (c->fh->header_get(head, name, strlen(name), &old) == 1 && old.len < 100) { memcpy(buf, old.ptr, old.len); n = old.len; }
    buf[n++] = tag;
    c->fh->header_set(head, name, strlen(name), buf, n);
}

static int32_t on_request(void *i, const fulcrum_filter_request *r, fulcrum_filter_decision *d) {
    cfg *c = i;
    append_tag(c, r->head, "X-Chain", c->tag);
    if (c->framing) {
        char codes[64];
        int a = c->fh->header_set(r->head, "Content-Length", 14, "0", 1);
        int b = c->fh->header_set(r->head, "Transfer-Encoding", 17, "chunked", 7);
        int e = c->fh->header_set(r->head, "Connection", 10, "close", 5);
        int f = c->fh->header_remove(r->head, "content-length", 14);
        int n = snprintf(codes, sizeof codes, "%d,%d,%d,%d", a, b, e, f);
        c->fh->header_set(r->head, "X-Codes", 7, codes, (size_t)n);
    }
    if (c->where) {
        /* What the request looks like to this filter: method target route pool client-ip-length. */
        char w[256];
        int n = snprintf(w, sizeof w, "%.*s %.*s %.*s %.*s %u", (int)r->method.len, r->method.ptr, (int)r->target.len, r->target.ptr,
                         (int)r->route.len, r->route.ptr, (int)r->pool.len, r->pool.ptr, r->client_ip_len);
        c->fh->header_set(r->head, "X-Seen", 6, w, (size_t)n);
        c->fh->header_set(r->head, "X-Forwarded-For", 15, "6.6.6.6", 7);
    }
    if (c->choose[0]) { d->pool.ptr = c->choose; d->pool.len = strlen(c->choose); return FULCRUM_FILTER_CHOOSE_POOL; }
    if (c->respond) {
        d->status = 418; d->headers = c->answer; d->header_count = 2;
        d->body.ptr = "teapot"; d->body.len = 6;
        return FULCRUM_FILTER_RESPOND;
    }
    return FULCRUM_FILTER_CONTINUE;
}

static void on_response(void *i, const fulcrum_filter_response *r) {
    cfg *c = i;
    append_tag(c, r->head, "X-Resp-Order", c->tag);
}

/* Annotates `t-done` = status/bytes in/bytes out (the access log shows it). */
static void on_complete(void *i, const fulcrum_filter_completion *done) {
    cfg *c = i;
    char text[96];
    int n = snprintf(text, sizeof text, "%d/%llu/%llu", done->status, (unsigned long long)done->bytes_in, (unsigned long long)done->bytes_out);
    c->fh->annotate(done->exchange, "t-done", 6, text, (size_t)n);
}

static const fulcrum_filter filters[] = {{
    "t-filter", "integration-test filter", config_new, config_destroy, NULL, NULL, on_request, on_response, on_complete,
}};
static const fulcrum_filter_list list = { FULCRUM_ABI_VERSION, FULCRUM_FILTER_REVISION, sizeof(fulcrum_filter), filters, 1 };
static const fulcrum_plugin plugin = { FULCRUM_ABI_VERSION, "test-t-filter", "0.1", NULL, 0, NULL, 0 };
const fulcrum_plugin *fulcrum_plugin_entry(void) { return &plugin; }
const fulcrum_filter_list *fulcrum_plugin_filters(const fulcrum_filter_host *host) { (void)host; return &list; }
"""

/// A directory holding `t-filter.so`, compiled once per test process.
enum TestFilterPlugin {
    nonisolated(unsafe) private static var cached: String?
    private static let lock = NSLock()

    static func directory() throws -> String {
        try lock.withLock {
            if let d = cached { return d }
            let d = try temporaryDirectory("t-filter")
            _ = try compileCPlugin(cTestFilterSource, named: "t-filter", in: d)
            cached = d
            return d
        }
    }
}
