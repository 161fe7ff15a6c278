/*
 * smtpchaos-recfs: a recording file system for crash-consistency tests of MTAs. A FUSE
 * passthrough over a backing directory that appends one binary record per successful mutating
 * operation (with the written data) to a log, in completion order, stamped with CLOCK_MONOTONIC,
 * so a later tool can rebuild the tree a power cut at any moment would leave.
 *
 *   smtpchaos-recfs --data DIR --mnt DIR --log FILE [--bind SUB:ONTO]...
 *
 * Each --bind copies ONTO's contents into DATA/SUB before mounting, then bind-mounts MNT/SUB onto
 * ONTO, so an MTA keeps its usual paths (queue, Maildirs) and every process's calls there go
 * through the recorder. Prints "ready" once everything is mounted. Exits, unmounting the binds
 * and then the FUSE mount (lazily), on SIGTERM/SIGINT/SIGHUP, on EOF of stdin (its parent keeps a
 * pipe open there: a parent killed by SIGKILL still ends the mount) or on its parent's death.
 *
 * Log record (host byte order), then path, path2 and data bytes; see struct rec. Op 0 is a header
 * (path DATA, path2 MNT). Paths are mount-relative ("/queue/incoming/AB12"); an fd operation on an
 * unlinked file has an empty path.
 *
 * Ordering: a record is appended under one mutex, stamped inside it, after the backing call
 * returned and before the reply to the caller, so log order is timestamp order and every op
 * another process could have seen completed is logged before anything it did afterwards. The
 * backing calls themselves run outside the mutex (an fsync must not stall everybody): conflicting
 * calls are serialized by the kernel before they reach us (it holds the inode lock across a
 * FUSE write, truncate or fsync and the directory locks across create, unlink and rename).
 */
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE

#include <fuse.h>
#include <fuse_lowlevel.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum {
  OP_HEADER = 0, OP_CREATE, OP_MKNOD, OP_MKDIR, OP_SYMLINK, OP_LINK, OP_UNLINK, OP_RMDIR, OP_RENAME,
  OP_WRITE, OP_TRUNCATE, OP_FALLOCATE, OP_CHMOD, OP_CHOWN, OP_UTIMENS, OP_FSYNC, OP_FSYNCDIR,
};
#define REC_MAGIC 0x52435346u /* 'RCSF' */
#define FLAG_DATASYNC 1u
/* rename flags (RENAME_NOREPLACE, RENAME_EXCHANGE) and fallocate modes go to bits 8-15 */
#define FLAGS_ARG(x) (((uint32_t)(x) & 0xffu) << 8)

struct rec {
  uint32_t magic, op;
  uint64_t mono_ns;
  uint32_t pid, flags;
  uint64_t ino, ino2;
  uint32_t mode, uid, gid, pad;
  uint64_t offset, length;
  uint32_t path_len, path2_len, data_len, pad2;
};
_Static_assert(sizeof(struct rec) == 88, "record header is 88 bytes");

struct bind { const char *sub; char *onto; int mounted; };

static const char *data_dir, *mnt_dir, *log_path;
static struct bind *binds;
static int nbinds;
static int data_fd = -1, log_fd = -1;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_ns;
static struct fuse_session *session;
static pthread_t main_thread;
static atomic_int loop_done, exit_code = -1, shutting_down;
static pthread_mutex_t bind_mu = PTHREAD_MUTEX_INITIALIZER;

