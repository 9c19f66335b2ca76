/* The paper reproductions run by `kadanoff reproduce` (one file each). */
#ifndef KD_REPRODUCE_H
#define KD_REPRODUCE_H

#include <stdint.h>

int reproduce_iso2018(const char *dir, int quick, uint64_t seed);
int reproduce_mehta2014(const char *dir, int quick, uint64_t seed);

#endif
