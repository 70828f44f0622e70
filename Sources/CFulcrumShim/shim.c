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
    static __thread uint64_t state;
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
