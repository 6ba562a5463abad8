/* Files, console and exit for the host board, with stdio: the same main loop as the firmware. */
#include <stdio.h>
#include <stdlib.h>

#include "te_runtime.h"

#define TE_HOST_FILES 4

static FILE *te_host_files[TE_HOST_FILES];

static FILE *te_host_file(te_file file)
{
    return file >= 0 && file < TE_HOST_FILES ? te_host_files[file] : NULL;
}

te_file te_file_open(const char *name, enum te_file_mode mode)
{
    for (te_file file = 0; file < TE_HOST_FILES; ++file) {
        if (te_host_files[file] == NULL) {
            te_host_files[file] = fopen(name, mode == TE_FILE_READ ? "rb" : "wb");
            return te_host_files[file] != NULL ? file : -1;
        }
    }
    return -1;
}

size_t te_file_read(te_file file, void *buf, size_t len)
{
    FILE *stream = te_host_file(file);
    return stream != NULL ? fread(buf, 1, len, stream) : 0u;
}

size_t te_file_write(te_file file, const void *buf, size_t len)
{
    FILE *stream = te_host_file(file);
    return stream != NULL ? fwrite(buf, 1, len, stream) : 0u;
}

void te_file_close(te_file file)
{
    FILE *stream = te_host_file(file);
    if (stream != NULL) {
        fclose(stream);
        te_host_files[file] = NULL;
    }
}

void te_console_write(const char *text)
{
    fputs(text, stdout);
}

void te_exit(int status)
{
    fflush(stdout);
    exit(status == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
