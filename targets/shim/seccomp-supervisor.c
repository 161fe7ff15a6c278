/*
 * smtpchaos-seccomp: delays or fails chosen system calls of one process role of a real MTA,
 * whatever it is written in, on every thread of every process, decided by the monkey's
 * counter-based streams (common/rng.ts, through control.h), so a run replays from its seed.
 *
 *   smtpchaos-seccomp CTLFILE CALLS -- COMMAND [ARGS...]
 *
 * A launcher: it starts a supervisor (double-forked, in its own session, so the MTA never sees an
 * unknown child), installs a seccomp filter that sends the system calls of CALLS (a comma list of
 * the names points use, sys.<role>.<call>) and execve/execveat to the supervisor as user
 * notifications, hands the filter's listener over and execs COMMAND in place: the toolkit keeps
 * supervising the same PID. The filter is inherited by every fork, thread and exec of the MTA; the
 * kernel stops each trapped call until the supervisor answers it (go on, fail with -errno, or go on
 * later: a delay). The supervisor exits when no process uses the filter any more.
 *
 * Roles, from the live process: the launcher's PID is the control file's master role; any other
 * process takes the first role whose POSIX extended regex matches its command line as it is now
 * (/proc/PID/cmdline, NULs as spaces: the process title, also after setproctitle) or else its
 * executable's path. A fork without exec that matches nothing keeps its parent's role, but a fork
 * of the master is not the master. A process without a role is looked at again at most every
 * 100 ms (titles change after start); an exec makes it look again.
 *
 * write, read and sendfile count only on the MTA's own channels (pipes, FIFOs and unix sockets,
 * never its SMTP clients' TCP connections or its files, nor libfiu's control FIFOs); any other
 * call always counts. The k-th process of a role to make an eligible call of an armed rule decides
 * with the stream "<point>#k" (the first with "<point>"), counting its eligible calls across all
 * its threads, so a role that is one process makes exactly the injector's decisions.
 *
 * Call sites: a rule may take only the calls made from one call site (its stack hash), and a record
 * rule logs each call it fires on with its site; a rule's role may be every role (ROLE_ANY). The
 * hash is computed only for a call some such rule looks at (see site_hash).
 */
#define _GNU_SOURCE
#include "control.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
#ifndef PR_SET_PTRACER
#define PR_SET_PTRACER 0x59616d61
#endif
#ifndef PR_SET_PTRACER_ANY
#define PR_SET_PTRACER_ANY ((unsigned long)-1)
#endif

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#error "smtpchaos-seccomp: x86_64 and aarch64 only"
#endif

#define PROG "smtpchaos-seccomp"
#define B(c) (1u << (c))
/* the calls that count only on the MTA's own channels, by their first argument */
#define FD_CALLS (B(C_WRITE) | B(C_READ) | B(C_SENDFILE))

/* the system calls of each call name (a call can be in two: fdatasync is also an fsync) */
struct sysent {
  int nr;
  uint32_t calls;
};
static const struct sysent SYSCALLS[] = {
    {__NR_write, B(C_WRITE)}, {__NR_writev, B(C_WRITE)}, {__NR_pwrite64, B(C_WRITE)}, {__NR_pwritev, B(C_WRITE)},
    {__NR_pwritev2, B(C_WRITE)}, {__NR_sendto, B(C_WRITE)}, {__NR_sendmsg, B(C_WRITE)}, {__NR_sendmmsg, B(C_WRITE)},
    {__NR_read, B(C_READ)}, {__NR_readv, B(C_READ)}, {__NR_pread64, B(C_READ)}, {__NR_preadv, B(C_READ)},
    {__NR_preadv2, B(C_READ)}, {__NR_recvfrom, B(C_READ)}, {__NR_recvmsg, B(C_READ)}, {__NR_recvmmsg, B(C_READ)},
    {__NR_fsync, B(C_FSYNC)}, {__NR_fdatasync, B(C_FSYNC) | B(C_FDATASYNC)}, {__NR_sync_file_range, B(C_FSYNC)},
#ifdef __NR_rename
    {__NR_rename, B(C_RENAME)},
#endif
#ifdef __NR_renameat
    {__NR_renameat, B(C_RENAME)},
#endif
    {__NR_renameat2, B(C_RENAME)},
#ifdef __NR_open
    {__NR_open, B(C_OPEN)},
#endif
#ifdef __NR_creat
    {__NR_creat, B(C_OPEN)},
#endif
    {__NR_openat, B(C_OPEN)}, {__NR_openat2, B(C_OPEN)},
    {__NR_connect, B(C_CONNECT)},
#ifdef __NR_unlink
    {__NR_unlink, B(C_UNLINK)},
#endif
    {__NR_unlinkat, B(C_UNLINK)},
#ifdef __NR_mkdir
    {__NR_mkdir, B(C_MKDIR)},
#endif
    {__NR_mkdirat, B(C_MKDIR)},
    {__NR_ftruncate, B(C_FTRUNCATE)}, {__NR_truncate, B(C_FTRUNCATE)},
#ifdef __NR_accept
    {__NR_accept, B(C_ACCEPT)},
#endif
    {__NR_accept4, B(C_ACCEPT)},
    {__NR_sendfile, B(C_SENDFILE)},
};
#define NSYSCALLS (sizeof SYSCALLS / sizeof SYSCALLS[0])
#define NR_MAX 1024

/* ---- the hand-over page: made before the fork, shared by the launcher and the supervisor ---- */
struct handover {
  uint32_t state;
  int32_t listener;   /* the launcher's descriptor of the filter's listener */
  int32_t probe;      /* a descriptor of the launcher's to try pidfd_getfd on before the filter */
  int32_t supervisor; /* the supervisor's pid */
};
enum { H_INIT, H_READY, H_LISTENER, H_ACKED, H_FAILED, H_ABORT };

