/* harness/cli/cmd_submit.c — "hilctl submit": start a campaign on Slurm as a job
 * array, one shard per task on the board Slurm allocates, requeued when a
 * lab host dies (docs/slurm.md). It only builds the sbatch command line;
 * Slurm does the rest. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/cli/cli.h"
#include "harness/lab/lab.h"
#include "lib/log.h"
#include "lib/num.h"
#include "reports/journal_read.h"

static const char submit_help[] =
    "usage: hilctl [--lab FILE] submit --shards N [options] -- run|qualify ARGS...\n\n"
    "Submit the campaign to Slurm as an array of N tasks: each runs\n"
    "\"hilctl --lab FILE ARGS... --shard auto\" on the board Slurm gives it (GRES\n"
    "board; hilctl gres writes gres.conf), and Slurm requeues the tasks of a lab\n"
    "host that dies. Each shard attempt writes its own journal in the --out\n"
    "directory; merge them with hilctl report --merge when the array is done.\n\n"
    "  --shards N        number of shards (array tasks); more than boards is fine\n"
    "  --gres G          what each task asks for (default board:1; board:rpi4:1 for\n"
    "                    a typed GRES)\n"
    "  --partition P     the Slurm partition\n"
    "  --sbatch-arg ARG  pass ARG to sbatch (repeat: --sbatch-arg=--time=2:00:00)\n"
    "  --dry-run         print the sbatch command, submit nothing\n\n"
    "exit: 0 submitted (prints the job id), 2 usage, 3 sbatch failed\n";

/* ARG as one shell word (sbatch --wrap runs its text with sh). */
static void shell_word(char **buf, size_t *len, size_t *cap, const char *arg)
{
	size_t need = *len + strlen(arg) * 4 + 4;

	if (need > *cap) {
		*cap = need * 2;
		*buf = realloc(*buf, *cap);
		if (!*buf)
			abort();
	}
	(*buf)[(*len)++] = ' ';
	(*buf)[(*len)++] = '\'';
	for (const char *p = arg; *p; p++) {
		if (*p == '\'') {
			memcpy(*buf + *len, "'\\''", 4);
			*len += 4;
		} else {
			(*buf)[(*len)++] = *p;
		}
	}
	(*buf)[(*len)++] = '\'';
	(*buf)[*len] = '\0';
}

/* The --out value of the campaign's arguments, if any. */
static const char *out_dir(char **args, int n)
{
	for (int i = 0; i < n; i++) {
		if (!strcmp(args[i], "--out") && i + 1 < n)
			return args[i + 1];
		if (!strncmp(args[i], "--out=", 6))
			return args[i] + 6;
	}
	return NULL;
}

