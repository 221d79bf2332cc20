/* The wall clock of one site, moved by an offset read from a file while it runs.
 *
 * LD_PRELOAD=skewclock.so GTX_CLOCK_OFFSET_FILE=<file holding milliseconds, e.g. "-12000">
 * shifts CLOCK_REALTIME (clock_gettime, gettimeofday, time) and nothing else: the monotonic
 * clocks, sleeps and timers stay true, as they do on a host whose NTP is wrong. The file is
 * read again at most every 100 ms. (libfaketime 0.9.10 cannot do this for Python: with
 * FAKETIME_DONT_FAKE_MONOTONIC=1 time.sleep fails with EINVAL, and without it the monotonic
 * clock jumps back with the offset; see docs/FAULTS.md.)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int (*real_clock_gettime)(clockid_t, struct timespec *);
static long long offset_ns;
static long long next_read_ns;

static void offset_refresh(void) {
    struct timespec now;
    real_clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    long long now_ns = now.tv_sec * 1000000000LL + now.tv_nsec;
    if (now_ns < __atomic_load_n(&next_read_ns, __ATOMIC_RELAXED)) return;
    __atomic_store_n(&next_read_ns, now_ns + 100000000LL, __ATOMIC_RELAXED);
    const char *path = getenv("GTX_CLOCK_OFFSET_FILE");
    if (!path) return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char text[32] = {0};
    ssize_t got = read(fd, text, sizeof text - 1);
    close(fd);
    if (got > 0) __atomic_store_n(&offset_ns, strtoll(text, NULL, 10) * 1000000LL, __ATOMIC_RELAXED);
}

static void resolve(void) {
    if (!real_clock_gettime) real_clock_gettime = dlsym(RTLD_NEXT, "clock_gettime");
}

int clock_gettime(clockid_t clock, struct timespec *ts) {
    resolve();
    int result = real_clock_gettime(clock, ts);
    if (result == 0 && (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE)) {
        offset_refresh();
        long long ns = ts->tv_sec * 1000000000LL + ts->tv_nsec + __atomic_load_n(&offset_ns, __ATOMIC_RELAXED);
        ts->tv_sec = ns / 1000000000LL;
        ts->tv_nsec = ns % 1000000000LL;
    }
    return result;
}

int gettimeofday(struct timeval *tv, void *tz) {
    struct timespec ts;
    (void)tz;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return -1;
    if (tv) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return 0;
}

time_t time(time_t *out) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out) *out = ts.tv_sec;
    return ts.tv_sec;
}
