/* Included by CivetWeb's civetweb.c (MG_EXTERNAL_FUNCTION_mg_cry_internal_impl) when it is built
 * without filesystems (cmake/Civetweb.cmake): there is no error_log_file, so an error goes to the
 * application's log_message callback, or to stderr when it has none or declines it. */
static void
mg_cry_internal_impl(const struct mg_connection *conn,
                     const char *func,
                     unsigned line,
                     const char *fmt,
                     va_list ap)
{
	char buf[MG_BUF_LEN];
	(void)func;
	(void)line;
	IGNORE_UNUSED_RESULT(vsnprintf_impl(buf, sizeof(buf), fmt, ap));
	buf[sizeof(buf) - 1] = 0;
	if ((conn != NULL) && (conn->phys_ctx->callbacks.log_message != NULL)
	    && (conn->phys_ctx->callbacks.log_message(conn, buf) != 0)) {
		return;
	}
	fprintf(stderr, "civetweb: %s\n", buf);
}
