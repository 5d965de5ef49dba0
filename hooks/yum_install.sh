#!/bin/sh
# Installs packages from the configured repos: the yum_install.yml task.
# Usage: yum_install.sh DIR PACKAGE...   (DIR/yum.repos.d/ optional)
set -eu
dir="$1"
shift
if command -v dnf >/dev/null 2>&1; then pm=dnf; elif command -v yum >/dev/null 2>&1; then pm=yum; else
    echo "yum_install: neither dnf nor yum is installed in the image" >&2
    exit 1
fi
opts="-y"
if [ -d "$dir/yum.repos.d" ]; then opts="$opts --setopt=reposdir=$dir/yum.repos.d"; fi
# shellcheck disable=SC2086
$pm $opts install "$@"
$pm clean all >/dev/null 2>&1 || true
rm -rf /var/cache/dnf /var/cache/yum
