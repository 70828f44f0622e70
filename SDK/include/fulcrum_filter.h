/*
 * fulcrum_filter.h — filters, part of the Fulcrum plugin ABI version 1
 * (FULCRUM_FILTER_REVISION 1). Included by fulcrum_plugin.h: include that.
 *
 * A filter runs on a routed request after its head is parsed and its route
 * chosen, BEFORE a backend is picked: whatever it decides is decided before
 * any byte reaches a backend. It may read the request, set and remove request
 * headers, choose another pool or answer the request itself; on the response
 * head it may set and remove headers; at the end it learns status, bytes and
 * duration. How host and plugin learn what the other supports is explained in
 * fulcrum_plugin.h ("Filters").
 *
 * ------------------------------------------------------------------------
 * Objects and lifetimes
 * ------------------------------------------------------------------------
 *  - config: on_config_new is called once per CONFIGURED ENTRY (one item of a
 *    "filters" list), on a control thread, and validates the JSON. It returns
 *    NULL to refuse, with a NUL-terminated reason in `error` (at most
 *    `error_capacity` bytes, NUL included). The config object is shared by
 *    every instance made from it on every worker: state that all workers must
 *    see (rate-limit buckets) lives there and needs its own synchronisation.
 *    on_config_destroy is called after every instance made from it is gone.
 *  - instance: on_filter_new(config, worker) makes one instance per worker
 *    thread. The host never calls one instance from two threads at once. When
 *    on_filter_new is NULL the config pointer itself is passed to the hooks
 *    (then the hooks must be safe to call concurrently).
 *  - per-request state: every hook gets a `fulcrum_filter_state *state`, 16
 *    bytes the host keeps for this filter and this request, zeroed before
 *    on_request_head. It lives until on_complete returns; the host calls
 *    on_complete exactly once for every filter whose on_request_head ran
 *    (also when the backend failed or the client went away), so memory a
 *    filter points to from its state is freed in on_complete.
 *  - Every pointer in a view is valid only during the hook that receives it.
 *    Host strings are NOT NUL-terminated (use the lengths).
 *
 * ------------------------------------------------------------------------
 * Order
 * ------------------------------------------------------------------------
 *  Request hooks run in chain order. FULCRUM_FILTER_RESPOND stops the chain:
 *  later filters and every backend never see the request. Response hooks run
 *  for the filters whose request hook ran, in REVERSE order, on every answer
 *  the client gets (the backend's, a filter's, or the host's own 502/503/504).
 *  Completion hooks run for the same filters, also in reverse order.
 *
 * ------------------------------------------------------------------------
 * Header edits
 * ------------------------------------------------------------------------
 *  header_set (replace every value) and header_remove work on the head the
 *  hook looks at and return FULCRUM_FILTER_OK or a negative error; a failed
 *  call changes nothing. They refuse (FULCRUM_FILTER_ERR_REFUSED) the framing
 *  and hop-by-hop fields: Content-Length, Transfer-Encoding, Connection,
 *  Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade — and, on requests,
 *  Host: the route was chosen by it and the proxy derives it from an
 *  absolute-form target; rewriting it is a route's business, not a filter's.
 *  Names must be tokens (RFC 9110), values must not hold CR, LF, NUL or other
 *  control bytes but HTAB (FULCRUM_FILTER_ERR_INVALID). Reads after an edit
 *  see the edited head. Edits are allowed only inside on_request_head (request
 *  head) and on_response_head (response head): FULCRUM_FILTER_ERR_STATE else.
 *
 * ------------------------------------------------------------------------
 * Rules that keep the proxy alive
 * ------------------------------------------------------------------------
 *  Hooks run on an event loop: never block, sleep or do I/O. Never let an
 *  exception, a Rust panic or a Swift trap cross into the host: it aborts the
 *  process. An on_request_head result the host does not know is answered 500.
 */
#ifndef FULCRUM_FILTER_H
#define FULCRUM_FILTER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The filter revision this header describes. */
#define FULCRUM_FILTER_REVISION 1

/** May a plugin touch `field` of a host struct `p` (whose first field is struct_size)? */
#define FULCRUM_HAS_FIELD(p, type, field) \
    ((p)->struct_size >= offsetof(type, field) + sizeof(((type *)0)->field))

/** Results of on_request_head. */
#define FULCRUM_FILTER_CONTINUE 0     /* go on: next filter, then the pick */
#define FULCRUM_FILTER_RESPOND 1      /* answer with decision->status/headers/body; stop the chain */
#define FULCRUM_FILTER_CHOOSE_POOL 2  /* go on, but pick in decision->pool (later filters see it) */

/** Results of host callbacks. */
#define FULCRUM_FILTER_OK 0
#define FULCRUM_FILTER_ERR_REFUSED (-1)   /* framing / hop-by-hop / Host */
#define FULCRUM_FILTER_ERR_INVALID (-2)   /* not a token name, or a control byte in the value */
#define FULCRUM_FILTER_ERR_TOO_LARGE (-3) /* the request's edit or annotation space is full */
#define FULCRUM_FILTER_ERR_STATE (-4)     /* not allowed in this hook */