static void die(const char *what) {
  fprintf(stderr, "smtpchaos-recfs: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* Asks the signal thread to end the loop (from any thread, also from a FUSE worker: it never
   blocks). The first caller's exit code wins. */
static void request_exit(int code) {
  int none = -1;
  atomic_compare_exchange_strong(&exit_code, &none, code);
  kill(getpid(), SIGUSR2);
}

/* ---- the log ---- */

/* pid: the calling thread's id as the kernel gives it (a task id, the pid of a one-thread process) */
static struct rec rec_new(uint32_t op) {
  struct rec r = {0};
  r.magic = REC_MAGIC;
  r.op = op;
  r.pid = (uint32_t)fuse_get_context()->pid;
  return r;
}

static void rec_stat(struct rec *r, const struct stat *st) {
  r->ino = st->st_ino;
  r->mode = st->st_mode;
  r->uid = st->st_uid;
  r->gid = st->st_gid;
}

static void log_rec(struct rec *r, const char *path, const char *path2, const void *data, size_t dlen) {
  if (path == NULL) path = ""; /* an fd op on an unlinked file */
  if (path2 == NULL) path2 = "";
  r->path_len = (uint32_t)strlen(path);
  r->path2_len = (uint32_t)strlen(path2);
  r->data_len = (uint32_t)dlen;
  struct iovec iov[4] = {
    {r, sizeof *r}, {(void *)path, r->path_len}, {(void *)path2, r->path2_len}, {(void *)data, dlen},
  };
  pthread_mutex_lock(&log_mu);
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
  /* strictly increasing, so a timestamp names one point of the log */
  r->mono_ns = last_ns = ns > last_ns ? ns : last_ns + 1;
  struct iovec *v = iov;
  int n = 4, failed = 0;
  while (n > 0) {
    ssize_t w = writev(log_fd, v, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      failed = errno;
      break;
    }
    while (n > 0 && (size_t)w >= v->iov_len) w -= (ssize_t)v->iov_len, v++, n--;
    if (n > 0) v->iov_base = (char *)v->iov_base + w, v->iov_len -= (size_t)w;
  }
  pthread_mutex_unlock(&log_mu);
  if (failed) {
    /* an incomplete recording is worthless: stop the file system loudly */
    fprintf(stderr, "smtpchaos-recfs: writing the log %s: %s\n", log_path, strerror(failed));
    request_exit(1);
  }
}

/* ---- helpers ---- */

static const char *rel(const char *path) { return path[1] != '\0' ? path + 1 : "."; }

static int lstat_rel(const char *path, struct stat *st) { return fstatat(data_fd, rel(path), st, AT_SYMLINK_NOFOLLOW); }

/* Objects are created by the daemon (root) and then given to the caller with fchown, rather than
   created under a per-thread setfsuid/setfsgid: the kernel already checked the caller's
   permissions (default_permissions) with its supplementary groups, which a per-thread fsuid would
   lack. A parent with the setgid bit keeps its group (the backing file system already gave it). */
static int give_to_caller(const char *path, int fd, mode_t want) {
  struct fuse_context *c = fuse_get_context();
  char parent[PATH_MAX];
  const char *slash = strrchr(path, '/');
  size_t plen = (size_t)(slash - path);
  if (plen == 0) strcpy(parent, ".");
  else if (plen >= sizeof parent) return -ENAMETOOLONG;
  else memcpy(parent, path + 1, plen - 1), parent[plen - 1] = '\0';
  struct stat pst, st;
  if (fstatat(data_fd, parent, &pst, 0) < 0) return -errno;
  gid_t gid = (pst.st_mode & S_ISGID) ? (gid_t)-1 : c->gid;
  int res = fd >= 0 ? fchown(fd, c->uid, gid) : fchownat(data_fd, rel(path), c->uid, gid, AT_SYMLINK_NOFOLLOW);
  if (res < 0) return -errno;
  /* chown drops set-id bits of executables; put back those the caller asked for */
  if ((want & (S_ISUID | S_ISGID)) != 0) {
    if ((fd >= 0 ? fstat(fd, &st) : lstat_rel(path, &st)) < 0) return -errno;
    if (!S_ISLNK(st.st_mode) && (st.st_mode & want & (S_ISUID | S_ISGID)) != (want & (S_ISUID | S_ISGID))) {
      mode_t m = (st.st_mode & 07777) | (want & (S_ISUID | S_ISGID));
      if ((fd >= 0 ? fchmod(fd, m) : fchmodat(data_fd, rel(path), m, 0)) < 0) return -errno;
    }
  }
  return 0;
}

/* logs a creation (or link) with the object's state after it */
static void log_created(uint32_t op, const char *path, const char *path2, int fd) {
  struct stat st = {0};
  if (fd >= 0) fstat(fd, &st);
  else lstat_rel(path, &st);
  struct rec r = rec_new(op);
  rec_stat(&r, &st);
  log_rec(&r, path, path2, NULL, 0);
}

/* logs an op on an object known by fd, or by path when fd < 0 */
static void log_obj(uint32_t op, const char *path, int fd, uint32_t flags, uint64_t offset, uint64_t length, int full) {
  struct stat st = {0};
  if (fd >= 0) fstat(fd, &st);
  else lstat_rel(path, &st);
  struct rec r = rec_new(op);
  if (full) rec_stat(&r, &st);
  else r.ino = st.st_ino;
  r.flags = flags;
  r.offset = offset;
  r.length = length;
  log_rec(&r, path, NULL, NULL, 0);
}

/* ---- operations ---- */

static void *rf_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
  cfg->use_ino = 1;
  cfg->hard_remove = 1;
  /* Not nullpath_ok: libfuse then names fd operations by the file's current path (it follows
     renames) and still runs them, with a NULL path, once the file is unlinked; with nullpath_ok
     every write and fsync would come without a path. */
  cfg->nullpath_ok = 0;
  /* nothing else changes DATA, but st_nlink after link/unlink must be fresh */
  cfg->entry_timeout = 0;
  cfg->attr_timeout = 0;
  cfg->negative_timeout = 0;
  cfg->kernel_cache = 0;
  /* Every write(2) must reach us as it happens; O_TRUNC must come as a truncate (a setattr); the
     kernel clears set-id bits itself (as a logged chmod). */
  conn->want &= ~(unsigned)(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_HANDLE_KILLPRIV);
  return NULL;
}

