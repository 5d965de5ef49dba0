#!/bin/sh
# Updates the image's packages: the yum_update.yml task.
# Usage: UPDATE_REPO="id,id" yum_update.sh DIR
#   DIR/yum.repos.d/  repo files to use instead of the image's (optional)
#   DIR/rpms/         RPMs to install as a local update (optional)
#   DIR/host-packages list of 'name epoch:version-release' from the host: only
#                     packages whose version differs are updated (optional)
set -eu
dir="$1"
if command -v dnf >/dev/null 2>&1; then pm=dnf; elif command -v yum >/dev/null 2>&1; then pm=yum; else
    echo "yum_update: neither dnf nor yum is installed in the image" >&2
    exit 1
fi

opts="-y"
if [ -d "$dir/yum.repos.d" ]; then opts="$opts --setopt=reposdir=$dir/yum.repos.d"; fi
if [ -n "${UPDATE_REPO:-}" ]; then
    for repo in $(echo "$UPDATE_REPO" | tr ',' ' '); do opts="$opts --enablerepo=$repo"; done
fi

if [ -d "$dir/rpms" ]; then
    # shellcheck disable=SC2086
    $pm $opts --nogpgcheck upgrade "$dir"/rpms/*.rpm
elif [ -f "$dir/host-packages" ]; then
    packages=""
    while read -r name version; do
        installed=$(rpm -q --queryformat '%{EPOCH}:%{VERSION}-%{RELEASE}' "$name" 2>/dev/null | sed 's/^(none)/0/') || continue
        if [ "$installed" != "$version" ]; then packages="$packages $name"; fi
    done < "$dir/host-packages"
    if [ -z "$packages" ]; then
        echo "yum_update: image packages already match the host"
    else
        # shellcheck disable=SC2086
        $pm $opts --refresh upgrade $packages
    fi
else
    # shellcheck disable=SC2086
    $pm $opts --refresh upgrade
fi
$pm clean all >/dev/null 2>&1 || true
rm -rf /var/cache/dnf /var/cache/yum
