/*
 * The few Linux calls and primitives Swift cannot reach through `import Glibc`:
 * epoll, accept4 (behind _GNU_SOURCE), eventfd, and relaxed/acquire atomics
 * on raw memory (per-backend counters shared between worker threads).
 * Most of it is static inline; the calls glibc declares only under
 * _GNU_SOURCE live in shim.c, because defining _GNU_SOURCE here would change
 * glibc's types under Swift's own Glibc module.
 */
#ifndef FULCRUM_SHIM_H
#define FULCRUM_SHIM_H

#include <stdint.h>
#include <stddef.h>
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <dlfcn.h>

/* ---- epoll ---- */
static inline int fulcrum_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

static inline int fulcrum_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = token;
    return epoll_ctl(epfd, op, fd, &ev);
}

/* epoll_event is packed on x86_64; these accessors keep Swift away from its layout. */
typedef struct fulcrum_event { uint64_t token; uint32_t events; uint32_t pad; } fulcrum_event;

static inline int fulcrum_epoll_wait(int epfd, fulcrum_event *out, int max, int timeout_ms) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    for (int i = 0; i < n; i++) { out[i].token = evs[i].data.u64; out[i].events = evs[i].events; }
    return n;
}

enum {
    FULCRUM_EPOLLIN = EPOLLIN, FULCRUM_EPOLLOUT = EPOLLOUT, FULCRUM_EPOLLERR = EPOLLERR,
    FULCRUM_EPOLLHUP = EPOLLHUP, FULCRUM_EPOLLRDHUP = EPOLLRDHUP, FULCRUM_EPOLLET = EPOLLET,
    FULCRUM_EPOLL_CTL_ADD = EPOLL_CTL_ADD, FULCRUM_EPOLL_CTL_MOD = EPOLL_CTL_MOD, FULCRUM_EPOLL_CTL_DEL = EPOLL_CTL_DEL,
};

/* ---- sockets ---- */
/* accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC (shim.c). */
int fulcrum_accept4(int fd, struct sockaddr_storage *addr, socklen_t *len);

static inline int fulcrum_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

static inline int fulcrum_socket_nonblocking(int family) {
    return socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

static inline int fulcrum_set_int_option(int fd, int level, int name, int value) {
    return setsockopt(fd, level, name, &value, sizeof value);
}

enum {
    FULCRUM_SO_REUSEPORT = SO_REUSEPORT, FULCRUM_SO_REUSEADDR = SO_REUSEADDR,
    FULCRUM_TCP_NODELAY = TCP_NODELAY, FULCRUM_TCP_QUICKACK = TCP_QUICKACK, FULCRUM_IPPROTO_TCP = IPPROTO_TCP, FULCRUM_SOL_SOCKET = SOL_SOCKET,
    FULCRUM_MSG_NOSIGNAL = MSG_NOSIGNAL, FULCRUM_SO_LINGER = SO_LINGER,
};

/* Close with an RST instead of a FIN (for connections we abandon mid-message). */
static inline int fulcrum_close_reset(int fd) {
    struct linger l = { 1, 0 };
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    return close(fd);
}

static inline int fulcrum_errno(void) { return errno; }

/* writev of up to two buffers (either may be empty) without building an iovec array in Swift. */
static inline ssize_t fulcrum_writev2(int fd, const void *a, size_t alen, const void *b, size_t blen) {
    struct iovec iov[2];
    int n = 0;
    if (alen) { iov[n].iov_base = (void *)a; iov[n].iov_len = alen; n++; }
    if (blen) { iov[n].iov_base = (void *)b; iov[n].iov_len = blen; n++; }
    if (n == 0) return 0;
    return writev(fd, iov, n);
}

/* ---- atomics on raw memory ---- */
static inline uint64_t fulcrum_load_relaxed(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline uint64_t fulcrum_load_acquire(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void fulcrum_store_relaxed(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
static inline void fulcrum_store_release(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline uint64_t fulcrum_fetch_add(uint64_t *p, uint64_t v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
static inline int fulcrum_cas(uint64_t *p, uint64_t *expected, uint64_t desired) {
    return __atomic_compare_exchange_n(p, expected, desired, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}
/* Single-writer counters: a plain add the reader may see torn-free (8-byte aligned). */
static inline void fulcrum_counter_add(uint64_t *p, uint64_t v) {
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

/* ---- the process-wide backend table (see BackendTable.swift) ----
 * Word 0 of each 8-word slot is tag << 32 | in-flight count; word 1 the latency
 * EWMA in µs. The host services plugins call per backend per pick read it here
 * in C: no Swift lazy-global check, no reference counting. */
extern uint64_t *fulcrum_backend_words;
extern uint64_t fulcrum_backend_capacity;

static inline uint32_t fulcrum_backend_active(uint64_t id) {
    uint64_t slot = id & 0xFFFFFFFFu, tag = id >> 32;
    if (slot >= fulcrum_backend_capacity || tag == 0) return 0;
    uint64_t v = __atomic_load_n(&fulcrum_backend_words[slot * 8], __ATOMIC_RELAXED);
    return (v >> 32) == tag ? (uint32_t)v : 0;
}

static inline uint64_t fulcrum_backend_latency(uint64_t id) {
    uint64_t slot = id & 0xFFFFFFFFu, tag = id >> 32;
    if (slot >= fulcrum_backend_capacity || tag == 0) return 0;
    uint64_t v = __atomic_load_n(&fulcrum_backend_words[slot * 8], __ATOMIC_RELAXED);
    return (v >> 32) == tag ? __atomic_load_n(&fulcrum_backend_words[slot * 8 + 1], __ATOMIC_RELAXED) : 0;
}

/* Installs the table the functions above read (once, at start). */
void fulcrum_backend_table_install(uint64_t *words, uint64_t capacity);
/* Plain C functions for fulcrum_host (shim.c). */
uint32_t fulcrum_host_active_requests(uint64_t id);
uint64_t fulcrum_host_latency_ewma_us(uint64_t id);
void fulcrum_host_active_requests_batch(const uint64_t *ids, size_t count, uint32_t *out);

/* ---- signals and threads ---- */
static inline int fulcrum_block_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGPIPE);
    sigaddset(&set, SIGHUP);  /* taken by the TLS reload thread */
    return pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* Waits for one (blocked) signal. */
static inline int fulcrum_wait_signal(int signo) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signo);
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {}
    return sig;
}

/* Waits for SIGINT or SIGTERM (blocked in every thread); returns the signal. */
static inline int fulcrum_wait_termination_signal(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {}
    return sig;
}

static inline void fulcrum_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }

/* Raises the open-file soft limit to the hard limit; returns the new soft limit. */
static inline long fulcrum_raise_fd_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    return (long)rl.rlim_cur;
}

/* GNU extensions (shim.c). */
void fulcrum_set_thread_name(const char *name);
int fulcrum_cpu_count(void);
/* A fast thread-local pseudo-random generator (wyrand), seeded per thread from getrandom. */
uint64_t fulcrum_random_u64(void);

#endif
