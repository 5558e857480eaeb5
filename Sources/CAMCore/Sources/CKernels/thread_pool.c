#define _GNU_SOURCE
#include "CKernels.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

/*
 * The runtime's worker threads, for its parallel loops.
 *
 * Dispatch's concurrentPerform wakes its workers from sleep for every loop; on the 2-core
 * development machine that took 40–60 µs per loop, so two 50 µs halves of a loop took 108 µs,
 * longer than running them one after the other, and a batch-1 forward pass has 45 (ResNet-18)
 * to 146 (DeiT-tiny) loops. These workers instead wait for the next loop by spinning for a while (with `pause`,
 * then yielding the core, so that OpenBLAS's own threads still get it), and only then sleep:
 * the same two halves take 52 µs. The calling thread runs indices too, taken from one atomic
 * counter, and returns when every index has run. A pinned loop (ck_parallel_pinned) runs index
 * i on participant i instead, so that loop after loop each thread gets the same share of the
 * data and finds in its own cache what it wrote in the loop before.
 *
 * One loop runs at a time. A loop started while another runs (another thread's explanation),
 * or from inside a task (a nested loop), is refused, and the caller runs it some other way.
 */

enum { MAX_WORKERS = 255 };

/* How long an idle worker spins, then yields, before it sleeps (µs). */
enum { SPIN_MICROSECONDS = 50, YIELD_MICROSECONDS = 2000 };

static struct {
    pthread_mutex_t submit;                 /* held by the thread whose loop runs */
    pthread_mutex_t sleep_lock;
    pthread_cond_t wake;
    /* Each loop's number times 256 plus how many workers take part in it (1 … participants),
       published at once, so that a worker deciding whether to take part reads both of the
       same loop. */
    _Atomic long epoch;
    _Atomic int sleepers;
    int workers;                            /* started so far */
    /* The running loop, written before its epoch is published. */
    ck_parallel_task task;
    void *context;
    long count;
    int pinned;                             /* index i runs on participant i (0: the caller) */
    _Atomic long next;                      /* the next index to run */
    _Atomic int unfinished;                 /* participants still running */
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

/* Set on workers, and on a caller while its loop runs: a loop started there is nested. */
static _Thread_local int inside_loop;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static double microseconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

static void run_indices(void) {
    const long count = pool.count;
    for (long i = atomic_fetch_add_explicit(&pool.next, 1, memory_order_relaxed); i < count;
         i = atomic_fetch_add_explicit(&pool.next, 1, memory_order_relaxed))
        pool.task(pool.context, i);
}

/* Waits until the epoch is no longer `seen`, and returns it. */
static long next_epoch(long seen) {
    const double start = microseconds();
    for (unsigned spins = 0;; spins++) {
        const long e = atomic_load_explicit(&pool.epoch, memory_order_acquire);
        if (e != seen) return e;
        if ((spins & 63) != 63) { cpu_relax(); continue; }
        const double waited = microseconds() - start;
        if (waited < SPIN_MICROSECONDS) continue;
        if (waited < YIELD_MICROSECONDS) { sched_yield(); continue; }
        break;
    }
    /* Asleep: the submitter reads `sleepers` after publishing the epoch, so either it sees this
       worker counted and broadcasts under the lock, or this worker sees the new epoch. */
    pthread_mutex_lock(&pool.sleep_lock);
    atomic_fetch_add(&pool.sleepers, 1);
    long e;
    while ((e = atomic_load(&pool.epoch)) == seen) pthread_cond_wait(&pool.wake, &pool.sleep_lock);
    atomic_fetch_sub(&pool.sleepers, 1);
    pthread_mutex_unlock(&pool.sleep_lock);
    return e;
}

typedef struct {
    int id;
    long epoch; /* the epoch when it was started: the first loop it may join is the next one */
} worker_start;

static worker_start starts[MAX_WORKERS + 1];

static void *worker_main(void *argument) {
    const worker_start *start = argument;
    const int id = start->id;
    long seen = start->epoch;
    inside_loop = 1;
    for (;;) {
        seen = next_epoch(seen);
        if (id > (seen & 255)) continue;
        if (pool.pinned) pool.task(pool.context, id);
        else run_indices();
        atomic_fetch_sub_explicit(&pool.unfinished, 1, memory_order_release);
    }
    return NULL;
}

/* Starts workers up to `wanted` (under the submit lock); returns how many there are. */
static int ensure_workers(int wanted) {
    if (wanted > MAX_WORKERS) wanted = MAX_WORKERS;
    while (pool.workers < wanted) {
        const int id = pool.workers + 1;
        starts[id] = (worker_start){id, atomic_load(&pool.epoch)};
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        /* Tasks run the runtime's kernels, whose large buffers are on the heap. */
        pthread_attr_setstacksize(&attributes, 8u << 20);
        const int failed = pthread_create(&thread, &attributes, worker_main, &starts[id]);
        pthread_attr_destroy(&attributes);
        if (failed) break;
        pool.workers = id;
    }
    return pool.workers;
}

/* Processors this process may run on (its affinity mask), read once. */
static int usable_processors(void) {
    static _Atomic int cached = 0;
    int n = atomic_load(&cached);
    if (n == 0) {
        cpu_set_t set;
        n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
        if (n < 1) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
        if (n < 1) n = 1;
        atomic_store(&cached, n);
    }
    return n;
}

static int run_loop(long count, int threads, ck_parallel_task task, void *context, int pinned) {
    if (count <= 0) return 0;
    /* Never more threads than processors: a worker spinning for a loop on a processor that
       another of them needs would slow the loop down instead (EfficientNet-Lite0 at batch 1
       on 2 processors: 6.0 ms/image with 2 threads, 10.1 with 4, 15.7 with 8). */
    const int processors = usable_processors();
    if (threads > processors) threads = processors;
    if (pinned && count > threads) return 1;
    if (threads <= 1 || count == 1) {
        for (long i = 0; i < count; i++) task(context, i);
        return 0;
    }
    if (inside_loop || pthread_mutex_trylock(&pool.submit) != 0) return 1;
    const int workers = ensure_workers(threads - 1);
    if (workers == 0) {
        pthread_mutex_unlock(&pool.submit);
        return 1;
    }
    pool.task = task;
    pool.context = context;
    pool.count = count;
    /* More workers may have been started for an earlier, larger thread count. */
    int participants = workers < threads - 1 ? workers : threads - 1;
    if (participants > count - 1) participants = (int)(count - 1);
    /* Pinned, every index needs its own participant. */
    if (pinned && participants < count - 1) {
        pthread_mutex_unlock(&pool.submit);
        return 1;
    }
    pool.pinned = pinned;
    atomic_store(&pool.next, 0);
    atomic_store(&pool.unfinished, participants);
    atomic_store(&pool.epoch, ((atomic_load(&pool.epoch) >> 8) + 1) * 256 + participants);
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.sleep_lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.sleep_lock);
    }
    inside_loop = 1;
    if (pinned) task(context, 0);
    else run_indices();
    inside_loop = 0;
    for (unsigned spins = 0; atomic_load_explicit(&pool.unfinished, memory_order_acquire) > 0; spins++) {
        if ((spins & 1023) == 1023) sched_yield();
        else cpu_relax();
    }
    pthread_mutex_unlock(&pool.submit);
    return 0;
}

int ck_parallel(long count, int threads, ck_parallel_task task, void *context) { return run_loop(count, threads, task, context, 0); }

int ck_parallel_pinned(long count, int threads, ck_parallel_task task, void *context) {
    return run_loop(count, threads, task, context, 1);
}
