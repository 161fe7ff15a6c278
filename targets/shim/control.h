/*
 * smtpchaos sys.<role>.<call> faults: the shared control file and the decisions made from it.
 *
 * The monkey writes role patterns and rules into one mmap'd file; the seccomp supervisor
 * (seccomp-supervisor.c) reads them and reports back (processes per role, calls per rule, a ring
 * of firings and records, each with its call site). The layout is mirrored in
 * targets/process/syscall-shim.ts: the two change together (VERSION). The decisions are
 * common/rng.ts's counter-based streams, so the k-th eligible call of a point in a role's first
 * process gets the answer injector.preview gives.
 */
#ifndef SMTPCHAOS_CONTROL_H
#define SMTPCHAOS_CONTROL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define CTL_MAGIC 0x59534353u /* "SCSY" */
#define CTL_VERSION 4u
#define MAX_ROLES 32
#define MAX_RULES 64
#define ROLE_NAME 32
#define ROLE_PATTERN 256
#define POINT_NAME 72
#define EVENTS 16384
#define OFF_ROLES 512
#define OFF_RULES 12288
#define OFF_EVENTS 24576
#define CTL_SIZE (OFF_EVENTS + EVENTS * 48)
#define ROLE_ANY 0xffffffffu /* a rule's role: every role */

/* the names points use (sys.<role>.<call>), in SHIM_CALLS order */
enum call { C_WRITE, C_READ, C_FSYNC, C_RENAME, C_OPEN, C_CONNECT, C_FDATASYNC, C_UNLINK, C_MKDIR, C_FTRUNCATE, C_ACCEPT, C_SENDFILE, C_COUNT };
static const char *const CALL_NAMES[C_COUNT] = {"write", "read", "fsync", "rename", "open", "connect", "fdatasync", "unlink", "mkdir", "ftruncate", "accept", "sendfile"};
enum sched { S_ALWAYS, S_PROBABILITY, S_EVERY, S_ONCE };
enum action { A_ERROR, A_DELAY, A_RECORD /* log the call (its role and call site), let it go on */ };
enum dist { D_NONE, D_FIXED, D_UNIFORM, D_EXP, D_LOGNORMAL };

struct header {
  uint32_t magic, version, gen, seed, nroles, nrules, master_role, event_head;
  uint32_t attached[MAX_ROLES]; /* processes seen in the role */
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
  uint32_t act1;
  uint32_t stack; /* 0: any call site; else only calls whose stack hash (at `depth`) is this one are eligible */
  double w1;
  uint32_t dist, has_max;
  double a, b, max;
  uint32_t limit;
  uint32_t fired;    /* firings, all processes together */
  uint32_t eligible; /* calls that counted (the role's own channels for write/read/sendfile) */
  uint32_t seen;     /* trapped calls of the rule's call by processes of its role, eligible or not */
  uint32_t procs;    /* processes that made at least one eligible call */
  char point[POINT_NAME];
  uint32_t depth; /* the return addresses `stack` hashes: 2, 4 or 8 (SITE_DEPTHS); 0 is 8 */
};
struct event {
  uint64_t time_us;
  uint32_t rule, ordinal, call, pid, action, value;
  uint32_t role;  /* the process's (a rule for every role has none of its own) */
  uint32_t stack; /* the call site's hash over 8 return addresses, 0: not computed (no rule needed it) or unknown */
  uint32_t stack4, stack2; /* the same over the first 4 and 2: a runtime that leaves stale frames deep (an interpreter) is stable only near the top */
};
_Static_assert(sizeof(struct header) <= OFF_ROLES, "header");
_Static_assert(OFF_ROLES + MAX_ROLES * sizeof(struct role) <= OFF_RULES, "roles");
_Static_assert(sizeof(struct rule) == 192 && __builtin_offsetof(struct rule, stack) == 52, "rule");
_Static_assert(__builtin_offsetof(struct rule, limit) == 96 && __builtin_offsetof(struct rule, point) == 116, "rule offsets");
_Static_assert(OFF_RULES + MAX_RULES * sizeof(struct rule) <= OFF_EVENTS, "rules");
_Static_assert(sizeof(struct event) == 48 && __builtin_offsetof(struct event, role) == 32 && __builtin_offsetof(struct event, stack2) == 44, "event");
_Static_assert(__builtin_offsetof(struct rule, depth) == 188, "rule depth");

