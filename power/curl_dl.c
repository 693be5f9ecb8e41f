/* power/curl_dl.c — libcurl loaded when the first HTTP request is made, not
 * at hilctl's start: only the pdudaemon driver speaks HTTP, and libcurl's
 * dependencies (OpenSSL, Kerberos, LDAP...) add ~2.7 MiB to the resident
 * memory of every hilctl process that never uses them.
 *
 * hilctl is linked without -lcurl; these definitions take the names of the
 * libcurl calls power/pdudaemon.c makes and forward them to the library
 * opened with dlopen(). The unit tests link pdudaemon.c with the real
 * -lcurl instead (and fake calls at that link seam), never this file. The
 * variadic calls forward their one argument as a pointer-sized word, which
 * is how every curl_easy_setopt/getinfo argument (long, pointer, curl_off_t,
 * function pointer) is passed on the 64-bit Linux ABIs hilctl runs on. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include "lib/log.h"

#define CURL_LIBRARY "libcurl.so.4"

_Static_assert(sizeof(void *) == sizeof(long) && sizeof(void *) == sizeof(curl_off_t),
               "curl_easy_setopt forwarding needs 64-bit words");

static struct {
	bool tried;
	void *lib;
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	void (*easy_cleanup)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	char *(*easy_escape)(CURL *, const char *, int);
	const char *(*easy_strerror)(CURLcode);
	void (*free)(void *);
} api;

/* Open libcurl once; false (said once) when it cannot be. */
static bool curl_loaded(void)
{
	if (api.tried)
		return api.lib != NULL;
	api.tried = true;
	api.lib = dlopen(CURL_LIBRARY, RTLD_NOW | RTLD_LOCAL);
	if (api.lib) {
		*(void **)&api.easy_init = dlsym(api.lib, "curl_easy_init");
		*(void **)&api.easy_setopt = dlsym(api.lib, "curl_easy_setopt");
		*(void **)&api.easy_perform = dlsym(api.lib, "curl_easy_perform");
		*(void **)&api.easy_cleanup = dlsym(api.lib, "curl_easy_cleanup");
		*(void **)&api.easy_getinfo = dlsym(api.lib, "curl_easy_getinfo");
		*(void **)&api.easy_escape = dlsym(api.lib, "curl_easy_escape");
		*(void **)&api.easy_strerror = dlsym(api.lib, "curl_easy_strerror");
		*(void **)&api.free = dlsym(api.lib, "curl_free");
	}
	if (!api.lib || !api.easy_init || !api.easy_setopt || !api.easy_perform ||
	    !api.easy_cleanup || !api.easy_getinfo || !api.easy_escape || !api.easy_strerror ||
	    !api.free) {
		hil_error("cannot load %s for HTTP (pdudaemon): %s (Debian: libcurl4)",
		          CURL_LIBRARY, dlerror());
		api.lib = NULL;
	}
	return api.lib != NULL;
}

CURL *curl_easy_init(void)
{
	return curl_loaded() ? api.easy_init() : NULL;
}

/* In parentheses: curl.h also defines these two names as macros. */
CURLcode(curl_easy_setopt)(CURL *curl, CURLoption option, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, option);
	arg = va_arg(ap, void *);
	va_end(ap);
	return api.easy_setopt(curl, option, arg);
}

CURLcode curl_easy_perform(CURL *curl)
{
	return api.easy_perform(curl);
}

void curl_easy_cleanup(CURL *curl)
{
	if (api.lib)
		api.easy_cleanup(curl);
}

CURLcode(curl_easy_getinfo)(CURL *curl, CURLINFO info, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, info);
	arg = va_arg(ap, void *);
	va_end(ap);
	return api.easy_getinfo(curl, info, arg);
}

char *curl_easy_escape(CURL *curl, const char *string, int length)
{
	return api.easy_escape(curl, string, length);
}

const char *curl_easy_strerror(CURLcode code)
{
	return api.lib ? api.easy_strerror(code) : "libcurl not loaded";
}

void curl_free(void *p)
{
	if (api.lib)
		api.free(p);
}