/** A byte string; not NUL-terminated. */
typedef struct fulcrum_str {
    const char *ptr;
    size_t len;
} fulcrum_str;

/** One header field (name and value), e.g. for a local answer. */
typedef struct fulcrum_header {
    fulcrum_str name;
    fulcrum_str value;
} fulcrum_header;

/** 16 bytes per filter per request, zeroed before on_request_head. */
typedef union fulcrum_filter_state {
    void *ptr;
    uint64_t u64[2];
    uint8_t bytes[16];
} fulcrum_filter_state;

/**
 * Host services for filters. Owned by the host, valid for the life of the
 * process; safe to keep the pointer from on_config_new. `head` is the opaque
 * pointer of a request or response view; `exchange` the one of any view.
 */
typedef struct fulcrum_filter_host {
    /** sizeof(fulcrum_filter_host) as the host was built: see FULCRUM_HAS_FIELD. */
    uint32_t struct_size;
    /** FULCRUM_FILTER_REVISION of the host. */
    uint32_t revision;
    /** The general services: random numbers, the clock (monotonic_ns), logging. */
    const fulcrum_host *host;
    /** Number of header fields of the head (after edits so far). */
    size_t (*header_count)(const void *head);
    /** Field `index` (0-based, < header_count): returns 1 and fills name and value, or 0. */
    int32_t (*header_at)(const void *head, size_t index, fulcrum_str *name, fulcrum_str *value);
    /** First value of `name` (case-insensitive): returns 1 and fills value, or 0 when absent.
     *  Values this or an earlier filter set are valid until the next edit. */
    int32_t (*header_get)(const void *head, const char *name, size_t name_len, fulcrum_str *value);
    /** Replaces every field `name` with one `name: value`. FULCRUM_FILTER_OK or an error. */
    int32_t (*header_set)(void *head, const char *name, size_t name_len, const char *value, size_t value_len);
    /** Removes every field `name` (absent is OK). FULCRUM_FILTER_OK or an error. */
    int32_t (*header_remove)(void *head, const char *name, size_t name_len);
    /** Records `key=value` for this request: the access log carries every
     *  annotation, and any filter may read it back with `annotation` until
     *  the request ends. key: 1..32 bytes of [a-z0-9_.-]; value: at most 256
     *  bytes of printable ASCII (0x20..0x7E) without '"' and '\\'. Setting a
     *  key again replaces it. FULCRUM_FILTER_OK or an error. */
    int32_t (*annotate)(void *exchange, const char *key, size_t key_len, const char *value, size_t value_len);
    /** Reads annotation `key`: returns 1 and fills value (valid during the hook), or 0. */
    int32_t (*annotation)(const void *exchange, const char *key, size_t key_len, fulcrum_str *value);
} fulcrum_filter_host;

/** The request as on_request_head sees it. */
typedef struct fulcrum_filter_request {
    uint32_t struct_size;
    /** 4 (IPv4) or 16 (IPv6) bytes, network order. A v4-mapped IPv6 client is given as IPv4. */
    uint32_t client_ip_len;
    const uint8_t *client_ip;
    fulcrum_str method;
    /** The request-target as received, query included. */
    fulcrum_str target;
    /** The matched route's name ("routes[N]" when unnamed; "" without routes). */
    fulcrum_str route;
    /** The pool the request goes to (a previous filter's choice included). */
    fulcrum_str pool;
    /** For header_* (the request head) and annotate/annotation. */
    void *head;
    fulcrum_filter_state *state;
} fulcrum_filter_request;

/** What on_request_head fills in for RESPOND or CHOOSE_POOL; host-owned and
 *  zeroed. Pointers the plugin stores need stay valid only until the hook
 *  returns: the host copies them. In a local answer the host writes
 *  Content-Length itself and drops framing and hop-by-hop headers. */
typedef struct fulcrum_filter_decision {
    uint32_t struct_size;
    /** RESPOND: 200..599 (anything else is answered 500). */
    int32_t status;
    const fulcrum_header *headers;
    size_t header_count;
    fulcrum_str body;
    /** CHOOSE_POOL: the pool's name. */
    fulcrum_str pool;
} fulcrum_filter_decision;

/** The response head as on_response_head sees it. */
typedef struct fulcrum_filter_response {
    uint32_t struct_size;
    /** The status the client gets. */
    int32_t status;
    /** 1 when the host or a filter made the answer (no backend response). */
    int32_t local;
    /** For header_* (the response head) and annotate/annotation. */
    void *head;
    fulcrum_filter_state *state;
} fulcrum_filter_response;

