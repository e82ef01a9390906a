// Tiny C shims for the few Glibc facilities Swift cannot reach directly: variadic open and
// fcntl, errno as a value, and the epoll_event layout (packed on x86_64).
#ifndef SWIFTLET_SYSTEM_SHIMS_H
#define SWIFTLET_SYSTEM_SHIMS_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

int swiftlet_errno(void);
int swiftlet_open(const char *path, int flags, mode_t mode);
int swiftlet_fcntl_int(int fd, int command, int argument);
/// epoll_wait into parallel arrays, so Swift never depends on the packed struct's layout.
int swiftlet_epoll_wait(int epfd, uint32_t *events, uint64_t *data, int capacity, int timeout);
int swiftlet_epoll_ctl(int epfd, int operation, int fd, uint32_t events, uint64_t data);
/// accept4 and pthread_setname_np are GNU extensions the Glibc module does not expose.
int swiftlet_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);
int swiftlet_set_thread_name(const char *name);
/// memfd_create and fallocate are GNU extensions too.
int swiftlet_memfd_create(const char *name);
int swiftlet_fallocate_keep_size(int fd, int64_t offset, int64_t length);
/// The calling thread's kernel id, for "runs on its own reactor" assertions.
pid_t swiftlet_gettid(void);

#endif
