#!/bin/bash
# scripts/test.sh
#	Build, install and test bluebricks_task against a throwaway cluster
#	(`make test`).
#
# Steps: install missing packages, build and install the extension (and
# build the gateway when gateway/Makefile exists), start a cluster in a
# temporary directory on a free loopback port, then run
#	- pg_regress tests (test/sql, test/expected)    via make installcheck
#	- isolation specs (test/specs, test/expected)   via make installcheck
#	- pgTAP tests (test/pgtap/*.sql)                via pg_prove
#	- test/gateway/run.sh, test/hostile/run.sh and test/load/run.sh, when
#	  present, which get BB_GATEWAY, BB_CLUSTER_DIR and the PG* variables
#	  of the cluster
#	- a 10-second fuzz run of the gateway (make -C fuzz run), when clang-14
#	  is installed; it counts as one test
#	- test/run/walkthrough.sh: `make run` in a scratch directory
# The cluster and its directory are removed on every exit.  The last line
# is "N passed, M failed", counting pg_regress tests, isolation specs,
# pgTAP assertions and each suite's tests (its own last line when it
# prints one in that form, else one for the whole suite); the exit status
# is non-zero when anything failed.
#
# SANITIZE=1 (`make test SANITIZE=1`) also builds the gateway with
# AddressSanitizer and UndefinedBehaviorSanitizer (gateway/san/) and runs
# the gateway, hostile-input and load suites against that build, with
# leak detection on and any undefined behaviour fatal.  Every other make
# command here runs with SANITIZE unset, so the installed gateway is never
# a sanitized one.
#
# Environment: BB_TEST_PORT forces the cluster's port; BB_TEST_KEEP=1
# keeps the cluster directory for inspection (its path is printed);
# BB_TEST_RUN_PORT and BB_TEST_RUN_GATEWAY_PORT force the ports of the
# `make run` suite (else free ones are picked); BB_GATEWAY_PORTS,
# HS_GATEWAY_PORTS and BB_LOAD_PORTS reach the suites that read them;
# FUZZ_SECONDS (default 10) sets the length of the fuzz run.

set -uo pipefail

cd "$(dirname "$0")/.." || exit 1

# Read SANITIZE, then keep it (and the calling make's flags, which would
# carry it) away from every make below.
sanitize=${SANITIZE:-}
unset SANITIZE MAKEFLAGS MFLAGS MAKEOVERRIDES MAKELEVEL
case $sanitize in
	'' | 0) sanitize= ;;
	1) ;;
	*) echo "test: SANITIZE must be 1 or empty, not $sanitize" >&2; exit 2 ;;
esac
t_begin=$(date +%s)

passed=0
failed=0
failures=()

# Count n passed and m failed for a suite, with a label for the summary.
bb_count() {
	local label=$1 p=$2 f=$3
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -gt 0 ] && failures+=("$label: $f failed")
	printf '== %s: %d passed, %d failed\n' "$label" "$p" "$f"
}

