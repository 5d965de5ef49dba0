#!/bin/sh
# Installs packages from the configured repos: the yum_install.yml task.
# Usage: yum_install.sh DIR
#   DIR/yum-packages   the packages, one per line: each is one argument of the
#                      package manager, never seen by a shell
# The repo files are the image's, or yum_repos_dir_path mounted over /etc/yum.repos.d for
# the build.
set -eu
dir="$1"
if command -v dnf >/dev/null 2>&1; then pm=dnf; elif command -v yum >/dev/null 2>&1; then pm=yum; else
    echo "yum_install: neither dnf nor yum is installed in the image" >&2
    exit 1
fi
set -- -y
set -- "$@" install
while IFS= read -r package; do
    if [ -n "$package" ]; then set -- "$@" "$package"; fi
done < "$dir/yum-packages"
"$pm" "$@"
"$pm" clean all >/dev/null 2>&1 || true
rm -rf /var/cache/dnf /var/cache/yum
