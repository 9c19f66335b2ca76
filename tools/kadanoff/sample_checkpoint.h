/* Checkpoints of `kadanoff sample`: see sample_checkpoint.c. */
#ifndef KD_SAMPLE_CHECKPOINT_H
#define KD_SAMPLE_CHECKPOINT_H

#include "kadanoff/kadanoff.h"

/* The parameters that determine the bits, as one exact string. */
void sample_fingerprint(const kd_sample_params *p, char *buf, size_t size);

/* Check that checkpoint `ck` (read from path) belongs to parameters p: same
 * fingerprint, whole temperatures, all of them in p->temps. Prints an error
 * and returns CLI_FAILURE if not. */
int sample_checkpoint_check(const char *cmd, const char *path, const kd_dataset *ck,
                            const kd_sample_params *p);

/* The temperatures of temps[0..nt) that ck (may be NULL) lacks, in order, into
 * out (room for nt); returns their number. */
size_t sample_missing_temps(const kd_dataset *ck, const double *temps, size_t nt, double *out);

/* The temperatures of temps present in a or b (either may be NULL, not both),
 * in the order of temps, each with `per` rows, summary and correlation row,
 * as one dataset with the provenance of a (or b). */
kd_status sample_merge(const kd_dataset *a, const kd_dataset *b, const double *temps, size_t nt,
                       size_t per, kd_dataset **out);

#endif
