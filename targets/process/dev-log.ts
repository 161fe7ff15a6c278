// A /dev/log of the MTA's own, inside its private mount namespace, without touching the host's
// /dev: the namespace's /dev becomes an overlay whose lower layer is the host's /dev (every
// device node stays as it is, and is the same device), its host submounts (/dev/pts, /dev/shm,
// /dev/mqueue...) are bound back on top, and /dev/log is a symbolic link in the overlay's upper
// layer to the toolkit's syslog socket (targets/process/syslog-socket.ts). The upper layer lives
// on a tmpfs mounted in the namespace only: it vanishes with the MTA's last process.
//
// A bind mount onto /dev/log alone would need /dev/log to exist on the host (here it does not,
// and creating it would change the host); a tmpfs /dev would need every device node recreated.

/** One shell word. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Shell commands (joined by &&) that, run as root inside a fresh private mount namespace, give it
 * a /dev/log pointing at `socket`. `scratch` is an empty directory the namespace may mount over.
 */
export function devLogCommands(socket: string, scratch: string): string {
  const t = shQuote(scratch);
  return [
    `mount -t tmpfs -o mode=0755 smtpchaos-dev ${t}`,
    `mkdir ${t}/host ${t}/upper ${t}/work`,
    // the host's first-level submounts of /dev, read before anything is mounted over it; an
    // existing /dev/log that is itself a mount (some containers bind it) is replaced, not restored
    `subs=$(awk '$5 ~ "^/dev/[^/]+$" && $5 != "/dev/log" && !seen[$5]++ { print $5 }' /proc/self/mountinfo)`,
    `mount --rbind /dev ${t}/host`,
    `mount -t overlay smtpchaos-dev -o lowerdir=${t}/host,upperdir=${t}/upper,workdir=${t}/work /dev`,
    `for m in $subs; do mount --rbind ${t}/host/"\${m#/dev/}" "$m" || exit 1; done`,
    `rm -f /dev/log`,
    `ln -s ${shQuote(socket)} /dev/log`,
  ].join(" && ");
}
