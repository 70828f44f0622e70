/* One TLS session kept per backend, for resumption on the next connection
 * to it (as nginx's proxy_ssl_session_reuse): a backend answering
 * "Connection: close", or pools emptied by idle timeouts, would otherwise
 * cost a full handshake (key exchange, certificate chain, verification)
 * per connection.
 *
 * A fixed table of slots, each the last good session of one peer (key:
 * "SNI host|IP:port", so a session never goes to another name or address).
 * Slots are found by hash; two peers on one slot take turns (a miss is a
 * full handshake, never a wrong session: the key is compared). Each slot
 * has its own lock, held for a pointer swap or an up_ref: no global lock on
 * the connect path. Sessions are refcounted by OpenSSL: the table holds one
 * reference, a connection that uses a session takes its own. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include "tls_internal.h"

enum { SLOTS = 256 };

static struct slot {
    pthread_mutex_t lock;
    char key[320];
    SSL_SESSION *session;
} slots[SLOTS];
static pthread_once_t slots_once = PTHREAD_ONCE_INIT;

static void init_slots(void) {
    for (int i = 0; i < SLOTS; i++) pthread_mutex_init(&slots[i].lock, NULL);
}

static unsigned hash(const char *s) {
    unsigned h = 2166136261u;  /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h % SLOTS;
}

/* The peer's key from the SNI host (c->peer until then) and the socket's
 * peer address; 0 when the address is unknown (no caching then). */
static int peer_key(fulcrum_tls_conn *c) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char ip[INET6_ADDRSTRLEN];
    unsigned port;
    if (getpeername(c->fd, (struct sockaddr *)&ss, &len) != 0) return 0;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        port = ntohs(a->sin6_port);
    } else {
        return 0;
    }
    char host[sizeof c->peer];
    snprintf(host, sizeof host, "%s", c->peer);
    snprintf(c->peer, sizeof c->peer, "%s|%s:%u", host, ip, port);
    c->cache_slot = hash(c->peer);
    return 1;
}

void fulcrum_tls_session_cache_prepare(fulcrum_tls_conn *c) {
    pthread_once(&slots_once, init_slots);
    if (!peer_key(c)) { c->peer[0] = 0; return; }
    struct slot *s = &slots[c->cache_slot];
    SSL_SESSION *session = NULL;
    pthread_mutex_lock(&s->lock);
    if (s->session && strcmp(s->key, c->peer) == 0) {
        session = s->session;
        F.SSL_SESSION_up_ref(session);
    }
    pthread_mutex_unlock(&s->lock);
    if (session) {
        F.SSL_set_session(c->ssl, session);  /* takes its own reference */
        F.SSL_SESSION_free(session);
    }
}

/* OpenSSL's new-session callback (client context, internal cache off): a
 * session from a completed handshake or a TLS 1.3 ticket. The table keeps a
 * copy: the connection's own object is marked unresumable if that
 * connection later ends without close_notify or with a fatal alert, which
 * says nothing about the session (returning 0: OpenSSL keeps its reference). */
int fulcrum_tls_new_session_cb(SSL *ssl, SSL_SESSION *session) {
    fulcrum_tls_conn *c = F.SSL_get_ex_data(ssl, 0);
    if (!c || !c->peer[0] || !F.SSL_SESSION_is_resumable(session)) return 0;
    SSL_SESSION *copy = F.SSL_SESSION_dup(session);
    if (!copy) return 0;
    struct slot *s = &slots[c->cache_slot];
    pthread_mutex_lock(&s->lock);
    SSL_SESSION *old = s->session;
    s->session = copy;
    snprintf(s->key, sizeof s->key, "%s", c->peer);
    pthread_mutex_unlock(&s->lock);
    if (old) F.SSL_SESSION_free(old);
    return 0;
}
