# scripts/cluster.sh
#	Start and stop a PostgreSQL 15 cluster owned by the postgres system user;
#	sourced by the other scripts.  Works as root, which PostgreSQL refuses
#	to run as, and as an ordinary user.
#
# bb_cluster_start DIR PORT  initdb DIR if it holds no cluster, then start it
#                            listening on 127.0.0.1:PORT and on a socket in
#                            DIR/socket; exports PGHOST, PGPORT, PGUSER.
#                            The cluster's bluebricks.secret_key_file is
#                            DIR/secret-keys, made with one random key.
# bb_cluster_stop DIR        fast shutdown, if running.

BB_PGBIN=${BB_PGBIN:-$(pg_config --bindir)}

bb_as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

bb_cluster_start() {
	local dir=$1 port=$2
	mkdir -p "$dir"
	[ "$(id -u)" = 0 ] && chown postgres: "$dir"
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		bb_as_owner "$BB_PGBIN/initdb" -D "$dir/data" -U postgres \
			--auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" \
			|| { cat "$dir/initdb.log" >&2; return 1; }
		bb_as_owner mkdir -p "$dir/socket"
		cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/socket'
max_connections = 200
shared_buffers = 256MB
fsync = on
synchronous_commit = on
max_prepared_transactions = 10
CONF
	fi
	bb_secret_keys "$dir"
	bb_as_owner "$BB_PGBIN/pg_ctl" -D "$dir/data" -w -l "$dir/server.log" \
		-o "-p $port" start >/dev/null \
		|| { tail -20 "$dir/server.log" >&2; return 1; }
	export PGHOST=$dir/socket PGPORT=$port PGUSER=postgres
}

# Give the cluster in DIR a key file for task secrets, once.
bb_secret_keys() {
	local dir=$1 keys=$1/secret-keys
	if [ ! -s "$keys" ]; then
		( umask 077
		  printf 'key1 %s\n' "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" \
			>"$keys" )
		[ "$(id -u)" = 0 ] && chown postgres: "$keys"
	fi
	grep -q '^bluebricks.secret_key_file' "$dir/data/postgresql.conf" ||
		echo "bluebricks.secret_key_file = '$keys'" >>"$dir/data/postgresql.conf"
}

bb_cluster_stop() {
	local dir=$1
	if [ -f "$dir/data/postmaster.pid" ]; then
		bb_as_owner "$BB_PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop \
			>/dev/null 2>&1 || true
	fi
}
