/* reports/journal_read.c — parse a campaign journal, line by line, into
 * typed records; every problem is reported as FILE:LINE so a person can
 * open the journal at the right place. Format: docs/journal.md. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "reports/journal_read.h"
#include "reports/journal_parse.h"
#include "lib/text.h"

static void shell_quote(struct sbuf *b, const char *s, size_t len)
{
	sbuf_adds(b, "'");
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\'')
			sbuf_adds(b, "'\\''");
		else
			sbuf_add(b, &s[i], 1);
	}
	sbuf_adds(b, "'");
}

static int parse_shard(struct parser *p, json_t *o, struct jcampaign *c)
{
	long long index = 0, count = 1, attempt = 1;
	json_t *s = json_object_get(o, "shard");

	if (!s || json_is_null(s))
		return 0;
	if (!json_is_object(s)) {
		jp_err(p, "campaign: \"shard\" must be an object {index, count, attempt}");
		return -1;
	}
	p->rec = "campaign.shard";
	if (jp_int(p, s, "index", true, &index) < 0 || jp_int(p, s, "count", true, &count) < 0 ||
	    jp_int(p, s, "attempt", false, &attempt) < 0)
		return -1;
	if (count > JOURNAL_MAX_SHARDS) {
		jp_err(
		    p,
		    "campaign.shard: count %lld is more shards than a campaign may have (at most "
		    "%d)",
		    count, JOURNAL_MAX_SHARDS);
		return -1;
	}
	if (count < 1 || index < 0 || index >= count || attempt < 1 || attempt > 1000000) {
		jp_err(p,
		       "campaign.shard: index %lld of count %lld, attempt %lld: want 0 <= index < "
		       "count and attempt >= 1",
		       index, count, attempt);
		return -1;
	}
	c->shard_index = (int)index;
	c->shard_count = (int)count;
	c->shard_attempt = (int)attempt;
	return 0;
}

/* A writer may record the command as "argv" (a list of byte strings)
 * instead of "command": join it, quoting words a shell would split. */
static int command_from_argv(struct parser *p, json_t *o)
{
	json_t *argv = json_object_get(o, "argv"), *arg;
	struct sbuf cmd = {0};
	size_t i;

	if (json_object_get(o, "command") || !argv || json_is_null(argv))
		return 0;
	if (!json_is_array(argv)) {
		jp_err(p, "campaign: \"argv\" must be a list of strings");
		return -1;
	}
	json_array_foreach(argv, i, arg)
	{
		struct jtext t = {json_string_value(arg), json_string_length(arg)};
		char *bytes;

		if (!json_is_string(arg)) {
			jp_err(p, "campaign: \"argv\"[%zu] must be a string", i);
			sbuf_free(&cmd);
			return -1;
		}
		bytes = malloc(t.len + 1);
		memcpy(bytes, t.s, t.len);
		t.len = text_con_bytes(bytes, t.len);
		bytes[t.len] = '\0';
		if (i)
			sbuf_adds(&cmd, " ");
		if (!t.len || strlen(bytes) != t.len || strpbrk(bytes, " \t'\"\\$`;&|<>*?()"))
			shell_quote(&cmd, bytes, t.len);
		else
			sbuf_add(&cmd, bytes, t.len);
		free(bytes);
	}
	json_object_set_new(o, "command", json_stringn_nocheck(cmd.s ? cmd.s : "", cmd.len));
	sbuf_free(&cmd);
	return 0;
}

/* "descriptions": an object of scenario name to text (optional). */
static int parse_descriptions(struct parser *p, json_t *o, struct jcampaign *c)
{
	const char *name;
	json_t *map, *text;

	if (jp_field(p, o, "descriptions", false, &map))
		return 0;
	if (!json_is_object(map)) {
		jp_err(p, "campaign: \"descriptions\" must be an object {scenario: text}");
		return -1;
	}
	c->described = calloc(json_object_size(map) + 1, sizeof(*c->described));
	c->descriptions = calloc(json_object_size(map) + 1, sizeof(*c->descriptions));
	if (!c->described || !c->descriptions)
		abort(); /* as the other lists: no report without memory */
	json_object_foreach(map, name, text)
	{
		if (!json_is_string(text)) {
			jp_err(p, "campaign: \"descriptions\".\"%s\" must be a string", name);
			return -1;
		}
		c->described[c->n_descriptions] = name;
		c->descriptions[c->n_descriptions++] = json_string_value(text);
	}
	return 0;
}

