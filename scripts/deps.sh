#!/bin/bash
# scripts/deps.sh
#	Install the Debian 12 packages that building, running and testing
#	bluebricks_task need.  Idempotent: when everything is present it only
#	asks dpkg and returns; the package lists are refreshed only when
#	something is missing.
#
# Runs as root, or through sudo when run as another user.  Installing
# postgresql-15 lets Debian create and start its own cluster on port 5432;
# nothing in this project uses that cluster or that port.
#
# clang-14 and libclang-rt-14-dev build the fuzz target (fuzz/), valgrind
# runs the gateway's leak check (test/hostile/valgrind.sh).
#
# postgresql-contrib-15 is a virtual package provided by postgresql-15, so
# it is checked through what the installed packages provide.

set -euo pipefail

BB_PACKAGES=(
	postgresql-15
	postgresql-server-dev-15
	postgresql-contrib-15
	postgresql-15-pgtap
	libtap-parser-sourcehandler-pgtap-perl
	libmicrohttpd-dev
	libpq-dev
	libjwt-dev
	libjansson-dev
	libssl-dev
	openssl
	build-essential
	pkg-config
	curl
	jq
	ca-certificates
	procps
	iproute2
	util-linux
	clang-14
	libclang-rt-14-dev
	valgrind
)

# Whether package (real, or virtual and provided by an installed one) is
# installed.
bb_have_package() {
	local pkg=$1
	if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = \
		"install ok installed" ]; then
		return 0
	fi
	# Read the whole list first: an early exit of grep -q would break the
	# pipe under pipefail.
	local provided
	provided=$(dpkg-query -W -f='${Status}|${Provides}\n' 2>/dev/null |
		sed -n 's/^install ok installed|//p' | tr ',' '\n' |
		sed -e 's/^ *//' -e 's/ .*$//')
	grep -qx -- "$pkg" <<<"$provided"
}

missing=()
for pkg in "${BB_PACKAGES[@]}"; do
	bb_have_package "$pkg" || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

echo "deps: installing ${missing[*]}" >&2

SUDO=()
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=(sudo)
	else
		echo "deps: missing packages and not root, and sudo is not" \
			"available: ${missing[*]}" >&2
		exit 1
	fi
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	--no-install-recommends -o Dpkg::Options::=--force-confdef \
	-o Dpkg::Options::=--force-confold "${missing[@]}"
