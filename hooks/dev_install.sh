#!/bin/sh
# Installs local Python source trees into the image: the dev_install.yml task.
# Usage: dev_install.sh DIR   (each DIR/python/NAME is a project tree)
set -eu
dir="$1"
if command -v pip3 >/dev/null 2>&1; then pip=pip3; elif command -v pip >/dev/null 2>&1; then pip=pip; else
    echo "dev_install: pip is not installed in the image" >&2
    exit 1
fi
# The image is the deployment's own environment: install into it even where
# the distribution marks it externally managed (PEP 668).
export PIP_BREAK_SYSTEM_PACKAGES=1
found=0
for project in "$dir"/python/*; do
    [ -d "$project" ] || continue
    found=1
    $pip install --no-deps --no-build-isolation --no-cache-dir "$project"
done
if [ "$found" = 0 ]; then
    echo "dev_install: no Python project to install" >&2
    exit 1
fi
