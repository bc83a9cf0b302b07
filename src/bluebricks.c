/*-------------------------------------------------------------------------
 *
 * src/bluebricks.c
 *	  Module entry of bluebricks_task.
 *
 * The extension keeps no state across transactions beyond caches of
 * catalog look-ups, so loading it only declares the module.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

PG_MODULE_MAGIC;