static void set_state(struct handover *h, uint32_t s) {
  __atomic_store_n(&h->state, s, __ATOMIC_SEQ_CST);
  syscall(SYS_futex, &h->state, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}
/* Waits while the state is `from` and `peer` lives, up to `ms`; returns the state. */
static uint32_t wait_state(struct handover *h, uint32_t from, pid_t peer, int ms) {
  struct timespec step = {0, 50 * 1000000L};
  for (int waited = 0;; waited += 50) {
    uint32_t s = __atomic_load_n(&h->state, __ATOMIC_SEQ_CST);
    if (s != from || waited >= ms) return s;
    if (peer > 0 && kill(peer, 0) != 0 && errno == ESRCH) return __atomic_load_n(&h->state, __ATOMIC_SEQ_CST);
    syscall(SYS_futex, &h->state, FUTEX_WAIT, from, &step, NULL, 0);
  }
}

static int pidfd_open_(pid_t pid, unsigned flags) { return (int)syscall(SYS_pidfd_open, pid, flags); }
static int pidfd_getfd_(int pidfd, int fd) { return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0); }

/* =============================== the supervisor =============================== */

static unsigned char *ctl;
#define HDR CTL_HDR(ctl)
static int listener = -1;
static int debug;
static pid_t master_pid;
static uint64_t master_start;
static uint32_t trapped;          /* the call names the filter traps */
static uint32_t nr_calls[NR_MAX]; /* syscall number -> call names */
static uint8_t nr_exec[NR_MAX];

