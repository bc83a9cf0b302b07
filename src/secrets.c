/*-------------------------------------------------------------------------
 *
 * src/secrets.c
 *	  Encryption of task secrets at rest, with AES-256-GCM from OpenSSL.
 *
 * Keys live in a file that only the server's OS user should read, named by
 * the superuser-only setting bluebricks.secret_key_file: one key a line,
 * "<key id> <64 hex digits>", '#' comments allowed.  The first key encrypts
 * new secrets; the others remain for reading older ones, so rotation is
 * adding a line at the top.  A task's decryptionKeyId is the id of its key.
 *
 * Stored form: "BB1" | 12-byte IV | 16-byte tag | ciphertext.  The task id
 * is the additional authenticated data, so sealed secrets moved to another
 * task fail to open.  The file is read again whenever its path or its
 * modification time changes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>

#include <openssl/evp.h>

#include "fmgr.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "errcodes.h"
#include "secrets.h"

#define KEY_LEN 32
#define IV_LEN 12
#define TAG_LEN 16
#define MAGIC "BB1"
#define MAGIC_LEN 3
#define MAX_KEYS 64

typedef struct SecretKey
{
	char		id[NAMEDATALEN];
	unsigned char key[KEY_LEN];
} SecretKey;

static char *secret_key_file = NULL;

/* Keys as last read, and what they were read from. */
static SecretKey keys[MAX_KEYS];
static int	nkeys = 0;
static char loaded_path[MAXPGPATH];
static struct timespec loaded_mtime;

/* Define the bluebricks.secret_key_file setting. */
void
bb_secrets_init(void)
{
	DefineCustomStringVariable("bluebricks.secret_key_file",
							   "File holding the keys that encrypt task secrets.",
							   "One key a line: an id, a space, 64 hex digits. "
							   "The first line's key encrypts new secrets.",
							   &secret_key_file,
							   NULL,
							   PGC_SUSET,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	MarkGUCPrefixReserved("bluebricks");
}

/* Raise the error for a key file that cannot be used. */
static void
key_file_error(const char *problem)
			pg_attribute_noreturn();

static void
key_file_error(const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_CONFIG_FILE_ERROR),
			 errmsg("secret key file \"%s\": %s", secret_key_file, problem),
			 errhint("Each line is a key id, a space and 64 hex digits.")));
}

/* Parse one "<id> <hex>" line into key; false for a blank or comment line. */
static bool
parse_key_line(char *line, SecretKey *key)
{
	char	   *id;
	char	   *hex;
	char	   *save = NULL;

	line[strcspn(line, "#\r\n")] = '\0';
	id = strtok_r(line, " \t", &save);
	if (id == NULL)
		return false;
	hex = strtok_r(NULL, " \t", &save);
	if (hex == NULL || strtok_r(NULL, " \t", &save) != NULL ||
		strlen(hex) != KEY_LEN * 2 || strlen(id) >= NAMEDATALEN)
		key_file_error("a line is not \"<id> <64 hex digits>\"");
	if (hex_decode(hex, KEY_LEN * 2, (char *) key->key) != KEY_LEN)
		key_file_error("a key is not 64 hex digits");
	strlcpy(key->id, id, NAMEDATALEN);
	return true;
}

/* Make sure keys[] reflects the current file. */
static void
load_keys(void)
{
	struct stat st;
	FILE	   *f;
	char		line[256];
	int			n = 0;

	if (secret_key_file == NULL || secret_key_file[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("task secrets cannot be stored or read: "
						"bluebricks.secret_key_file is not set"),
				 errhint("Point bluebricks.secret_key_file at a file of keys "
						 "readable only by the server, e.g. with ALTER SYSTEM "
						 "and pg_reload_conf().")));
	if (stat(secret_key_file, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat secret key file \"%s\": %m",
						secret_key_file)));
	if (nkeys > 0 && strcmp(loaded_path, secret_key_file) == 0 &&
		st.st_mtim.tv_sec == loaded_mtime.tv_sec &&
		st.st_mtim.tv_nsec == loaded_mtime.tv_nsec)
		return;

	nkeys = 0;
	f = AllocateFile(secret_key_file, "r");
	if (f == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open secret key file \"%s\": %m",
						secret_key_file)));
	while (fgets(line, sizeof(line), f) != NULL)
	{
		SecretKey	key;

		if (!parse_key_line(line, &key))
			continue;
		if (n == MAX_KEYS)
		{
			FreeFile(f);
			key_file_error("it holds too many keys");
		}
		keys[n++] = key;
	}
	FreeFile(f);
	if (n == 0)
		key_file_error("it holds no key");
	nkeys = n;
	strlcpy(loaded_path, secret_key_file, MAXPGPATH);
	loaded_mtime = st.st_mtim;
}

