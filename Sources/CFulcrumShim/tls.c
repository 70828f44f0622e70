/* TLS through a dlopen'd OpenSSL 3: see include/fulcrum_tls.h.
 * No OpenSSL header is included: the build must not need libssl-dev. The
 * constants below were checked against OpenSSL 3.0's ssl.h, tls1.h,
 * prov_ssl.h and bio.h. */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include "fulcrum_tls.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_method_st SSL_METHOD;
typedef struct x509_st X509;
typedef struct X509_VERIFY_PARAM_st X509_VERIFY_PARAM;
typedef struct bio_st BIO;

#define SSL_CTRL_MODE 33
#define SSL_CTRL_SET_READ_AHEAD 41
#define SSL_CTRL_SET_TLSEXT_SERVERNAME_CB 53
#define SSL_CTRL_SET_TLSEXT_SERVERNAME_ARG 54
#define SSL_CTRL_SET_TLSEXT_HOSTNAME 55
#define SSL_CTRL_SET_MIN_PROTO_VERSION 123
#define TLSEXT_NAMETYPE_host_name 0
#define TLS1_2_VERSION 0x0303
#define TLS1_3_VERSION 0x0304
#define SSL_MODE_ENABLE_PARTIAL_WRITE 0x1L
#define SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER 0x2L
#define SSL_OP_ENABLE_KTLS ((uint64_t)1 << 3)
#define SSL_OP_IGNORE_UNEXPECTED_EOF ((uint64_t)1 << 7)
#define SSL_OP_NO_COMPRESSION ((uint64_t)1 << 17)
#define SSL_OP_CIPHER_SERVER_PREFERENCE ((uint64_t)1 << 22)
#define SSL_OP_NO_RENEGOTIATION ((uint64_t)1 << 30)
#define SSL_ERROR_SSL 1
#define SSL_ERROR_WANT_READ 2
#define SSL_ERROR_WANT_WRITE 3
#define SSL_ERROR_SYSCALL 5
#define SSL_ERROR_ZERO_RETURN 6
#define SSL_FILETYPE_PEM 1
#define SSL_VERIFY_PEER 1
#define SSL_TLSEXT_ERR_OK 0
#define SSL_TLSEXT_ERR_NOACK 3
#define BIO_CTRL_GET_KTLS_SEND 73

/* TLS 1.2 suites: ECDHE with AEAD only (Mozilla "intermediate"); TLS 1.3 keeps OpenSSL's defaults. */
static const char *const cipher_list =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/* The function table, resolved once by fulcrum_tls_load. */
static struct {
    const SSL_METHOD *(*TLS_server_method)(void);
    const SSL_METHOD *(*TLS_client_method)(void);
    SSL_CTX *(*SSL_CTX_new)(const SSL_METHOD *);
    void (*SSL_CTX_free)(SSL_CTX *);
    long (*SSL_CTX_ctrl)(SSL_CTX *, int, long, void *);
    long (*SSL_CTX_callback_ctrl)(SSL_CTX *, int, void (*)(void));
    uint64_t (*SSL_CTX_set_options)(SSL_CTX *, uint64_t);
    int (*SSL_CTX_set_cipher_list)(SSL_CTX *, const char *);
    int (*SSL_CTX_use_certificate_chain_file)(SSL_CTX *, const char *);
    int (*SSL_CTX_use_PrivateKey_file)(SSL_CTX *, const char *, int);
    int (*SSL_CTX_check_private_key)(const SSL_CTX *);
    X509 *(*SSL_CTX_get0_certificate)(const SSL_CTX *);
    void (*SSL_CTX_set_alpn_select_cb)(SSL_CTX *, int (*)(SSL *, const unsigned char **, unsigned char *,
                                                          const unsigned char *, unsigned int, void *), void *);
    void (*SSL_CTX_set_verify)(SSL_CTX *, int, void *);
    int (*SSL_CTX_set_default_verify_paths)(SSL_CTX *);
    int (*SSL_CTX_load_verify_locations)(SSL_CTX *, const char *, const char *);
    SSL *(*SSL_new)(SSL_CTX *);
    void (*SSL_free)(SSL *);
    int (*SSL_set_fd)(SSL *, int);
    void (*SSL_set_accept_state)(SSL *);
    void (*SSL_set_connect_state)(SSL *);
    int (*SSL_do_handshake)(SSL *);
    int (*SSL_read)(SSL *, void *, int);
    int (*SSL_write)(SSL *, const void *, int);
    int (*SSL_get_error)(const SSL *, int);
    int (*SSL_pending)(const SSL *);
    int (*SSL_has_pending)(const SSL *);
    int (*SSL_shutdown)(SSL *);
    long (*SSL_ctrl)(SSL *, int, long, void *);
    SSL_CTX *(*SSL_set_SSL_CTX)(SSL *, SSL_CTX *);
    const char *(*SSL_get_servername)(const SSL *, const int);
    int (*SSL_version)(const SSL *);
    int (*SSL_session_reused)(const SSL *);
    int (*SSL_set1_host)(SSL *, const char *);
    X509_VERIFY_PARAM *(*SSL_get0_param)(SSL *);
    long (*SSL_get_verify_result)(const SSL *);
    BIO *(*SSL_get_wbio)(const SSL *);
    /* libcrypto */
    void (*ERR_clear_error)(void);
    unsigned long (*ERR_get_error)(void);
    void (*ERR_error_string_n)(unsigned long, char *, size_t);
    int (*X509_check_host)(X509 *, const char *, size_t, unsigned int, char **);
    int (*X509_VERIFY_PARAM_set1_ip_asc)(X509_VERIFY_PARAM *, const char *);
    const char *(*X509_verify_cert_error_string)(long);
    long (*BIO_ctrl)(BIO *, int, long, void *);
} F;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int loaded;
static char load_error[256];
static SSL_CTX *client_ctx;
static uint64_t stats[FULCRUM_TLS_STAT_COUNT];
static __thread char error_text[256];