static void note(const char *fmt, ...) {
  if (!debug) return;
  va_list ap;
  va_start(ap, fmt);
  fputs(PROG " supervisor: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the rules, as of a settled generation (seqlock: the monkey rewrites them any time) ---- */
static uint32_t cur_gen = 1; /* odd: never a settled generation, so the first call loads */
static struct rule rules[MAX_RULES];
static uint32_t nrules, seed;
static uint32_t armed;                   /* call names with a rule, any role */
static uint32_t role_armed[MAX_ROLES];   /* call names with a rule, per role */
static uint32_t any_armed;               /* call names with a rule for every role */

static int applies(const struct rule *r, int32_t role) { return r->role == ROLE_ANY || (int32_t)r->role == role; }
/* whether the rule looks at the calls' sites */
static int wants_site(const struct rule *r) { return r->stack != 0 || r->act0 == A_RECORD || (r->nact > 1 && r->act1 == A_RECORD); }

static int rules_settled(void) {
  uint32_t gen = __atomic_load_n(&HDR->gen, __ATOMIC_ACQUIRE);
  if (gen & 1) return 0;
  if (gen == cur_gen) return 1;
  struct rule copy[MAX_RULES];
  uint32_t n = __atomic_load_n(&HDR->nrules, __ATOMIC_ACQUIRE);
  uint32_t s = __atomic_load_n(&HDR->seed, __ATOMIC_ACQUIRE);
  if (n > MAX_RULES) n = MAX_RULES;
  memcpy(copy, CTL_RULE(ctl, 0), n * sizeof(struct rule));
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
  if (__atomic_load_n(&HDR->gen, __ATOMIC_ACQUIRE) != gen) return 0;
  memcpy(rules, copy, n * sizeof(struct rule));
  nrules = n;
  seed = s;
  armed = any_armed = 0;
  memset(role_armed, 0, sizeof role_armed);
  for (uint32_t i = 0; i < n; i++) {
    rules[i].point[POINT_NAME - 1] = 0;
    if ((rules[i].role >= MAX_ROLES && rules[i].role != ROLE_ANY) || rules[i].call >= C_COUNT) continue;
    armed |= B(rules[i].call);
    if (rules[i].role == ROLE_ANY) any_armed |= B(rules[i].call);
    else role_armed[rules[i].role] |= B(rules[i].call);
  }
  cur_gen = gen;
  return 1;
}

/* ---- /proc ---- */
static ssize_t read_proc(char *buf, size_t size, const char *fmt, int pid) {
  char path[64];
  snprintf(path, sizeof path, fmt, pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n < 0) return -1;
  buf[n] = 0;
  return n;
}

/* /proc/ID/stat: the start time (field 22) and the parent (field 4); 0 when the task is gone */
static int task_stat(pid_t id, uint64_t *start, pid_t *ppid) {
  char buf[1024];
  if (read_proc(buf, sizeof buf, "/proc/%d/stat", id) <= 0) return 0;
  const char *p = strrchr(buf, ')'); /* the command can hold anything, ')' included */
  if (p == NULL) return 0;
  int field = 2;
  for (p++; *p; p++) {
    if (*p != ' ') continue;
    field++;
    if (field == 4 && ppid != NULL) *ppid = (pid_t)strtol(p + 1, NULL, 10);
    if (field == 22) {
      *start = strtoull(p + 1, NULL, 10);
      return 1;
    }
  }
  return 0;
}

static pid_t task_tgid(pid_t tid) {
  char buf[2048];
  if (read_proc(buf, sizeof buf, "/proc/%d/status", tid) <= 0) return -1;
  const char *p = strstr(buf, "\nTgid:");
  return p == NULL ? -1 : (pid_t)strtol(p + 6, NULL, 10);
}

/* ---- roles ---- */
static regex_t patterns[MAX_ROLES];
static int8_t compiled[MAX_ROLES]; /* 0: not yet, 1: compiled, -1: none or invalid */

static int match_text(const char *text) {
  uint32_t n = HDR->nroles;
  for (uint32_t i = 0; i < n && i < MAX_ROLES; i++) {
    if (i == HDR->master_role) continue;
    if (compiled[i] == 0) {
      char pat[ROLE_PATTERN];
      memcpy(pat, CTL_ROLE(ctl, i)->pattern, ROLE_PATTERN);
      pat[ROLE_PATTERN - 1] = 0;
      compiled[i] = pat[0] != 0 && regcomp(&patterns[i], pat, REG_EXTENDED | REG_NOSUB) == 0 ? 1 : -1;
    }
    if (compiled[i] == 1 && regexec(&patterns[i], text, 0, NULL, 0) == 0) return (int)i;
  }
  return -1;
}

/* the first role matching the live command line, else the executable's path; -1: none */
static int match_live(pid_t tgid) {
  char buf[4096];
  ssize_t n = read_proc(buf, sizeof buf, "/proc/%d/cmdline", tgid);
  if (n > 0) {
    while (n > 0 && buf[n - 1] == 0) n--;
    for (ssize_t i = 0; i < n; i++)
      if (buf[i] == 0) buf[i] = ' ';
    buf[n] = 0;
    int r = match_text(buf);
    if (r >= 0) return r;
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/exe", tgid);
  n = readlink(path, buf, sizeof buf - 1);
  if (n <= 0) return -1;
  buf[n] = 0;
  return match_text(buf);
}

/* ---- processes, by thread-group id ---- */
#define PROCS 8192
#define BUCKETS 16384
#define NO_ORDINAL 0xffffffffu
#define RECHECK_NS (100 * 1000000ull)
struct proc {
  pid_t tgid, ppid;
  int32_t next; /* hash chain: index + 1, 0 ends it */
  int32_t role;
  uint64_t start;
  uint32_t ordinal;
  uint32_t gen; /* the rules generation its counters and streams are of */
  uint8_t used, resolved, stale, execd;
  uint64_t checked_ns, seen_ns;
  uint64_t counted; /* rules it counts in `procs` for */
  uint64_t calls[MAX_RULES];
  struct stream streams[MAX_RULES];
};
static struct proc procs[PROCS];
static int32_t buckets[BUCKETS];
static int32_t free_list[PROCS];
static int nfree;

/*
 * thread id -> thread-group id. An entry holds a pidfd of its thread (Linux 6.9+): while it does
 * not poll readable the thread lives, so the id is still that thread's and its process the same
 * (no /proc read per call); without one, the thread's start time is read and compared.
 */
#define TIDS 4096
static struct {
  pid_t tid, tgid;
  uint64_t start;
  int pidfd;
} tids[TIDS];

static uint32_t bucket_of(pid_t pid) { return fmix32((uint32_t)pid) % BUCKETS; }

static struct proc *proc_find(pid_t tgid) {
  for (int32_t i = buckets[bucket_of(tgid)]; i != 0; i = procs[i - 1].next)
    if (procs[i - 1].tgid == tgid) return &procs[i - 1];
  return NULL;
}

static void proc_remove(struct proc *p) {
  int32_t idx = (int32_t)(p - procs) + 1;
  for (int32_t *link = &buckets[bucket_of(p->tgid)]; *link != 0; link = &procs[*link - 1].next) {
    if (*link == idx) {
      *link = p->next;
      break;
    }
  }
  p->used = 0;
  free_list[nfree++] = idx - 1;
}

/* the table is full: drop the processes that are gone, or else the one seen longest ago */
static void proc_evict(void) {
  struct proc *oldest = NULL;
  int dropped = 0;
  for (int i = 0; i < PROCS; i++) {
    struct proc *p = &procs[i];
    if (!p->used) continue;
    uint64_t start;
    if (!task_stat(p->tgid, &start, NULL) || start != p->start) {
      proc_remove(p);
      dropped++;
    } else if (oldest == NULL || p->seen_ns < oldest->seen_ns) oldest = p;
  }
  if (dropped == 0 && oldest != NULL) proc_remove(oldest);
}

static struct proc *proc_add(pid_t tgid, uint64_t start, pid_t ppid, uint64_t now) {
  if (nfree == 0) proc_evict();
  if (nfree == 0) return NULL;
  int32_t i = free_list[--nfree];
  struct proc *p = &procs[i];
  memset(p, 0, sizeof *p);
  p->used = 1;
  p->tgid = tgid;
  p->ppid = ppid;
  p->start = start;
  p->role = -1;
  p->ordinal = NO_ORDINAL;
  p->seen_ns = now;
  uint32_t b = bucket_of(tgid);
  p->next = buckets[b];
  buckets[b] = i + 1;
  return p;
}

static void compute_streams(struct proc *p) {
  for (uint32_t i = 0; i < nrules; i++)
    if (applies(&rules[i], p->role)) p->streams[i] = stream_for(rules[i].point, p->ordinal, seed);
}

/* counters and streams restart with each new plan (the ordinal stays) */
static void proc_sync_gen(struct proc *p) {
  if (p->gen == cur_gen) return;
  p->gen = cur_gen;
  p->counted = 0;
  memset(p->calls, 0, sizeof p->calls);
  if (p->ordinal != NO_ORDINAL) compute_streams(p);
}

/* the process takes a role (a new image, or a first role): a new member of it, no ordinal yet */
static void attach(struct proc *p, int role) {
  p->role = role;
  p->ordinal = NO_ORDINAL;
  p->gen = cur_gen ^ 1; /* never a settled generation: counters restart */
  if (role >= 0 && role < MAX_ROLES) __atomic_fetch_add(&HDR->attached[role], 1, __ATOMIC_ACQ_REL);
}

static int is_master(const struct proc *p) { return p->tgid == master_pid && p->start == master_start; }

static void resolve(struct proc *p, uint64_t now, int depth);

/* the role a fork without exec keeps: its parent's, unless that is the master's */
static int inherited(pid_t ppid, uint64_t now, int depth) {
  if (ppid <= 1 || depth > 8) return -1;
  uint64_t start;
  pid_t pppid = 0;
  if (!task_stat(ppid, &start, &pppid)) return -1;
  struct proc *q = proc_find(ppid);
  if (q != NULL && q->start != start) {
    proc_remove(q);
    q = NULL;
  }
  if (q == NULL) {
    /* a process older than the master is none of the MTA's (an orphan's reaper, say) */
    if (start < master_start) return -1;
    q = proc_add(ppid, start, pppid, now);
    if (q == NULL) return -1;
  }
  if (!q->resolved || q->stale) resolve(q, now, depth + 1);
  return q->role == (int32_t)HDR->master_role ? -1 : q->role;
}

static void resolve(struct proc *p, uint64_t now, int depth) {
  int role;
  if (is_master(p)) role = HDR->master_role < MAX_ROLES ? (int)HDR->master_role : -1;
  else {
    role = match_live(p->tgid);
    /* a fork that never exec'd (an exec would have been trapped and noted) */
    if (role < 0 && !p->resolved && !p->execd) role = inherited(p->ppid, now, depth);
  }
  int new_image = !p->resolved || p->stale;
  p->resolved = 1;
  p->stale = 0;
  p->checked_ns = now;
  if (new_image || role != p->role) attach(p, role);
}

/* The process a trapped thread belongs to (NULL: gone); resolves its role unless `exec`. */
static struct proc *process_of(pid_t tid, int exec, uint64_t now) {
  uint32_t slot = (uint32_t)tid % TIDS;
  int hit = 0;
  if (tids[slot].tid == tid && tids[slot].pidfd >= 0) {
    struct pollfd q = {tids[slot].pidfd, POLLIN, 0};
    hit = poll(&q, 1, 0) == 0;
  }
  if (!hit) {
    uint64_t tstart;
    if (!task_stat(tid, &tstart, NULL)) return NULL;
    hit = tids[slot].tid == tid && tids[slot].start == tstart;
    if (!hit) {
      pid_t tgid = task_tgid(tid);
      if (tgid <= 0) return NULL;
      if (tids[slot].pidfd >= 0) close(tids[slot].pidfd);
      tids[slot].tid = tid;
      tids[slot].tgid = tgid;
      tids[slot].start = tstart;
      tids[slot].pidfd = pidfd_open_(tid, PIDFD_THREAD);
    }
  }
  pid_t tgid = tids[slot].tgid;
  struct proc *p = proc_find(tgid);
  /* a live thread of a process already checked: the same process; else check it (pid reuse) */
  if (!hit || p == NULL) {
    uint64_t start;
    pid_t ppid = 0;
    if (!task_stat(tgid, &start, &ppid)) return NULL;
    if (p != NULL && p->start != start) {
      proc_remove(p);
      p = NULL;
    }
    if (p == NULL && (p = proc_add(tgid, start, ppid, now)) == NULL) return NULL;
  }
  p->seen_ns = now;
  if (exec) return p;
  if (!p->resolved || p->stale || (p->role < 0 && now - p->checked_ns >= RECHECK_NS)) resolve(p, now, 0);
  return p;
}

/* ---- descriptors: is this one of the MTA's own channels? ---- */
#define SOCKS 1024
static struct {
  uint64_t ino;
  int domain;
} socks[SOCKS];

/* an AF_UNIX socket's inode in the process's /proc/PID/net/unix */
static int unix_inode(pid_t tgid, uint64_t ino) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/net/unix", tgid);
  FILE *f = fopen(path, "re");
  if (f == NULL) return 0;
  char line[512];
  int found = 0;
  while (!found && fgets(line, sizeof line, f) != NULL) {
    unsigned long long node;
    if (sscanf(line, "%*s %*s %*s %*s %*s %*s %llu", &node) == 1 && node == ino) found = 1;
  }
  fclose(f);
  return found;
}

static int socket_domain(pid_t tgid, int fd, uint64_t ino) {
  uint32_t slot = (uint32_t)(ino % SOCKS);
  if (socks[slot].ino == ino && ino != 0) return socks[slot].domain;
  int domain = -1;
  int pidfd = pidfd_open_(tgid, 0);
  if (pidfd >= 0) {
    int s = pidfd_getfd_(pidfd, fd);
    if (s >= 0) {
      struct stat st;
      socklen_t len = sizeof domain;
      if (fstat(s, &st) != 0 || st.st_ino != ino || getsockopt(s, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) domain = -1;
      close(s);
    }
    close(pidfd);
  }
  if (domain < 0) domain = unix_inode(tgid, ino) ? AF_UNIX : -1;
  if (domain < 0) return -1;
  socks[slot].ino = ino;
  socks[slot].domain = domain;
  return domain;
}

static int is_channel(pid_t tid, pid_t tgid, long fd) {
  if (fd < 0 || fd > INT_MAX) return 0;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd/%ld", tid, fd);
  struct stat st;
  if (stat(path, &st) != 0) return 0;
  if (S_ISFIFO(st.st_mode)) {
    /* libfiu's remote control reads and writes its own FIFOs from a thread */
    char target[PATH_MAX];
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n > 0 && target[0] == '/') {
      target[n] = 0;
      const char *base = strrchr(target, '/') + 1;
      if (strstr(target, "/fiu/") != NULL || strncmp(base, "fiu-ctl", 7) == 0) return 0;
    }
    return 1;
  }
  return S_ISSOCK(st.st_mode) && socket_domain(tgid, (int)fd, st.st_ino) == AF_UNIX;
}

/*
 * ---- call sites ----
 * A trapped call's site: a hash of its PC and of the first return addresses atop its stack, at three
 * depths (2, 4 and 8 of them: a sweep keeps the deepest that is stable run to run), the top of its
 * stack, each as (the mapped file's path, its offset in the file), so ASLR leaves it alone.
 * Distro binaries have no frame pointers: the stack is scanned, not walked; a word counts if it
 * points into an executable file mapping just after a call instruction (a stale return address
 * left in a frame counts too: the same path leaves the same ones, except the dynamic linker's,
 * whose lazy binding runs deep at first calls in whatever order they come: those are left out,
 * unless the PC). A signal frame ends the scan: above it is whatever the signal interrupted.
 * The thread waits for our answer, so /proc/TID/syscall holds its stack pointer and the stack
 * stays as it is.
 */
#define STACK_BYTES 4096
#define SITE_DEPTH 8
#define CANDIDATES 32 /* words into code whose code around is read (one process_vm_readv) */
#define MAPS_PROCS 64 /* processes whose mappings are kept */
#define MAPS_MAX 1024 /* ranges kept per process (past it, where nothing is known is not code) */
#define MAPS_LINE 512 /* of a maps line read: the range, offset and path (a longer path is cut, the same way each time) */
#define HOLES 8
struct vma {
  uint64_t start, end, off;
  uint32_t file; /* an executable file mapping: its path's hash (never 0); 0: not code */
  uint32_t ld;   /* the dynamic linker's code */
};
static struct maps {
  pid_t tgid;
  uint64_t start, used_ns; /* the process's start time; LRU */
  uint32_t n, full, nholes;
  uint32_t loading; /* a call came from the dynamic linker: libraries are being mapped, read again */
  uint64_t holes[HOLES]; /* pages a fresh read found unmapped (stale pointers): no read again for them */
  struct vma v[MAPS_MAX];
} maps[MAPS_PROCS];

static void maps_load(struct maps *m) {
  char path[64], line[MAPS_LINE];
  snprintf(path, sizeof path, "/proc/%d/maps", m->tgid);
  m->n = m->full = 0;
  FILE *f = fopen(path, "re");
  if (f == NULL) return;
  while (fgets(line, sizeof line, f) != NULL) {
    size_t len = strlen(line);
    if (len > 0 && line[len - 1] == '\n') line[len - 1] = 0;
    else for (int c; (c = getc(f)) != EOF && c != '\n';) {} /* the rest of a long line */
    uint64_t s, e, off;
    char perms[5];
    int at = 0;
    if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %*s %*s %n", &s, &e, perms, &off, &at) != 4 || at == 0) continue;
    uint32_t file = 0, ld = 0;
    if (perms[2] == 'x' && line[at] == '/') {
      file = hash_string(line + at, 0x5173u) | 1;
      const char *base = strrchr(line + at, '/') + 1;
      ld = strncmp(base, "ld-", 3) == 0 && strstr(base, ".so") != NULL;
    }
    struct vma *last = m->n > 0 ? &m->v[m->n - 1] : NULL;
    if (file == 0 && last != NULL && last->file == 0 && last->end == s) last->end = e; /* one range of non-code */
    else if (m->n == MAPS_MAX) {
      m->full = 1;
      break;
    } else m->v[m->n++] = (struct vma){s, e, off, file, ld};
  }
  fclose(f);
}

/* the process's mappings; *fresh: read just now */
static struct maps *maps_of(const struct proc *p, uint64_t now, int *fresh) {
  struct maps *lru = &maps[0];
  for (int i = 0; i < MAPS_PROCS; i++) {
    if (maps[i].tgid == p->tgid && maps[i].start == p->start) {
      maps[i].used_ns = now;
      *fresh = maps[i].loading != 0; /* the dynamic linker was mapping libraries */
      if (*fresh) maps_load(&maps[i]);
      return &maps[i];
    }
    if (maps[i].used_ns < lru->used_ns) lru = &maps[i];
  }
  *lru = (struct maps){.tgid = p->tgid, .start = p->start, .used_ns = now};
  maps_load(lru);
  *fresh = 1;
  return lru;
}

/* an exec: the process's mappings are new */
static void maps_forget(pid_t tgid) {
  for (int i = 0; i < MAPS_PROCS; i++)
    if (maps[i].tgid == tgid) maps[i].tgid = 0, maps[i].used_ns = 0;
}

static const struct vma *vma_find(const struct maps *m, uint64_t a) {
  uint32_t lo = 0, hi = m->n;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (a < m->v[mid].start) hi = mid;
    else if (a >= m->v[mid].end) lo = mid + 1;
    else return &m->v[mid];
  }
  return NULL;
}

/* The code mapping holding a (NULL: none). Where nothing was mapped, the maps are read again
   (once per call: a library loaded since, a new thread's stack) unless a fresh read said so. */
static const struct vma *code_at(struct maps *m, uint64_t a, int *fresh) {
  if (a < 0x10000 || a >= (1ull << 48)) return NULL; /* no user address */
  const struct vma *v = vma_find(m, a);
  if (v == NULL && !m->full) {
    for (uint32_t i = 0; i < m->nholes && i < HOLES; i++)
      if (m->holes[i] == a >> 12) return NULL;
    if (!*fresh) {
      *fresh = 1;
      maps_load(m);
      v = vma_find(m, a);
    }
    if (v == NULL) m->holes[m->nholes++ % HOLES] = a >> 12;
  }
  return v != NULL && v->file != 0 ? v : NULL;
}

/* whether code is a signal frame's return: rt_sigreturn (x86_64: mov $15,%rax; syscall) */
static int is_sigreturn(const uint8_t code[8]) {
#if defined(__x86_64__)
  static const uint8_t rt[8] = {0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f};
#else
  static const uint8_t rt[8] = {0x68, 0x11, 0x80, 0xd2, 0x01, 0x00, 0x00, 0xd4}; /* mov x8, #139; svc #0 */
#endif
  return memcmp(code, rt, 8) == 0;
}

/* whether the 8 bytes before an address end with a call instruction */
static int after_call(const uint8_t b[8]) {
#if defined(__x86_64__)
  if (b[3] == 0xe8) return 1; /* call rel32 */
  for (int k = 2; k <= 7; k++) { /* call r/m64: ff /2 with its ModRM, SIB and displacement */
    const uint8_t *op = b + 8 - k;
    uint8_t modrm = op[1], mod = modrm >> 6, rm = modrm & 7;
    if (op[0] != 0xff || ((modrm >> 3) & 7) != 2) continue;
    int len = 2;
    if (mod != 3 && rm == 4) len++; /* a SIB byte */
    if (mod == 2 || (mod == 0 && (rm == 5 || (rm == 4 && k >= 3 && (op[2] & 7) == 5)))) len += 4;
    else if (mod == 1) len += 1;
    if (len == k) return 1;
  }
  return 0;
#else
  uint32_t insn;
  memcpy(&insn, b + 4, 4);
  return (insn & 0xfc000000u) == 0x94000000u   /* bl */
         || (insn & 0xfffffc1fu) == 0xd63f0000u /* blr */
         || (insn & 0xfefff800u) == 0xd63f0800u; /* blraa, blrab (and their z forms) */
#endif
}

static uint32_t site_add(uint32_t h, const struct vma *v, uint64_t a) {
  if (v == NULL) return combine(h, 0);
  uint64_t off = a - v->start + v->off;
  return combine(combine(combine(h, v->file), (uint32_t)off), (uint32_t)(off >> 32));
}

/* the call site of a waiting call at each of SITE_DEPTHS (2, 4, 8 return addresses); 0s when it cannot be known (no ptrace access, a thread gone) */
static void site_hash(const struct seccomp_notif *n, const struct proc *p, uint64_t now, uint32_t out[3]) {
  out[0] = out[1] = out[2] = 0;
  char buf[512];
  uint64_t sp, words[STACK_BYTES / 8];
  /* "nr arg0..arg5 sp pc" */
  if (read_proc(buf, sizeof buf, "/proc/%d/syscall", (int)n->pid) <= 0 ||
      sscanf(buf, "%*s %*s %*s %*s %*s %*s %*s %" SCNx64, &sp) != 1)
    return;
  struct iovec local = {words, sizeof words}, remote = {(void *)(uintptr_t)sp, sizeof words};
  ssize_t got = process_vm_readv((pid_t)n->pid, &local, 1, &remote, 1, 0); /* short at the stack's end */
  if (got <= 0) return;
  int fresh;
  struct maps *m = maps_of(p, now, &fresh);
  if (m->n == 0) return; /* no maps to read */
  uint64_t pc = n->data.instruction_pointer;
  const struct vma *at = code_at(m, pc, &fresh);
  if (at != NULL && at->ld && !fresh) { /* the cached maps may predate what it is mapping */
    maps_load(m);
    at = code_at(m, pc, &fresh);
    fresh = 1;
  }
  m->loading = at != NULL && at->ld; /* and the next call reads them again too */
  uint32_t h = site_add(fmix32(0x5173u), at, pc);
  const struct vma *in[CANDIDATES];
  struct iovec before[CANDIDATES];
  uint8_t code[CANDIDATES][16]; /* 8 bytes before the address, 8 at it */
  size_t nc = 0;
  for (size_t i = 0; i < (size_t)got / 8 && nc < CANDIDATES; i++) {
    const struct vma *v = code_at(m, words[i], &fresh);
    if (v == NULL || v->ld || words[i] - v->start < 8 || v->end - words[i] < 8) continue;
    in[nc] = v;
    before[nc++] = (struct iovec){(void *)(uintptr_t)(words[i] - 8), 16};
  }
  local = (struct iovec){code, nc * 16};
  got = nc == 0 ? 0 : process_vm_readv((pid_t)n->pid, &local, 1, before, nc, 0);
  size_t depth = 0;
  for (size_t j = 0; j < nc && (ssize_t)(j + 1) * 16 <= got && depth < SITE_DEPTH; j++) {
    if (is_sigreturn(code[j] + 8)) break;
    if (!after_call(code[j])) continue;
    h = site_add(h, in[j], (uint64_t)(uintptr_t)before[j].iov_base + 8);
    depth++;
    if (depth == 2) out[0] = h != 0 ? h : 1;
    if (depth == 4) out[1] = h != 0 ? h : 1;
  }
  /* a shallow stack: the deeper hashes are the whole of it */
  out[2] = h != 0 ? h : 1;
  if (depth < 4) out[1] = out[2];
  if (depth < 2) out[0] = out[2];
}

/* ---- answers ---- */
static void answer(uint64_t id, int err) {
  struct seccomp_notif_resp r;
  memset(&r, 0, sizeof r);
  r.id = id;
  if (err != 0) r.error = -err;
  else r.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  /* ENOENT: the task died (or a signal took it out of the call) meanwhile */
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &r) != 0 && errno != ENOENT) note("NOTIF_SEND: %s", strerror(errno));
}

