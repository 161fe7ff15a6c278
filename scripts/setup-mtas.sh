#!/usr/bin/env bash
# Installs what the real-MTA targets need (root): Postfix, libfiu, OpenSMTPD 6.8, Exim and Sendmail
# extracted into private prefixes (their packages conflict with postfix), OpenSMTPD's users,
# Haraka from npm into a private prefix, and builds the
# seccomp supervisor and the recording file system (FUSE). Idempotent.
# No MTA service is left running: smtpchaos starts its own isolated instances.
set -euo pipefail

PREFIX=${SMTPCHAOS_OPENSMTPD_PREFIX:-/opt/smtpchaos/opensmtpd}

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-mtas: must run as root (it installs Debian packages and creates system users)" >&2
  exit 2
fi

export DEBIAN_FRONTEND=noninteractive
pkgs=(postfix fiu-utils libfiu0 libevent-2.1-7 libdb5.3 libpam0g iproute2 procps util-linux strace openssl gcc libc6-dev python3 fuse3 libfuse3-dev pkg-config)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ] || [ ! -x "$PREFIX/usr/sbin/smtpd" ]; then
  apt-get update -qq
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup-mtas: installing ${missing[*]}"
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  # Keep package scripts from starting the system's own MTA.
  policy=/usr/sbin/policy-rc.d
  had_policy=0; [ -e "$policy" ] && had_policy=1
  if [ "$had_policy" = 0 ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ "$had_policy" = 0 ]; then rm -f "$policy"; fi
fi

if [ ! -x "$PREFIX/usr/sbin/smtpd" ]; then
  echo "setup-mtas: extracting opensmtpd into $PREFIX"
  work=$(mktemp -d)
  chmod 0777 "$work" # apt-get download writes as the _apt user
  (cd "$work" && apt-get download -qq opensmtpd)
  mkdir -p "$PREFIX"
  dpkg-deb -x "$work"/opensmtpd_*.deb "$PREFIX"
  rm -rf "$work"
fi
# smtpd re-executes its helpers from this compiled-in path.
if [ "$(readlink /usr/libexec/opensmtpd 2>/dev/null)" != "$PREFIX/usr/libexec/opensmtpd" ]; then
  mkdir -p /usr/libexec
  rm -rf /usr/libexec/opensmtpd
  ln -s "$PREFIX/usr/libexec/opensmtpd" /usr/libexec/opensmtpd
fi
for u in opensmtpd opensmtpq; do
  id -u "$u" >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u"
done
# dpkg-deb -x keeps the archive's numeric owners; smtpctl must be setgid to the local opensmtpq.
chgrp opensmtpq "$PREFIX/usr/sbin/smtpctl"
chmod 2555 "$PREFIX/usr/sbin/smtpctl"
# Mount points of each instance's private spool and chroot (bind-mounted in its own namespace).
mkdir -p /var/spool/smtpd /var/lib/opensmtpd/empty
# A local user that receives the test mail of the real MTAs.
id -u smtpchaos >/dev/null 2>&1 || useradd --create-home --shell /usr/sbin/nologin smtpchaos

# An MTA whose package conflicts with postfix (both provide mail-transport-agent), extracted
# privately into PREFIX: its libraries are installed (they do not conflict), its .debs unpacked.
# Nothing is done that is done already.
extract_private() {
  local name=$1 prefix=$2 binary=$3 p deb work
  local -a libs debs missing=()
  read -r -a libs <<<"$4"
  read -r -a debs <<<"$5"
  for p in "${libs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ] || [ ! -x "$prefix/$binary" ]; then apt-get update -qq; fi
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup-mtas: installing ${missing[*]} (for $name)"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if [ ! -x "$prefix/$binary" ]; then
    echo "setup-mtas: extracting ${debs[*]} into $prefix"
    work=$(mktemp -d)
    chmod 0777 "$work"
    (cd "$work" && apt-get download -qq "${debs[@]}")
    mkdir -p "$prefix"
    for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$prefix"; done
    rm -rf "$work"
  fi
}

# Exim 4.96 (exim4-daemon-light) extracted privately like OpenSMTPD: its package conflicts with
# postfix (both provide mail-transport-agent), and installing it would remove Postfix. Its
# libraries install without conflict; its compiled-in user is Debian-exim. No exim4 service is
# installed, so none can start or take port 25.
EXIM_PREFIX=${SMTPCHAOS_EXIM_PREFIX:-/opt/smtpchaos/exim}
extract_private exim "$EXIM_PREFIX" usr/sbin/exim4 \
  "libgnutls30 libgnutls-dane0 libidn12 libidn2-0 libpcre2-8-0 libdb5.3 libnsl2 libcrypt1" \
  "exim4-daemon-light exim4-base"
# Not setuid: the target runs it as Debian-exim throughout (-C drops root), and a setuid binary
# re-executed by Exim (deliveries, queue runners) would run in glibc's secure mode, which ignores
# LD_PRELOAD: libfiu would not reach those processes.
chmod u-s "$EXIM_PREFIX/usr/sbin/exim4"
id -u Debian-exim >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group Debian-exim