#define CTL_HDR(ctl) ((struct header *)(ctl))
#define CTL_ROLE(ctl, i) ((struct role *)((unsigned char *)(ctl) + OFF_ROLES) + (i))
#define CTL_RULE(ctl, i) ((struct rule *)((unsigned char *)(ctl) + OFF_RULES) + (i))
#define CTL_EVENT(ctl, i) ((struct event *)((unsigned char *)(ctl) + OFF_EVENTS) + (i))

/* one stream: "<point>" for a role's first process, "<point>#k" for its k-th */
struct stream {
  uint32_t key, key2;
};

/* common/rng.ts, in uint32 arithmetic (JS's >>> and Math.imul are exactly that) */
static inline uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}
static inline uint32_t combine(uint32_t h, uint32_t v) {
  h ^= fmix32(v + 0x9e3779b9u + (h << 6) + (h >> 2));
  return fmix32(h);
}
static inline uint32_t hash_string(const char *s, uint32_t seed) {
  uint32_t h = fmix32(seed ^ 0x5bd1e995u);
  size_t n = strlen(s);
  for (size_t i = 0; i < n; i++) h = combine(h, (unsigned char)s[i]);
  return combine(h, (uint32_t)n);
}
static inline struct stream stream_for(const char *point, uint32_t ordinal, uint32_t seed) {
  char name[POINT_NAME + 16];
  if (ordinal == 0) snprintf(name, sizeof name, "%s", point);
  else snprintf(name, sizeof name, "%s#%u", point, ordinal);
  struct stream s = {hash_string(name, seed), hash_string(name, seed ^ 0x6a09e667u)};
  return s;
}
static inline double uniform(struct stream s, uint64_t index, uint32_t lane) {
  uint32_t lo = (uint32_t)index, hi = (uint32_t)(index >> 32);
  uint32_t a = combine(combine(combine(s.key, lo), hi), lane);
  uint32_t b = combine(combine(combine(s.key2, lane), lo), hi);
  return ((double)(a >> 5) * 67108864.0 + (double)(b >> 6)) / 9007199254740992.0;
}
static inline double normal(struct stream s, uint64_t index, uint32_t lane) {
  double u1 = 1 - uniform(s, index, lane * 2 + 100), u2 = uniform(s, index, lane * 2 + 101);
  return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}
enum { LANE_FIRE = 0, LANE_ACTION = 1, LANE_LATENCY = 2 };

static inline double clamp_ms(double v, const struct rule *r) {
  if (r->has_max && v > r->max) v = r->max;
  return v < 0 ? 0 : v;
}
/* the latency of the call-th eligible call, in ms */
static inline double latency_ms(const struct rule *r, struct stream s, uint64_t call) {
  switch (r->dist) {
  case D_FIXED: return r->a;
  case D_UNIFORM: return r->a + uniform(s, call, LANE_LATENCY) * (r->b - r->a);
  case D_EXP: return clamp_ms(-r->a * log(1 - uniform(s, call, LANE_LATENCY)), r);
  case D_LOGNORMAL: return clamp_ms(exp(r->a + r->b * normal(s, call, LANE_LATENCY)), r);
  default: return 0;
  }
}
/* whether the call-th (1-based) eligible call fires, before the limit */
static inline int fires(const struct rule *r, struct stream s, uint64_t call) {
  switch (r->sched) {
  case S_ALWAYS: return 1;
  case S_ONCE: return call == r->at;
  case S_EVERY: return call >= r->at && (call - r->at) % r->n == 0;
  case S_PROBABILITY: return uniform(s, call, LANE_FIRE) < r->p;
  default: return 0;
  }
}
/* which of the rule's one or two weighted actions a firing takes */
static inline uint32_t action_of(const struct rule *r, struct stream s, uint64_t call) {
  if (r->nact > 1 && uniform(s, call, LANE_ACTION) * (r->w0 + r->w1) >= r->w0) return r->act1;
  return r->act0;
}
/* takes one firing from the rule's limit (CAS on the shared counter); 0: the limit is reached */
static inline int take_firing(struct rule *shared, uint32_t limit) {
  if (limit == 0) {
    __atomic_add_fetch(&shared->fired, 1, __ATOMIC_RELAXED);
    return 1;
  }
  uint32_t f = __atomic_load_n(&shared->fired, __ATOMIC_RELAXED);
  do {
    if (f >= limit) return 0;
  } while (!__atomic_compare_exchange_n(&shared->fired, &f, f + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
  return 1;
}

#endif
