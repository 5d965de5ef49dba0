#!/bin/sh
# Updates the image's packages: the yum_update.yml task.
# Usage: yum_update.sh DIR
#   DIR/keep-cache    present: /var/cache/dnf is the operator's yum_cache, mounted for the
#                     build: downloaded packages are kept there and it is not emptied
#   DIR/update-repos  repo ids to enable (update_repo), one per line (optional)
#   DIR/yum.repos.d/  repo files to use instead of the image's (optional)
#   DIR/rpms/         RPMs to install as a local update (optional)
#   DIR/update-packages  names of the packages to update, one per line: with
#                        compare_host_packages, imageprep lists the image's packages
#                        whose version differs from the host's (optional; may be empty)
# Every value read from a file is one argument of the package manager, never seen by a shell.
set -eu
dir="$1"
if command -v dnf >/dev/null 2>&1; then pm=dnf; elif command -v yum >/dev/null 2>&1; then pm=yum; else
    echo "yum_update: neither dnf nor yum is installed in the image" >&2
    exit 1
fi

keep=
set -- -y
if [ -f "$dir/keep-cache" ]; then keep=1; set -- "$@" --setopt=keepcache=1; fi
if [ -d "$dir/yum.repos.d" ]; then set -- "$@" "--setopt=reposdir=$dir/yum.repos.d"; fi
if [ -f "$dir/update-repos" ]; then
    while IFS= read -r repo; do
        if [ -n "$repo" ]; then set -- "$@" "--enablerepo=$repo"; fi
    done < "$dir/update-repos"
fi

if [ -d "$dir/rpms" ]; then
    "$pm" "$@" --nogpgcheck upgrade "$dir"/rpms/*.rpm
elif [ -f "$dir/update-packages" ]; then
    set -- "$@" --refresh upgrade
    count=0
    while IFS= read -r package; do
        if [ -n "$package" ]; then set -- "$@" "$package"; count=$((count + 1)); fi
    done < "$dir/update-packages"
    if [ "$count" = 0 ]; then
        echo "yum_update: image packages already match the host"
    else
        "$pm" "$@"
    fi
else
    "$pm" "$@" --refresh upgrade
fi
if [ -n "$keep" ]; then
    rm -rf /var/cache/yum
else
    "$pm" clean all >/dev/null 2>&1 || true
    rm -rf /var/cache/dnf /var/cache/yum
fi
