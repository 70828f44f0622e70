/* The shim's calls that glibc declares only under _GNU_SOURCE. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <sys/socket.h>
#include "fulcrum_shim.h"

int fulcrum_accept4(int fd, struct sockaddr_storage *addr, socklen_t *len) {
    return accept4(fd, (struct sockaddr *)addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

void fulcrum_set_thread_name(const char *name) { pthread_setname_np(pthread_self(), name); }

int fulcrum_cpu_count(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

#include <sys/random.h>
#include <time.h>

uint64_t fulcrum_random_u64(void) {
    /* initial-exec: a plain %fs-relative load, not a __tls_get_addr call. */
    static __thread uint64_t state __attribute__((tls_model("initial-exec")));
    if (state == 0) {
        if (getrandom(&state, sizeof state, GRND_NONBLOCK) != sizeof state || state == 0) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            state = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)&state;
        }
    }
    state += 0xa0761d6478bd642fULL;
    __uint128_t t = (__uint128_t)state * (state ^ 0xe7037ed1a0b428dbULL);
    return (uint64_t)(t >> 64) ^ (uint64_t)t;
}

uint64_t *fulcrum_backend_words;
uint64_t fulcrum_backend_capacity;

uint32_t fulcrum_host_active_requests(uint64_t id) { return fulcrum_backend_active(id); }
uint64_t fulcrum_host_latency_ewma_us(uint64_t id) { return fulcrum_backend_latency(id); }

void fulcrum_backend_table_install(uint64_t *words, uint64_t capacity) {
    fulcrum_backend_words = words;
    __atomic_store_n(&fulcrum_backend_capacity, capacity, __ATOMIC_RELEASE);
}

void fulcrum_host_active_requests_batch(const uint64_t *ids, size_t count, uint32_t *out) {
    for (size_t i = 0; i < count; i++) out[i] = fulcrum_backend_active(ids[i]);
}
