/*
 * smtpchaos syscall shim: delays or fails chosen system calls of one process role of a real MTA,
 * decided by the monkey's counter-based streams (monkey/rng.ts), so a run replays from its seed.
 *
 * Preloaded (LD_PRELOAD) into every process of the MTA. The monkey steers it through one shared
 * control file (SMTPCHAOS_SYS_CTL), mapped once at load: it survives chroot, privilege drops and
 * closefrom(), and an idle shim costs one load and one branch per wrapped call. The layout is
 * targets/process/syscall-shim.ts; the two must change together (VERSION).
 *
 * A process's role: the toolkit's own child (its parent is SMTPCHAOS_SYS_PARENT, through the
 * execs of the start command) is the control file's master role; any other is the first role
 * whose POSIX extended regex matches its command line at exec (argv joined by spaces), else
 * none. A fork keeps its parent's role unless another matches (Exim's per-connection children),
 * but a fork of the master is not the master. The first process of a role to make an eligible
 * call decides with the stream named after the point, the k-th with "<point>#k", so a role that
 * is one process (OpenSMTPD's) makes exactly the injector's decisions.
 *
 * write (write, writev, send, sendto, sendmsg) and read (read, readv, recv, recvfrom, recvmsg)
 * count only on pipes, FIFOs and unix sockets: the MTA's own channels (OpenSMTPD's imsg goes
 * through sendmsg/recvmsg, Postfix's through write/read), never its SMTP clients' TCP connections
 * or its files. Calls libc makes internally (stdio's own writes) are not seen, nor calls of any
 * thread but the main one (MTAs are single-threaded; libfiu's remote control is a thread).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x59534353u /* "SCSY" */
#define VERSION 1u
#define MAX_ROLES 32
#define MAX_RULES 64
#define ROLE_NAME 32
#define ROLE_PATTERN 256
#define POINT_NAME 80
#define EVENTS 16384
#define OFF_ROLES 512
#define OFF_RULES 12288
#define OFF_EVENTS 24576
#define CTL_SIZE (OFF_EVENTS + EVENTS * 32)

enum call { C_WRITE, C_READ, C_FSYNC, C_RENAME, C_OPEN, C_CONNECT, C_COUNT };
enum sched { S_ALWAYS, S_PROBABILITY, S_EVERY, S_ONCE };
enum action { A_ERROR, A_DELAY };
enum dist { D_NONE, D_FIXED, D_UNIFORM, D_EXP, D_LOGNORMAL };

struct header {
  uint32_t magic, version, gen, seed, nroles, nrules, master_role, event_head;
  uint32_t attached[MAX_ROLES]; /* processes that started in the role */
  uint32_t ordinals[MAX_ROLES]; /* of them, those that made an eligible call */
};
struct role {
  char name[ROLE_NAME];
  char pattern[ROLE_PATTERN];
};
struct rule {
  uint32_t role, call, sched, n, at;
  int32_t err;
  double p;
  uint32_t nact, act0;
  double w0;
  uint32_t act1, pad0;
  double w1;
  uint32_t dist, has_max;
  double a, b, max;
  uint32_t limit, fired, eligible, pad1;
  char point[POINT_NAME];
};
struct event {
  uint64_t time_us;
  uint32_t rule, ordinal, call, pid, action, value;
};
_Static_assert(sizeof(struct header) <= OFF_ROLES, "header");
_Static_assert(OFF_ROLES + MAX_ROLES * sizeof(struct role) <= OFF_RULES, "roles");
_Static_assert(sizeof(struct rule) == 192, "rule");
_Static_assert(OFF_RULES + MAX_RULES * sizeof(struct rule) <= OFF_EVENTS, "rules");
_Static_assert(sizeof(struct event) == 32, "event");

