/* N write(2)s of 64 bytes to a pipe a child drains; prints the mean ns per write.
 * usage: seccomp-write N */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 200000;
  int p[2];
  if (pipe(p) != 0) return 2;
  pid_t child = fork();
  if (child == 0) {
    close(p[1]);
    char buf[65536];
    while (read(p[0], buf, sizeof buf) > 0) {}
    _exit(0);
  }
  close(p[0]);
  char line[64] = "smtpchaos seccomp bench: one write of 64 bytes to a pipe......\n";
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++)
    if (write(p[1], line, sizeof line) != (ssize_t)sizeof line) return 3;
  clock_gettime(CLOCK_MONOTONIC, &b);
  close(p[1]);
  waitpid(child, NULL, 0);
  double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
  printf("%.1f\n", ns / (double)n);
  return 0;
}