# Sendmail 8.17 (sendmail-bin, sendmail-base, sendmail-cf) extracted privately the same way: its
# package conflicts with postfix too. The target file (targets/files/sendmail.target.yaml) builds
# each instance's sendmail.cf from a .mc with m4 and the extracted cf/ tree; the other libraries
# install without conflict. No sendmail service is installed, so none can start or take port 25.
SENDMAIL_PREFIX=${SMTPCHAOS_SENDMAIL_PREFIX:-/opt/smtpchaos/sendmail}
extract_private sendmail "$SENDMAIL_PREFIX" usr/libexec/sendmail/sendmail \
  "m4 libdb5.3 libldap-2.5-0 liblockfile1 libnsl2 libsasl2-2 libssl3 libwrap0" \
  "sendmail-bin sendmail-base sendmail-cf"
# Not setgid (the package makes it setgid mail for local submissions): the target runs it as root,
# and a setgid binary runs in glibc's secure mode, which ignores LD_PRELOAD (libfiu, the shim).
chmod g-s "$SENDMAIL_PREFIX/usr/libexec/sendmail/sendmail"

# Haraka (a Node.js SMTP server, here a filtering relay: targets/files/haraka.target.yaml), from
# npm into a private prefix, pinned by scripts/haraka/package-lock.json. Install scripts are not
# run (its one native module, modern-syslog, is not needed: the target logs to stdout).
HARAKA_PREFIX=${SMTPCHAOS_HARAKA_PREFIX:-/opt/smtpchaos/haraka}
# shellcheck source=SCRIPTDIR/lib/npm-prefix.sh
. "$(dirname "$0")/lib/npm-prefix.sh"
npm_prefix_install "setup-mtas: installing Haraka" "$(dirname "$0")/haraka" "$HARAKA_PREFIX" node_modules/.bin/haraka

# The seccomp supervisor (monkey sys.<role>.<call> points): the launcher real MTAs start under,
# rebuilt when its sources are newer than the binary, installed by rename.
SHIM_DIR="$(cd "$(dirname "$0")/.." && pwd)/targets/shim"
SECCOMP_BIN=${SMTPCHAOS_SECCOMP:-/opt/smtpchaos/lib/smtpchaos-seccomp}
if [ ! -f "$SECCOMP_BIN" ] || [ "$SHIM_DIR/seccomp-supervisor.c" -nt "$SECCOMP_BIN" ] || [ "$SHIM_DIR/control.h" -nt "$SECCOMP_BIN" ]; then
  echo "setup-mtas: building the seccomp supervisor into $SECCOMP_BIN"
  mkdir -p "$(dirname "$SECCOMP_BIN")"
  gcc -O2 -Wall -o "$SECCOMP_BIN.tmp" "$SHIM_DIR/seccomp-supervisor.c" -lm
  chmod 0755 "$SECCOMP_BIN.tmp"
  mv -f "$SECCOMP_BIN.tmp" "$SECCOMP_BIN"
fi

# The recording file system (crash-consistency recordings of an MTA's queue and Maildirs), the
# same way: rebuilt when its source is newer, installed by rename.
RECFS_BIN=${SMTPCHAOS_RECFS:-/opt/smtpchaos/lib/smtpchaos-recfs}
if [ ! -f "$RECFS_BIN" ] || [ "$SHIM_DIR/recfs.c" -nt "$RECFS_BIN" ]; then
  echo "setup-mtas: building the recording file system into $RECFS_BIN"
  mkdir -p "$(dirname "$RECFS_BIN")"
  # shellcheck disable=SC2046 # pkg-config prints several words
  gcc -O2 -Wall -Wextra $(pkg-config --cflags fuse3) -o "$RECFS_BIN.tmp" "$SHIM_DIR/recfs.c" $(pkg-config --libs fuse3)
  chmod 0755 "$RECFS_BIN.tmp"
  mv -f "$RECFS_BIN.tmp" "$RECFS_BIN"
fi

# Never leave a system MTA running (ours are private instances on other ports).
if command -v postfix >/dev/null && postfix status >/dev/null 2>&1; then postfix stop >/dev/null 2>&1 || true; fi

echo "setup-mtas: ok (postfix $(postconf -d -h mail_version 2>/dev/null), exim $("$EXIM_PREFIX/usr/sbin/exim4" -bV 2>/dev/null | sed -n 's/^Exim version \([0-9.]*\).*/\1/p'), sendmail $("$SENDMAIL_PREFIX/usr/libexec/sendmail/sendmail" -d0.1 -bt </dev/null 2>/dev/null | sed -n 's/^Version \([0-9.]*\).*/\1/p'), opensmtpd $("$PREFIX/usr/sbin/smtpd" -h 2>&1 | grep -o 'OpenSMTPD [0-9.p]*' | head -1 || true), libfiu $(dpkg-query -W -f='${Version}' fiu-utils))"
