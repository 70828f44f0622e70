/* Loading OpenSSL 3 with dlopen, and what every TLS context shares. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tls_internal.h"

/* TLS 1.2 suites: ECDHE with AEAD only (Mozilla "intermediate"); TLS 1.3 keeps OpenSSL's defaults. */
static const char *const cipher_list =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

struct fulcrum_tls_functions fulcrum_tls_F;

pthread_mutex_t fulcrum_tls_lock = PTHREAD_MUTEX_INITIALIZER;
static int loaded;
static char load_error[256];
SSL_CTX *fulcrum_tls_client_ctx;
uint64_t fulcrum_tls_counters[FULCRUM_TLS_STAT_COUNT];
__thread char fulcrum_tls_last_error[256];
__thread int fulcrum_tls_passphrase_asked;

/* An encrypted key is refused, never prompted for: OpenSSL's default would
 * read a passphrase from the terminal, blocking start-up (or, on a reload,
 * the admin thread) forever. As nginx without ssl_password_file. */
static int refuse_passphrase(char *buf, int size, int rwflag, void *userdata) {
    (void)buf; (void)size; (void)rwflag; (void)userdata;
    fulcrum_tls_passphrase_asked = 1;
    return -1;
}

void fulcrum_tls_set_err(char *err, size_t errlen, const char *fmt, const char *a, const char *b) {
    if (err && errlen) snprintf(err, errlen, fmt, a, b);
}

int fulcrum_tls_load(char *err, size_t errlen) {
    pthread_mutex_lock(&fulcrum_tls_lock);
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
            RESOLVE(ssl, SSL_CTX_get_options) RESOLVE(ssl, SSL_CTX_set_default_passwd_cb)
            RESOLVE(ssl, SSL_CTX_set_info_callback) RESOLVE(ssl, SSL_CTX_sess_set_new_cb) RESOLVE(ssl, SSL_set_ex_data)
            RESOLVE(ssl, SSL_get_ex_data) RESOLVE(ssl, SSL_set_session) RESOLVE(ssl, SSL_SESSION_up_ref)
            RESOLVE(ssl, SSL_SESSION_free) RESOLVE(ssl, SSL_SESSION_is_resumable) RESOLVE(ssl, SSL_SESSION_dup)
            RESOLVE(crypto, ERR_clear_error) RESOLVE(crypto, ERR_get_error) RESOLVE(crypto, ERR_error_string_n)
            RESOLVE(crypto, X509_check_host) RESOLVE(crypto, X509_VERIFY_PARAM_set1_ip_asc)
            RESOLVE(crypto, X509_verify_cert_error_string) RESOLVE(crypto, BIO_ctrl)
#undef RESOLVE
            if (missing) snprintf(load_error, sizeof load_error, "libssl.so.3 lacks %s (OpenSSL 3 needed)", missing);
            else loaded = 1;
        }
    }
    int ok = loaded == 1;
    if (!ok) fulcrum_tls_set_err(err, errlen, "%s%s", load_error, "");
    pthread_mutex_unlock(&fulcrum_tls_lock);
    return ok ? 0 : -1;
}

/* The reason of the oldest queued OpenSSL error (then the queue is cleared). */
const char *fulcrum_tls_openssl_reason(char *buf, size_t len) {
    unsigned long e = F.ERR_get_error();
    if (e == 0) { snprintf(buf, len, "%s", "unknown error"); return buf; }
    F.ERR_error_string_n(e, buf, len);
    F.ERR_clear_error();
    return buf;
}

/* Whether the kernel offers kTLS (the "tls" upper-layer protocol is
 * registered). Reported only: kTLS is not enabled (docs/design.md, "kTLS"). */
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

SSL_CTX *fulcrum_tls_common_ctx(const SSL_METHOD *method, uint64_t extra_options) {
    SSL_CTX *ctx = F.SSL_CTX_new(method);
    if (!ctx) return NULL;
    F.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, NULL);
    /* A peer closing without close_notify reads as a close, not a fatal
     * error (a fatal alert would also make the session unresumable). Where
     * the difference matters, a backend's close-delimited body, the info
     * callback tells them apart (fulcrum_tls_truncated).
     * No SSL_OP_ENABLE_KTLS: see docs/design.md, "kTLS". */
    F.SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | extra_options);
    F.SSL_CTX_set_cipher_list(ctx, cipher_list);
    F.SSL_CTX_set_default_passwd_cb(ctx, refuse_passphrase);
    /* Partial writes: a big body goes out record by record. Moving buffer:
     * a retried write may come from a compacted (moved) buffer, or from the
     * per-thread scratch of fulcrum_tls_write2 (OpenSSL has already
     * encrypted the pending record into its own buffer; true without kTLS
     * only). Release buffers: an idle connection holds no 16 KiB read and
     * write buffers, only what a record in progress needs. */
    F.SSL_CTX_ctrl(ctx, SSL_CTRL_MODE,
                   SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS, NULL);
    /* Read-ahead: one read(2) takes whatever the socket has, instead of a
     * record header and then its body. Buffered ciphertext is then invisible
     * to epoll: fulcrum_tls_pending reports it (SSL_has_pending). */
    F.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_READ_AHEAD, 1, NULL);
    return ctx;
}
