/*
 * delayfs - a tiny FUSE filesystem that exposes a backing file as
 * <mnt>/disk.img and adds a run-time adjustable delay to every read and
 * write of it.  Used by the iosentinel end-to-end tests to build a real block
 * device (a loop device on top of <mnt>/disk.img) whose latency can be
 * changed while I/O is running (device-mapper / dm-delay is not available).
 *
 *   <mnt>/disk.img   read/write, size == size of BACKING_FILE, opened with
 *                    direct_io (no page cache), every request sleeps
 *                    delay_us microseconds in its own worker thread, so with
 *                    queue depth q and delay d: IOPS ~= q / d.
 *   <mnt>/delay_us   write a decimal number of microseconds to set the delay,
 *                    read it to get the current value.
 *
 * Usage: delayfs BACKING_FILE MOUNTPOINT [fuse options, e.g. -f]
 * Build: gcc -O2 -Wall -o delayfs delayfs.c $(pkg-config fuse3 --cflags --libs)
 */
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE

#include <fuse.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DISK_PATH "/disk.img"
#define DELAY_PATH "/delay_us"
/* the control file claims this size so that `cat` reads it; reads past the
 * actual text return fewer bytes (direct_io makes that safe) */
#define DELAY_FILE_SIZE 32

static int backing_fd = -1;
static _Atomic uint64_t delay_us;

static void apply_delay(void)
{
	uint64_t us = atomic_load_explicit(&delay_us, memory_order_relaxed);
	if (us == 0)
		return;
	struct timespec ts = {
		.tv_sec = (time_t)(us / 1000000u),
		.tv_nsec = (long)(us % 1000000u) * 1000L,
	};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void *dfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	/* Every attribute comes from us; never cache file data. */
	cfg->use_ino = 0;
	cfg->kernel_cache = 0;
	cfg->auto_cache = 0;
	cfg->direct_io = 1;
	cfg->attr_timeout = 1.0;
	cfg->entry_timeout = 1.0;
	/* Let many asynchronous (AIO / loop direct-io) requests be in flight:
	 * the kernel default of 12 background requests would cap the queue. */
	if (conn->max_background < 128)
		conn->max_background = 128;
	if (conn->congestion_threshold < 96)
		conn->congestion_threshold = 96;
	/* Async direct I/O lets the kernel submit AIO requests without
	 * waiting for each one (libfuse enables it by default; be explicit). */
	if (conn->capable & FUSE_CAP_ASYNC_DIO)
		conn->want |= FUSE_CAP_ASYNC_DIO;
	return NULL;
}

static int dfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof(*st));
	st->st_uid = getuid();
	st->st_gid = getgid();
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (strcmp(path, DISK_PATH) == 0) {
		struct stat bst;
		if (fstat(backing_fd, &bst) == -1)
			return -errno;
		st->st_mode = S_IFREG | 0644;
		st->st_nlink = 1;
		st->st_size = bst.st_size;
		st->st_blocks = bst.st_blocks;
		st->st_blksize = 4096;
		st->st_atim = bst.st_atim;
		st->st_mtim = bst.st_mtim;
		st->st_ctim = bst.st_ctim;
		return 0;
	}
	if (strcmp(path, DELAY_PATH) == 0) {
		st->st_mode = S_IFREG | 0644;
		st->st_nlink = 1;
		st->st_size = DELAY_FILE_SIZE;
		return 0;
	}
	return -ENOENT;
}

static int dfs_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
		       off_t off, struct fuse_file_info *fi,
		       enum fuse_readdir_flags flags)
{
	(void)off;
	(void)fi;
	(void)flags;
	if (strcmp(path, "/") != 0)
		return -ENOENT;
	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	filler(buf, DISK_PATH + 1, NULL, 0, 0);
	filler(buf, DELAY_PATH + 1, NULL, 0, 0);
	return 0;
}

static int dfs_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path, DISK_PATH) != 0 && strcmp(path, DELAY_PATH) != 0)
		return -ENOENT;
	fi->direct_io = 1;
	fi->keep_cache = 0;
	return 0;
}

static int dfs_read(const char *path, char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)fi;
	if (strcmp(path, DISK_PATH) == 0) {
		apply_delay();
		size_t done = 0;
		while (done < size) {
			ssize_t n = pread(backing_fd, buf + done, size - done,
					  off + (off_t)done);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			if (n == 0)
				break;
			done += (size_t)n;
		}
		return (int)done;
	}
	if (strcmp(path, DELAY_PATH) == 0) {
		char text[DELAY_FILE_SIZE];
		int len = snprintf(text, sizeof(text), "%" PRIu64 "\n",
				   atomic_load(&delay_us));
		if (off >= len)
			return 0;
		size_t n = (size_t)(len - off);
		if (n > size)
			n = size;
		memcpy(buf, text + off, n);
		return (int)n;
	}
	return -ENOENT;
}

