/* Per-connection TLS I/O, counters, and the health probes' blocking-style exchange. */
#include <poll.h>
#include <time.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tls_internal.h"

/* ---- sessions ---- */


fulcrum_tls_conn *fulcrum_tls_accept(int fd) {
    fulcrum_tls_server_set *s = fulcrum_tls_set_acquire();
    if (!s) return NULL;
    fulcrum_tls_conn *c = calloc(1, sizeof *c);
    SSL *ssl = c ? F.SSL_new(s->ctx[0]) : NULL;
    if (!ssl) { free(c); fulcrum_tls_set_release(s); return NULL; }
    F.SSL_set_fd(ssl, fd);
    F.SSL_set_accept_state(ssl);
    c->ssl = ssl;
    c->set = s;
    return c;
}

static int is_ip_literal(const char *host) {
    unsigned char buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

fulcrum_tls_conn *fulcrum_tls_connect(int fd, const char *host) {
    SSL_CTX *ctx = __atomic_load_n(&fulcrum_tls_client_ctx, __ATOMIC_ACQUIRE);
    if (!ctx) {
        /* An https:// backend added after start (API, -state, etcd) with no
         * TLS flag given: the system CA store, set up on first use. (With
         * -backend-ca the context exists from start.) */
        char err[256];
        if (fulcrum_tls_client_init(NULL, err, sizeof err) != 0) {
            snprintf(fulcrum_tls_last_error, sizeof fulcrum_tls_last_error, "%s", err);
            return NULL;
        }
        ctx = __atomic_load_n(&fulcrum_tls_client_ctx, __ATOMIC_ACQUIRE);
    }
    fulcrum_tls_conn *c = calloc(1, sizeof *c);
    SSL *ssl = c ? F.SSL_new(ctx) : NULL;
    if (!ssl) { free(c); return NULL; }
    F.SSL_set_fd(ssl, fd);
    F.SSL_set_connect_state(ssl);
    if (is_ip_literal(host)) {
        F.X509_VERIFY_PARAM_set1_ip_asc(F.SSL_get0_param(ssl), host);
    } else {
        F.SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, (void *)host);
        F.SSL_set1_host(ssl, host);
    }
    c->ssl = ssl;
    c->side = 1;
    F.SSL_set_ex_data(ssl, 0, c);
    /* The session cache is keyed by the connected address too: looked up
     * when the handshake starts (a non-blocking connect may be in progress now). */
    c->fd = fd;
    c->cache_pending = 1;
    snprintf(c->peer, sizeof c->peer, "%s", host);
    return c;
}

void fulcrum_tls_free(fulcrum_tls_conn *c) {
    if (!c) return;
    F.SSL_free(c->ssl);
    fulcrum_tls_set_release(c->set);
    free(c);
}

/* Maps a failed call's SSL_get_error (read right after the call, same thread). */
static long outcome(fulcrum_tls_conn *c, int r) {
    int e = F.SSL_get_error(c->ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ: return FULCRUM_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE: return FULCRUM_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN: return FULCRUM_TLS_EOF;
    case SSL_ERROR_SYSCALL:
        if (errno == 0) { F.ERR_clear_error(); return FULCRUM_TLS_EOF; }
        snprintf(fulcrum_tls_last_error, sizeof fulcrum_tls_last_error, "%s", strerror(errno));
        F.ERR_clear_error();
        return FULCRUM_TLS_ERROR;
    default: {
        long verify = c->side == 1 ? F.SSL_get_verify_result(c->ssl) : 0;
        if (verify != 0) {
            snprintf(fulcrum_tls_last_error, sizeof fulcrum_tls_last_error, "certificate verify failed: %s", F.X509_verify_cert_error_string(verify));
            F.ERR_clear_error();
        } else {
            fulcrum_tls_openssl_reason(fulcrum_tls_last_error, sizeof fulcrum_tls_last_error);
        }
        return FULCRUM_TLS_ERROR;
    }
    }
}

long fulcrum_tls_handshake(fulcrum_tls_conn *c) {
    if (c->cache_pending) { c->cache_pending = 0; fulcrum_tls_session_cache_prepare(c); }
    F.ERR_clear_error();
    errno = 0;
    int r = F.SSL_do_handshake(c->ssl);
    uint64_t *st = fulcrum_tls_counters + c->side * 6;
    if (r == 1) {
        __atomic_fetch_add(&st[0], 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&st[F.SSL_version(c->ssl) == TLS1_3_VERSION ? 3 : 2], 1, __ATOMIC_RELAXED);
        if (F.SSL_session_reused(c->ssl)) __atomic_fetch_add(&st[4], 1, __ATOMIC_RELAXED);
        if (F.BIO_ctrl(F.SSL_get_wbio(c->ssl), BIO_CTRL_GET_KTLS_SEND, 0, NULL) > 0) __atomic_fetch_add(&st[5], 1, __ATOMIC_RELAXED);
        return 1;
    }
    long o = outcome(c, r);
    if (o == FULCRUM_TLS_ERROR || o == FULCRUM_TLS_EOF) {
        __atomic_fetch_add(&st[1], 1, __ATOMIC_RELAXED);
        if (o == FULCRUM_TLS_EOF) snprintf(fulcrum_tls_last_error, sizeof fulcrum_tls_last_error, "%s", "peer closed during the handshake");
        o = FULCRUM_TLS_ERROR;
    }
    return o;
}