/* "boards_unavailable": [{board, pid, holder}] (optional). */
static int parse_unavailable(struct parser *p, json_t *o, struct jcampaign *c)
{
	json_t *list, *e;
	size_t i;

	if (jp_field(p, o, "boards_unavailable", false, &list))
		return 0;
	if (!json_is_array(list)) {
		jp_err(p,
		       "campaign: \"boards_unavailable\" must be a list of {board, pid, holder}");
		return -1;
	}
	c->unavailable = calloc(json_array_size(list) + 1, sizeof(*c->unavailable));
	if (!c->unavailable)
		abort(); /* as the other lists: no report without memory */
	json_array_foreach(list, i, e)
	{
		struct jbusy *b = &c->unavailable[c->n_unavailable];
		b->pid = -1;
		if (!json_is_object(e)) {
			jp_err(p, "campaign: \"boards_unavailable\" must be a list of {board, pid, "
			          "holder}");
			return -1;
		}
		if (jp_str(p, e, "board", true, &b->board) < 0 ||
		    jp_str(p, e, "holder", false, &b->holder) < 0 ||
		    jp_int(p, e, "pid", false, &b->pid) < 0)
			return -1;
		c->n_unavailable++;
	}
	return 0;
}

static int parse_campaign_fields(struct parser *p, json_t *o, struct jcampaign *c)
{
	long long format = 0;
	int bad = 0;

	c->seed = c->runs_planned = c->boards_asked = -1;
	c->shard_count = c->shard_attempt = 1;
	if (jp_int(p, o, "format", true, &format) < 0)
		return -1;
	if (format != 1) {
		jp_err(p, "campaign: journal format %lld; this hilctl reads format 1", format);
		return -1;
	}
	c->format = (int)format;
	bad |= jp_str(p, o, "id", true, &c->id) < 0;
	bad |= jp_str(p, o, "hilctl_version", false, &c->hilctl_version) < 0;
	bad |= jp_str(p, o, "started", false, &c->started) < 0;
	bad |= jp_str(p, o, "host", false, &c->host) < 0;
	bad |= jp_str(p, o, "lab", false, &c->lab) < 0;
	bad |= command_from_argv(p, o) < 0;
	bad |= jp_str(p, o, "command", false, &c->command) < 0;
	bad |= jp_int(p, o, "seed", false, &c->seed) < 0;
	bad |= jp_int(p, o, "runs_planned", false, &c->runs_planned) < 0;
	bad |= jp_str_list(p, o, "boards", &c->boards, &c->n_boards) < 0;
	bad |= jp_str_list(p, o, "scenarios", &c->scenarios, &c->n_scenarios) < 0;
	bad |= parse_descriptions(p, o, c) < 0;
	bad |= parse_shard(p, o, c) < 0;
	bad |= jp_int(p, o, "boards_asked", false, &c->boards_asked) < 0;
	bad |= parse_unavailable(p, o, c) < 0;
	return bad ? -1 : 0;
}

static void free_campaign(struct jcampaign *c)
{
	free(c->boards);
	free(c->scenarios);
	free(c->described);
	free(c->descriptions);
	free(c->unavailable);
}

