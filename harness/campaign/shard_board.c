/* harness/campaign/shard_board.c — the board of a shard: the GRES Slurm allocated to
 * this task, or a free board of this host by lock (see shard_board.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/lab/lock.h"
#include "lib/log.h"
#include "harness/campaign/shard_board.h"

/* The line of scontrol's one-line-per-record output that is job_id's. */
static const char *job_record(const char *text, const char *job_id, size_t *len)
{
	size_t id_len = strlen(job_id);

	for (const char *line = text; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line) : strlen(line);

		if (n > 6 + id_len && !strncmp(line, "JobId=", 6) &&
		    !strncmp(line + 6, job_id, id_len) &&
		    isspace((unsigned char)line[6 + id_len])) {
			*len = n;
			return line;
		}
		line = end ? end + 1 : NULL;
	}
	return NULL;
}

int slurm_gres_index(const char *scontrol_out, const char *job_id, const char *gres, int *idx)
{
	size_t len, glen = strlen(gres);
	const char *rec = job_record(scontrol_out, job_id, &len), *p;

	if (!rec)
		return -ESRCH;
	/* " GRES=board:1(IDX:0),gpu:..." — not JOB_GRES=, which has no index. */
	for (p = rec; (p = strstr(p, " GRES=")) && p < rec + len; p++) {
		const char *e = p + 6;

		while (e < rec + len && !isspace((unsigned char)*e)) {
			const char *entry = e, *open, *stop;
			char *num_end;
			long v;

			stop = entry;
			while (stop < rec + len && *stop != ',' && !isspace((unsigned char)*stop)) {
				if (*stop == '(') /* an IDX list may hold commas: skip to ')' */
					while (stop < rec + len && *stop != ')')
						stop++;
				if (stop < rec + len)
					stop++;
			}
			/* name[:type]:count(IDX:list) */
			open = memchr(entry, '(', (size_t)(stop - entry));
			if (!strncmp(entry, gres, glen) && entry[glen] == ':' && open &&
			    !strncmp(open, "(IDX:", 5)) {
				/* board:1 matches "board"; board:rpi4:1 matches "board" and
				 * "board:rpi4". */
				v = strtol(open + 5, &num_end, 10);
				if (num_end != open + 5 && v >= 0 && v < 100000) {
					*idx = (int)v;
					return 0;
				}
			}
			e = stop < rec + len && *stop == ',' ? stop + 1 : stop;
		}
	}
	return -ENOENT;
}

static bool digits(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* scontrol's record of this job, as text (malloc'd), or NULL after an error. */
static char *ask_scontrol(const char *job_id)
{
	char cmd[128], *out = NULL;
	size_t len = 0, cap = 0;
	char buf[4096];
	size_t n;
	FILE *f;
	int status;

	/* timeout(1) bounds the wait when the controller does not answer. */
	snprintf(cmd, sizeof(cmd), "timeout 30 scontrol -o show job -d %s 2>&1", job_id);
	f = popen(cmd, "r");
	if (!f) {
		hil_error("Slurm job %s: cannot run scontrol: %s", job_id, strerror(errno));
		return NULL;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (len + n + 1 > cap) {
			char *grown = realloc(out, cap = (len + n + 1) * 2);
			if (!grown)
				break;
			out = grown;
		}
		memcpy(out + len, buf, n);
		len += n;
		out[len] = '\0';
	}
	status = pclose(f);
	if (status != 0 || !out) {
		hil_error("Slurm job %s: \"scontrol -o show job -d %s\" failed (status %d): %.300s "
		          "(is slurmctld reachable from this host?)",
		          job_id, job_id, status, out ? out : "");
		free(out);
		return NULL;
	}
	return out;
}

static int slurm_index(const char *job_id, int *idx)
{
	const char *env = getenv("HILCTL_GRES_IDX");
	char *text;
	int rc;

	if (env && env[0]) { /* exported by a TaskProlog (docs/slurm.md) */
		if (!digits(env)) {
			hil_error(
			    "HILCTL_GRES_IDX=\"%s\" is not a board index (check the TaskProlog)",
			    env);
			return -EINVAL;
		}
		*idx = atoi(env);
		return 0;
	}
	text = ask_scontrol(job_id);
	if (!text)
		return -EIO;
	rc = slurm_gres_index(text, job_id, "board", idx);
	if (rc == -ESRCH)
		hil_error("Slurm job %s: scontrol shows no record of this job: cannot tell which "
		          "board Slurm gave it",
		          job_id);
	else if (rc < 0)
		hil_error(
		    "Slurm job %s was given no board: submit it with --gres=board:1 (and list "
		    "the host's boards in gres.conf: hilctl gres)",
		    job_id);
	free(text);
	return rc == -ESRCH ? -EIO : rc < 0 ? -EINVAL : 0;
}