/* what one process holds: its role, and the rules of its role as of generation `gen` */
struct local_rule {
  uint32_t index;
  struct rule r;
  uint32_t key, key2;
  uint64_t calls;
};
static unsigned char *ctl;
static int my_role = -1;
#define NO_ORDINAL 0xffffffffu
static uint32_t my_ordinal = NO_ORDINAL;
static uint32_t seen_gen = 1; /* odd: never a settled generation, so the first call loads */
static uint32_t call_mask;
static struct local_rule rules[MAX_RULES];
static uint32_t nlocal;
static char cmdline[1024];
static regex_t patterns[MAX_ROLES];
static int compiled[MAX_ROLES]; /* 0: not yet, 1: compiled, -1: none or invalid */
/* a try-lock: a signal handler's write (Postfix's self-pipe) must never wait for the main flow */
static int loading;
static int try_lock(void) { return !__atomic_exchange_n(&loading, 1, __ATOMIC_ACQUIRE); }
static void unlock(void) { __atomic_store_n(&loading, 0, __ATOMIC_RELEASE); }

#define HDR ((struct header *)ctl)
#define ROLE(i) ((struct role *)(ctl + OFF_ROLES) + (i))
#define RULE(i) ((struct rule *)(ctl + OFF_RULES) + (i))
#define EVENT(i) ((struct event *)(ctl + OFF_EVENTS) + (i))

/* monkey/rng.ts, in uint32 arithmetic (JS's >>> and Math.imul are exactly that) */
static uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}
static uint32_t combine(uint32_t h, uint32_t v) {
  h ^= fmix32(v + 0x9e3779b9u + (h << 6) + (h >> 2));
  return fmix32(h);
}
static uint32_t hash_string(const char *s, uint32_t seed) {
  uint32_t h = fmix32(seed ^ 0x5bd1e995u);
  size_t n = strlen(s);
  for (size_t i = 0; i < n; i++) h = combine(h, (unsigned char)s[i]);
  return combine(h, (uint32_t)n);
}
static double uniform(const struct local_rule *l, uint64_t index, uint32_t lane) {
  uint32_t lo = (uint32_t)index, hi = (uint32_t)(index >> 32);
  uint32_t a = combine(combine(combine(l->key, lo), hi), lane);
  uint32_t b = combine(combine(combine(l->key2, lane), lo), hi);
  return ((double)(a >> 5) * 67108864.0 + (double)(b >> 6)) / 9007199254740992.0;
}
static double normal(const struct local_rule *l, uint64_t index, uint32_t lane) {
  double u1 = 1 - uniform(l, index, lane * 2 + 100), u2 = uniform(l, index, lane * 2 + 101);
  return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}
enum { LANE_FIRE = 0, LANE_ACTION = 1, LANE_LATENCY = 2 };

static double clampd(double v, const struct rule *r) {
  if (r->has_max && v > r->max) v = r->max;
  return v < 0 ? 0 : v;
}
static double latency_ms(const struct local_rule *l, uint64_t call) {
  const struct rule *r = &l->r;
  switch (r->dist) {
  case D_FIXED: return r->a;
  case D_UNIFORM: return r->a + uniform(l, call, LANE_LATENCY) * (r->b - r->a);
  case D_EXP: return clampd(-r->a * log(1 - uniform(l, call, LANE_LATENCY)), r);
  case D_LOGNORMAL: return clampd(exp(r->a + r->b * normal(l, call, LANE_LATENCY)), r);
  default: return 0;
  }
}
static int fires(const struct local_rule *l, uint64_t call) {
  const struct rule *r = &l->r;
  switch (r->sched) {
  case S_ALWAYS: return 1;
  case S_ONCE: return call == r->at;
  case S_EVERY: return call >= r->at && (call - r->at) % r->n == 0;
  case S_PROBABILITY: return uniform(l, call, LANE_FIRE) < r->p;
  default: return 0;
  }
}

static void stream_keys(struct local_rule *l, uint32_t seed) {
  char name[POINT_NAME + 16];
  if (my_ordinal == 0) snprintf(name, sizeof name, "%s", l->r.point);
  else snprintf(name, sizeof name, "%s#%u", l->r.point, my_ordinal);
  l->key = hash_string(name, seed);
  l->key2 = hash_string(name, seed ^ 0x6a09e667u);
}

