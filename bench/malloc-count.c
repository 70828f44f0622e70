/* LD_PRELOAD counter of malloc/calloc/realloc/posix_memalign calls; SIGUSR2 prints "MALLOCS N" on stderr.
 * cc -shared -fPIC -O2 bench/malloc-count.c -o /tmp/malloc-count.so -ldl  (used by bench/filter-mallocs.sh) */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>
static atomic_long count;
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_memalign)(void **, size_t, size_t);
static char boot[8192]; static size_t bootn;
void *malloc(size_t n) { if (!real_malloc) real_malloc = dlsym(RTLD_NEXT, "malloc"); atomic_fetch_add(&count, 1); return real_malloc(n); }
void *calloc(size_t a, size_t b) {
  if (!real_calloc) { if (bootn + a*b < sizeof boot) { void *p = boot + bootn; bootn += (a*b + 15) & ~15; return p; } }
  if (!real_calloc) real_calloc = dlsym(RTLD_NEXT, "calloc");
  atomic_fetch_add(&count, 1); return real_calloc(a, b); }
void free(void *p) { static void (*rf)(void *); if ((char*)p >= boot && (char*)p < boot + sizeof boot) return; if (!rf) rf = dlsym(RTLD_NEXT, "free"); rf(p); }
void *realloc(void *p, size_t n) { if (!real_realloc) real_realloc = dlsym(RTLD_NEXT, "realloc"); atomic_fetch_add(&count, 1); return real_realloc(p, n); }
int posix_memalign(void **p, size_t a, size_t n) { if (!real_memalign) real_memalign = dlsym(RTLD_NEXT, "posix_memalign"); atomic_fetch_add(&count, 1); return real_memalign(p, a, n); }
static void report(int s) { (void)s; char b[64]; int n = snprintf(b, sizeof b, "MALLOCS %ld\n", atomic_load(&count)); write(2, b, n); }
__attribute__((constructor)) static void init(void) { signal(SIGUSR2, report); }