static void set_err(char *err, size_t errlen, const char *fmt, const char *a, const char *b) {
    if (err && errlen) snprintf(err, errlen, fmt, a, b);
}

int fulcrum_tls_load(char *err, size_t errlen) {
    pthread_mutex_lock(&lock);
    if (loaded == 0) {
        /* FULCRUM_LIBSSL / FULCRUM_LIBCRYPTO: other paths or names (a non-standard install). */
        const char *ssl_name = getenv("FULCRUM_LIBSSL"), *crypto_name = getenv("FULCRUM_LIBCRYPTO");
        if (!ssl_name || !*ssl_name) ssl_name = "libssl.so.3";
        if (!crypto_name || !*crypto_name) crypto_name = "libcrypto.so.3";
        void *ssl = dlopen(ssl_name, RTLD_NOW | RTLD_LOCAL);
        void *crypto = ssl ? dlopen(crypto_name, RTLD_NOW | RTLD_LOCAL) : NULL;
        loaded = -1;
        if (!ssl || !crypto) {
            snprintf(load_error, sizeof load_error, "cannot load %s (TLS needs OpenSSL 3, e.g. apt-get install libssl3): %s",
                     ssl ? crypto_name : ssl_name, dlerror());
        } else {
            const char *missing = NULL;
#define RESOLVE(lib, name) \
    if (!missing && !(*(void **)&F.name = dlsym(lib, #name))) missing = #name;
            RESOLVE(ssl, TLS_server_method) RESOLVE(ssl, TLS_client_method) RESOLVE(ssl, SSL_CTX_new)
            RESOLVE(ssl, SSL_CTX_free) RESOLVE(ssl, SSL_CTX_ctrl) RESOLVE(ssl, SSL_CTX_callback_ctrl)
            RESOLVE(ssl, SSL_CTX_set_options) RESOLVE(ssl, SSL_CTX_set_cipher_list)
            RESOLVE(ssl, SSL_CTX_use_certificate_chain_file) RESOLVE(ssl, SSL_CTX_use_PrivateKey_file)
            RESOLVE(ssl, SSL_CTX_check_private_key) RESOLVE(ssl, SSL_CTX_get0_certificate)
            RESOLVE(ssl, SSL_CTX_set_alpn_select_cb) RESOLVE(ssl, SSL_CTX_set_verify)
            RESOLVE(ssl, SSL_CTX_set_default_verify_paths) RESOLVE(ssl, SSL_CTX_load_verify_locations)
            RESOLVE(ssl, SSL_new) RESOLVE(ssl, SSL_free) RESOLVE(ssl, SSL_set_fd) RESOLVE(ssl, SSL_set_accept_state)
            RESOLVE(ssl, SSL_set_connect_state) RESOLVE(ssl, SSL_do_handshake) RESOLVE(ssl, SSL_read)
            RESOLVE(ssl, SSL_write) RESOLVE(ssl, SSL_get_error) RESOLVE(ssl, SSL_pending) RESOLVE(ssl, SSL_has_pending) RESOLVE(ssl, SSL_shutdown)
            RESOLVE(ssl, SSL_ctrl) RESOLVE(ssl, SSL_set_SSL_CTX) RESOLVE(ssl, SSL_get_servername)
            RESOLVE(ssl, SSL_version) RESOLVE(ssl, SSL_session_reused) RESOLVE(ssl, SSL_set1_host)
            RESOLVE(ssl, SSL_get0_param) RESOLVE(ssl, SSL_get_verify_result) RESOLVE(ssl, SSL_get_wbio)
            RESOLVE(crypto, ERR_clear_error) RESOLVE(crypto, ERR_get_error) RESOLVE(crypto, ERR_error_string_n)
            RESOLVE(crypto, X509_check_host) RESOLVE(crypto, X509_VERIFY_PARAM_set1_ip_asc)
            RESOLVE(crypto, X509_verify_cert_error_string) RESOLVE(crypto, BIO_ctrl)
#undef RESOLVE
            if (missing) snprintf(load_error, sizeof load_error, "libssl.so.3 lacks %s (OpenSSL 3 needed)", missing);
            else loaded = 1;
        }
    }
    int ok = loaded == 1;
    if (!ok) set_err(err, errlen, "%s%s", load_error, "");
    pthread_mutex_unlock(&lock);
    return ok ? 0 : -1;
}

/* The reason of the oldest queued OpenSSL error (then the queue is cleared). */
static const char *openssl_reason(char *buf, size_t len) {
    unsigned long e = F.ERR_get_error();
    if (e == 0) { snprintf(buf, len, "%s", "unknown error"); return buf; }
    F.ERR_error_string_n(e, buf, len);
    F.ERR_clear_error();
    return buf;
}

/* kTLS only where the kernel offers it: the "tls" upper-layer protocol is
 * registered (module loaded; `modprobe tls` to have it). Otherwise OpenSSL
 * is not asked to try, once per handshake, what cannot work. */
static int kernel_offers_ktls(void) {
    static int cached = -1;
    if (cached >= 0) return cached;
    char buf[256] = { 0 };
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");
    if (f) { if (!fgets(buf, sizeof buf, f)) buf[0] = 0; fclose(f); }
    int found = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) if (strcmp(t, "tls") == 0) found = 1;
    cached = found;
    return cached;
}

int fulcrum_tls_ktls_available(void) { return kernel_offers_ktls(); }

static SSL_CTX *common_ctx(const SSL_METHOD *method, uint64_t extra_options) {
    SSL_CTX *ctx = F.SSL_CTX_new(method);
    if (!ctx) return NULL;
    F.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, NULL);
    /* A peer closing without close_notify is a normal close (HTTP frames its own messages). */
    F.SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                   (kernel_offers_ktls() ? SSL_OP_ENABLE_KTLS : 0) | extra_options);
    F.SSL_CTX_set_cipher_list(ctx, cipher_list);
    /* Partial writes: a big body goes out record by record. Moving buffer:
     * a retried write may come from a compacted (moved) buffer. */
    F.SSL_CTX_ctrl(ctx, SSL_CTRL_MODE, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, NULL);
    /* Read-ahead: one read(2) takes whatever the socket has, instead of a
     * record header and then its body. Buffered ciphertext is then invisible
     * to epoll: fulcrum_tls_pending reports it (SSL_has_pending). */
    F.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_READ_AHEAD, 1, NULL);
    return ctx;
}

