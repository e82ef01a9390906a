#define _GNU_SOURCE
#include "system_shims.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <linux/falloc.h>
#include <sys/syscall.h>
#include <unistd.h>

int swiftlet_errno(void) { return errno; }

int swiftlet_open(const char *path, int flags, mode_t mode) { return open(path, flags, mode); }

int swiftlet_fcntl_int(int fd, int command, int argument) { return fcntl(fd, command, argument); }

int swiftlet_epoll_wait(int epfd, uint32_t *events, uint64_t *data, int capacity, int timeout) {
    struct epoll_event buffer[256];
    if (capacity > 256) capacity = 256;
    int count = epoll_wait(epfd, buffer, capacity, timeout);
    for (int i = 0; i < count; i++) {
        events[i] = buffer[i].events;
        data[i] = buffer[i].data.u64;
    }
    return count;
}

int swiftlet_epoll_ctl(int epfd, int operation, int fd, uint32_t events, uint64_t data) {
    struct epoll_event event;
    event.events = events;
    event.data.u64 = data;
    return epoll_ctl(epfd, operation, fd, &event);
}

// Cached per thread: the reactors ask on every loop-only call, and a thread keeps its id
// (a forked child would inherit a stale one; Swiftlet never forks without exec).
pid_t swiftlet_gettid(void) {
    static __thread pid_t cached = 0;
    if (cached == 0) cached = (pid_t)syscall(SYS_gettid);
    return cached;
}

int swiftlet_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags) {
    return accept4(fd, address, length, flags);
}

int swiftlet_set_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }

int swiftlet_memfd_create(const char *name) { return memfd_create(name, MFD_CLOEXEC); }

int swiftlet_fallocate_keep_size(int fd, int64_t offset, int64_t length) {
    return fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)length);
}