/* Run argv (sbatch under timeout(1)); its stdout into out. Exit status or -errno. */
static int run_capture(char *const argv[], char *out, size_t size)
{
	int pipefd[2], status;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	if (pipe(pipefd) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		close(pipefd[0]);
		close(pipefd[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	while (len + 1 < size && (n = read(pipefd[0], out + len, size - 1 - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		len += (size_t)n;
	}
	out[len] = '\0';
	close(pipefd[0]);
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct submit_opts {
	int shards;
	const char *gres, *partition;
	const char *sbatch_args[32];
	int n_sbatch;
	bool dry_run;
};

static int parse(struct cli *cli, struct submit_opts *o)
{
	enum { O_SHARDS = 256, O_GRES, O_PART, O_ARG, O_DRY };
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"shards", required_argument, NULL, O_SHARDS},
	    {"gres", required_argument, NULL, O_GRES},
	    {"partition", required_argument, NULL, O_PART},
	    {"sbatch-arg", required_argument, NULL, O_ARG},
	    {"dry-run", no_argument, NULL, O_DRY},
	    {NULL, 0, NULL, 0},
	};
	int c;

	/* "+": stop at the first non-option; the campaign's own options follow. */
	while ((c = getopt_long(cli->argc, cli->argv, "+h", opts, NULL)) != -1) {
		int r = cli_common_opt(cli, c, submit_help);
		if (r == -1)
			return EXIT_OK;
		if (r == 1)
			continue;
		switch (c) {
		case O_SHARDS:
			if (num_opt_int("--shards", optarg, 1, JOURNAL_MAX_SHARDS, &o->shards) <
			    0) {
				return EXIT_USAGE;
			}
			break;
		case O_GRES:
			o->gres = optarg;
			break;
		case O_PART:
			o->partition = optarg;
			break;
		case O_ARG:
			if (o->n_sbatch >= 30) {
				hil_error("--sbatch-arg: at most 30");
				return EXIT_USAGE;
			}
			o->sbatch_args[o->n_sbatch++] = optarg;
			break;
		case O_DRY:
			o->dry_run = true;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	return -1;
}

int cmd_submit(struct cli *cli)
{
	struct submit_opts o = {.gres = "board:1"};
	char self[PATH_MAX], lab_abs[PATH_MAX], *wrap = NULL, *argv[64], arr[32], gres[128];
	char part[128], output[PATH_MAX + 32], jobname[64], answer[256];
	size_t len = 0, cap = 0;
	ssize_t self_len;
	int rc = parse(cli, &o), n = 0;
	char **args;
	int n_args;
	const char *out;
	struct lab *lab;

	if (rc >= 0)
		return rc;
	args = cli->argv + optind;
	n_args = cli->argc - optind;
	if (!o.shards || n_args < 1 || (strcmp(args[0], "run") && strcmp(args[0], "qualify"))) {
		fputs(submit_help, stderr);
		return EXIT_USAGE;
	}
	lab = cli_load_lab(cli); /* a broken lab file fails here, not in 16 tasks */
	if (!lab)
		return EXIT_USAGE;
	lab_free(lab);
	self_len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (!realpath(cli->lab_path, lab_abs) || self_len < 0) {
		hil_error("%s: %s", cli->lab_path, strerror(errno));
		return EXIT_USAGE;
	}
	self[self_len] = '\0';
	shell_word(&wrap, &len, &cap, "exec");
	shell_word(&wrap, &len, &cap, self);
	shell_word(&wrap, &len, &cap, "--lab");
	shell_word(&wrap, &len, &cap, lab_abs);
	for (int i = 0; i < n_args; i++)
		shell_word(&wrap, &len, &cap, args[i]);
	shell_word(&wrap, &len, &cap, "--shard");
	shell_word(&wrap, &len, &cap, "auto");

	argv[n++] = "timeout";
	argv[n++] = "60";
	argv[n++] = "sbatch";
	argv[n++] = "--parsable";
	snprintf(jobname, sizeof(jobname), "--job-name=hilctl-%s", args[0]);
	argv[n++] = jobname;
	snprintf(arr, sizeof(arr), "--array=0-%d", o.shards - 1);
	argv[n++] = arr;
	snprintf(gres, sizeof(gres), "--gres=%s", o.gres);
	argv[n++] = gres;
	argv[n++] = "--requeue";
	argv[n++] = "--ntasks=1";
	if (o.partition) {
		snprintf(part, sizeof(part), "--partition=%s", o.partition);
		argv[n++] = part;
	}
	out = out_dir(args, n_args);
	if (out) {
		snprintf(output, sizeof(output), "--output=%s/slurm-%%A_%%a.out", out);
		argv[n++] = output;
	}
	for (int i = 0; i < o.n_sbatch; i++)
		argv[n++] = (char *)o.sbatch_args[i];
	argv[n++] = "--wrap";
	argv[n++] = wrap + 1; /* without the leading space */
	argv[n] = NULL;
	if (o.dry_run) {
		for (int i = 2; i < n; i++)
			printf("%s%s", i > 2 ? " " : "", argv[i]);
		printf("\n");
		free(wrap);
		return EXIT_OK;
	}
	if (out)
		mkdir(out, 0755); /* for Slurm's own output files */
	rc = run_capture(argv, answer, sizeof(answer));
	free(wrap);
	if (rc != 0) {
		hil_error(
		    "sbatch failed (%s%d): is this a Slurm submit host, and slurmctld up? (sinfo "
		    "tells)",
		    rc == 124 ? "timed out after 60 s, " : "status ", rc);
		return EXIT_INFRA;
	}
	answer[strcspn(answer, ";\n")] = '\0';
	printf("%s\n", answer);
	if (out)
		fprintf(stderr,
		        "submitted array job %s: %d shards of \"hilctl %s\"; when it is done: "
		        "hilctl report --merge --out %s/merged %s\n",
		        answer, o.shards, args[0], out, out);
	else
		fprintf(stderr, "submitted array job %s: %d shards of \"hilctl %s\"\n", answer,
		        o.shards, args[0]);
	return EXIT_OK;
}
