#!/bin/sh
# Installs local Python source trees into the image: the dev_install.yml task.
# Usage: dev_install.sh DIR   (each DIR/python/NAME is a project tree)
# Each project is installed with its dependencies, as the role's pip install does (those
# the image already has are kept; setuptools is the image's own: no build isolation).
set -eu
dir="$1"
find_pip() {
    if command -v pip3 >/dev/null 2>&1; then pip=pip3; elif command -v pip >/dev/null 2>&1; then pip=pip; else pip=; fi
}
find_pip
if [ -z "$pip" ]; then
    # As the role does: pip from the image's package manager and repos.
    if command -v dnf >/dev/null 2>&1; then
        dnf -y install python3-pip
        dnf clean all >/dev/null 2>&1 || true
    elif command -v yum >/dev/null 2>&1; then
        yum -y install python-pip
        yum clean all >/dev/null 2>&1 || true
    fi
    rm -rf /var/cache/dnf /var/cache/yum
    find_pip
    if [ -z "$pip" ]; then
        echo "dev_install: pip is not installed in the image, and no package manager installed it" >&2
        exit 1
    fi
fi
# The image is the deployment's own environment: install into it even where
# the distribution marks it externally managed (PEP 668).
export PIP_BREAK_SYSTEM_PACKAGES=1
found=0
for project in "$dir"/python/*; do
    [ -d "$project" ] || continue
    found=1
    $pip install --no-build-isolation --no-cache-dir "$project"
done
if [ "$found" = 0 ]; then
    echo "dev_install: no Python project to install" >&2
    exit 1
fi
