#!/bin/bash
# scripts/stop.sh
#	Stop what `make run` started: the gateway, then the cluster in ./.run
#	(or $BB_RUN_DIR).  The data stays; `make run` starts it all again.

set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
rundir=${BB_RUN_DIR:-$(pwd)/.run}

if [ -f "$rundir/gateway.pid" ]; then
	pid=$(cat "$rundir/gateway.pid")
	if kill -0 "$pid" 2>/dev/null &&
		grep -q bluebricks-gateway "/proc/$pid/cmdline" 2>/dev/null; then
		kill "$pid"
		echo "stop: gateway (pid $pid) stopped"
	fi
	rm -f "$rundir/gateway.pid"
fi
# shellcheck source=scripts/cluster.sh
. scripts/cluster.sh
if [ -f "$rundir/data/postmaster.pid" ]; then
	bb_cluster_stop "$rundir"
	echo "stop: cluster in $rundir stopped"
fi
