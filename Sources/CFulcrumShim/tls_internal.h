/* What the TLS files of the shim share (not part of the module's API):
 * OpenSSL's opaque types and the constants used, declared by hand and checked
 * against OpenSSL 3.0's ssl.h, tls1.h, prov_ssl.h and bio.h (no OpenSSL header
 * is included: the build must not need libssl-dev), the function table
 * filled by dlsym, and the shared state. */
#ifndef FULCRUM_TLS_INTERNAL_H
#define FULCRUM_TLS_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <stddef.h>
#include "fulcrum_tls.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_method_st SSL_METHOD;
typedef struct x509_st X509;
typedef struct X509_VERIFY_PARAM_st X509_VERIFY_PARAM;
typedef struct bio_st BIO;
typedef struct ssl_session_st SSL_SESSION;

#define SSL_CTRL_MODE 33
#define SSL_CTRL_SET_READ_AHEAD 41
#define SSL_CTRL_SET_TLSEXT_SERVERNAME_CB 53
#define SSL_CTRL_SET_TLSEXT_SERVERNAME_ARG 54
#define SSL_CTRL_SET_TLSEXT_HOSTNAME 55
#define SSL_CTRL_SET_MIN_PROTO_VERSION 123
#define SSL_CTRL_SET_SESS_CACHE_MODE 44
#define SSL_SESS_CACHE_CLIENT 0x0001
#define SSL_SESS_CACHE_NO_INTERNAL 0x0300
#define SSL_CB_ALERT 0x4000
#define SSL_CB_READ 0x04
#define SSL_AD_CLOSE_NOTIFY 0
#define SSL_AD_NO_APPLICATION_PROTOCOL 120
#define SSL_TLSEXT_ERR_ALERT_FATAL 2
#define TLSEXT_NAMETYPE_host_name 0
#define TLS1_2_VERSION 0x0303
#define TLS1_3_VERSION 0x0304
#define SSL_MODE_ENABLE_PARTIAL_WRITE 0x1L
#define SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER 0x2L
#define SSL_MODE_RELEASE_BUFFERS 0x10L
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

/* The function table, resolved once by fulcrum_tls_load. */
struct fulcrum_tls_functions {
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
    uint64_t (*SSL_CTX_get_options)(const SSL_CTX *);
    void (*SSL_CTX_set_default_passwd_cb)(SSL_CTX *, int (*)(char *, int, int, void *));
    void (*SSL_CTX_set_info_callback)(SSL_CTX *, void (*)(const SSL *, int, int));
    void (*SSL_CTX_sess_set_new_cb)(SSL_CTX *, int (*)(SSL *, SSL_SESSION *));
    int (*SSL_set_ex_data)(SSL *, int, void *);
    void *(*SSL_get_ex_data)(const SSL *, int);
    int (*SSL_set_session)(SSL *, SSL_SESSION *);
    int (*SSL_SESSION_up_ref)(SSL_SESSION *);
    void (*SSL_SESSION_free)(SSL_SESSION *);
    int (*SSL_SESSION_is_resumable)(const SSL_SESSION *);
    SSL_SESSION *(*SSL_SESSION_dup)(const SSL_SESSION *);
    /* libcrypto */
    void (*ERR_clear_error)(void);
    unsigned long (*ERR_get_error)(void);
    void (*ERR_error_string_n)(unsigned long, char *, size_t);
    int (*X509_check_host)(X509 *, const char *, size_t, unsigned int, char **);
    int (*X509_VERIFY_PARAM_set1_ip_asc)(X509_VERIFY_PARAM *, const char *);
    const char *(*X509_verify_cert_error_string)(long);
    long (*BIO_ctrl)(BIO *, int, long, void *);
};
extern struct fulcrum_tls_functions fulcrum_tls_F;
#define F fulcrum_tls_F


/* Guards loading, the installed server set and the client context's creation. */
extern pthread_mutex_t fulcrum_tls_lock;
extern SSL_CTX *fulcrum_tls_client_ctx;
/* Handshake counters (see fulcrum_tls_stats). */
extern uint64_t fulcrum_tls_counters[FULCRUM_TLS_STAT_COUNT];
/* The reason of this thread's last FULCRUM_TLS_ERROR. */
extern __thread char fulcrum_tls_last_error[256];

void fulcrum_tls_set_err(char *err, size_t errlen, const char *fmt, const char *a, const char *b);
/* The reason of the oldest queued OpenSSL error (then the queue is cleared). */
const char *fulcrum_tls_openssl_reason(char *buf, size_t len);
/* A context with the settings every side shares (versions, options, modes, ciphers). */
SSL_CTX *fulcrum_tls_common_ctx(const SSL_METHOD *method, uint64_t extra_options);

struct fulcrum_tls_server_set {
    int refs;  /* the installed slot's reference + one per connection */
    int count;
    SSL_CTX *ctx[];
};

void fulcrum_tls_set_release(fulcrum_tls_server_set *s);
/* The installed set with a reference taken (NULL when none). */
fulcrum_tls_server_set *fulcrum_tls_set_acquire(void);

struct fulcrum_tls_conn {
    SSL *ssl;
    fulcrum_tls_server_set *set;  /* servers: the set this connection's handshake uses */
    int side;                     /* 0 = from a client, 1 = to a backend */
    int close_notify;             /* the peer's close_notify arrived (set by the info callback) */
    int fd;
    int cache_pending;            /* backends: the session cache is not consulted yet */
    unsigned cache_slot;          /* backends: the session cache slot of this peer */
    char peer[320];               /* backends: the SNI host, then "host|ip:port" (the session cache key) */
};

/* The client context's callbacks (tls_contexts.c) record close_notify and keep sessions. */
void fulcrum_tls_info_cb(const SSL *ssl, int where, int value);
int fulcrum_tls_new_session_cb(SSL *ssl, SSL_SESSION *session);
/* Set on this thread when OpenSSL asked for a key's passphrase (refused: see tls_library.c). */
extern __thread int fulcrum_tls_passphrase_asked;
/* Keys c by its peer (host and connected address) and sets that peer's last
 * good session on it; called once, at the handshake's start (tls_session_cache.c). */
void fulcrum_tls_session_cache_prepare(fulcrum_tls_conn *c);

#endif
