/* Included by CivetWeb's civetweb.c (MG_EXTERNAL_FUNCTION_log_access) when it is built without
 * filesystems (cmake/Civetweb.cmake): there is no access_log_file to write, so there is no
 * access log; an application that wants one logs from its own handlers. */
static void
log_access(const struct mg_connection *conn)
{
	(void)conn;
}