static int dfs_write(const char *path, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)fi;
	if (strcmp(path, DISK_PATH) == 0) {
		struct stat bst;
		if (fstat(backing_fd, &bst) == -1)
			return -errno;
		if (off >= bst.st_size)
			return -ENOSPC;
		if ((off_t)size > bst.st_size - off)
			size = (size_t)(bst.st_size - off);
		apply_delay();
		size_t done = 0;
		while (done < size) {
			ssize_t n = pwrite(backing_fd, buf + done, size - done,
					   off + (off_t)done);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			done += (size_t)n;
		}
		return (int)done;
	}
	if (strcmp(path, DELAY_PATH) == 0) {
		char text[DELAY_FILE_SIZE];
		if (off != 0 || size >= sizeof(text))
			return -EINVAL;
		memcpy(text, buf, size);
		text[size] = '\0';
		char *end;
		errno = 0;
		unsigned long long v = strtoull(text, &end, 10);
		if (errno != 0 || end == text || text[0] == '-')
			return -EINVAL;
		while (*end == '\n' || *end == ' ' || *end == '\t' || *end == '\r')
			end++;
		if (*end != '\0' || v > 60ULL * 1000000ULL)
			return -EINVAL;
		atomic_store(&delay_us, (uint64_t)v);
		return (int)size;
	}
	return -ENOENT;
}

/* `echo N > delay_us` opens with O_TRUNC; the disk image never changes size. */
static int dfs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	(void)fi;
	if (strcmp(path, DELAY_PATH) == 0)
		return 0;
	if (strcmp(path, DISK_PATH) == 0) {
		struct stat bst;
		if (fstat(backing_fd, &bst) == -1)
			return -errno;
		return size == bst.st_size ? 0 : -EPERM;
	}
	return -ENOENT;
}

static int dfs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)fi;
	if (strcmp(path, DISK_PATH) != 0)
		return 0;
	if ((datasync ? fdatasync(backing_fd) : fsync(backing_fd)) == -1)
		return -errno;
	return 0;
}

static int dfs_flush(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	return 0;
}

static int dfs_utimens(const char *path, const struct timespec tv[2],
		       struct fuse_file_info *fi)
{
	(void)tv;
	(void)fi;
	if (strcmp(path, DISK_PATH) == 0 || strcmp(path, DELAY_PATH) == 0)
		return 0;
	return -ENOENT;
}

static const struct fuse_operations dfs_ops = {
	.init = dfs_init,
	.getattr = dfs_getattr,
	.readdir = dfs_readdir,
	.open = dfs_open,
	.read = dfs_read,
	.write = dfs_write,
	.truncate = dfs_truncate,
	.fsync = dfs_fsync,
	.flush = dfs_flush,
	.utimens = dfs_utimens,
};

int main(int argc, char *argv[])
{
	if (argc < 3) {
		fprintf(stderr,
			"usage: %s BACKING_FILE MOUNTPOINT [fuse options, e.g. -f]\n",
			argv[0]);
		return 2;
	}
	backing_fd = open(argv[1], O_RDWR | O_CLOEXEC);
	if (backing_fd == -1) {
		fprintf(stderr, "delayfs: cannot open backing file %s: %s\n",
			argv[1], strerror(errno));
		return 1;
	}
	const char *env = getenv("DELAYFS_DELAY_US");
	if (env != NULL)
		atomic_store(&delay_us, strtoull(env, NULL, 10));

	/* argv for fuse_main: prog, defaults, MOUNTPOINT, user options.
	 * Later -o options override earlier ones, so the user can override
	 * the defaults.  max_threads (libfuse >= 3.12) must exceed the
	 * queue depth we want in flight: each sleeping request holds a
	 * worker thread. */
	static char *defaults[] = {
		"-o", "fsname=delayfs,subtype=delayfs",
		"-o", "max_threads=256",
		"-o", "max_idle_threads=256",
	};
	int ndef = (int)(sizeof(defaults) / sizeof(defaults[0]));
	int nargc = 0;
	char **nargv = calloc((size_t)(argc + ndef + 1), sizeof(char *));
	if (nargv == NULL)
		return 1;
	nargv[nargc++] = argv[0];
	for (int i = 0; i < ndef; i++)
		nargv[nargc++] = defaults[i];
	for (int i = 2; i < argc; i++)
		nargv[nargc++] = argv[i];
	nargv[nargc] = NULL;

	int rc = fuse_main(nargc, nargv, &dfs_ops, NULL);
	close(backing_fd);
	free(nargv);
	return rc;
}
