# shellcheck shell=bash
# Sourced by the setup scripts: npm packages pinned by a lockfile in the repository, installed
# into a prefix of their own, outside the project's node_modules.

# Whether PREFIX holds the lockfile whose sha256 is STAMP and every FILE (relative to PREFIX) is
# executable. The stamp is written last, so an install cut short is done again.
npm_prefix_current() {
  local prefix=$1 stamp=$2 file
  shift 2
  [ "$(cat "$prefix/.installed" 2>/dev/null)" = "$stamp" ] || return 1
  for file in "$@"; do [ -x "$prefix/$file" ] || return 1; done
}

# npm_prefix_install WHAT SOURCE PREFIX [FILE...]
# Installs SOURCE/package.json and SOURCE/package-lock.json into PREFIX with npm ci, without
# install scripts, unless it is there already (npm_prefix_current). WHAT names the install in
# the line it prints.
npm_prefix_install() {
  local what=$1 source=$2 prefix=$3
  shift 3
  local stamp attempt
  stamp=$(sha256sum "$source/package-lock.json" | cut -d' ' -f1)
  npm_prefix_current "$prefix" "$stamp" "$@" && return 0
  echo "$what into $prefix (npm ci)"
  mkdir -p "$prefix"
  cp "$source/package.json" "$source/package-lock.json" "$prefix/"
  # A registry connection reset mid-download fails npm ci outright: three tries at most.
  for attempt in 1 2 3; do
    npm ci --prefix "$prefix" --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null && break
    [ "$attempt" = 3 ] && return 1
    sleep 10
  done
  echo "$stamp" > "$prefix/.installed"
}