/* The key with this id, or NULL. */
static const SecretKey *
find_key(const char *id)
{
	for (int i = 0; i < nkeys; i++)
		if (strcmp(keys[i].id, id) == 0)
			return &keys[i];
	return NULL;
}

/* Raise the error for an OpenSSL call that failed. */
static void
cipher_failed(EVP_CIPHER_CTX *ctx, const char *what)
{
	EVP_CIPHER_CTX_free(ctx);
	ereport(ERROR,
			(errcode(ERRCODE_INTERNAL_ERROR),
			 errmsg("could not %s task secrets", what)));
}

/* Encrypt a task's secrets; see secrets.h. */
bytea *
bb_secrets_encrypt(const pg_uuid_t *task_id, Jsonb *secrets,
				   const char *key_id, const char **used_key_id)
{
	const SecretKey *key;
	StringInfoData plain;
	bytea	   *out;
	unsigned char *p;
	unsigned char *iv;
	unsigned char *tag;
	EVP_CIPHER_CTX *ctx;
	int			len;
	int			total;

	load_keys();
	key = key_id ? find_key(key_id) : &keys[0];
	if (key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_BB_INVALID_FIELD),
				 errmsg("field \"decryptionKeyId\" names no key of the server"),
				 errdetail("Key \"%s\" is not in bluebricks.secret_key_file.",
						   key_id)));
	initStringInfo(&plain);
	(void) JsonbToCString(&plain, &secrets->root, VARSIZE(secrets));

	out = palloc(VARHDRSZ + MAGIC_LEN + IV_LEN + TAG_LEN + plain.len + 16);
	p = (unsigned char *) VARDATA(out);
	memcpy(p, MAGIC, MAGIC_LEN);
	iv = p + MAGIC_LEN;
	tag = iv + IV_LEN;
	if (!pg_strong_random(iv, IV_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random IV")));

	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, IV_LEN, NULL) != 1 ||
		EVP_EncryptInit_ex(ctx, NULL, NULL, key->key, iv) != 1 ||
		EVP_EncryptUpdate(ctx, NULL, &len, task_id->data, UUID_LEN) != 1 ||
		EVP_EncryptUpdate(ctx, tag + TAG_LEN, &len,
						  (unsigned char *) plain.data, plain.len) != 1)
		cipher_failed(ctx, "encrypt");
	total = len;
	if (EVP_EncryptFinal_ex(ctx, tag + TAG_LEN + total, &len) != 1 ||
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1)
		cipher_failed(ctx, "encrypt");
	total += len;
	EVP_CIPHER_CTX_free(ctx);

	SET_VARSIZE(out, VARHDRSZ + MAGIC_LEN + IV_LEN + TAG_LEN + total);
	*used_key_id = pstrdup(key->id);
	return out;
}

/* Decrypt what bb_secrets_encrypt made for this task. */
Jsonb *
bb_secrets_decrypt(const pg_uuid_t *task_id, bytea *sealed, const char *key_id)
{
	const SecretKey *key;
	unsigned char *p = (unsigned char *) VARDATA_ANY(sealed);
	int			size = VARSIZE_ANY_EXHDR(sealed);
	int			clen = size - MAGIC_LEN - IV_LEN - TAG_LEN;
	unsigned char *iv = p + MAGIC_LEN;
	unsigned char *tag = iv + IV_LEN;
	char	   *plain;
	EVP_CIPHER_CTX *ctx;
	int			len;
	int			total;

	load_keys();
	key = key_id ? find_key(key_id) : NULL;
	if (key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("key \"%s\" of the task's secrets is not in the "
						"secret key file", key_id ? key_id : ""),
				 errhint("Keep retired keys in bluebricks.secret_key_file "
						 "while tasks still use them.")));
	if (clen < 0 || memcmp(p, MAGIC, MAGIC_LEN) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("stored task secrets are not in a known form")));

	plain = palloc(clen + 1);
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, IV_LEN, NULL) != 1 ||
		EVP_DecryptInit_ex(ctx, NULL, NULL, key->key, iv) != 1 ||
		EVP_DecryptUpdate(ctx, NULL, &len, task_id->data, UUID_LEN) != 1 ||
		EVP_DecryptUpdate(ctx, (unsigned char *) plain, &len,
						  tag + TAG_LEN, clen) != 1 ||
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1)
		cipher_failed(ctx, "decrypt");
	total = len;
	if (EVP_DecryptFinal_ex(ctx, (unsigned char *) plain + total, &len) != 1)
	{
		EVP_CIPHER_CTX_free(ctx);
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("stored secrets of task do not match their key")));
	}
	total += len;
	EVP_CIPHER_CTX_free(ctx);
	plain[total] = '\0';
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
											  CStringGetDatum(plain)));
}