/* ---- servers: certificate sets, SNI, ALPN ---- */

struct fulcrum_tls_server_set {
    int refs;  /* the installed slot's reference + one per connection */
    int count;
    SSL_CTX *ctx[];
};

static fulcrum_tls_server_set *current_set;

static void set_release(fulcrum_tls_server_set *s) {
    if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
    for (int i = 0; i < s->count; i++) F.SSL_CTX_free(s->ctx[i]);  /* live SSLs hold their own ctx reference */
    free(s);
}

/* Picks the context whose certificate names match the SNI name; the default otherwise. */
static int servername_cb(SSL *ssl, int *alert, void *arg) {
    (void)alert;
    fulcrum_tls_server_set *s = arg;
    const char *name = F.SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name || !*name) return SSL_TLSEXT_ERR_OK;
    for (int i = 0; i < s->count; i++) {
        if (F.X509_check_host(F.SSL_CTX_get0_certificate(s->ctx[i]), name, strlen(name), 0, NULL) == 1) {
            if (i > 0) F.SSL_set_SSL_CTX(ssl, s->ctx[i]);
            return SSL_TLSEXT_ERR_OK;
        }
    }
    return SSL_TLSEXT_ERR_OK;
}

/* ALPN: http/1.1 when offered; otherwise no ALPN (the client may still speak HTTP/1.1). */
static int alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                   unsigned int inlen, void *arg) {
    (void)ssl; (void)arg;
    for (unsigned int i = 0; i < inlen;) {
        unsigned int n = in[i];
        if (i + 1 + n > inlen) break;
        if (n == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) {
            *out = in + i + 1;
            *outlen = 8;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + n;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

fulcrum_tls_server_set *fulcrum_tls_server_set_new(const char *const *certs, const char *const *keys, int count,
                                                   char *err, size_t errlen) {
    if (fulcrum_tls_load(err, errlen) != 0) return NULL;
    if (count <= 0) { set_err(err, errlen, "%s%s", "no certificate given (-tls-cert FILE -tls-key FILE)", ""); return NULL; }
    fulcrum_tls_server_set *s = calloc(1, sizeof *s + (size_t)count * sizeof(SSL_CTX *));
    if (!s) return NULL;
    s->refs = 1;
    char reason[200];
    F.ERR_clear_error();
    for (int i = 0; i < count; i++) {
        const char *files[2] = { certs[i], keys[i] };
        for (int f = 0; f < 2; f++) {
            FILE *probe = fopen(files[f], "r");
            if (!probe) {
                set_err(err, errlen, "cannot read %s: %s", files[f], strerror(errno));
                goto fail;
            }
            fclose(probe);
        }
        SSL_CTX *ctx = common_ctx(F.TLS_server_method(), SSL_OP_CIPHER_SERVER_PREFERENCE);
        if (!ctx) { set_err(err, errlen, "%s%s", "cannot create a TLS context: ", openssl_reason(reason, sizeof reason)); goto fail; }
        s->ctx[s->count++] = ctx;
        if (F.SSL_CTX_use_certificate_chain_file(ctx, certs[i]) != 1) {
            set_err(err, errlen, "cannot load certificate %s: %s", certs[i], openssl_reason(reason, sizeof reason));
            goto fail;
        }
        if (F.SSL_CTX_use_PrivateKey_file(ctx, keys[i], SSL_FILETYPE_PEM) != 1) {
            openssl_reason(reason, sizeof reason);
            /* OpenSSL checks the pair while loading the key (X509_R_KEY_VALUES_MISMATCH). */
            if (strstr(reason, "key values mismatch")) goto mismatch;
            set_err(err, errlen, "cannot load private key %s: %s", keys[i], reason);
            goto fail;
        }
        if (F.SSL_CTX_check_private_key(ctx) != 1) {
            F.ERR_clear_error();
        mismatch:
            set_err(err, errlen, "private key %s does not match certificate %s", keys[i], certs[i]);
            goto fail;
        }
        F.SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
    }
    F.SSL_CTX_callback_ctrl(s->ctx[0], SSL_CTRL_SET_TLSEXT_SERVERNAME_CB, (void (*)(void))servername_cb);
    F.SSL_CTX_ctrl(s->ctx[0], SSL_CTRL_SET_TLSEXT_SERVERNAME_ARG, 0, s);
    return s;
fail:
    set_release(s);
    return NULL;
}

void fulcrum_tls_server_set_install(fulcrum_tls_server_set *set) {
    pthread_mutex_lock(&lock);
    fulcrum_tls_server_set *old = current_set;
    current_set = set;
    pthread_mutex_unlock(&lock);
    set_release(old);
}

/* ---- backends ---- */

int fulcrum_tls_client_init(const char *ca_file, char *err, size_t errlen) {
    if (fulcrum_tls_load(err, errlen) != 0) return -1;
    pthread_mutex_lock(&lock);
    int rc = 0;
    if (!client_ctx) {
        char reason[200];
        F.ERR_clear_error();
        SSL_CTX *ctx = common_ctx(F.TLS_client_method(), 0);
        if (!ctx) {
            set_err(err, errlen, "%s%s", "cannot create a TLS context: ", openssl_reason(reason, sizeof reason));
            rc = -1;
        } else if (ca_file && F.SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
            FILE *probe = fopen(ca_file, "r");
            if (!probe) set_err(err, errlen, "cannot read %s: %s", ca_file, strerror(errno));
            else { fclose(probe); set_err(err, errlen, "cannot load CA certificates %s: %s", ca_file, openssl_reason(reason, sizeof reason)); }
            F.SSL_CTX_free(ctx);
            rc = -1;
        } else {
            if (!ca_file) F.SSL_CTX_set_default_verify_paths(ctx);
            F.SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
            __atomic_store_n(&client_ctx, ctx, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

int fulcrum_tls_client_ready(void) { return __atomic_load_n(&client_ctx, __ATOMIC_ACQUIRE) != NULL; }

/* ---- sessions ---- */

struct fulcrum_tls_conn {
    SSL *ssl;
    fulcrum_tls_server_set *set;  /* servers: the set this connection's handshake uses */
    int side;                     /* 0 = from a client, 1 = to a backend */
};

fulcrum_tls_conn *fulcrum_tls_accept(int fd) {
    pthread_mutex_lock(&lock);
    fulcrum_tls_server_set *s = current_set;
    if (s) __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&lock);
    if (!s) return NULL;
    fulcrum_tls_conn *c = calloc(1, sizeof *c);
    SSL *ssl = c ? F.SSL_new(s->ctx[0]) : NULL;
    if (!ssl) { free(c); set_release(s); return NULL; }
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
    SSL_CTX *ctx = __atomic_load_n(&client_ctx, __ATOMIC_ACQUIRE);
    if (!ctx) return NULL;
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
    return c;
}

void fulcrum_tls_free(fulcrum_tls_conn *c) {
    if (!c) return;
    F.SSL_free(c->ssl);
    set_release(c->set);
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
        snprintf(error_text, sizeof error_text, "%s", strerror(errno));
        F.ERR_clear_error();
        return FULCRUM_TLS_ERROR;
    default: {
        long verify = c->side == 1 ? F.SSL_get_verify_result(c->ssl) : 0;
        if (verify != 0) {
            snprintf(error_text, sizeof error_text, "certificate verify failed: %s", F.X509_verify_cert_error_string(verify));
            F.ERR_clear_error();
        } else {
            openssl_reason(error_text, sizeof error_text);
        }
        return FULCRUM_TLS_ERROR;
    }
    }
}

long fulcrum_tls_handshake(fulcrum_tls_conn *c) {
    F.ERR_clear_error();
    errno = 0;
    int r = F.SSL_do_handshake(c->ssl);
    uint64_t *st = stats + c->side * 6;
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
        if (o == FULCRUM_TLS_EOF) snprintf(error_text, sizeof error_text, "%s", "peer closed during the handshake");
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

int fulcrum_tls_pending(fulcrum_tls_conn *c) { return F.SSL_pending(c->ssl) > 0 || F.SSL_has_pending(c->ssl); }

void fulcrum_tls_shutdown(fulcrum_tls_conn *c) {
    F.ERR_clear_error();
    F.SSL_shutdown(c->ssl);
    F.ERR_clear_error();
}

const char *fulcrum_tls_error_text(void) { return error_text; }

void fulcrum_tls_stats(uint64_t *out) {
    for (int i = 0; i < FULCRUM_TLS_STAT_COUNT; i++) out[i] = __atomic_load_n(&stats[i], __ATOMIC_RELAXED);
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
    if (fulcrum_tls_client_init(NULL, err, sizeof err) != 0) { set_err(detail, detaillen, "%s%s", err, ""); return -1; }
    fulcrum_tls_conn *c = fulcrum_tls_connect(fd, host);
    if (!c) { set_err(detail, detaillen, "%s%s", "cannot create a TLS session", ""); return -1; }
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
    if (r == FULCRUM_TLS_ERROR) snprintf(detail, detaillen, "%s: %s", stage, error_text);
    else snprintf(detail, detaillen, "%s: timeout after %d ms", stage, timeout_ms);
    fulcrum_tls_free(c);
    return -1;
}
