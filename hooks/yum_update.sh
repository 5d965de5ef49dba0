#!/bin/sh
# Updates the image's packages: the yum_update.yml task, as tripleo-modify-image runs it.
# Usage: yum_update.sh DIR
#   DIR/update-repos  repo ids (update_repo), one per line (optional): only the installed
#                     packages these repos provide at another version are updated (the
#                     role's repoquery against rpm -qa); without it, every package from
#                     every enabled repo
#   DIR/host-match    present: compare_host_packages found no package of the image whose
#                     version differs from the host's, so nothing is updated
#   DIR/keep-cache    present: the package manager's cache is the operator's yum_cache,
#                     mounted for the build: downloaded packages are kept there
#   DIR/rpms/         RPMs to install as a local update (optional)
# The repo files are the image's, or yum_repos_dir_path mounted over /etc/yum.repos.d for
# the build. Every value read from a file is one argument of the package manager, never
# seen by a shell.
set -eu
dir="$1"
if command -v dnf >/dev/null 2>&1; then pm=dnf; elif command -v yum >/dev/null 2>&1; then pm=yum; else
    echo "yum_update: neither dnf nor yum is installed in the image" >&2
    exit 1
fi

finish() {
    if [ -f "$dir/keep-cache" ]; then
        sync
    else
        "$pm" clean all >/dev/null 2>&1 || true
        rm -rf /var/cache/dnf /var/cache/yum
    fi
}

set -- -y
if [ -f "$dir/keep-cache" ]; then set -- "$@" --setopt=keepcache=1; fi

if [ -f "$dir/host-match" ]; then
    echo "yum_update: the image's packages match the host's (compare_host_packages): nothing to update"
    finish
    exit 0
fi

if [ -d "$dir/rpms" ]; then
    "$pm" "$@" --nogpgcheck upgrade "$dir"/rpms/*.rpm
    finish
    exit 0
fi

if [ -s "$dir/update-repos" ]; then
    # The role's selection: NAME = [EPOCH:]VERSION-RELEASE of every installed package
    # against what the repos provide; a package they provide at another version is updated.
    repos=
    while IFS= read -r repo; do
        if [ -n "$repo" ]; then repos="${repos:+$repos,}$repo"; fi
    done < "$dir/update-repos"
    if [ "$pm" = dnf ]; then
        dnf --quiet --refresh repoquery --provides --disablerepo='*' "--enablerepo=$repos" -a > "$dir/available-raw"
    elif command -v repoquery >/dev/null 2>&1; then
        repoquery --quiet --provides --disablerepo='*' "--enablerepo=$repos" -a > "$dir/available-raw"
    else
        echo "yum_update: update_repo needs repoquery (yum-utils) in the image" >&2
        exit 1
    fi
    export LC_ALL=C
    rpm -qa --qf '%{NAME} = %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\n' | sort -u > "$dir/installed-versions"
    sort -u "$dir/available-raw" > "$dir/available-versions"
    comm -12 "$dir/installed-versions" "$dir/available-versions" | cut -d= -f1 | sort -u > "$dir/uptodate"
    cut -d= -f1 "$dir/installed-versions" | sort -u > "$dir/installed"
    cut -d= -f1 "$dir/available-versions" | sort -u > "$dir/available"
    comm -23 "$dir/installed" "$dir/uptodate" | comm -12 - "$dir/available" | sed 's/ *$//' > "$dir/update-packages"
    set -- "$@" upgrade
    count=0
    while IFS= read -r package; do
        if [ -n "$package" ]; then set -- "$@" "$package"; count=$((count + 1)); fi
    done < "$dir/update-packages"
    if [ "$count" = 0 ]; then
        echo "yum_update: $repos provide(s) no other version of an installed package: nothing to update"
    else
        "$pm" "$@"
    fi
else
    "$pm" "$@" --refresh upgrade
fi
finish