static int parse_campaign(struct parser *p, json_t *o)
{
	struct jfile *j = p->j;
	struct jcampaign c = {0};
	bool resumed = false;

	if (parse_campaign_fields(p, o, &c) < 0 || jp_bool(p, o, "resumed", false, &resumed) < 0) {
		free_campaign(&c);
		return -1;
	}
	if (!j->campaign.id) {
		j->campaign = c;
		return 0;
	}
	if (!resumed)
		jp_err(p, "campaign: a second campaign record must say \"resumed\": true; two "
		          "campaigns were written into one journal");
	else if (strcmp(c.id, j->campaign.id) != 0)
		hil_warn("%s:%u: the resumed campaign is \"%s\", the journal began as \"%s\"; "
		         "the first id counts",
		         p->name, p->line, c.id, j->campaign.id);
	if (c.shard_index != j->campaign.shard_index || c.shard_count != j->campaign.shard_count)
		jp_err(p, "campaign: resumed as shard %d/%d, but the journal is shard %d/%d",
		       c.shard_index, c.shard_count, j->campaign.shard_index,
		       j->campaign.shard_count);
	free_campaign(&c);
	j->resumes++;
	j->ended = j->complete = false; /* only an end after the resume counts */
	return 0;
}

static int parse_end(struct parser *p, json_t *o)
{
	struct jfile *j = p->j;
	bool complete = false;
	int bad = 0;

	j->runs_done = -1;
	j->finished = j->interrupted = NULL;
	bad |= jp_bool(p, o, "complete", true, &complete) < 0;
	bad |= jp_str(p, o, "finished", false, &j->finished) < 0;
	bad |= jp_str(p, o, "interrupted", false, &j->interrupted) < 0;
	bad |= jp_int(p, o, "runs_done", false, &j->runs_done) < 0;
	if (bad)
		return -1;
	j->ended = true;
	j->complete = complete;
	return 0;
}

/* ---- hilctl explore's journal (docs/explore.md): its header stands for the
 * campaign (id SCENARIO@STARTED), each booted crash state for a run (key
 * SCENARIO/state=N, point the state's selection), its end record for the
 * end. ---- */

static int parse_explore(struct parser *p, json_t *o)
{
	const char *scenario = NULL, *started = NULL;
	char id[160];

	if (jp_str(p, o, "scenario", true, &scenario) < 0 ||
	    jp_str(p, o, "started", false, &started) < 0)
		return -1;
	snprintf(id, sizeof(id), "%s@%s", scenario, started ? started : "-");
	json_object_set_new(o, "id", json_string(id));
	json_object_set_new(o, "scenarios", json_pack("[s]", scenario));
	p->explore = true;
	p->rec = "explore";
	return parse_campaign(p, o);
}

static int parse_state(struct parser *p, json_t *o)
{
	long long n = 0;
	const char *sel = NULL;
	char key[200];

	if (jp_int(p, o, "n", true, &n) < 0 || jp_str(p, o, "sel", true, &sel) < 0)
		return -1;
	snprintf(key, sizeof(key), "%s/state=%lld", p->j->campaign.scenarios[0], n);
	json_object_set_new(o, "key", json_string(key));
	json_object_set_new(o, "id", json_integer(n));
	json_object_set_new(o, "point", json_string(sel));
	json_object_set_new(o, "scenario", json_string(p->j->campaign.scenarios[0]));
	return parse_run(p, o);
}

static int parse_explore_end(struct parser *p, json_t *o)
{
	struct jfile *j = p->j;
	bool complete = false, interrupted = false;
	int bad = 0;

	bad |= jp_bool(p, o, "complete", true, &complete) < 0;
	bad |= jp_str(p, o, "finished", false, &j->finished) < 0;
	bad |= jp_bool(p, o, "interrupted", false, &interrupted) < 0;
	bad |= jp_int(p, o, "booted", false, &j->runs_done) < 0;
	if (bad)
		return -1;
	j->interrupted = interrupted ? "interrupted" : NULL;
	j->ended = true;
	j->complete = complete && !interrupted;
	return 0;
}

