#!/bin/sh
# Updates the image's packages: the yum_update.yml task.
# Usage: UPDATE_REPO="id,id" KEEP_CACHE=1 yum_update.sh DIR
#   KEEP_CACHE non-empty: /var/cache/dnf is the operator's yum_cache, mounted for the
#                         build: downloaded packages are kept there and it is not emptied
#   DIR/yum.repos.d/  repo files to use instead of the image's (optional)
#   DIR/rpms/         RPMs to install as a local update (optional)
#   DIR/update-packages  names of the packages to update, one per line: with
#                        compare_host_packages, imageprep lists the image's packages
#                        whose version differs from the host's (optional; may be empty)
set -eu
dir="$1"
if command -v dnf >/dev/null 2>&1; then pm=dnf; elif command -v yum >/dev/null 2>&1; then pm=yum; else
    echo "yum_update: neither dnf nor yum is installed in the image" >&2
    exit 1
fi

opts="-y"
if [ -n "${KEEP_CACHE:-}" ]; then opts="$opts --setopt=keepcache=1"; fi
if [ -d "$dir/yum.repos.d" ]; then opts="$opts --setopt=reposdir=$dir/yum.repos.d"; fi
if [ -n "${UPDATE_REPO:-}" ]; then
    for repo in $(echo "$UPDATE_REPO" | tr ',' ' '); do opts="$opts --enablerepo=$repo"; done
fi

if [ -d "$dir/rpms" ]; then
    # shellcheck disable=SC2086
    $pm $opts --nogpgcheck upgrade "$dir"/rpms/*.rpm
elif [ -f "$dir/update-packages" ]; then
    packages=$(tr '\n' ' ' < "$dir/update-packages")
    if [ -z "$(echo "$packages" | tr -d ' ')" ]; then
        echo "yum_update: image packages already match the host"
    else
        # shellcheck disable=SC2086
        $pm $opts --refresh upgrade $packages
    fi
else
    # shellcheck disable=SC2086
    $pm $opts --refresh upgrade
fi
if [ -n "${KEEP_CACHE:-}" ]; then
    rm -rf /var/cache/yum
else
    $pm clean all >/dev/null 2>&1 || true
    rm -rf /var/cache/dnf /var/cache/yum
fi
