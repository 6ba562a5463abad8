/*
 * tinyedge host runner: the generated model compiled for the development machine.
 *
 * Reads samples of TINYEDGE_INPUT_BYTES from stdin until end of input, runs one
 * inference per sample and writes each sample's TINYEDGE_OUTPUT_BYTES to stdout.
 * Exit status 0 on success, 2 on a truncated sample or an I/O error.
 */
#include <stdint.h>
#include <stdio.h>

#include "tinyedge_model.h"

static int8_t input[TINYEDGE_INPUT_BYTES];
static int8_t output[TINYEDGE_OUTPUT_BYTES];

int main(void)
{
    for (;;) {
        const size_t got = fread(input, 1, sizeof input, stdin);
        if (got == 0 && feof(stdin)) {
            return 0;
        }
        if (got != sizeof input) {
            fprintf(stderr, "tinyedge host runner: truncated sample (%zu of %zu bytes)\n", got, sizeof input);
            return 2;
        }
        tinyedge_model_invoke(input, output);
        if (fwrite(output, 1, sizeof output, stdout) != sizeof output) {
            fprintf(stderr, "tinyedge host runner: cannot write output\n");
            return 2;
        }
    }
}
