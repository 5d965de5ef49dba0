# Sourced by scripts/bench: the yum_update builds (issue 20 §4). BENCH_BUILD_IMAGES (20)
# images of an EL-like dnf base (Debian trixie with rpm and dnf, as the tests build it, the
# mmdebstrap tarball cached in the temporary directory) with bench-pkg 1.0, updated from a
# local file:// repository holding bench-pkg 1.1 (update_repo: bench, as an offline undercloud
# does): one prepare with --build-concurrency 1, one with the default, and one through the
# upstream role (--engine ansible, the role from scripts/upstream-venv, the default
# concurrency). buildah's overlay driver, as an undercloud has it.
bench_builds() {
  local DESTINATION=""  # measure: no destination request counts here
  local count="${BENCH_BUILD_IMAGES:-20}" dir="$work/builds" source_registry_b dest_registry_b
  for tool in mmdebstrap createrepo_c rpmbuild ansible-playbook dnf; do
    command -v "$tool" >/dev/null || { echo "bench: builds: $tool is missing (scripts/install-deps)" >&2; return 1; }
  done
  mkdir -p "$dir/rpms" "$dir/repo" "$dir/repos.d"
  local tarball="${TMPDIR:-/tmp}/imageprep-dnf-pip-base-trixie.tar"
  if [ ! -f "$tarball" ]; then
    echo "== mmdebstrap trixie (once; cached in $tarball)" >&2
    mmdebstrap --quiet --variant=essential --include=rpm,dnf,python3-pip,python3-setuptools trixie "${tarball%.tar}.partial.tar"
    mv "${tarball%.tar}.partial.tar" "$tarball"
  fi
  for version in 1.0 1.1; do
    cat > "$dir/bench-pkg.spec" <<SPEC
Name: bench-pkg
Version: $version
Release: 1
Summary: imageprep bench package
License: MIT
BuildArch: noarch
AutoReqProv: no
%description
imageprep bench package
%install
mkdir -p %{buildroot}/usr/share/bench-pkg
head -c 1048576 /dev/urandom > %{buildroot}/usr/share/bench-pkg/data
echo $version > %{buildroot}/usr/share/bench-pkg/VERSION
%files
/usr/share/bench-pkg
SPEC
    rpmbuild -bb --define "_topdir $dir/rpmbuild" --define "_build_id_links none" --define "__os_install_post %{nil}" \
      "$dir/bench-pkg.spec" > "$dir/rpmbuild.log" 2>&1
    mv "$dir"/rpmbuild/RPMS/noarch/*.rpm "$dir/rpms/"
  done
  cp "$dir/rpms/bench-pkg-1.1-1.noarch.rpm" "$dir/repo/"
  createrepo_c --quiet "$dir/repo"
  printf '[bench]\nname=bench\nbaseurl=file://%s\nenabled=1\ngpgcheck=0\nmetadata_expire=0\n' "$dir/repo" > "$dir/repos.d/bench.repo"

  start_registry builds-source source_registry_b
  start_registry builds-destination dest_registry_b
  local storage=(--root "$dir/buildah/root" --runroot "$dir/buildah/runroot" --storage-driver overlay)
  echo "== $count EL-like dnf images with bench-pkg 1.0 in $source_registry_b" >&2
  local container
  container=$(buildah "${storage[@]}" from scratch)
  buildah "${storage[@]}" add "$container" "$tarball" / > /dev/null
  cp "$dir/rpms/bench-pkg-1.0-1.noarch.rpm" "$dir/bench-pkg.rpm"
  buildah "${storage[@]}" copy "$container" "$dir/bench-pkg.rpm" /tmp/bench-pkg.rpm > /dev/null
  printf '%%__transaction_unshare %%{nil}\n' > "$dir/macros.no-unshare"
  buildah "${storage[@]}" copy "$container" "$dir/macros.no-unshare" /etc/rpm/macros.no-unshare > /dev/null
  buildah "${storage[@]}" run --isolation chroot "$container" -- sh -c \
    'ln -s dnf-3 /usr/bin/yum && rpm -i /tmp/bench-pkg.rpm && rm /tmp/bench-pkg.rpm' > /dev/null
  buildah "${storage[@]}" config --user nobody --label rdo_version=1 --env PATH=/usr/sbin:/usr/bin:/sbin:/bin "$container"
  buildah "${storage[@]}" commit --rm "$container" localhost/bench/el-like:1 > /dev/null 2>&1
  local template="$dir/template.yaml.j2"
  echo "container_images_template:" > "$template"
  for i in $(seq "$count"); do
    buildah "${storage[@]}" push --quiet --tls-verify=false localhost/bench/el-like:1 \
      "docker://$source_registry_b/tripleomaster/openstack-bench-$i:current-tripleo" > /dev/null
    printf -- '- imagename: "{{namespace}}/openstack-bench-%s:{{tag}}"\n  params: [ContainerBench%sImage]\n' "$i" "$i" >> "$template"
  done
  buildah "${storage[@]}" rmi --all --force > /dev/null 2>&1 || true

  builds_env() { # APPEND_TAG
    cat <<YAML
parameter_defaults:
  ContainerImagePrepare:
  - push_destination: $dest_registry_b
    set: {namespace: $source_registry_b/tripleomaster, tag: current-tripleo}
    modify_role: tripleo-modify-image
    modify_append_tag: "$1"
    modify_vars:
      tasks_from: yum_update.yml
      update_repo: bench
      yum_repos_dir_path: $dir/repos.d
YAML
  }
  local roles
  roles="$(scripts/upstream-venv)/upstream-ansible/roles"
  local common=(--template-file "$template" --insecure-registry "$source_registry_b" --insecure-registry "$dest_registry_b"
    --buildah-root "$dir/buildah/root" --buildah-runroot "$dir/buildah/runroot" --storage-driver overlay --isolation chroot --work-dir "$dir" --cleanup full --output-env-file "$dir/out.yaml")
  # The role's yum_update mounts the host's /etc/pki (and appends to a log in /var/log): every
  # run in a private mount namespace with /etc and /var/log overlaid, /etc/pki made there.
  local private=(unshare --mount --propagation private /bin/sh -c '
    set -e; u="$1"; shift
    for d in etc log; do mkdir -p "$u/$d-upper" "$u/$d-work"; done
    mount -t overlay overlay -o "lowerdir=/etc,upperdir=$u/etc-upper,workdir=$u/etc-work" /etc
    mount -t overlay overlay -o "lowerdir=/var/log,upperdir=$u/log-upper,workdir=$u/log-work" /var/log
    mkdir -p /etc/pki
    exec "$@"' sh "$dir/overlays")
  # The default first: it pays the cold caches.
  builds_env -conc > "$dir/conc.yaml"
  measure "builds: $count yum_update, default" "${private[@]}" "$imageprep" prepare -e "$dir/conc.yaml" "${common[@]}"
  t_builds_conc=$SECONDS_TAKEN
  builds_env -seq > "$dir/seq.yaml"
  measure "builds: $count yum_update, 1 at a time" "${private[@]}" "$imageprep" prepare -e "$dir/seq.yaml" "${common[@]}" --build-concurrency 1
  t_builds_seq=$SECONDS_TAKEN
  builds_env -role > "$dir/role.yaml"
  measure "builds: $count through the role" "${private[@]}" "$imageprep" prepare -e "$dir/role.yaml" "${common[@]}" --engine ansible --roles-path "$roles"
  t_builds_role=$SECONDS_TAKEN
  for tag in -seq -conc -role; do
    local updated
    updated=$("$imageprep" image packages "$dest_registry_b/tripleomaster/openstack-bench-$count:current-tripleo$tag" \
      --insecure-registry "$dest_registry_b" | grep -c '^bench-pkg-1.1-1.noarch$' || true)
    [ "$updated" = 1 ] || { echo "bench: builds: current-tripleo$tag does not have bench-pkg 1.1" >&2; exit 1; }
  done
  local cores
  cores=$(nproc)
  echo "builds ($count yum_update images, $cores cores, buildah overlay):"
  echo "  default concurrency / one at a time   $(ratio "$t_builds_conc" "$t_builds_seq")   ($t_builds_conc s / $t_builds_seq s)"
  echo "  native (default) / upstream role      $(ratio "$t_builds_conc" "$t_builds_role")   ($t_builds_conc s / $t_builds_role s)"
  stop_registry builds-source
  stop_registry builds-destination
}