/* notifications held for a delay, answered when due */
struct held {
  uint64_t due, id;
  int err;
};
static struct held *held;
static size_t nheld, capheld;

static void hold(uint64_t id, int err, uint64_t due) {
  if (nheld == capheld) {
    size_t cap = capheld == 0 ? 64 : capheld * 2;
    struct held *h = realloc(held, cap * sizeof *h);
    if (h == NULL) {
      answer(id, err); /* no memory for the delay: answer now */
      return;
    }
    held = h;
    capheld = cap;
  }
  held[nheld++] = (struct held){due, id, err};
}

/* answers what is due (everything with all = 1); returns ms until the next is due, -1: none held */
static int answer_due(uint64_t now, int all) {
  uint64_t next = UINT64_MAX;
  for (size_t i = 0; i < nheld;) {
    if (all || held[i].due <= now) {
      answer(held[i].id, held[i].err);
      held[i] = held[--nheld];
    } else {
      if (held[i].due < next) next = held[i].due;
      i++;
    }
  }
  if (next == UINT64_MAX) return -1;
  uint64_t ms = (next - now + 999999) / 1000000;
  return ms > INT_MAX ? INT_MAX : (int)ms;
}

static void record(struct proc *p, uint32_t rule, uint64_t call, uint32_t action, uint32_t value, const uint32_t stack[3]) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint32_t slot = __atomic_fetch_add(&HDR->event_head, 1, __ATOMIC_ACQ_REL) % EVENTS;
  struct event *e = CTL_EVENT(ctl, slot);
  e->time_us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
  e->rule = rule;
  e->ordinal = p->ordinal;
  e->call = (uint32_t)call;
  e->pid = (uint32_t)p->tgid;
  e->action = action;
  e->role = (uint32_t)p->role;
  e->stack = stack[2];
  e->stack4 = stack[1];
  e->stack2 = stack[0];
  __atomic_store_n(&e->value, value, __ATOMIC_RELEASE);
}