static int rf_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
  int res = fi != NULL ? fstat((int)fi->fh, st) : lstat_rel(path, st);
  return res < 0 ? -errno : 0;
}

static int rf_access(const char *path, int mask) {
  return faccessat(data_fd, rel(path), mask, 0) < 0 ? -errno : 0;
}

static int rf_readlink(const char *path, char *buf, size_t size) {
  ssize_t n = readlinkat(data_fd, rel(path), buf, size - 1);
  if (n < 0) return -errno;
  buf[n] = '\0';
  return 0;
}

static int rf_opendir(const char *path, struct fuse_file_info *fi) {
  int fd = openat(data_fd, rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  DIR *d = fdopendir(fd);
  if (d == NULL) {
    int e = errno;
    close(fd);
    return -e;
  }
  fi->fh = (uint64_t)(uintptr_t)d;
  return 0;
}

/* The whole listing in one call (offsets 0): libfuse keeps it and serves the kernel's reads. */
static int rf_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi, enum fuse_readdir_flags flags) {
  (void)path, (void)off, (void)flags;
  DIR *d = (DIR *)(uintptr_t)fi->fh;
  rewinddir(d);
  struct dirent *e;
  errno = 0;
  while ((e = readdir(d)) != NULL) {
    struct stat st = {0};
    st.st_ino = e->d_ino;
    st.st_mode = (mode_t)DTTOIF(e->d_type);
    if (fill(buf, e->d_name, &st, 0, 0)) return -ENOMEM;
  }
  return errno != 0 ? -errno : 0;
}

static int rf_releasedir(const char *path, struct fuse_file_info *fi) {
  (void)path;
  closedir((DIR *)(uintptr_t)fi->fh);
  return 0;
}

static int rf_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi) {
  int fd = dirfd((DIR *)(uintptr_t)fi->fh);
  if ((datasync ? fdatasync(fd) : fsync(fd)) < 0) return -errno;
  log_obj(OP_FSYNCDIR, path, fd, datasync ? FLAG_DATASYNC : 0, 0, 0, 0);
  return 0;
}

static int rf_mknod(const char *path, mode_t mode, dev_t rdev) {
  if (mknodat(data_fd, rel(path), mode, rdev) < 0) return -errno;
  int res = give_to_caller(path, -1, mode);
  if (res < 0) return res;
  log_created(OP_MKNOD, path, NULL, -1);
  return 0;
}

