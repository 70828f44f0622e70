/*
 * fulcrum_plugin.h — the Fulcrum plugin ABI, version 1.
 *
 * This header is the whole contract between the Fulcrum host and a plugin.
 * A plugin written in C needs nothing else:
 *
 *     cc -shared -fPIC -I SDK/include my_strategy.c -o my_strategy.so
 *
 * A plugin is a shared library that exports exactly one C symbol,
 * `fulcrum_plugin_entry`, returning a description of the balancing
 * strategies and health probes it provides. The host finds libraries in its
 * plugin directories, dlopen()s them with RTLD_NOW | RTLD_LOCAL, calls the
 * entry point once, validates the answer and never dlclose()s a library
 * whose code it has used.
 *
 * ------------------------------------------------------------------------
 * Ownership and lifetime
 * ------------------------------------------------------------------------
 *  - Everything reachable from the pointer `fulcrum_plugin_entry` returns
 *    (the fulcrum_plugin, its strategy and probe arrays, every string in
 *    them) is owned by the plugin and must stay valid and unchanged for the
 *    life of the process. Static storage is the natural choice.
 *  - `fulcrum_host` is owned by the host and valid for the life of the
 *    process; a plugin may keep the pointer it receives in `create`.
 *  - `config_json` passed to `create` is valid only during that call:
 *    copy what you need.
 *  - The `backends` array given to `update`, and the strings it points to,
 *    stay valid until the next `update` or `destroy` of that same instance.
 *  - A `fulcrum_request` and everything it points to (including `context`)
 *    is valid only during the `pick` call that receives it.
 *  - Strings given by the host in fulcrum_request are NOT NUL-terminated:
 *    use the accompanying length. Strings in fulcrum_backend and strings
 *    the plugin provides (names, descriptions) ARE NUL-terminated.
 *  - Instances returned by `create` are owned by the host until it passes
 *    them to `destroy`, which must release them.
 *
 * ------------------------------------------------------------------------
 * Threading
 * ------------------------------------------------------------------------
 *  - The host creates one strategy instance per worker thread and never
 *    calls one instance from two threads at once. Calls on one instance are
 *    ordered: create, update (before the first pick), then any sequence of
 *    pick / complete / update, then destroy. Different instances of the same
 *    strategy run concurrently on different threads: state shared between
 *    instances (globals, static tables) needs its own synchronisation.
 *  - Every function in fulcrum_host is safe to call from any thread at any
 *    time.
 *  - A probe's `check` may run concurrently for different backends, on the
 *    same or on different probe instances: it must be re-entrant. It may
 *    block, but must return within `timeout_ms` (plus a small margin).
 *  - `pick` runs on the request path of an event loop: it must not block,
 *    sleep or do I/O. Budget: well under a microsecond.
 *
 * ------------------------------------------------------------------------
 * Versioning
 * ------------------------------------------------------------------------
 *  FULCRUM_ABI_VERSION changes only when an existing type changes
 *  incompatibly. The host refuses a plugin whose `abi_version` differs from
 *  its own, naming the file. Within version 1:
 *   - structs the PLUGIN provides (fulcrum_plugin, fulcrum_strategy,
 *     fulcrum_probe) never change: their size is part of the ABI because
 *     the host walks arrays of them;
 *   - fulcrum_backend never changes (plugins index arrays of it);
 *   - fulcrum_host and fulcrum_request may gain fields appended at the end.
 *     `fulcrum_host.revision` says which appended fields exist; a field
 *     documented "since revision N" may only be read when
 *     host->revision >= N. Fields are never removed or reordered;
 *   - new constants (log levels, flags) may be added.
 *  Anything else needs FULCRUM_ABI_VERSION 2.
 */
#ifndef FULCRUM_PLUGIN_H
#define FULCRUM_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The ABI version this header describes. Put it in fulcrum_plugin.abi_version. */
#define FULCRUM_ABI_VERSION 1

/** The fulcrum_host revision this header describes (see fulcrum_host.revision).
 *  Revision 1: revision, monotonic_ns, latency_ewma_us, active_requests_batch.
 *  Revision 2: weight_scale. */
#define FULCRUM_HOST_REVISION 2

/** Levels for fulcrum_host.log. */
#define FULCRUM_LOG_DEBUG 0
#define FULCRUM_LOG_INFO 1
#define FULCRUM_LOG_WARN 2
#define FULCRUM_LOG_ERROR 3