static void handle(const struct seccomp_notif *n) {
  uint32_t nr = (uint32_t)n->data.nr;
  if (n->data.arch != NATIVE_ARCH || nr >= NR_MAX) {
    answer(n->id, 0);
    return;
  }
  uint64_t now = now_ns();
  if (nr_exec[nr]) { /* the process gets a new image: look at its role again after it */
    struct proc *p = process_of((pid_t)n->pid, 1, now);
    if (p != NULL && ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &n->id) == 0) {
      p->stale = 1;
      p->execd = 1;
      maps_forget(p->tgid);
    }
    answer(n->id, 0);
    return;
  }
  uint32_t calls = nr_calls[nr] & trapped;
  if (nr == __NR_unlinkat && (n->data.args[2] & AT_REMOVEDIR)) calls &= ~B(C_UNLINK);
  /* idle: nothing armed for this call, go on at once */
  if (calls == 0 || !rules_settled() || (calls & armed) == 0) {
    answer(n->id, 0);
    return;
  }
  struct proc *p = process_of((pid_t)n->pid, 0, now);
  if (p == NULL || p->role < 0 || (calls & (role_armed[p->role] | any_armed)) == 0) {
    answer(n->id, 0);
    return;
  }
  calls &= role_armed[p->role] | any_armed;
  int channel = (calls & FD_CALLS) != 0 && is_channel((pid_t)n->pid, p->tgid, (long)n->data.args[0]);
  /* the call site, only if a rule that takes this call looks at it */
  uint32_t stack[3] = {0, 0, 0};
  for (uint32_t i = 0; i < nrules; i++) {
    const struct rule *r = &rules[i];
    if (applies(r, p->role) && r->call < C_COUNT && (calls & B(r->call)) && (channel || !(B(r->call) & FD_CALLS)) && wants_site(r)) {
      site_hash(n, p, now, stack);
      break;
    }
  }
  /* what /proc said is about this call's task only if it is still waiting for the answer */
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &n->id) != 0) return;
  if (__atomic_load_n(&HDR->gen, __ATOMIC_ACQUIRE) != cur_gen) { /* the plan changed meanwhile */
    answer(n->id, 0);
    return;
  }
  proc_sync_gen(p);
  for (uint32_t i = 0; i < nrules; i++)
    if (applies(&rules[i], p->role) && rules[i].call < C_COUNT && (calls & B(rules[i].call)))
      __atomic_add_fetch(&CTL_RULE(ctl, i)->seen, 1, __ATOMIC_RELAXED);
  uint64_t delay_ms = 0;
  int err = 0;
  for (uint32_t i = 0; i < nrules && err == 0; i++) {
    const struct rule *r = &rules[i];
    if (!applies(r, p->role) || r->call >= C_COUNT || !(calls & B(r->call))) continue;
    if ((B(r->call) & FD_CALLS) && !channel) continue;
    if (r->stack != 0 && r->stack != stack[r->depth == 2 ? 0 : r->depth == 4 ? 1 : 2]) continue; /* another call site: seen, not eligible */
    if (p->ordinal == NO_ORDINAL) {
      p->ordinal = __atomic_fetch_add(&HDR->ordinals[p->role], 1, __ATOMIC_ACQ_REL);
      compute_streams(p);
    }
    struct rule *shared = CTL_RULE(ctl, i);
    uint64_t call = ++p->calls[i];
    if (!(p->counted & (1ull << i))) {
      p->counted |= 1ull << i;
      __atomic_add_fetch(&shared->procs, 1, __ATOMIC_RELAXED);
    }
    __atomic_add_fetch(&shared->eligible, 1, __ATOMIC_RELAXED);
    if (!fires(r, p->streams[i], call) || !take_firing(shared, r->limit)) continue;
    uint32_t action = action_of(r, p->streams[i], call);
    if (action == A_RECORD) { /* logged, the call goes on as it is */
      record(p, i, call, action, 0, stack);
      continue;
    }
    uint32_t ms = r->dist == D_NONE ? 0 : (uint32_t)llround(latency_ms(r, p->streams[i], call));
    record(p, i, call, action, action == A_ERROR ? (uint32_t)r->err : ms, stack);
    delay_ms += ms;
    if (action == A_ERROR) err = r->err > 0 ? r->err : EIO;
  }
  if (delay_ms == 0) answer(n->id, err);
  else hold(n->id, err, now + delay_ms * 1000000ull);
}

