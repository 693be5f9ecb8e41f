/* lib/stop.c — the stop flag behind lib/stop.h. */
#include "lib/stop.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t stop_signal;

int stop_requested(void)
{
	return stop_signal;
}

void stop_request(int sig)
{
	stop_signal = sig;
}

static void on_signal(int sig)
{
	stop_signal = sig;
}

void stop_install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}
