/* Server certificate sets (SNI, ALPN, reload) and the backends' client context. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tls_internal.h"

/* ---- servers: certificate sets, SNI, ALPN ---- */


static fulcrum_tls_server_set *current_set;

void fulcrum_tls_set_release(fulcrum_tls_server_set *s) {
    if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
    for (int i = 0; i < s->count; i++) F.SSL_CTX_free(s->ctx[i]);  /* live SSLs hold their own ctx reference */
    free(s);
}

/* Picks the context whose certificate names match the SNI name; the default otherwise.
 * A trailing dot (an absolute name, "a.test.") names the same host. A name
 * starting with a dot is no host name: X509_check_host would read ".test" as
 * "any subdomain of test" and match certificates for it, wildcards included. */
static int servername_cb(SSL *ssl, int *alert, void *arg) {
    (void)alert;
    fulcrum_tls_server_set *s = arg;
    const char *sni = F.SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!sni) return SSL_TLSEXT_ERR_OK;
    size_t len = strlen(sni);
    if (len > 0 && sni[len - 1] == '.') len--;
    if (len == 0 || sni[0] == '.' || len > 253) return SSL_TLSEXT_ERR_OK;
    char name[254];
    memcpy(name, sni, len);
    name[len] = 0;
    for (int i = 0; i < s->count; i++) {
        if (F.X509_check_host(F.SSL_CTX_get0_certificate(s->ctx[i]), name, len, 0, NULL) == 1) {
            if (i > 0) F.SSL_set_SSL_CTX(ssl, s->ctx[i]);
            return SSL_TLSEXT_ERR_OK;
        }
    }
    return SSL_TLSEXT_ERR_OK;
}

/* The protocols the server speaks, in its order of preference, in ALPN's
 * wire format (length-prefixed). The one place to add "h2". */
static const unsigned char server_protocols[] = "\x02h2\x08http/1.1";

/* ALPN: the first of ours the client offers. A client that offers ALPN but
 * none of ours gets the no_application_protocol alert (RFC 7301 §3.2); a
 * client that offers no ALPN at all is not asked about it. */
static int alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                   unsigned int inlen, void *arg) {
    (void)ssl; (void)arg;
    for (size_t p = 0; p + 1 < sizeof server_protocols;) {
        unsigned int want = server_protocols[p];
        for (unsigned int i = 0; i < inlen;) {
            unsigned int n = in[i];
            if (i + 1 + n > inlen) break;
            if (n == want && memcmp(in + i + 1, server_protocols + p + 1, n) == 0) {
                *out = in + i + 1;
                *outlen = (unsigned char)n;
                return SSL_TLSEXT_ERR_OK;
            }
            i += 1 + n;
        }
        p += 1 + want;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

fulcrum_tls_server_set *fulcrum_tls_server_set_new(const char *const *certs, const char *const *keys, int count,
                                                   char *err, size_t errlen) {
    if (fulcrum_tls_load(err, errlen) != 0) return NULL;
    if (count <= 0) { fulcrum_tls_set_err(err, errlen, "%s%s", "no certificate given (-tls-cert FILE -tls-key FILE)", ""); return NULL; }
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
                fulcrum_tls_set_err(err, errlen, "cannot read %s: %s", files[f], strerror(errno));
                goto fail;
            }
            fclose(probe);
        }
        SSL_CTX *ctx = fulcrum_tls_common_ctx(F.TLS_server_method(), SSL_OP_CIPHER_SERVER_PREFERENCE);
        if (!ctx) { fulcrum_tls_set_err(err, errlen, "%s%s", "cannot create a TLS context: ", fulcrum_tls_openssl_reason(reason, sizeof reason)); goto fail; }
        s->ctx[s->count++] = ctx;
        if (F.SSL_CTX_use_certificate_chain_file(ctx, certs[i]) != 1) {
            fulcrum_tls_set_err(err, errlen, "cannot load certificate %s: %s", certs[i], fulcrum_tls_openssl_reason(reason, sizeof reason));
            goto fail;
        }
        fulcrum_tls_passphrase_asked = 0;
        if (F.SSL_CTX_use_PrivateKey_file(ctx, keys[i], SSL_FILETYPE_PEM) != 1) {
            fulcrum_tls_openssl_reason(reason, sizeof reason);
            if (fulcrum_tls_passphrase_asked) {
                fulcrum_tls_set_err(err, errlen, "private key %s is encrypted (a passphrase is not supported; %s)", keys[i],
                                    "decrypt it, e.g. openssl pkey -in KEY -out KEY.plain");
                goto fail;
            }
            /* OpenSSL checks the pair while loading the key (X509_R_KEY_VALUES_MISMATCH). */
            if (strstr(reason, "key values mismatch")) goto mismatch;
            fulcrum_tls_set_err(err, errlen, "cannot load private key %s: %s", keys[i], reason);
            goto fail;
        }
        if (F.SSL_CTX_check_private_key(ctx) != 1) {
            F.ERR_clear_error();
        mismatch:
            fulcrum_tls_set_err(err, errlen, "private key %s does not match certificate %s", keys[i], certs[i]);
            goto fail;
        }
        F.SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
    }
    F.SSL_CTX_callback_ctrl(s->ctx[0], SSL_CTRL_SET_TLSEXT_SERVERNAME_CB, (void (*)(void))servername_cb);
    F.SSL_CTX_ctrl(s->ctx[0], SSL_CTRL_SET_TLSEXT_SERVERNAME_ARG, 0, s);
    return s;