/** The end of a request, as on_complete sees it. */
typedef struct fulcrum_filter_completion {
    uint32_t struct_size;
    /** Status sent to the client (0 if none was sent). */
    int32_t status;
    /** Bytes read from the client and written to it for this request (heads included). */
    uint64_t bytes_in;
    uint64_t bytes_out;
    /** From the request head parsed to the end of the response, microseconds. */
    uint64_t duration_us;
    /** For annotation (read-only now). */
    void *exchange;
    fulcrum_filter_state *state;
} fulcrum_filter_completion;

/**
 * A filter the plugin provides. Everything but name and on_config_new is
 * optional (NULL). The host reads only the first filter_size bytes of each.
 */
typedef struct fulcrum_filter {
    /** Name, NUL-terminated, unique among loaded filters, e.g. "rate-limit". */
    const char *name;
    /** One line for people. */
    const char *description;
    void *(*on_config_new)(const fulcrum_filter_host *host, const char *config_json, char *error, size_t error_capacity);
    void (*on_config_destroy)(void *config);
    void *(*on_filter_new)(void *config, uint32_t worker);
    void (*on_filter_destroy)(void *instance);
    int32_t (*on_request_head)(void *instance, const fulcrum_filter_request *request, fulcrum_filter_decision *decision);
    void (*on_response_head)(void *instance, const fulcrum_filter_response *response);
    void (*on_complete)(void *instance, const fulcrum_filter_completion *completion);
} fulcrum_filter;

/** What fulcrum_plugin_filters returns. Owned by the plugin, valid forever. */
typedef struct fulcrum_filter_list {
    /** Must be FULCRUM_ABI_VERSION. */
    uint32_t abi_version;
    /** FULCRUM_FILTER_REVISION the plugin was built with. */
    uint32_t filter_revision;
    /** sizeof(fulcrum_filter) as the plugin was built: the array's stride. */
    size_t filter_size;
    const fulcrum_filter *filters;
    size_t filter_count;
} fulcrum_filter_list;

/** The optional second symbol (see fulcrum_plugin.h "Filters"); called once,
 *  after fulcrum_plugin_entry. May return NULL: no filters. */
typedef const fulcrum_filter_list *(*fulcrum_plugin_filters_fn)(const fulcrum_filter_host *host);
const fulcrum_filter_list *fulcrum_plugin_filters(const fulcrum_filter_host *host);

#ifdef __cplusplus
}
#endif

#if UINTPTR_MAX == UINT64_MAX
FULCRUM_STATIC_ASSERT(sizeof(fulcrum_str) == 16, "fulcrum_str");
FULCRUM_STATIC_ASSERT(sizeof(fulcrum_header) == 32, "fulcrum_header");
FULCRUM_STATIC_ASSERT(sizeof(fulcrum_filter_state) == 16, "fulcrum_filter_state");
FULCRUM_STATIC_ASSERT(offsetof(fulcrum_filter_host, host) == 8, "fulcrum_filter_host.host");
FULCRUM_STATIC_ASSERT(offsetof(fulcrum_filter_host, annotation) == 64, "fulcrum_filter_host.annotation");
FULCRUM_STATIC_ASSERT(sizeof(fulcrum_filter_host) == 72, "fulcrum_filter_host (revision 1)");
FULCRUM_STATIC_ASSERT(offsetof(fulcrum_filter_request, client_ip) == 8, "fulcrum_filter_request.client_ip");
FULCRUM_STATIC_ASSERT(offsetof(fulcrum_filter_request, head) == 80, "fulcrum_filter_request.head");
FULCRUM_STATIC_ASSERT(sizeof(fulcrum_filter_request) == 96, "fulcrum_filter_request (revision 1)");
FULCRUM_STATIC_ASSERT(offsetof(fulcrum_filter_decision, headers) == 8, "fulcrum_filter_decision.headers");
FULCRUM_STATIC_ASSERT(sizeof(fulcrum_filter_decision) == 56, "fulcrum_filter_decision (revision 1)");
FULCRUM_STATIC_ASSERT(offsetof(fulcrum_filter_response, head) == 16, "fulcrum_filter_response.head");
FULCRUM_STATIC_ASSERT(sizeof(fulcrum_filter_response) == 32, "fulcrum_filter_response (revision 1)");
FULCRUM_STATIC_ASSERT(offsetof(fulcrum_filter_completion, duration_us) == 24, "fulcrum_filter_completion.duration_us");
FULCRUM_STATIC_ASSERT(sizeof(fulcrum_filter_completion) == 48, "fulcrum_filter_completion (revision 1)");
FULCRUM_STATIC_ASSERT(offsetof(fulcrum_filter, on_request_head) == 48, "fulcrum_filter.on_request_head");
FULCRUM_STATIC_ASSERT(sizeof(fulcrum_filter) == 72, "fulcrum_filter (revision 1)");
FULCRUM_STATIC_ASSERT(offsetof(fulcrum_filter_list, filter_size) == 8, "fulcrum_filter_list.filter_size");
FULCRUM_STATIC_ASSERT(sizeof(fulcrum_filter_list) == 32, "fulcrum_filter_list");
#endif

#endif /* FULCRUM_FILTER_H */