static void supervise(void) {
  for (int i = 0; i < PROCS; i++) free_list[nfree++] = PROCS - 1 - i;
  for (int i = 0; i < TIDS; i++) tids[i].pidfd = -1;
  struct rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < TIDS + 256) {
    nofile.rlim_cur = nofile.rlim_max < TIDS + 256 ? nofile.rlim_max : TIDS + 256;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  /* Linux 6.6+: a trapped thread and the supervisor hand the CPU to each other directly */
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, 0) != 0) note("no synchronous wake-ups: %s", strerror(errno));
  struct seccomp_notif_sizes sizes;
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) sizes.seccomp_notif = sizeof(struct seccomp_notif);
  size_t size = sizes.seccomp_notif > sizeof(struct seccomp_notif) ? sizes.seccomp_notif : sizeof(struct seccomp_notif);
  struct seccomp_notif *n = malloc(size);
  if (n == NULL) _exit(1);
  for (;;) {
    int timeout = answer_due(now_ns(), 0);
    struct pollfd pfd = {listener, POLLIN, 0};
    int r = poll(&pfd, 1, timeout);
    if (r < 0 && errno != EINTR) {
      note("poll: %s", strerror(errno));
      break;
    }
    if (r <= 0) continue;
    if (pfd.revents & POLLIN) {
      memset(n, 0, size);
      if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, n) == 0) handle(n);
      else if (errno != ENOENT && errno != EINTR) note("NOTIF_RECV: %s", strerror(errno));
      continue;
    }
    if (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)) break; /* no process uses the filter now */
  }
  answer_due(now_ns(), 1);
  _exit(0);
}

