# Makefile for bluebricks_task: the extension (PGXS), the gateway, and the
# commands that run and test them.

EXTENSION = bluebricks_task
EXTVERSION = 0.1.0

MODULE_big = bluebricks_task
OBJS = src/bluebricks.o src/json_in.o src/json_out.o src/request.o \
	src/spi_query.o src/environment.o src/ids.o src/task.o src/deployments.o \
	src/deployment_items.o src/deployment_graph.o src/arrays.o \
	src/batch_context.o src/status.o src/stage.o src/stage_guard.o \
	src/stage_record.o src/trigger_rows.o src/lease.o src/runner.o \
	src/secrets.o

# The install script is assembled from its parts, in this order.
SQL_PARTS = sql/header.sql sql/tables.sql sql/functions.sql sql/security.sql
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA = $(wildcard sql/$(EXTENSION)--*--*.sql)

PG_CPPFLAGS = -I$(srcdir)/src
SHLIB_LINK = -lcrypto
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wno-missing-field-initializers

REGRESS = $(patsubst test/sql/%.sql,%,$(sort $(wildcard test/sql/*.sql)))
REGRESS_OPTS = --inputdir=test --outputdir=test/results \
	--load-extension=$(EXTENSION)
ISOLATION = $(patsubst test/specs/%.spec,%,$(sort $(wildcard test/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test --outputdir=test/results/isolation \
	--load-extension=$(EXTENSION)

EXTRA_CLEAN = test/results

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS)
	cat $(SQL_PARTS) > $@

.PHONY: deps run stop test bench soak fuzz fuzz-clean
deps:
	scripts/deps.sh

bench:
	bench/run.sh

run:
	scripts/run.sh

stop:
	scripts/stop.sh

# SANITIZE=1 also runs the gateway's suites against a build with
# AddressSanitizer and UndefinedBehaviorSanitizer (see scripts/test.sh).
test:
	SANITIZE='$(SANITIZE)' scripts/test.sh

# Every test, with the load test's long mode: 8 and 32 runners, 2,000
# tasks each, and every fault.
soak:
	BB_LOAD=long SANITIZE='$(SANITIZE)' scripts/test.sh

# Fuzz the gateway's request handling for FUZZ_SECONDS (needs clang-14).
FUZZ_SECONDS ?= 60
fuzz:
	$(MAKE) -C fuzz run FUZZ_SECONDS=$(FUZZ_SECONDS) PG_CONFIG=$(PG_CONFIG)
fuzz-clean:
	$(MAKE) -C fuzz clean

# The gateway has a make file of its own; these hook it into the targets
# PGXS defines, which cannot take a second recipe.
.PHONY: gateway gateway-install gateway-clean
all: gateway
install: gateway-install
clean: gateway-clean fuzz-clean
gateway:
	$(MAKE) -C gateway PG_CONFIG=$(PG_CONFIG)
gateway-install:
	$(MAKE) -C gateway install PG_CONFIG=$(PG_CONFIG)
gateway-clean:
	$(MAKE) -C gateway clean
	$(MAKE) -C test/load clean
