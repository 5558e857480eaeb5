#include "scratch.h"
#include <pthread.h>
#include <stdlib.h>

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

/* A thread's scratch: its capacity in floats, then the floats (64-byte aligned). */
typedef struct {
    size_t capacity;
    float *floats;
} ck_scratch;

static void scratch_release(void *p) {
    ck_scratch *s = p;
    free(s->floats);
    free(s);
}

static void scratch_key_create(void) { pthread_key_create(&scratch_key, scratch_release); }

float *ck_thread_scratch(size_t floats) {
    pthread_once(&scratch_once, scratch_key_create);
    ck_scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = calloc(1, sizeof(ck_scratch));
        if (!s || pthread_setspecific(scratch_key, s) != 0) { free(s); return NULL; }
    }
    if (s->capacity >= floats && s->floats) return s->floats;
    /* Grow by at least half again, so that a run of slightly larger planes reallocates rarely. */
    size_t want = floats > s->capacity + s->capacity / 2 ? floats : s->capacity + s->capacity / 2;
    if (want > ((size_t)-1 - 63) / sizeof(float)) return NULL;
    const size_t bytes = (want * sizeof(float) + 63) & ~(size_t)63;
    float *grown = aligned_alloc(64, bytes);
    if (!grown) return NULL;
    free(s->floats);
    s->floats = grown;
    s->capacity = want;
    return grown;
}