static int rf_mkdir(const char *path, mode_t mode) {
  if (mkdirat(data_fd, rel(path), mode) < 0) return -errno;
  int res = give_to_caller(path, -1, mode);
  if (res < 0) return res;
  log_created(OP_MKDIR, path, NULL, -1);
  return 0;
}

static int rf_symlink(const char *target, const char *path) {
  if (symlinkat(target, data_fd, rel(path)) < 0) return -errno;
  int res = give_to_caller(path, -1, 0);
  if (res < 0) return res;
  log_created(OP_SYMLINK, path, target, -1);
  return 0;
}

static int rf_link(const char *from, const char *to) {
  if (linkat(data_fd, rel(from), data_fd, rel(to), 0) < 0) return -errno;
  log_created(OP_LINK, from, to, -1);
  return 0;
}

static int rf_remove(const char *path, int flag, uint32_t op) {
  struct stat st;
  int known = lstat_rel(path, &st) == 0;
  if (unlinkat(data_fd, rel(path), flag) < 0) return -errno;
  struct rec r = rec_new(op);
  if (known) rec_stat(&r, &st);
  log_rec(&r, path, NULL, NULL, 0);
  return 0;
}
static int rf_unlink(const char *path) { return rf_remove(path, 0, OP_UNLINK); }
static int rf_rmdir(const char *path) { return rf_remove(path, AT_REMOVEDIR, OP_RMDIR); }

static int rf_rename(const char *from, const char *to, unsigned int flags) {
  struct stat st, st2;
  int known = lstat_rel(from, &st) == 0, replaced = lstat_rel(to, &st2) == 0;
  if (renameat2(data_fd, rel(from), data_fd, rel(to), flags) < 0) return -errno;
  struct rec r = rec_new(OP_RENAME);
  if (known) rec_stat(&r, &st);
  r.ino2 = replaced ? st2.st_ino : 0;
  r.flags = FLAGS_ARG(flags);
  log_rec(&r, from, to, NULL, 0);
  return 0;
}

static int rf_chmod(const char *path, mode_t mode, struct fuse_file_info *fi) {
  int fd = fi != NULL ? (int)fi->fh : -1;
  if ((fd >= 0 ? fchmod(fd, mode) : fchmodat(data_fd, rel(path), mode, 0)) < 0) return -errno;
  log_obj(OP_CHMOD, path, fd, 0, 0, 0, 1);
  return 0;
}

static int rf_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi) {
  int fd = fi != NULL ? (int)fi->fh : -1;
  if ((fd >= 0 ? fchown(fd, uid, gid) : fchownat(data_fd, rel(path), uid, gid, AT_SYMLINK_NOFOLLOW)) < 0) return -errno;
  log_obj(OP_CHOWN, path, fd, 0, 0, 0, 1);
  return 0;
}

static int rf_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
  /* no truncateat(2): a path truncate opens the file (the kernel only lets regular files here) */
  int fd = fi != NULL ? (int)fi->fh : openat(data_fd, rel(path), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -errno;
  int res = ftruncate(fd, size) < 0 ? -errno : 0;
  if (res == 0) log_obj(OP_TRUNCATE, path, fd, 0, (uint64_t)size, 0, 0);
  if (fi == NULL) close(fd);
  return res;
}

static int rf_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi) {
  int fd = fi != NULL ? (int)fi->fh : -1;
  if ((fd >= 0 ? futimens(fd, tv) : utimensat(data_fd, rel(path), tv, AT_SYMLINK_NOFOLLOW)) < 0) return -errno;
  log_obj(OP_UTIMENS, path, fd, 0, 0, 0, 0);
  return 0;
}

/* O_APPEND stays out of the backing descriptor: the kernel sends each write with its offset
   (the end of file it knows), and pwrite at that offset is what gets logged. */
static int open_backing(const char *path, int flags, mode_t mode) {
  return openat(data_fd, rel(path), (flags & ~O_APPEND) | O_CLOEXEC, mode);
}