fail:
    fulcrum_tls_set_release(s);
    return NULL;
}

void fulcrum_tls_server_set_install(fulcrum_tls_server_set *set) {
    pthread_mutex_lock(&fulcrum_tls_lock);
    fulcrum_tls_server_set *old = current_set;
    current_set = set;
    pthread_mutex_unlock(&fulcrum_tls_lock);
    fulcrum_tls_set_release(old);
}

fulcrum_tls_server_set *fulcrum_tls_set_acquire(void) {
    pthread_mutex_lock(&fulcrum_tls_lock);
    fulcrum_tls_server_set *s = current_set;
    if (s) __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&fulcrum_tls_lock);
    return s;
}

/* ---- backends ---- */

int fulcrum_tls_client_init(const char *ca_file, char *err, size_t errlen) {
    if (fulcrum_tls_load(err, errlen) != 0) return -1;
    pthread_mutex_lock(&fulcrum_tls_lock);
    int rc = 0;
    if (!fulcrum_tls_client_ctx) {
        char reason[200];
        F.ERR_clear_error();
        SSL_CTX *ctx = fulcrum_tls_common_ctx(F.TLS_client_method(), 0);
        if (!ctx) {
            fulcrum_tls_set_err(err, errlen, "%s%s", "cannot create a TLS context: ", fulcrum_tls_openssl_reason(reason, sizeof reason));
            rc = -1;
        } else if (ca_file && F.SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
            FILE *probe = fopen(ca_file, "r");
            if (!probe) fulcrum_tls_set_err(err, errlen, "cannot read %s: %s", ca_file, strerror(errno));
            else { fclose(probe); fulcrum_tls_set_err(err, errlen, "cannot load CA certificates %s: %s", ca_file, fulcrum_tls_openssl_reason(reason, sizeof reason)); }
            F.SSL_CTX_free(ctx);
            rc = -1;
        } else {
            if (!ca_file) F.SSL_CTX_set_default_verify_paths(ctx);
            F.SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
            /* close_notify seen or not (a close-delimited body's end), and one
             * session kept per backend for resumption (tls_session_cache.c). */
            F.SSL_CTX_set_info_callback(ctx, fulcrum_tls_info_cb);
            F.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_SESS_CACHE_MODE, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL, NULL);
            F.SSL_CTX_sess_set_new_cb(ctx, fulcrum_tls_new_session_cb);
            __atomic_store_n(&fulcrum_tls_client_ctx, ctx, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&fulcrum_tls_lock);
    return rc;
}

int fulcrum_tls_client_ready(void) { return __atomic_load_n(&fulcrum_tls_client_ctx, __ATOMIC_ACQUIRE) != NULL; }

/* Records the peer's close_notify on the connection (app data slot 0). */
void fulcrum_tls_info_cb(const SSL *ssl, int where, int value) {
    if ((where & (SSL_CB_ALERT | SSL_CB_READ)) != (SSL_CB_ALERT | SSL_CB_READ) || (value & 0xff) != SSL_AD_CLOSE_NOTIFY) return;
    fulcrum_tls_conn *c = F.SSL_get_ex_data(ssl, 0);
    if (c) c->close_notify = 1;
}

int fulcrum_tls_context_settings(int side, uint64_t *options, long *mode) {
    SSL_CTX *ctx = NULL;
    fulcrum_tls_server_set *s = NULL;
    if (side == 0) { s = fulcrum_tls_set_acquire(); if (s) ctx = s->ctx[0]; }
    else ctx = __atomic_load_n(&fulcrum_tls_client_ctx, __ATOMIC_ACQUIRE);
    if (!ctx) return -1;
    *options = F.SSL_CTX_get_options(ctx);
    *mode = F.SSL_CTX_ctrl(ctx, SSL_CTRL_MODE, 0, NULL);
    fulcrum_tls_set_release(s);
    return 0;
}