/** Return value of fulcrum_strategy.pick meaning "no backend". */
#define FULCRUM_PICK_NONE ((int64_t)-1)

/** Return values of fulcrum_probe.check. */
#define FULCRUM_PROBE_UNHEALTHY 0
#define FULCRUM_PROBE_HEALTHY 1

/**
 * One eligible backend, as given to fulcrum_strategy.update.
 */
typedef struct fulcrum_backend {
    /** Stable for as long as the backend stays registered, unique within the
     *  process, never reused for another backend. Use it to key state that
     *  must survive an `update` (sticky tables) and with
     *  fulcrum_host.active_requests. */
    uint64_t id;
    /** The registered address, NUL-terminated, e.g. "http://127.0.0.1:8081". */
    const char *address;
    /** Weight, 1…1000 (default 1), times fulcrum_host.weight_scale (revision
     *  2; 1 unless the host runs slow start). The effective weight: while a
     *  backend ramps up after joining or returning to rotation (the host's
     *  `-slow-start`), it is lower than the registered weight, and `update`
     *  is called again as it grows. Only ratios between weights matter. */
    uint32_t weight;
} fulcrum_backend;

/**
 * A read-only view of the request being balanced, valid during `pick` only.
 * None of the strings is NUL-terminated.
 */
typedef struct fulcrum_request {
    /** The client's address in network byte order: 4 bytes (IPv4) or 16 (IPv6). */
    const uint8_t *client_ip;
    uint32_t client_ip_len;
    /** The request method as received, e.g. "GET". */
    const char *method;
    size_t method_len;
    /** The request-target as received, query included, e.g. "/a/b?c=d". */
    const char *path;
    size_t path_len;
    /** The Host header as received, port included, e.g. "example.com:8080";
     *  empty (len 0, pointer non-NULL) when the request has none. */
    const char *host;
    size_t host_len;
    /** Opaque; pass it to `header`. */
    const void *context;
    /** Looks up a request header by NUL-terminated `name`, case-insensitively.
     *  Returns the first value (not NUL-terminated, surrounding whitespace
     *  removed) and stores its length in *len, or returns NULL when the
     *  request has no such header. The pointer is valid during `pick` only. */
    const char *(*header)(const void *context, const char *name, size_t *len);
} fulcrum_request;

/**
 * Services the host offers plugins. Every function is safe from any thread.
 * The first three fields exist in every host; later ones are marked with the
 * revision that added them.
 */
typedef struct fulcrum_host {
    /** Requests currently in flight to the backend, across all worker
     *  threads of the process. 0 for an unknown id. */
    uint32_t (*active_requests)(uint64_t backend_id);
    /** A fast, well-mixed pseudo-random number (not for cryptography). */
    uint64_t (*random_u64)(void);
    /** Writes `msg` (NUL-terminated) to the host's error log at `level`
     *  (FULCRUM_LOG_*). Lines below the host's log level are dropped. */
    void (*log)(int level, const char *msg);

    /** Since revision 1: the value of FULCRUM_HOST_REVISION the host was
     *  built with. */
    uint32_t revision;
    /** Since revision 1: a monotonic clock in nanoseconds (CLOCK_MONOTONIC). */
    uint64_t (*monotonic_ns)(void);
    /** Since revision 1: the backend's smoothed response-head latency in
     *  microseconds (an exponentially weighted moving average over the
     *  host's proxied requests), or 0 when unknown. */
    uint64_t (*latency_ewma_us)(uint64_t backend_id);
    /** Since revision 1: active_requests for `count` backends in one call:
     *  out[i] = active_requests(ids[i]). For strategies that scan every
     *  backend on each pick (least connections): one call instead of N. */
    void (*active_requests_batch)(const uint64_t *ids, size_t count, uint32_t *out);

    /** Since revision 2: the factor by which fulcrum_backend.weight is
     *  scaled, fixed for the life of the process: 1, or 10 when the host runs
     *  slow start (`-slow-start SECONDS`). A ramping backend's effective weight
     *  must be able to fall to 10% of a registered weight of 1, so with slow
     *  start every weight is published ×10 (1…10000): a backend of weight 1
     *  is 10 at full weight and 1…10 while it ramps. Weight ratios, and so
     *  every strategy that uses weights as proportions, are unchanged; a
     *  plugin that uses weights as counts (points on a ring, table entries)
     *  may divide by weight_scale. */
    uint32_t weight_scale;
} fulcrum_host;