static int rf_open(const char *path, struct fuse_file_info *fi) {
  int fd = open_backing(path, fi->flags, 0);
  if (fd < 0) return -errno;
  fi->fh = (uint64_t)fd;
  /* not sent while ATOMIC_O_TRUNC is off, but an open that truncates is a truncate */
  if (fi->flags & O_TRUNC) log_obj(OP_TRUNCATE, path, fd, 0, 0, 0, 0);
  return 0;
}

static int rf_create(const char *path, mode_t mode, struct fuse_file_info *fi) {
  int fd = open_backing(path, (fi->flags & ~O_TRUNC) | O_CREAT | O_EXCL, mode);
  /* the kernel thought the name was free and it was not: an open, as open(2) would do */
  if (fd < 0 && errno == EEXIST && !(fi->flags & O_EXCL)) {
    fi->flags &= ~O_CREAT;
    return rf_open(path, fi);
  }
  if (fd < 0) return -errno;
  int res = give_to_caller(path, fd, mode);
  if (res < 0) {
    close(fd);
    return res;
  }
  log_created(OP_CREATE, path, NULL, fd);
  fi->fh = (uint64_t)fd;
  return 0;
}

static int rf_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)path;
  ssize_t n = pread((int)fi->fh, buf, size, off);
  return n < 0 ? -errno : (int)n;
}

static int rf_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  ssize_t n = pwrite((int)fi->fh, buf, size, off);
  if (n < 0) return -errno;
  struct stat st = {0};
  fstat((int)fi->fh, &st);
  struct rec r = rec_new(OP_WRITE);
  r.ino = st.st_ino;
  r.offset = (uint64_t)off;
  r.length = (uint64_t)n;
  log_rec(&r, path, NULL, buf, (size_t)n);
  return (int)n;
}

static int rf_statfs(const char *path, struct statvfs *st) {
  (void)path;
  return fstatvfs(data_fd, st) < 0 ? -errno : 0;
}

/* nothing to flush: writes are not buffered here */
static int rf_flush(const char *path, struct fuse_file_info *fi) {
  (void)path, (void)fi;
  return 0;
}

static int rf_release(const char *path, struct fuse_file_info *fi) {
  (void)path;
  close((int)fi->fh);
  return 0;
}

static int rf_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
  int fd = (int)fi->fh;
  if ((datasync ? fdatasync(fd) : fsync(fd)) < 0) return -errno;
  log_obj(OP_FSYNC, path, fd, datasync ? FLAG_DATASYNC : 0, 0, 0, 0);
  return 0;
}

static int rf_fallocate(const char *path, int mode, off_t off, off_t len, struct fuse_file_info *fi) {
  int fd = (int)fi->fh;
  if (fallocate(fd, mode, off, len) < 0) return -errno;
  log_obj(OP_FALLOCATE, path, fd, FLAGS_ARG(mode), (uint64_t)off, (uint64_t)len, 0);
  return 0;
}

static off_t rf_lseek(const char *path, off_t off, int whence, struct fuse_file_info *fi) {
  (void)path;
  off_t res = lseek((int)fi->fh, off, whence);
  return res < 0 ? -errno : res;
}

/* No lock/flock: the kernel then does POSIX and flock locking locally on the FUSE inodes. */
static const struct fuse_operations rf_ops = {
  .init = rf_init, .getattr = rf_getattr, .access = rf_access, .readlink = rf_readlink,
  .opendir = rf_opendir, .readdir = rf_readdir, .releasedir = rf_releasedir, .fsyncdir = rf_fsyncdir,
  .mknod = rf_mknod, .mkdir = rf_mkdir, .symlink = rf_symlink, .link = rf_link, .unlink = rf_unlink,
  .rmdir = rf_rmdir, .rename = rf_rename, .chmod = rf_chmod, .chown = rf_chown,
  .truncate = rf_truncate, .utimens = rf_utimens, .open = rf_open, .create = rf_create,
  .read = rf_read, .write = rf_write, .statfs = rf_statfs, .flush = rf_flush, .release = rf_release,
  .fsync = rf_fsync, .fallocate = rf_fallocate, .lseek = rf_lseek,
};