long fulcrum_tls_read(fulcrum_tls_conn *c, void *buf, size_t len) {
    F.ERR_clear_error();
    errno = 0;
    int r = F.SSL_read(c->ssl, buf, len > 0x40000000 ? 0x40000000 : (int)len);
    return r > 0 ? r : outcome(c, r);
}

long fulcrum_tls_write(fulcrum_tls_conn *c, const void *buf, size_t len) {
    F.ERR_clear_error();
    errno = 0;
    int r = F.SSL_write(c->ssl, buf, len > 0x40000000 ? 0x40000000 : (int)len);
    return r > 0 ? r : outcome(c, r);
}

long fulcrum_tls_write2(fulcrum_tls_conn *c, const void *a, size_t alen, const void *b, size_t blen) {
    /* One record for a small head and the start of its body: one write(2), one record header. */
    static __thread unsigned char scratch[FULCRUM_TLS_RECORD];
    if (alen >= FULCRUM_TLS_RECORD) return fulcrum_tls_write(c, a, alen);
    size_t take = blen < FULCRUM_TLS_RECORD - alen ? blen : FULCRUM_TLS_RECORD - alen;
    memcpy(scratch, a, alen);
    memcpy(scratch + alen, b, take);
    return fulcrum_tls_write(c, scratch, alen + take);
}

int fulcrum_tls_truncated(fulcrum_tls_conn *c) { return !c->close_notify; }

int fulcrum_tls_pending(fulcrum_tls_conn *c) { return F.SSL_pending(c->ssl) > 0 || F.SSL_has_pending(c->ssl); }

void fulcrum_tls_shutdown(fulcrum_tls_conn *c) {
    F.ERR_clear_error();
    F.SSL_shutdown(c->ssl);
    F.ERR_clear_error();
}

const char *fulcrum_tls_error_text(void) { return fulcrum_tls_last_error; }

void fulcrum_tls_stats(uint64_t *out) {
    for (int i = 0; i < FULCRUM_TLS_STAT_COUNT; i++) out[i] = __atomic_load_n(&fulcrum_tls_counters[i], __ATOMIC_RELAXED);
}

/* ---- health probes ---- */

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Waits for what `want` (a negative result) asks; 0 when ready, -1 on timeout. */
static int wait_for(int fd, long want, long deadline) {
    for (;;) {
        long left = deadline - now_ms();
        if (left <= 0) return -1;
        struct pollfd p = { fd, want == FULCRUM_TLS_WANT_WRITE ? POLLOUT : POLLIN, 0 };
        int r = poll(&p, 1, (int)left);
        if (r > 0) return 0;
        if (r == 0) return -1;
        if (errno != EINTR) return -1;
    }
}

long fulcrum_tls_probe(int fd, const char *host, const void *req, size_t reqlen, char *resp, size_t cap,
                       int timeout_ms, char *detail, size_t detaillen) {
    char err[256];
    if (fulcrum_tls_client_init(NULL, err, sizeof err) != 0) { fulcrum_tls_set_err(detail, detaillen, "%s%s", err, ""); return -1; }
    fulcrum_tls_conn *c = fulcrum_tls_connect(fd, host);
    if (!c) { fulcrum_tls_set_err(detail, detaillen, "%s%s", "cannot create a TLS session", ""); return -1; }
    long deadline = now_ms() + timeout_ms, r, got = 0;
    size_t sent = 0;
    const char *stage = "TLS handshake";
    while ((r = fulcrum_tls_handshake(c)) != 1) {
        if (r < FULCRUM_TLS_WANT_WRITE || wait_for(fd, r, deadline) != 0) goto fail;
    }
    stage = "sending the request";
    while (sent < reqlen) {
        r = fulcrum_tls_write(c, (const char *)req + sent, reqlen - sent);
        if (r > 0) { sent += (size_t)r; continue; }
        if (r < FULCRUM_TLS_WANT_WRITE || wait_for(fd, r, deadline) != 0) goto fail;
    }
    stage = "reading the response";
    while ((size_t)got < cap && !memchr(resp, '\n', (size_t)got)) {
        r = fulcrum_tls_read(c, resp + got, cap - (size_t)got);
        if (r > 0) { got += r; continue; }
        if (r == FULCRUM_TLS_EOF) break;
        if (r < FULCRUM_TLS_WANT_WRITE || wait_for(fd, r, deadline) != 0) goto fail;
    }
    fulcrum_tls_free(c);
    return got;
fail:
    if (r == FULCRUM_TLS_ERROR) snprintf(detail, detaillen, "%s: %s", stage, fulcrum_tls_last_error);
    else snprintf(detail, detaillen, "%s: timeout after %d ms", stage, timeout_ms);
    fulcrum_tls_free(c);
    return -1;
}