/* Copies this role's rules of a settled generation (seqlock); counters restart with a new plan. */
static void load_rules(uint32_t gen) {
  if (!try_lock()) return;
  if (seen_gen != gen) {
    struct rule copy[MAX_RULES];
    uint32_t n = __atomic_load_n(&HDR->nrules, __ATOMIC_ACQUIRE);
    uint32_t seed = HDR->seed;
    if (n > MAX_RULES) n = MAX_RULES;
    memcpy(copy, RULE(0), n * sizeof(struct rule));
    if (__atomic_load_n(&HDR->gen, __ATOMIC_ACQUIRE) == gen) {
      uint32_t mask = 0, k = 0;
      for (uint32_t i = 0; i < n; i++) {
        if ((int)copy[i].role != my_role || copy[i].call >= C_COUNT) continue;
        rules[k].index = i;
        rules[k].r = copy[i];
        rules[k].r.point[POINT_NAME - 1] = 0;
        rules[k].calls = 0;
        if (my_ordinal != NO_ORDINAL) stream_keys(&rules[k], seed);
        mask |= 1u << copy[i].call;
        k++;
      }
      nlocal = k;
      __atomic_store_n(&call_mask, mask, __ATOMIC_RELEASE);
      __atomic_store_n(&seen_gen, gen, __ATOMIC_RELEASE);
    }
  }
  unlock();
}

/*
 * The k-th process of a role to make an eligible call decides with stream "<point>#k" (the first
 * with "<point>"): wrapper scripts and short-lived forks that never do take no number.
 */
static void take_ordinal(void) {
  if (!try_lock()) return;
  if (my_ordinal == NO_ORDINAL) {
    uint32_t ord = __atomic_fetch_add(&HDR->ordinals[my_role], 1, __ATOMIC_ACQ_REL);
    my_ordinal = ord;
    for (uint32_t i = 0; i < nlocal; i++) stream_keys(&rules[i], HDR->seed);
  }
  unlock();
}

static int is_channel(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return 0;
  if (S_ISFIFO(st.st_mode)) return 1;
  if (!S_ISSOCK(st.st_mode)) return 0;
  struct sockaddr_storage sa;
  socklen_t len = sizeof sa;
  return getsockname(fd, (struct sockaddr *)&sa, &len) == 0 && sa.ss_family == AF_UNIX;
}

static void record(const struct local_rule *l, uint64_t call, uint32_t action, uint32_t value) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint32_t slot = __atomic_fetch_add(&HDR->event_head, 1, __ATOMIC_ACQ_REL) % EVENTS;
  struct event *e = EVENT(slot);
  e->time_us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
  e->rule = l->index;
  e->ordinal = my_ordinal;
  e->call = (uint32_t)call;
  e->pid = (uint32_t)getpid();
  e->action = action;
  __atomic_store_n(&e->value, value, __ATOMIC_RELEASE);
}

