#!/usr/bin/env bash
# Installs what test/examples/ci.test.ts validates the CI recipes in examples/ci/ with, into a
# prefix of its own, from npm, pinned by scripts/ci-tools/package-lock.json: action-validator
# (GitHub Actions' workflow schema) and gitlab-ci-local (GitLab's CI JSON schema, bundled, so the
# check needs no GitLab). Idempotent; root only for the default prefix (SMTPCHAOS_CI_TOOLS).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=SCRIPTDIR/lib/npm-prefix.sh
. "$HERE/lib/npm-prefix.sh"

PREFIX=${SMTPCHAOS_CI_TOOLS:-/opt/smtpchaos/ci-tools}
npm_prefix_install "setup-ci-tools: installing action-validator and gitlab-ci-local" "$HERE/ci-tools" "$PREFIX" \
  node_modules/.bin/action-validator node_modules/.bin/gitlab-ci-local

version() { node -p "require('$PREFIX/node_modules/$1/package.json').version"; }
echo "setup-ci-tools: ok (action-validator $(version @action-validator/cli), gitlab-ci-local $(version gitlab-ci-local))"
