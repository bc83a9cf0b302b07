/*-------------------------------------------------------------------------
 *
 * src/bluebricks.c
 *	  Module entry of bluebricks_task.
 *
 * The extension keeps no state across transactions beyond caches of
 * catalog look-ups and keys, so loading it only declares the module and
 * its one setting.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "secrets.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* Define the extension's settings. */
void
_PG_init(void)
{
	bb_secrets_init();
}