/**
 * A balancing strategy. All function pointers are required except `complete`.
 */
typedef struct fulcrum_strategy {
    /** Canonical name, NUL-terminated, non-empty, unique among loaded
     *  plugins (compared case-insensitively), e.g. "round-robin". */
    const char *name;
    /** Other names it answers to, comma-separated ("RR,rr2"), or NULL. */
    const char *aliases;
    /** One line for people, shown by GET /plugins and the status page. */
    const char *description;

    /** Makes an instance. `config_json` is a JSON object ("{}" when the
     *  operator gave none), valid during the call only. Returns NULL to
     *  refuse the configuration; the host then reports the strategy as
     *  unusable and keeps the one in use. */
    void *(*create)(const fulcrum_host *host, const char *config_json);
    /** Releases an instance made by `create`. */
    void (*destroy)(void *instance);
    /** Gives the instance the eligible (healthy, not draining) backends in
     *  registration order. Called before the first `pick` and whenever the
     *  set, or a weight, changes. `count` may be 0: then `pick` is not called
     *  until the next non-empty update. The array stays valid until the next
     *  `update` or `destroy` of this instance. */
    void (*update)(void *instance, const fulcrum_backend *backends, size_t count);
    /** Chooses a backend for `request`: an index into the array of the last
     *  `update`, or FULCRUM_PICK_NONE (-1) to answer the client 503 "no
     *  available server". An index out of range is treated as -1. */
    int64_t (*pick)(void *instance, const fulcrum_request *request);
    /** Optional (may be NULL). Called on the instance that picked, after the
     *  response (or failure) of a request it picked: `status` is the HTTP
     *  status sent to the client (502/504 when the backend failed),
     *  `duration_us` the time from pick to the end of the response. The id
     *  may name a backend that has since left the eligible set. */
    void (*complete)(void *instance, uint64_t backend_id, int32_t status, uint64_t duration_us);
} fulcrum_strategy;

/**
 * A health probe. All function pointers are required.
 */
typedef struct fulcrum_probe {
    /** Name, NUL-terminated, non-empty, unique among loaded probes, e.g. "http". */
    const char *name;
    /** One line for people. */
    const char *description;
    /** Makes an instance. `config_json` is a JSON object, e.g.
     *  {"path":"/health"} for the http probe; valid during the call only.
     *  Returns NULL to refuse the configuration. */
    void *(*create)(const fulcrum_host *host, const char *config_json);
    /** Releases an instance made by `create`. */
    void (*destroy)(void *instance);
    /** Checks the backend at `address` ("http://host:port"), finishing within
     *  `timeout_ms`. Returns FULCRUM_PROBE_HEALTHY (1) or
     *  FULCRUM_PROBE_UNHEALTHY (0). On failure it writes a short
     *  NUL-terminated reason into `detail` (at most `detail_capacity` bytes
     *  including the NUL), e.g. "connection refused", "timeout after 2000 ms",
     *  "status 503". May run concurrently: must be re-entrant. */
    int32_t (*check)(void *instance, const char *address, uint32_t timeout_ms,
                     char *detail, size_t detail_capacity);
} fulcrum_probe;

/**
 * What fulcrum_plugin_entry returns. Owned by the plugin, valid forever.
 */
typedef struct fulcrum_plugin {
    /** Must be FULCRUM_ABI_VERSION. */
    uint32_t abi_version;
    /** The plugin's name, e.g. "fulcrum-round-robin". */
    const char *name;
    /** The plugin's own version, free-form, e.g. "1.0.0". */
    const char *version;
    /** `strategy_count` strategies (the pointer may be NULL when the count is 0). */
    const fulcrum_strategy *strategies;
    size_t strategy_count;
    /** `probe_count` probes (the pointer may be NULL when the count is 0). */
    const fulcrum_probe *probes;
    size_t probe_count;
} fulcrum_plugin;

/** The one symbol a plugin exports. Called once per load, from any thread. */
typedef const fulcrum_plugin *(*fulcrum_plugin_entry_fn)(void);
const fulcrum_plugin *fulcrum_plugin_entry(void);

#ifdef __cplusplus
}
#endif

#endif /* FULCRUM_PLUGIN_H */