/* The supervisor's side of the hand-over, then its loop; never returns. */
static void supervisor_main(struct handover *h, pid_t launcher, char **argv) {
  h->supervisor = getpid();
  int pidfd = pidfd_open_(launcher, 0);
  int probe = pidfd < 0 ? -1 : pidfd_getfd_(pidfd, h->probe);
  if (probe < 0) {
    fprintf(stderr, PROG ": the supervisor cannot take descriptors from the launcher (%s: %s)\n", pidfd < 0 ? "pidfd_open" : "pidfd_getfd", strerror(errno));
    set_state(h, H_FAILED);
    _exit(1);
  }
  close(probe);
  set_state(h, H_READY);
  uint32_t s = wait_state(h, H_READY, launcher, 30000);
  if (s != H_LISTENER) _exit(0); /* the launcher gave up (its message says why) */
  listener = pidfd_getfd_(pidfd, h->listener);
  if (listener < 0) {
    fprintf(stderr, PROG ": the supervisor cannot take the seccomp listener (pidfd_getfd: %s)\n", strerror(errno));
    set_state(h, H_FAILED);
    _exit(1);
  }
  close(pidfd);
  debug = getenv("SMTPCHAOS_SECCOMP_DEBUG") != NULL;
  set_state(h, H_ACKED);

  /* out of the MTA's way: no descriptor of its (its clients would wait for EOF), no directory,
     a title of its own, "smtpchaos-seccomp supervisor CTLFILE" (tools that find the MTA's
     processes by command line must not find this one) */
  if (listener < 3) {
    int moved = fcntl(listener, F_DUPFD_CLOEXEC, 3);
    close(listener);
    listener = moved;
  }
  if (listener > 3) syscall(SYS_close_range, 3, listener - 1, 0);
  syscall(SYS_close_range, listener + 1, ~0u, 0);
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    if (!debug) dup2(null, 2);
    close(null);
  }
  if (chdir("/") != 0) note("chdir: %s", strerror(errno));
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  char title[PATH_MAX + 64];
  snprintf(title, sizeof title, PROG " supervisor %s", argv[1]);
  char *end = argv[0];
  for (char **a = argv; *a != NULL; a++) end = *a + strlen(*a);
  memset(argv[0], 0, (size_t)(end - argv[0]));
  strncpy(argv[0], title, (size_t)(end - argv[0]));
  prctl(PR_SET_NAME, "smtpchaos-secc", 0, 0, 0);
  supervise();
}

/* =============================== the launcher =============================== */

static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs(PROG ": ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(127);
}