bb_summary() {
	echo
	if [ ${#failures[@]} -gt 0 ]; then
		printf 'failures:\n'
		printf '  %s\n' "${failures[@]}"
	fi
	echo "test: took $(($(date +%s) - t_begin)) s${sanitize:+ (SANITIZE=1)}"
	echo "$passed passed, $failed failed"
}

# Abort before any test ran: say why and count it as a failure.
bb_abort() {
	echo "test: $*" >&2
	failures+=("$*")
	failed=$((failed + 1))
	bb_summary
	exit 1
}

scripts/deps.sh || bb_abort "installing packages failed"

make -s with_llvm=no SANITIZE= >/dev/null || bb_abort "build failed"
make -s with_llvm=no SANITIZE= install >/dev/null ||
	bb_abort "make install failed"
BB_GATEWAY=$PWD/gateway/bluebricks-gateway
if [ -f gateway/Makefile ]; then
	make -s -C gateway SANITIZE= >/dev/null || bb_abort "gateway build failed"
	if [ -n "$sanitize" ]; then
		make -s -C gateway SANITIZE=1 >/dev/null ||
			bb_abort "sanitized gateway build failed"
		BB_GATEWAY=$PWD/gateway/san/bluebricks-gateway
		export ASAN_OPTIONS=detect_leaks=1
		export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
		echo "test: gateway suites use $BB_GATEWAY"
	fi
fi
export BB_GATEWAY

# shellcheck source=scripts/cluster.sh
. scripts/cluster.sh

tmp=$(mktemp -d /tmp/bb_test.XXXXXX) || bb_abort "mktemp failed"
chmod 755 "$tmp"
cluster=$tmp/cluster

bb_cleanup() {
	bb_cluster_stop "$cluster"
	if [ "${BB_TEST_KEEP:-}" = 1 ]; then
		echo "test: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap bb_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Whether nothing listens on 127.0.0.1:port.
bb_port_free() {
	local port=$1
	if command -v ss >/dev/null 2>&1; then
		[ -z "$(ss -Htln "sport = :$port" 2>/dev/null)" ]
	else
		! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
	fi
}

# Start the cluster on a free port in 20000..32767 (5432 is never in it),
# trying again elsewhere if another process takes the port meanwhile.
bb_start_on_free_port() {
	local try port
	if [ -n "${BB_TEST_PORT:-}" ]; then
		bb_cluster_start "$cluster" "$BB_TEST_PORT"
		return
	fi
	for try in 1 2 3 4 5; do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 12768))
		bb_port_free "$port" || continue
		if bb_cluster_start "$cluster" "$port"; then
			return 0
		fi
		bb_cluster_stop "$cluster"
		rm -rf "$cluster"
	done
	return 1
}

bb_start_on_free_port || bb_abort "could not start a test cluster"
export PGHOST PGPORT PGUSER
export BB_CLUSTER_DIR=$cluster
echo "test: cluster on port $PGPORT, socket $PGHOST"

rm -rf test/results

# Count pg_regress's per-test lines ("... ok", "... FAILED",
# "... failed (ignored)") in its output file.
bb_count_regress() {
	local label=$1 out=$2 p f
	p=$(grep -cE '\.\.\. +ok( |$)' "$out")
	f=$(grep -cE '\.\.\. +(FAILED|failed)' "$out")
	bb_count "$label" "$p" "$f"
}

# Run one half of make installcheck; print the diffs when it fails.
bb_installcheck() {
	local label=$1 diffs=$2 rc
	shift 2
	local out=$tmp/$label.out
	make -s with_llvm=no SANITIZE= installcheck "$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	bb_count_regress "$label" "$out"
	if [ "$rc" -ne 0 ]; then
		if [ -s "$diffs" ]; then
			echo "---- $diffs"
			cat "$diffs"
		elif ! grep -qE '\.\.\. +(FAILED|failed)' "$out"; then
			# pg_regress itself failed (no database, bad option...).
			failures+=("$label: pg_regress exited with $rc")
			failed=$((failed + 1))
		fi
	fi
}

if compgen -G 'test/sql/*.sql' >/dev/null; then
	bb_installcheck regress test/results/regression.diffs ISOLATION=
else
	echo "== regress: no tests in test/sql"
fi

if compgen -G 'test/specs/*.spec' >/dev/null; then
	bb_installcheck isolation test/results/isolation/regression.diffs REGRESS=
else
	echo "== isolation: no specs in test/specs"
fi

# pgTAP: every file in test/pgtap, in a database with both extensions.
if compgen -G 'test/pgtap/*.sql' >/dev/null; then
	tapdb=bb_pgtap
	out=$tmp/pgtap.out
	if psql -X -q -v ON_ERROR_STOP=1 -d postgres \
		-c "CREATE DATABASE $tapdb" >/dev/null &&
		psql -X -q -v ON_ERROR_STOP=1 -d "$tapdb" \
			-c 'CREATE EXTENSION pgtap' \
			-c 'CREATE EXTENSION bluebricks_task' >/dev/null; then
		pg_prove --verbose --failures -d "$tapdb" test/pgtap/*.sql 2>&1 |
			tee "$out"
		rc=${PIPESTATUS[0]}
		p=$(grep -cE '^ *ok [0-9]+' "$out")
		f=$(grep -cE '^ *not ok [0-9]+' "$out")
		bb_count pgtap "$p" "$f"
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			# A file died or ran fewer tests than planned.
			failures+=("pgtap: pg_prove exited with $rc")
			failed=$((failed + 1))
		fi
	else
		failures+=("pgtap: could not prepare database $tapdb")
		failed=$((failed + 1))
	fi
else
	echo "== pgtap: no tests in test/pgtap"
fi

# Run a suite script whose last line is "N passed, M failed"; a script that
# fails without saying how much counts as one failure.
bb_suite() {
	local label=$1 out=$tmp/$1.out line p f rc
	shift
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -1)
	if [ -n "$line" ]; then
		p=${line%% passed*}
		f=${line#*passed, }
		f=${f%% failed}
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			f=1
		fi
		bb_count "$label" "$p" "$f"
	elif [ "$rc" -eq 0 ]; then
		bb_count "$label" 1 0
	else
		bb_count "$label" 0 1
	fi
}

# A free loopback port in 20000..32767 for a server a suite starts.
bb_free_port() {
	local port
	while :; do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 12768))
		bb_port_free "$port" && break
	done
	echo "$port"
}

# The gateway against the test cluster.
if [ -f test/gateway/run.sh ]; then
	bb_suite gateway bash test/gateway/run.sh
fi

# Hostile input: every case must get its status and error code, and write
# nothing it should not.
if [ -f test/hostile/run.sh ]; then
	bb_suite hostile bash test/hostile/run.sh
fi

# Load with faults: short by default, BB_LOAD=long for `make soak`.
if [ -f test/load/run.sh ]; then
	BB_LOAD=${BB_LOAD:-short} bb_suite load bash test/load/run.sh
fi

# A short fuzz run of the gateway's request handling (libFuzzer, with its
# own sanitizers); one test, failed by a crash, a leak or a broken promise.
if [ -f fuzz/Makefile ]; then
	if command -v clang-14 >/dev/null 2>&1; then
		# libFuzzer prints a line per new input: keep the end only
		bb_fuzz() {
			local log=$tmp/fuzz.log rc
			make -s -C fuzz run SANITIZE= FUZZ_SECONDS="${FUZZ_SECONDS:-10}" \
				>"$log" 2>&1
			rc=$?
			grep -v '^#[0-9]' "$log" | tail -25
			return "$rc"
		}
		bb_suite fuzz bb_fuzz
	else
		echo "== fuzz: skipped (no clang-14)"
	fi
fi

# `make run` in a scratch directory, and the commands it prints.
BB_PORT=${BB_TEST_RUN_PORT:-$(bb_free_port)} \
	BB_GATEWAY_PORT=${BB_TEST_RUN_GATEWAY_PORT:-$(bb_free_port)} \
	bb_suite run bash test/run/walkthrough.sh

bb_summary
[ "$failed" -eq 0 ]
