# Sourced by scripts/demo and scripts/bench: an undercloud's image-serve registry, Debian's
# apache2 with tripleo-ansible's tripleo_image_serve vhost, serving a directory on a free
# 127.0.0.1 port. The caller defines free_port and the array pids (the cleanup kills them).
#
# start_image_serve DIR RUN [ACCESS_LOG] -> sets $address to HOST:PORT; serves DIR; httpd's
# configuration, pid and error log in RUN; with ACCESS_LOG, one line per request there
# ('"METHOD PATH PROTOCOL" STATUS', the request's shape in docker-registry's access log).
# Not in a command substitution: the pid must reach the caller's pids.
start_image_serve() {
  local root="$1" run="$2" access="${3:-}" port module modules="" access_conf=""
  port="$(free_port)"
  mkdir -p "$run" "$root/v2"
  [ -e "$root/v2/index.json" ] || printf '{}' > "$root/v2/index.json"
  # httpd's workers run as www-data: the directory must be readable by it.
  chmod 755 "$root" "$root/v2" "$(dirname "$root")"
  chmod 644 "$root/v2/index.json"
  for module in mpm_event authz_core mime negotiation headers setenvif alias dir; do
    modules+="LoadModule ${module}_module /usr/lib/apache2/modules/mod_${module}.so"$'\n'
  done
  if [ -n "$access" ]; then
    access_conf="LogFormat \"\\\"%r\\\" %>s\" imageprep_requests"$'\n'"CustomLog $access imageprep_requests"
  fi
  cat > "$run/httpd.conf" <<CONF
ServerRoot /etc/apache2
ServerName 127.0.0.1
PidFile $run/httpd.pid
DefaultRuntimeDir $run
Mutex file:$run default
$modules
User www-data
Group www-data
TypesConfig /etc/mime.types
ErrorLog $run/error.log
$access_conf
# Debian lacks these two; RHEL's httpd setup has them.
AddHandler type-map .type-map
Listen 127.0.0.1:$port
# tripleo-ansible's tripleo_image_serve vhost
<VirtualHost 127.0.0.1:$port>
    DocumentRoot $root
    SetEnvIf X-Forwarded-Proto https HTTPS=1
    RedirectMatch ^/\$ /v2
    <Directory $root>
        DirectoryIndex index.json
        Options FollowSymLinks MultiViews
        MultiviewsMatch Handlers
        AllowOverride FileInfo
        Require all granted
        Header set Docker-Distribution-Api-Version registry/2.0
    </Directory>
    <LocationMatch "^/v2/.*/blobs/sha256:.*\$">
        SetEnvIf Request_URI "sha256:(.*)\$" digest=sha256:\$1
        Header set Docker-Content-Digest "%{digest}e"
        Header set ETag "%{digest}e"
        Header set Cache-Control "max-age=31536000"
        Header set Content-Type "application/octet-stream"
    </LocationMatch>
</VirtualHost>
CONF
  apache2 -f "$run/httpd.conf" -DFOREGROUND > "$run/log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then address="127.0.0.1:$port"; return; fi
    sleep 0.1
  done
  echo "apache2 did not start: $(cat "$run/log" "$run/error.log" 2>/dev/null)" >&2
  exit 1
}
