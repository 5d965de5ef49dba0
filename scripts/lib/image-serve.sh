# Sourced by scripts/demo and scripts/bench: an undercloud's image-serve registry, Debian's
# apache2 with tripleo-ansible's tripleo_image_serve vhost, serving a directory on a free
# 127.0.0.1 port. The caller defines free_port and the array pids (the cleanup kills them).
# httpd's configuration is image-serve-httpd.conf beside this file, which the tests' apache2
# (Tests/TestSupport/ImageServeServer.swift) renders too.
image_serve_lib="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# start_image_serve DIR RUN [ACCESS_LOG] -> sets $address to HOST:PORT; serves DIR; httpd's
# configuration, pid and error log in RUN; with ACCESS_LOG, one line per request there
# ('"METHOD PATH PROTOCOL" STATUS', the request's shape in docker-registry's access log).
# Not in a command substitution: the pid must reach the caller's pids.
start_image_serve() {
  local root="$1" run="$2" access="${3:-}" port conf request_log=""
  port="$(free_port)"
  mkdir -p "$run" "$root/v2"
  [ -e "$root/v2/index.json" ] || printf '{}' > "$root/v2/index.json"
  # httpd's workers run as www-data: the directory must be readable by it.
  chmod 755 "$root" "$root/v2" "$(dirname "$root")"
  chmod 644 "$root/v2/index.json"
  if [ -n "$access" ]; then
    request_log="LogFormat \"\\\"%r\\\" %>s\" imageprep_requests"$'\n'"CustomLog $access imageprep_requests"
  fi
  # Quoted replacements: an '&' in a path stays itself.
  conf="$(< "$image_serve_lib/image-serve-httpd.conf")"
  conf="${conf//@RUN@/"$run"}"
  conf="${conf//@ROOT@/"$root"}"
  conf="${conf//@ADDRESS@/"127.0.0.1:$port"}"
  conf="${conf//@REQUEST_LOG@/"$request_log"}"
  printf '%s\n' "$conf" > "$run/httpd.conf"
  apache2 -f "$run/httpd.conf" -DFOREGROUND > "$run/log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then address="127.0.0.1:$port"; return; fi
    sleep 0.1
  done
  echo "apache2 did not start: $(cat "$run/log" "$run/error.log" 2>/dev/null)" >&2
  exit 1
}