static uint32_t parse_calls(const char *list) {
  uint32_t mask = 0;
  char *copy = strdup(list), *save = NULL;
  if (copy == NULL) fail("out of memory");
  for (char *name = strtok_r(copy, ",", &save); name != NULL; name = strtok_r(NULL, ",", &save)) {
    int found = -1;
    for (int c = 0; c < C_COUNT; c++)
      if (strcmp(name, CALL_NAMES[c]) == 0) found = c;
    if (found < 0) {
      fprintf(stderr, PROG ": unknown call \"%s\" (calls:", name);
      for (int c = 0; c < C_COUNT; c++) fprintf(stderr, " %s", CALL_NAMES[c]);
      fputs(")\n", stderr);
      exit(127);
    }
    mask |= B(found);
  }
  free(copy);
  return mask;
}

/* the filter: the syscalls of the trapped calls and execve/execveat to the supervisor, all else allowed */
static int build_filter(uint32_t calls, struct sock_filter *prog, int max) {
  int nrs[NSYSCALLS + 2], n = 0;
  nrs[n++] = __NR_execve;
  nrs[n++] = __NR_execveat;
  for (size_t i = 0; i < NSYSCALLS; i++)
    if (SYSCALLS[i].calls & calls) nrs[n++] = SYSCALLS[i].nr;
  if (n + 5 > max) return -1;
  int k = 0;
  prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 0, (unsigned char)(n + 1));
  prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  for (int i = 0; i < n; i++) prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nrs[i], (unsigned char)(n - i), 0);
  prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
  return k;
}

/* installs the filter; the listener's descriptor, or -1 with errno (nothing installed) */
static int install_filter(struct sock_fprog *fprog) {
  unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
  int fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, fprog);
  if (fd < 0 && errno == EINVAL) { /* before Linux 5.19: a delayed call can be interrupted by a signal */
    flags &= ~SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, fprog);
  }
  if (fd < 0 && errno == EACCES) {
    /* without CAP_SYS_ADMIN the kernel wants no_new_privs (as root it must stay off: MTAs exec
       setgid helpers such as postdrop and smtpctl) */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
    fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, fprog);
  }
  return fd;
}

int main(int argc, char **argv) {
  if (argc < 5 || strcmp(argv[3], "--") != 0)
    fail("usage: " PROG " CTLFILE CALLS -- COMMAND [ARGS...] (CALLS: a comma list of write,read,fsync,rename,open,connect,fdatasync,unlink,mkdir,ftruncate,accept,sendfile)");
  trapped = parse_calls(argv[2]);
  for (size_t i = 0; i < NSYSCALLS; i++) {
    if (SYSCALLS[i].nr < 0 || SYSCALLS[i].nr >= NR_MAX) fail("syscall number %d out of range", SYSCALLS[i].nr);
    nr_calls[SYSCALLS[i].nr] |= SYSCALLS[i].calls;
  }
  nr_exec[__NR_execve] = nr_exec[__NR_execveat] = 1;

  int cfd = open(argv[1], O_RDWR | O_CLOEXEC);
  if (cfd < 0) fail("control file %s: %s", argv[1], strerror(errno));
  struct stat st;
  if (fstat(cfd, &st) != 0 || st.st_size < CTL_SIZE) fail("control file %s: shorter than %d bytes: not a control file", argv[1], CTL_SIZE);
  ctl = mmap(NULL, CTL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
  if (ctl == MAP_FAILED) fail("control file %s: mmap: %s", argv[1], strerror(errno));
  if (HDR->magic != CTL_MAGIC) fail("control file %s: wrong magic 0x%08x (not a control file)", argv[1], HDR->magic);
  if (HDR->version != CTL_VERSION) fail("control file %s: version %u, this supervisor reads version %u", argv[1], HDR->version, CTL_VERSION);

  uint32_t action = SECCOMP_RET_USER_NOTIF;
  if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) != 0)
    fail("seccomp user notification is not available here (%s)", strerror(errno));
  struct sock_filter prog[NSYSCALLS + 16];
  int len = build_filter(trapped, prog, (int)(sizeof prog / sizeof prog[0]));
  if (len < 0) fail("filter too long");
  struct sock_fprog fprog = {(unsigned short)len, prog};

  pid_t launcher = getpid();
  master_pid = launcher;
  if (!task_stat(launcher, &master_start, NULL)) fail("/proc/%d/stat: cannot read my own start time", launcher);
  struct handover *h = mmap(NULL, sizeof *h, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (h == MAP_FAILED) fail("mmap: %s", strerror(errno));
  h->probe = cfd;
  /* under Yama, a non-root supervisor may take descriptors from its launcher (undone before exec) */
  prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
  fflush(NULL);
  pid_t mid = fork();
  if (mid < 0) fail("fork: %s", strerror(errno));
  if (mid == 0) {
    setsid();
    pid_t sup = fork();
    if (sup == 0) supervisor_main(h, launcher, argv);
    if (sup > 0) h->supervisor = sup;
    _exit(sup < 0 ? 1 : 0);
  }
  int status;
  while (waitpid(mid, &status, 0) < 0 && errno == EINTR) {}
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail("cannot start the supervisor (fork failed)");
  uint32_t s = wait_state(h, H_INIT, h->supervisor, 10000);
  if (s == H_FAILED) exit(127); /* the supervisor said why */
  if (s != H_READY) fail("the supervisor did not start");

  int fd = install_filter(&fprog);
  if (fd < 0) {
    int e = errno;
    set_state(h, H_ABORT);
    if (e == EBUSY) fail("cannot install the seccomp filter: this process is already under a seccomp listener (EBUSY)");
    fail("cannot install the seccomp filter: %s", strerror(e));
  }
  /* From here on a trapped call of ours would wait for the supervisor: none until it acks. */
  h->listener = fd;
  set_state(h, H_LISTENER);
  s = wait_state(h, H_LISTENER, h->supervisor, 10000);
  close(fd);
  if (s != H_ACKED) {
    /* the supervisor printed why, or died; with no listener our trapped calls fail (ENOSYS) */
    if (s == H_LISTENER) fail("the supervisor did not take the seccomp listener");
    _exit(127);
  }
  prctl(PR_SET_PTRACER, 0, 0, 0, 0);
  munmap(ctl, CTL_SIZE);
  munmap(h, sizeof *h);
  close(cfd);
  execvp(argv[4], argv + 4);
  fail("%s: %s", argv[4], strerror(errno));
}