static int pick_slurm(const struct lab *lab, const char *job_id, const char *host,
                      board_fits_fn fits, void *ctx, const struct board_cfg **out)
{
	int idx, rc = slurm_index(job_id, &idx), k = 0;

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < lab->n_boards; i++) {
		const struct board_cfg *b = &lab->boards[i];

		if (!board_on_host(b, host) || k++ != idx)
			continue;
		if (!fits(b, ctx)) {
			hil_error(
			    "Slurm gave job %s board %d of host %s, \"%s\" (%s), which does not "
			    "fit the campaign: request a typed GRES (--gres=board:TYPE:1)",
			    job_id, idx, host, b->name, lab->path);
			return -EINVAL;
		}
		*out = b;
		return 0;
	}
	hil_error("Slurm gave job %s board %d of host %s, but %s lists only %d boards on that "
	          "host: gres.conf and the lab file disagree (regenerate it: hilctl --lab %s gres "
	          "--host %s)",
	          job_id, idx, host, lab->path, k, lab->path, host);
	return -EINVAL;
}

static int pick_free(const struct lab *lab, const char *host, board_fits_fn fits, void *ctx,
                     const struct board_cfg **out, bool *locked)
{
	int candidates = 0;

	for (size_t i = 0; i < lab->n_boards; i++) {
		const struct board_cfg *b = &lab->boards[i];
		int rc;

		if (!board_on_host(b, host) || !fits(b, ctx))
			continue;
		candidates++;
		rc = lock_try(b->name, locked);
		if (rc == -EBUSY)
			continue;
		if (rc < 0)
			return rc;
		*out = b;
		return 0;
	}
	if (!candidates) {
		hil_error(
		    "%s: no board on host %s fits the campaign (a board's host: names its lab "
		    "host; set HILCTL_HOST to act as another)",
		    lab->path, host);
		return -EINVAL;
	}
	hil_error("%s: all %d boards of host %s that fit are locked by other runs (hilctl boards "
	          "shows who holds them)",
	          lab->path, candidates, host);
	return -EBUSY;
}

int shard_board_pick(const struct lab *lab, board_fits_fn fits, void *ctx,
                     const struct board_cfg **out, bool *locked)
{
	const char *job_id = getenv("SLURM_JOB_ID"), *host = lab_this_host();

	*locked = false;
	if (job_id && job_id[0]) {
		if (!digits(job_id)) {
			hil_error("SLURM_JOB_ID=\"%s\" is not a job id", job_id);
			return -EINVAL;
		}
		return pick_slurm(lab, job_id, host, fits, ctx, out);
	}
	return pick_free(lab, host, fits, ctx, out, locked);
}

size_t boards_pick_free(const struct lab *lab, board_fits_fn fits, void *ctx, size_t want,
                        const struct board_cfg **out, struct board_busy *busy, size_t *n_busy)
{
	size_t n = 0;

	*n_busy = 0;
	for (size_t i = 0; i < lab->n_boards && n < want; i++) {
		const struct board_cfg *b = &lab->boards[i];
		struct lock_holder h;

		if (!fits(b, ctx))
			continue;
		if (lock_query(b->name, &h) == 1 && !lock_holder_is_us(&h)) {
			if (*n_busy < BOARDS_BUSY_MAX) {
				struct board_busy *e = &busy[(*n_busy)++];
				e->board = b->name;
				e->pid = (int)h.pid;
				snprintf(e->cmd, sizeof(e->cmd), "%.95s", h.cmd[0] ? h.cmd : "?");
			}
			continue;
		}
		out[n++] = b;
	}
	return n;
}

void boards_busy_text(const struct board_busy *busy, size_t n, char *text, size_t size)
{
	size_t used = 0;

	if (size)
		text[0] = '\0';
	for (size_t i = 0; i < n && used < size; i++)
		used += (size_t)snprintf(text + used, size - used, "%s%s (locked by pid %d: %s)",
		                         i ? ", " : "", busy[i].board, busy[i].pid, busy[i].cmd);
}
