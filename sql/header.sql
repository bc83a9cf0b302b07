-- bluebricks_task--0.1.0.sql, built from sql/*.sql by the Makefile

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION bluebricks_task" to load this file. \quit
