/* harness/lab/probes.h — check a board's probes: mapping when the lab loads,
 * so a lab whose verdicts could not be honest is refused before anything is
 * powered (exit 2, file:line). */
#ifndef HILCTL_PROBES_H
#define HILCTL_PROBES_H

struct cfg_node;

/* 0, or -EINVAL after printing the error at the offending key: a version
 * probe with no way to observe a commit (no (?<committed>…) group and no
 * commit: line), a regex that does not compile, a bad alive: or evidence:. */
int probes_check(const struct cfg_node *probes);

#endif