/* ---- setup and lifetime ---- */

static int mkdir_p(const char *path, mode_t mode) {
  char buf[PATH_MAX];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return errno = ENAMETOOLONG, -1;
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (mkdir(buf, mode) < 0 && errno != EEXIST) return -1;
      if (c == '\0') break;
      *p = c;
    }
  }
  return 0;
}

/* DATA/SUB starts as a copy of ONTO (contents with owners and modes, and the directory's own). */
static void prepare_bind(struct bind *b) {
  char dst[PATH_MAX];
  if (snprintf(dst, sizeof dst, "%s/%s", data_dir, b->sub) >= (int)sizeof dst) errno = ENAMETOOLONG, die(b->sub);
  if (mkdir_p(b->onto, 0755) < 0) die(b->onto);
  if ((b->onto = realpath(b->onto, NULL)) == NULL) die("realpath");
  if (mkdir_p(dst, 0755) < 0) die(dst);
  char src[PATH_MAX + 2];
  snprintf(src, sizeof src, "%s/.", b->onto);
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execl("/bin/cp", "cp", "-a", "--", src, dst, (char *)NULL);
    _exit(127);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) die("waitpid");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "smtpchaos-recfs: cp -a %s %s failed (status %d)\n", src, dst, status);
    exit(1);
  }
  struct stat st;
  if (stat(b->onto, &st) < 0) die(b->onto);
  if (chown(dst, st.st_uid, st.st_gid) < 0 || chmod(dst, st.st_mode & 07777) < 0) die(dst);
}

static void unmount_binds(void) {
  pthread_mutex_lock(&bind_mu);
  shutting_down = 1;
  for (int i = nbinds - 1; i >= 0; i--) {
    if (binds[i].mounted && umount2(binds[i].onto, MNT_DETACH) < 0)
      fprintf(stderr, "smtpchaos-recfs: umount %s: %s\n", binds[i].onto, strerror(errno));
    binds[i].mounted = 0;
  }
  pthread_mutex_unlock(&bind_mu);
}

/* Runs beside the loop: looking up MNT/SUB needs the loop to answer. */
static void *setup_thread(void *arg) {
  (void)arg;
  for (int i = 0; i < nbinds; i++) {
    char src[PATH_MAX];
    snprintf(src, sizeof src, "%s/%s", mnt_dir, binds[i].sub);
    int res = mount(src, binds[i].onto, NULL, MS_BIND, NULL);
    int e = errno;
    pthread_mutex_lock(&bind_mu);
    if (res == 0 && shutting_down) umount2(binds[i].onto, MNT_DETACH);
    else if (res == 0) binds[i].mounted = 1;
    int stop = shutting_down;
    pthread_mutex_unlock(&bind_mu);
    if (stop) return NULL;
    if (res < 0) {
      fprintf(stderr, "smtpchaos-recfs: bind %s onto %s: %s\n", src, binds[i].onto, strerror(e));
      request_exit(1);
      return NULL;
    }
  }
  printf("ready\n");
  fflush(stdout);
  return NULL;
}

static void *stdin_thread(void *arg) {
  (void)arg;
  char buf[256];
  for (;;) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EINTR)) break;
  }
  request_exit(0);
  return NULL;
}

static void on_usr1(int sig) {
  (void)sig;
  fuse_session_exit(session);
}

/* Takes SIGTERM, SIGINT, SIGHUP (and SIGUSR2 from request_exit), then ends the loop: it marks the
   session exited and interrupts the main thread's wait until the loop has returned (a single
   signal could land between the loop's check and its sem_wait). */
static void *signal_thread(void *arg) {
  sigset_t *set = arg;
  int sig;
  while (sigwait(set, &sig) != 0) {}
  int none = -1;
  atomic_compare_exchange_strong(&exit_code, &none, 0);
  fuse_session_exit(session);
  while (!loop_done) {
    pthread_kill(main_thread, SIGUSR1);
    usleep(50000);
  }
  return NULL;
}

static void usage(void) {
  fprintf(stderr, "usage: smtpchaos-recfs --data DIR --mnt DIR --log FILE [--bind SUB:ONTO]...\n");
  exit(2);
}