/* One record: an object with exactly one key saying what it is. */
static int parse_record(struct parser *p, json_t *rec)
{
	const char *kind;
	json_t *body;
	void *iter;

	if (!json_is_object(rec) || json_object_size(rec) != 1) {
		jp_err(p,
		       "a record is an object with exactly one key (campaign, run, window, end)");
		return -1;
	}
	iter = json_object_iter(rec);
	kind = json_object_iter_key(iter);
	body = json_object_iter_value(iter);
	if (!json_is_object(body)) {
		jp_err(p, "\"%s\" must be an object", kind);
		return -1;
	}
	p->rec = kind;
	if (!p->j->campaign.id && strcmp(kind, "explore") == 0)
		return parse_explore(p, body);
	if (!p->j->campaign.id && strcmp(kind, "campaign") != 0) {
		jp_err(p, "the first record must be \"campaign\", not \"%s\"", kind);
		return -1;
	}
	if (p->explore) {
		if (strcmp(kind, "state") == 0)
			return parse_state(p, body);
		if (strcmp(kind, "end") == 0)
			return parse_explore_end(p, body);
		jp_err(p, "an explore journal has state and end records, not \"%s\"", kind);
		return -1;
	}
	if (strcmp(kind, "campaign") == 0)
		return parse_campaign(p, body);
	if (strcmp(kind, "run") == 0)
		return parse_run(p, body);
	if (strcmp(kind, "window") == 0)
		return parse_window(p, body);
	if (strcmp(kind, "end") == 0)
		return parse_end(p, body);
	if (!p->warned_unknown) /* a newer writer's record kind: skip, once said */
		hil_warn("%s:%u: record \"%s\" is unknown to this hilctl; skipped", p->name,
		         p->line, kind);
	p->warned_unknown = true;
	return 0;
}

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* Parse one line; a last line that is cut or unparseable is dropped. */
static void parse_line(struct parser *p, const char *s, size_t len, bool last, bool has_nl)
{
	json_error_t err;
	json_t *rec;

	if (blank(s, len))
		return;
	if (last && !has_nl) {
		hil_warn("%s:%u: the last line has no newline (the writer was stopped mid-record); "
		         "ignored",
		         p->name, p->line);
		p->j->truncated = true;
		return;
	}
	rec = json_loadb(s, len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &err);
	if (!rec) {
		if (last) {
			hil_warn("%s:%u: the last line is not valid JSON (a cut record?); ignored",
			         p->name, p->line);
			p->j->truncated = true;
		} else {
			jp_err(p, "not a JSON record (column %d: %s)", err.column, err.text);
		}
		return;
	}
	json_array_append_new(p->j->json, rec);
	parse_record(p, rec);
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

struct jfile *jfile_parse(const char *name, const char *buf, size_t len)
{
	struct jfile *j = calloc(1, sizeof(*j));
	struct parser p = {.j = j, .name = name};
	size_t start = 0;

	if (!j)
		return NULL;
	j->path = strdup(name);
	j->dir = dir_of(name);
	j->json = json_array();
	j->runs_done = -1;
	while (start < len) {
		const char *nl = memchr(buf + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - buf) : len;
		bool last = !nl || end + 1 >= len;

		p.line++;
		parse_line(&p, buf + start, end - start, last, nl != NULL);
		start = end + 1;
	}
	if (!p.errors && !j->campaign.id) {
		jp_err(&p, "no campaign record: not a hilctl journal, or empty");
	}
	if (p.errors > MAX_ERRORS)
		hil_error("%s: %d more errors not shown", name, p.errors - MAX_ERRORS);
	if (!p.errors)
		finish_runs(&p);
	if (p.errors) {
		jfile_free(j);
		return NULL;
	}
	return j;
}

struct jfile *jfile_load(const char *path)
{
	struct jfile *j;
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0;

	if (!f) {
		hil_error("%s: %s", path, strerror(errno));
		return NULL;
	}
	{
		FILE *mem = open_memstream(&buf, &len);
		char chunk[65536];
		size_t n;

		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			fwrite(chunk, 1, n, mem);
		fclose(mem);
	}
	if (ferror(f)) {
		hil_error("%s: read error: %s", path, strerror(errno));
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	j = jfile_parse(path, buf, len);
	free(buf);
	return j;
}

void jfile_free(struct jfile *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->n_runs; i++) {
		free(j->runs[i].faults);
		free(j->runs[i].evidence);
	}
	free(j->runs);
	free(j->windows);
	free_campaign(&j->campaign);
	json_decref(j->json);
	free(j->path);
	free(j->dir);
	free(j);
}
