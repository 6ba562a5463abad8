/*
 * CoreMark on tinyedge's firmware runtime: reads its one-byte sample from input.bin (the
 * emulator's protocol), runs CoreMark (timed between the inference markers), and writes one byte
 * to output.bin. CoreMark prints its own report, CRCs included, on the console.
 */
#include <stdint.h>

#include "te_runtime.h"

int te_coremark_main(void);

int main(void)
{
    const te_file input = te_file_open("input.bin", TE_FILE_READ);
    const te_file output = te_file_open("output.bin", TE_FILE_WRITE);
    uint8_t sample = 0u;
    if (input < 0 || output < 0 || te_file_read(input, &sample, 1u) != 1u) {
        te_fail("cannot read input.bin");
    }
    sample = (uint8_t)te_coremark_main();
    if (te_file_write(output, &sample, 1u) != 1u) {
        te_fail("cannot write output.bin");
    }
    te_file_close(input);
    te_file_close(output);
    return 0;
}