static char *abs_dir(const char *p) {
  if (mkdir_p(p, 0755) < 0) die(p);
  char *r = realpath(p, NULL);
  if (r == NULL) die(p);
  return r;
}

int main(int argc, char **argv) {
  /* the signal thread takes these; every thread (libfuse's too) inherits the mask */
  static sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM), sigaddset(&sigs, SIGINT), sigaddset(&sigs, SIGHUP), sigaddset(&sigs, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  pid_t ppid = getppid();
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != ppid) return 1;
  signal(SIGPIPE, SIG_IGN);
  umask(0); /* the kernel already applied the caller's umask to every mode we get */

  binds = calloc((size_t)argc, sizeof *binds);
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (strcmp(argv[i - 1], "--data") == 0) data_dir = v;
    else if (strcmp(argv[i - 1], "--mnt") == 0) mnt_dir = v;
    else if (strcmp(argv[i - 1], "--log") == 0) log_path = v;
    else if (strcmp(argv[i - 1], "--bind") == 0) {
      char *s = strdup(v), *colon = strchr(s, ':');
      if (colon == NULL || colon == s || colon[1] != '/' || s[0] == '/' || strstr(s, "..") != NULL) {
        fprintf(stderr, "smtpchaos-recfs: --bind %s: want SUB:ONTO, SUB relative, ONTO absolute\n", v);
        return 2;
      }
      *colon = '\0';
      binds[nbinds].sub = s;
      binds[nbinds++].onto = colon + 1;
    } else usage();
  }
  if (data_dir == NULL || mnt_dir == NULL || log_path == NULL) usage();
  data_dir = abs_dir(data_dir);
  mnt_dir = abs_dir(mnt_dir);

  for (int i = 0; i < nbinds; i++) prepare_bind(&binds[i]);
  if ((data_fd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) die(data_dir);
  if ((log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644)) < 0) die(log_path);
  if (chdir("/") < 0) die("/"); /* never hold a directory of a mount we end */
  struct rec h = {.magic = REC_MAGIC, .op = OP_HEADER, .pid = (uint32_t)getpid()};
  log_rec(&h, data_dir, mnt_dir, NULL, 0);

  char opts[256];
  snprintf(opts, sizeof opts, "allow_other,default_permissions,fsname=smtpchaos-recfs:%d,subtype=smtpchaos-recfs", (int)getpid());
  char *fargv[] = {"smtpchaos-recfs", "-o", opts, NULL};
  struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
  struct fuse *f = fuse_new(&args, &rf_ops, sizeof rf_ops, NULL);
  if (f == NULL) {
    fprintf(stderr, "smtpchaos-recfs: fuse_new failed\n");
    return 1;
  }
  session = fuse_get_session(f);
  struct sigaction sa = {0};
  sa.sa_handler = on_usr1;
  /* no SA_RESTART: the loop's sem_wait must return EINTR (with it, the futex wait restarts) */
  sigaction(SIGUSR1, &sa, NULL);
  main_thread = pthread_self();
  if (fuse_mount(f, mnt_dir) != 0) {
    fprintf(stderr, "smtpchaos-recfs: mounting %s failed\n", mnt_dir);
    fuse_destroy(f);
    return 1;
  }

  pthread_t sig_t, in_t, setup_t;
  if (pthread_create(&sig_t, NULL, signal_thread, &sigs) != 0 || pthread_create(&in_t, NULL, stdin_thread, NULL) != 0 ||
      pthread_create(&setup_t, NULL, setup_thread, NULL) != 0) {
    fprintf(stderr, "smtpchaos-recfs: pthread_create failed\n");
    fuse_unmount(f);
    return 1;
  }
  fuse_loop_mt(f, 0);
  loop_done = 1;

  unmount_binds();
  fuse_unmount(f); /* lazy for root; closing /dev/fuse aborts whatever still waits on us */
  pthread_join(setup_t, NULL);
  fuse_destroy(f);
  return exit_code > 0 ? exit_code : 0;
}