/* 0: make the call; else -1 with errno set (the call fails). May sleep first. */
static int intercept(enum call c, int fd) {
  if (ctl == NULL || my_role < 0) return 0;
  uint32_t gen = __atomic_load_n(&HDR->gen, __ATOMIC_ACQUIRE);
  if (gen & 1) return 0;
  if (gen != __atomic_load_n(&seen_gen, __ATOMIC_ACQUIRE)) load_rules(gen);
  if (!(__atomic_load_n(&call_mask, __ATOMIC_ACQUIRE) & (1u << c))) return 0;
  /* the MTA's own flow: not a helper thread (libfiu's remote control reads and writes FIFOs) */
  if (gettid() != getpid()) return 0;
  if (fd >= 0 && (c == C_WRITE || c == C_READ) && !is_channel(fd)) return 0;
  int saved = errno;
  if (my_ordinal == NO_ORDINAL) take_ordinal();
  if (my_ordinal == NO_ORDINAL) {
    errno = saved;
    return 0;
  }
  for (uint32_t i = 0; i < nlocal; i++) {
    struct local_rule *l = &rules[i];
    if (l->r.call != (uint32_t)c) continue;
    uint64_t call = __atomic_add_fetch(&l->calls, 1, __ATOMIC_RELAXED);
    struct rule *shared = RULE(l->index);
    __atomic_add_fetch(&shared->eligible, 1, __ATOMIC_RELAXED);
    if (!fires(l, call)) continue;
    if (l->r.limit != 0) {
      uint32_t f = __atomic_load_n(&shared->fired, __ATOMIC_RELAXED);
      do {
        if (f >= l->r.limit) goto next;
      } while (!__atomic_compare_exchange_n(&shared->fired, &f, f + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
    } else __atomic_add_fetch(&shared->fired, 1, __ATOMIC_RELAXED);
    {
      uint32_t action = l->r.act0;
      if (l->r.nact > 1 && uniform(l, call, LANE_ACTION) * (l->r.w0 + l->r.w1) >= l->r.w0) action = l->r.act1;
      double ms = l->r.dist == D_NONE ? 0 : latency_ms(l, call);
      uint32_t delay = (uint32_t)llround(ms);
      record(l, call, action, action == A_ERROR ? (uint32_t)l->r.err : delay);
      if (delay > 0) {
        struct timespec ts = {delay / 1000, (long)(delay % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
      }
      if (action == A_ERROR) {
        errno = l->r.err;
        return -1;
      }
    }
  next:;
  }
  errno = saved;
  return 0;
}

/* patterns are compiled on first use (a fork inherits them): most processes match an early one */
static int match_role(void) {
  uint32_t n = HDR->nroles;
  for (uint32_t i = 0; i < n && i < MAX_ROLES; i++) {
    if (i == HDR->master_role) continue;
    if (compiled[i] == 0) {
      char pat[ROLE_PATTERN];
      memcpy(pat, ROLE(i)->pattern, ROLE_PATTERN);
      pat[ROLE_PATTERN - 1] = 0;
      compiled[i] = pat[0] != 0 && regcomp(&patterns[i], pat, REG_EXTENDED | REG_NOSUB) == 0 ? 1 : -1;
    }
    if (compiled[i] == 1 && regexec(&patterns[i], cmdline, 0, NULL, 0) == 0) return (int)i;
  }
  return -1;
}

static void attach(int role) {
  my_role = role;
  my_ordinal = NO_ORDINAL;
  if (role >= 0) __atomic_fetch_add(&HDR->attached[role], 1, __ATOMIC_ACQ_REL);
  __atomic_store_n(&seen_gen, 1, __ATOMIC_RELEASE);
  __atomic_store_n(&call_mask, 0, __ATOMIC_RELEASE);
}

static void after_fork(void) {
  if (ctl == NULL) return;
  int role = match_role();
  /* the master's forks are not the master (Postfix's master forks, then execs a service) */
  if (role < 0 && (uint32_t)my_role != HDR->master_role) role = my_role;
  attach(role);
}

__attribute__((constructor)) static void shim_init(void) {
  const char *path = getenv("SMTPCHAOS_SYS_CTL");
  const char *parent = getenv("SMTPCHAOS_SYS_PARENT");
  /* the toolkit's own child, through the execs of its start command (unshare, env, wrappers) */
  int is_master = parent != NULL && atol(parent) == (long)getppid();
  if (path == NULL) return;
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return;
  void *m = mmap(NULL, CTL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED) return;
  if (((struct header *)m)->magic != MAGIC || ((struct header *)m)->version != VERSION) {
    munmap(m, CTL_SIZE);
    return;
  }
  ctl = m;
  int cfd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (cfd >= 0) {
    ssize_t n = read(cfd, cmdline, sizeof cmdline - 1);
    close(cfd);
    if (n < 0) n = 0;
    while (n > 0 && cmdline[n - 1] == 0) n--;
    for (ssize_t i = 0; i < n; i++)
      if (cmdline[i] == 0) cmdline[i] = ' ';
    cmdline[n] = 0;
  }
  attach(is_master && HDR->master_role < MAX_ROLES ? (int)HDR->master_role : match_role());
  pthread_atfork(NULL, NULL, after_fork);
}

/* the wrappers: resolve the next definition once; before that (a loader's early call) pass through */
#define REAL(name, ret, ...)                                                        \
  static ret (*real_##name)(__VA_ARGS__);                                          \
  static ret (*next_##name(void))(__VA_ARGS__) {                                   \
    if (real_##name == NULL) real_##name = (ret(*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name); \
    return real_##name;                                                            \
  }

REAL(write, ssize_t, int, const void *, size_t)
REAL(writev, ssize_t, int, const struct iovec *, int)
REAL(send, ssize_t, int, const void *, size_t, int)
REAL(sendto, ssize_t, int, const void *, size_t, int, const struct sockaddr *, socklen_t)
REAL(sendmsg, ssize_t, int, const struct msghdr *, int)
REAL(read, ssize_t, int, void *, size_t)
REAL(readv, ssize_t, int, const struct iovec *, int)
REAL(recv, ssize_t, int, void *, size_t, int)
REAL(recvfrom, ssize_t, int, void *, size_t, int, struct sockaddr *, socklen_t *)
REAL(recvmsg, ssize_t, int, struct msghdr *, int)
REAL(fsync, int, int)
REAL(fdatasync, int, int)
REAL(rename, int, const char *, const char *)
REAL(renameat, int, int, const char *, int, const char *)
REAL(open, int, const char *, int, ...)
REAL(open64, int, const char *, int, ...)
REAL(openat, int, int, const char *, int, ...)
REAL(openat64, int, int, const char *, int, ...)
REAL(connect, int, int, const struct sockaddr *, socklen_t)

ssize_t write(int fd, const void *b, size_t n) { return intercept(C_WRITE, fd) ? -1 : next_write()(fd, b, n); }
ssize_t writev(int fd, const struct iovec *v, int n) { return intercept(C_WRITE, fd) ? -1 : next_writev()(fd, v, n); }
ssize_t send(int fd, const void *b, size_t n, int f) { return intercept(C_WRITE, fd) ? -1 : next_send()(fd, b, n, f); }
ssize_t sendto(int fd, const void *b, size_t n, int f, const struct sockaddr *a, socklen_t l) { return intercept(C_WRITE, fd) ? -1 : next_sendto()(fd, b, n, f, a, l); }
ssize_t sendmsg(int fd, const struct msghdr *m, int f) { return intercept(C_WRITE, fd) ? -1 : next_sendmsg()(fd, m, f); }
ssize_t read(int fd, void *b, size_t n) { return intercept(C_READ, fd) ? -1 : next_read()(fd, b, n); }
ssize_t readv(int fd, const struct iovec *v, int n) { return intercept(C_READ, fd) ? -1 : next_readv()(fd, v, n); }
ssize_t recv(int fd, void *b, size_t n, int f) { return intercept(C_READ, fd) ? -1 : next_recv()(fd, b, n, f); }
ssize_t recvfrom(int fd, void *b, size_t n, int f, struct sockaddr *a, socklen_t *l) { return intercept(C_READ, fd) ? -1 : next_recvfrom()(fd, b, n, f, a, l); }
ssize_t recvmsg(int fd, struct msghdr *m, int f) { return intercept(C_READ, fd) ? -1 : next_recvmsg()(fd, m, f); }
int fsync(int fd) { return intercept(C_FSYNC, -1) ? -1 : next_fsync()(fd); }
int fdatasync(int fd) { return intercept(C_FSYNC, -1) ? -1 : next_fdatasync()(fd); }
int rename(const char *a, const char *b) { return intercept(C_RENAME, -1) ? -1 : next_rename()(a, b); }
int renameat(int da, const char *a, int db, const char *b) { return intercept(C_RENAME, -1) ? -1 : next_renameat()(da, a, db, b); }
int connect(int fd, const struct sockaddr *a, socklen_t l) { return intercept(C_CONNECT, -1) ? -1 : next_connect()(fd, a, l); }

/* open's mode is only there with O_CREAT or O_TMPFILE */
#define MODE_ARG(flags, mode)                         \
  mode_t mode = 0;                                    \
  if ((flags) & (O_CREAT | __O_TMPFILE)) {            \
    va_list ap;                                       \
    va_start(ap, flags);                              \
    mode = (mode_t)va_arg(ap, int);                   \
    va_end(ap);                                       \
  }
int open(const char *p, int flags, ...) {
  MODE_ARG(flags, mode)
  return intercept(C_OPEN, -1) ? -1 : next_open()(p, flags, mode);
}
int open64(const char *p, int flags, ...) {
  MODE_ARG(flags, mode)
  return intercept(C_OPEN, -1) ? -1 : next_open64()(p, flags, mode);
}
int openat(int d, const char *p, int flags, ...) {
  MODE_ARG(flags, mode)
  return intercept(C_OPEN, -1) ? -1 : next_openat()(d, p, flags, mode);
}
int openat64(int d, const char *p, int flags, ...) {
  MODE_ARG(flags, mode)
  return intercept(C_OPEN, -1) ? -1 : next_openat64()(d, p, flags, mode);
}
