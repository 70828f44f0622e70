/*
 * TLS through the system's OpenSSL 3, loaded with dlopen at run time (tls_*.c).
 *
 * `swift build` must work where only libssl.so.3 is installed (no headers),
 * so no OpenSSL header is included anywhere: tls_internal.h declares the opaque types
 * and the few functions it resolves by hand. OpenSSL 3's ABI is stable within
 * 3.x. Function-like macros (SSL_CTX_set_min_proto_version, …) are spelled as
 * the SSL_ctrl / SSL_CTX_ctrl calls they expand to.
 *
 * Swift sees only this small API of opaque pointers and integer results.
 * Every I/O call clears the thread's error queue first and reads
 * SSL_get_error right after, on the same thread.
 */
#ifndef FULCRUM_TLS_H
#define FULCRUM_TLS_H

#include <stddef.h>
#include <stdint.h>

/* Results of the I/O calls below (a positive value is a byte count). */
enum {
    FULCRUM_TLS_WANT_READ = -1,   /* wait until the socket is readable */
    FULCRUM_TLS_WANT_WRITE = -2,  /* wait until the socket is writable */
    FULCRUM_TLS_EOF = -3,         /* close_notify, or a plain TCP close */
    FULCRUM_TLS_ERROR = -4,       /* protocol or socket error: see fulcrum_tls_error_text */
};

/* Loads libssl.so.3 / libcrypto.so.3 once (thread-safe). 0 when loaded;
 * otherwise -1 and a one-line reason in err. */
int fulcrum_tls_load(char *err, size_t errlen);

/* A server certificate set: pairs of PEM chain + key files; the first pair is
 * the default, SNI picks another by the certificate's names. NULL and a
 * one-line reason naming the file on failure. */
typedef struct fulcrum_tls_server_set fulcrum_tls_server_set;
fulcrum_tls_server_set *fulcrum_tls_server_set_new(const char *const *certs, const char *const *keys, int count,
                                                   char *err, size_t errlen);
/* Makes `set` the one new connections use; connections in progress keep theirs. */
void fulcrum_tls_server_set_install(fulcrum_tls_server_set *set);

/* The context for HTTPS backends: verified against ca_file, or the system's
 * CA store when ca_file is NULL. Idempotent after the first success;
 * fulcrum_tls_connect calls it (NULL) when no context exists yet. */
int fulcrum_tls_client_init(const char *ca_file, char *err, size_t errlen);
int fulcrum_tls_client_ready(void);

/* A session on a connected non-blocking socket. NULL when TLS cannot be set
 * up (fulcrum_tls_error_text says why). A backend's session resumes the last
 * session of the same host and address when one is kept. */
typedef struct fulcrum_tls_conn fulcrum_tls_conn;
fulcrum_tls_conn *fulcrum_tls_accept(int fd);
fulcrum_tls_conn *fulcrum_tls_connect(int fd, const char *host);
void fulcrum_tls_free(fulcrum_tls_conn *c);

/* 1 when the handshake is complete, else one of the negative results. */
long fulcrum_tls_handshake(fulcrum_tls_conn *c);
long fulcrum_tls_read(fulcrum_tls_conn *c, void *buf, size_t len);
long fulcrum_tls_write(fulcrum_tls_conn *c, const void *buf, size_t len);
/* The largest TLS record's payload. */
enum { FULCRUM_TLS_RECORD = 16384 };
/* Writes `a` and the start of `b` as one record (at most FULCRUM_TLS_RECORD
 * bytes, copied through a per-thread scratch buffer): a response head and the
 * first body bytes in one write(2). A retry after WANT_WRITE must pass the
 * same a and b again (it does: nothing was consumed). The scratch is shared
 * by the thread's connections: safe only because OpenSSL (without kTLS)
 * holds a blocked record encrypted in its own buffer. */
long fulcrum_tls_write2(fulcrum_tls_conn *c, const void *a, size_t alen, const void *b, size_t blen);
/* 1 when OpenSSL holds bytes (decrypted, or read ahead) that the socket's
 * readiness will not report; may be a partial record (a read then wants more). */
int fulcrum_tls_pending(fulcrum_tls_conn *c);
/* After FULCRUM_TLS_EOF: 1 when the peer's TCP connection ended without
 * close_notify (only backends' sessions track it; a client's always says 1).
 * A body delimited by the close is then truncated, not complete. */
int fulcrum_tls_truncated(fulcrum_tls_conn *c);
/* Sends close_notify once, best effort, never blocking. */
void fulcrum_tls_shutdown(fulcrum_tls_conn *c);
/* The reason of this thread's last FULCRUM_TLS_ERROR. */
const char *fulcrum_tls_error_text(void);

/* A blocking-style HTTPS exchange for health probes on a connected
 * non-blocking socket, bounded by timeout_ms: handshake (verified, SNI =
 * host), send `req`, read until a newline, EOF or `cap` bytes. Returns the
 * bytes read, or -1 with a reason in detail. */
long fulcrum_tls_probe(int fd, const char *host, const void *req, size_t reqlen, char *resp, size_t cap,
                       int timeout_ms, char *detail, size_t detaillen);

/* 1 when the kernel offers kTLS (the "tls" ULP is registered). Reported only: kTLS is not enabled. */
int fulcrum_tls_ktls_available(void);

/* For tests: SSL_CTX_get_options and the mode of the installed server set's
 * default context (side 0) or of the backends' context (side 1); -1 when none. */
int fulcrum_tls_context_settings(int side, uint64_t *options, long *mode);

/* Counters since start, by side (0 = clients, 1 = backends):
 * [side*6 + 0] handshakes ok, +1 failed, +2 TLS 1.2, +3 TLS 1.3, +4 resumed, +5 kTLS send. */
enum { FULCRUM_TLS_STAT_COUNT = 12 };
void fulcrum_tls_stats(uint64_t *out);

#endif
