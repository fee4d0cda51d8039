/* Run a model exported by cnncc (target llvm) from plain C, without Python.
 *
 *   cnncc compile model.onnx --target llvm -o out/
 *   cc -O2 run_model.c -I out -L out -lmodel -Wl,-rpath,"$PWD/out" -o run_model
 *   ./run_model [-o outdir] [-r repeats] [input0.bin ...]
 *
 * Each input is read from a raw file of its declared dtype and shape (row-major), or, when
 * no file is given, filled with a fixed pattern. For every output the program prints its
 * shape and its five largest elements (index and value: the top-5 classes of a classifier);
 * with -o it also writes each output raw to outdir/<index>.bin. The weights are found in
 * weights.bin next to libmodel.so; $CNNCC_NUM_THREADS sets the thread count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"

static size_t dtype_size(cnncc_dtype t) {
    switch (t) {
    case CNNCC_FLOAT32: return 4;
    case CNNCC_INT32: return 4;
    case CNNCC_INT64: return 8;
    case CNNCC_BOOL: return 1;
    }
    return 0;
}

static double element(const void *p, cnncc_dtype t, int64_t i) {
    switch (t) {
    case CNNCC_FLOAT32: return ((const float *)p)[i];
    case CNNCC_INT32: return ((const int32_t *)p)[i];
    case CNNCC_INT64: return (double)((const int64_t *)p)[i];
    case CNNCC_BOOL: return ((const uint8_t *)p)[i];
    }
    return 0;
}

static void print_top5(const void *data, cnncc_dtype t, int64_t n) {
    int64_t best[5];
    int k = 0;
    for (int64_t i = 0; i < n; i++) {
        int pos = k < 5 ? k++ : 5;
        if (pos == 5 && element(data, t, i) <= element(data, t, best[4])) continue;
        if (pos == 5) pos = 4;
        while (pos > 0 && element(data, t, best[pos - 1]) < element(data, t, i)) {
            best[pos] = best[pos - 1];
            pos--;
        }
        best[pos] = i;
    }
    for (int j = 0; j < k; j++) printf("  top%d %lld %.6g\n", j + 1, (long long)best[j], element(data, t, best[j]));
}

int main(int argc, char **argv) {
    const char *outdir = NULL;
    int repeats = 1, argi = 1;
    while (argi < argc && argv[argi][0] == '-') {
        if (!strcmp(argv[argi], "-o") && argi + 1 < argc) outdir = argv[++argi];
        else if (!strcmp(argv[argi], "-r") && argi + 1 < argc) repeats = atoi(argv[++argi]);
        else { fprintf(stderr, "usage: %s [-o outdir] [-r repeats] [input.bin ...]\n", argv[0]); return 2; }
        argi++;
    }
    cnncc_model *model = cnncc_model_create(NULL);
    if (!model) { fprintf(stderr, "error: %s\n", cnncc_last_error()); return 1; }

    int ni = cnncc_num_inputs(), no = cnncc_num_outputs();
    void **in = calloc((size_t)ni + 1, sizeof *in), **out = calloc((size_t)no + 1, sizeof *out);
    for (int i = 0; i < ni; i++) {
        size_t bytes = (size_t)cnncc_input_numel(i) * dtype_size(cnncc_input_dtype(i));
        in[i] = malloc(bytes ? bytes : 1);
        if (argi + i < argc) {
            FILE *f = fopen(argv[argi + i], "rb");
            if (!f || fread(in[i], 1, bytes, f) != bytes) {
                fprintf(stderr, "error: cannot read %zu bytes for input %s from %s\n", bytes, cnncc_input_name(i), argv[argi + i]);
                return 1;
            }
            fclose(f);
        } else if (cnncc_input_dtype(i) == CNNCC_FLOAT32) {
            for (int64_t e = 0; e < cnncc_input_numel(i); e++) ((float *)in[i])[e] = (float)(e % 17) * 0.1f - 0.8f;
        } else {
            memset(in[i], 0, bytes);
        }
    }
    for (int o = 0; o < no; o++) {
        size_t bytes = (size_t)cnncc_output_numel(o) * dtype_size(cnncc_output_dtype(o));
        out[o] = malloc(bytes ? bytes : 1);
    }

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int r = 0; r < repeats; r++) {
        if (cnncc_model_run(model, (const void *const *)in, out)) {
            fprintf(stderr, "error: %s\n", cnncc_last_error());
            return 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = ((double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6) / repeats;

    for (int o = 0; o < no; o++) {
        printf("output %s [", cnncc_output_name(o));
        for (int d = 0; d < cnncc_output_ndim(o); d++) printf(d ? ",%lld" : "%lld", (long long)cnncc_output_shape(o)[d]);
        printf("]\n");
        print_top5(out[o], cnncc_output_dtype(o), cnncc_output_numel(o));
        if (outdir) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%d.bin", outdir, o);
            FILE *f = fopen(path, "wb");
            size_t bytes = (size_t)cnncc_output_numel(o) * dtype_size(cnncc_output_dtype(o));
            if (!f || fwrite(out[o], 1, bytes, f) != bytes) { fprintf(stderr, "error: cannot write %s\n", path); return 1; }
            fclose(f);
        }
    }
    printf("time %.3f ms per run (%d runs, %d threads requested, build %s)\n", ms, repeats,
           cnncc_model_get_num_threads(model), cnncc_build_id());
    for (int i = 0; i < ni; i++) free(in[i]);
    for (int o = 0; o < no; o++) free(out[o]);
    free(in);
    free(out);
    cnncc_model_destroy(model);
    return 0;
}
