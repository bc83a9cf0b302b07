#!/bin/bash
# bench/deps.sh
#	Install what the benchmarks need beyond the project's own packages:
#	pgbench (shipped with postgresql-15), wrk and gnuplot-nox.
#
# Idempotent: when every tool is present it only looks and returns; the
# package lists are refreshed only when something is missing.

set -euo pipefail

# tool:package pairs; the package is installed when the tool is missing.
wanted=(
	pgbench:postgresql-15
	wrk:wrk
	gnuplot:gnuplot-nox
)

missing=()
for pair in "${wanted[@]}"; do
	tool=${pair%%:*}
	pkg=${pair#*:}
	command -v "$tool" >/dev/null 2>&1 || missing+=("$pkg")
done

[ ${#missing[@]} -eq 0 ] && exit 0

echo "bench deps: installing ${missing[*]}" >&2
SUDO=()
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null 2>&1 || {
		echo "bench deps: not root and no sudo; install ${missing[*]}" >&2
		exit 1
	}
	SUDO=(sudo)
fi
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	--no-install-recommends "${missing[@]}"
