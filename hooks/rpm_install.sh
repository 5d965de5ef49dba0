#!/bin/sh
# Installs every RPM of a directory into the image, replacing files and
# packages and allowing downgrades: the rpm_install.yml task.
# Usage: rpm_install.sh DIR
set -eu
dir="$1"
set -- "$dir"/*.rpm
if [ ! -e "$1" ]; then
    echo "rpm_install: no *.rpm in $dir" >&2
    exit 1
fi
rpm -Uvh --replacepkgs --replacefiles --oldpackage "$@"
rm -rf /var/cache/dnf /var/cache/yum
