/* Every function of model.h called with every misuse it documents, then concurrent runs on
 * one model object; built with -fsanitize=address by test_artifact_c_api.py against an
 * exported model with one float32 input and one output.
 *
 *   api_misuse ARTIFACT_DIR SCRATCH_DIR     exit 0 when every check holds
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model.h"

static int failures;

#define CHECK(cond, what)                                                              \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "FAIL line %d: %s (last error: %s)\n", __LINE__, what,    \
                    cnncc_last_error());                                               \
            failures++;                                                                \
        }                                                                              \
    } while (0)

/* the call returns `code` and leaves a message containing `text` */
#define EXPECT(call, code, text)                                                       \
    do {                                                                               \
        int rc_ = (call);                                                              \
        CHECK(rc_ == (code), #call " returns " #code);                                 \
        CHECK(strstr(cnncc_last_error(), text) != NULL, #call " says: " text);         \
    } while (0)

#define EXPECT_NULL_MODEL(path, text)                                                  \
    do {                                                                               \
        cnncc_model *m_ = cnncc_model_create(path);                                    \
        CHECK(m_ == NULL, "create(" #path ") fails");                                  \
        CHECK(strstr(cnncc_last_error(), text) != NULL, "create(" #path ") says: " text); \
        cnncc_model_destroy(m_);                                                       \
    } while (0)

static char *read_file(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)*len + 1);
    if (fread(buf, 1, (size_t)*len, f) != (size_t)*len) *len = -1;
    fclose(f);
    return buf;
}

static void write_file(const char *path, const char *data, long len) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, (size_t)len, f);
        fclose(f);
    }
}

static void check_create(const char *dir, const char *scratch) {
    char weights[4096], bad[4096];
    long len = 0;
    snprintf(weights, sizeof weights, "%s/weights.bin", dir);
    char *blob = read_file(weights, &len);
    CHECK(blob && len >= 64, "weights.bin readable");
    if (!blob) return;

    EXPECT_NULL_MODEL("/nonexistent/weights.bin", "cannot open");
    EXPECT_NULL_MODEL("", "cannot open");
    EXPECT_NULL_MODEL(scratch, "not a regular file"); /* a directory */
    snprintf(bad, sizeof bad, "%s/fifo", scratch);
    CHECK(mkfifo(bad, 0600) == 0, "mkfifo");
    EXPECT_NULL_MODEL(bad, "not a regular file"); /* must not block */
    snprintf(bad, sizeof bad, "%s/short.bin", scratch);
    write_file(bad, blob, len - 1);
    EXPECT_NULL_MODEL(bad, "wrong size");
    blob[len - 40] ^= 1; /* a byte of the build id in the trailer */
    snprintf(bad, sizeof bad, "%s/other.bin", scratch);
    write_file(bad, blob, len);
    EXPECT_NULL_MODEL(bad, "another build");
    blob[len - 40] ^= 1;
    memcpy(blob + len - 64, "NOTCNNCC", 8);
    write_file(bad, blob, len);
    EXPECT_NULL_MODEL(bad, "not a cnncc weights file");
    free(blob);
    cnncc_model_destroy(NULL);
}

static size_t in_bytes(void) { return (size_t)cnncc_input_numel(0) * sizeof(float); }
static size_t out_bytes(void) { return (size_t)cnncc_output_numel(0) * sizeof(float); }

static void check_queries(void) {
    CHECK(cnncc_num_inputs() == 1 && cnncc_num_outputs() == 1, "one input, one output");
    CHECK(strlen(cnncc_build_id()) == 32, "a build id");
    const int bad_index[] = {-1, 1, INT_MAX, INT_MIN};
    for (int k = 0; k < 4; k++) {
        int i = bad_index[k];
        CHECK(cnncc_input_name(i) == NULL && cnncc_output_name(i) == NULL, "name out of range is NULL");
        CHECK(strstr(cnncc_last_error(), "index out of range") != NULL, "name out of range says so");
        CHECK(cnncc_input_dtype(i) == 0 && cnncc_output_dtype(i) == 0, "dtype out of range is 0");
        CHECK(cnncc_input_ndim(i) == -1 && cnncc_output_ndim(i) == -1, "ndim out of range is -1");
        CHECK(cnncc_input_shape(i) == NULL && cnncc_output_shape(i) == NULL, "shape out of range is NULL");
        CHECK(cnncc_input_numel(i) == -1 && cnncc_output_numel(i) == -1, "numel out of range is -1");
        CHECK(strstr(cnncc_last_error(), "index out of range") != NULL, "out of range says so");
    }
    CHECK(cnncc_input_name(0) && cnncc_input_shape(0) && cnncc_input_ndim(0) >= 0, "input 0 declared");
    CHECK(cnncc_input_dtype(0) == CNNCC_FLOAT32 && cnncc_output_dtype(0) == CNNCC_FLOAT32, "float32 model");
    CHECK(cnncc_workspace_bytes() >= 0 && cnncc_weights_bytes() >= 0, "sizes");
}

static void check_threads(cnncc_model *m) {
    EXPECT(cnncc_model_set_num_threads(NULL, 1), CNNCC_ERR_ARGUMENT, "model is NULL");
    EXPECT(cnncc_model_get_num_threads(NULL), -1, "model is NULL");
    CHECK(cnncc_model_set_num_threads(m, 2) == CNNCC_OK, "set 2 threads");
    EXPECT(cnncc_model_set_num_threads(m, -1), CNNCC_ERR_ARGUMENT, "thread count out of range");
    EXPECT(cnncc_model_set_num_threads(m, INT_MIN), CNNCC_ERR_ARGUMENT, "thread count out of range");
    EXPECT(cnncc_model_set_num_threads(m, CNNCC_MAX_THREADS + 1), CNNCC_ERR_ARGUMENT, "thread count out of range");
    EXPECT(cnncc_model_set_num_threads(m, INT_MAX), CNNCC_ERR_ARGUMENT, "thread count out of range");
    CHECK(cnncc_model_get_num_threads(m) == 2, "a refused count leaves the count unchanged");
    CHECK(cnncc_model_set_num_threads(m, 0) == CNNCC_OK && cnncc_model_get_num_threads(m) == 0, "0: all cores");
    CHECK(cnncc_model_set_num_threads(m, 1) == CNNCC_OK, "set 1 thread");
}

static void check_run(cnncc_model *m, float *x, float *y) {
    const void *in[] = {x};
    void *out[] = {y};
    const void *null_in[] = {NULL};
    void *null_out[] = {NULL};
    EXPECT(cnncc_model_run(NULL, in, out), CNNCC_ERR_ARGUMENT, "model is NULL");
    EXPECT(cnncc_model_run(m, NULL, out), CNNCC_ERR_ARGUMENT, "inputs is NULL");
    EXPECT(cnncc_model_run(m, in, NULL), CNNCC_ERR_ARGUMENT, "outputs is NULL");
    EXPECT(cnncc_model_run(m, null_in, out), CNNCC_ERR_ARGUMENT, "is NULL");
    EXPECT(cnncc_model_run(m, in, null_out), CNNCC_ERR_ARGUMENT, "is NULL");
    CHECK(cnncc_model_run(m, in, out) == CNNCC_OK, "run");
}

static void check_run_tensors(cnncc_model *m, float *x, float *y) {
    int ni = cnncc_input_ndim(0), no = cnncc_output_ndim(0);
    int64_t wrong_shape[64];
    memcpy(wrong_shape, cnncc_input_shape(0), (size_t)ni * sizeof(int64_t));
    wrong_shape[ni - 1] += 1;
    cnncc_tensor in = {x, CNNCC_FLOAT32, ni, cnncc_input_shape(0)};
    cnncc_tensor out = {y, CNNCC_FLOAT32, no, cnncc_output_shape(0)};
    cnncc_tensor t;
    EXPECT(cnncc_model_run_tensors(NULL, &in, 1, &out, 1), CNNCC_ERR_ARGUMENT, "model is NULL");
    EXPECT(cnncc_model_run_tensors(m, NULL, 1, &out, 1), CNNCC_ERR_ARGUMENT, "inputs is NULL");
    EXPECT(cnncc_model_run_tensors(m, &in, 1, NULL, 1), CNNCC_ERR_ARGUMENT, "outputs is NULL");
    EXPECT(cnncc_model_run_tensors(m, NULL, 0, NULL, 0), CNNCC_ERR_ARGUMENT, "wrong number of tensors");
    EXPECT(cnncc_model_run_tensors(m, &in, -1, &out, 1), CNNCC_ERR_ARGUMENT, "wrong number of tensors");
    EXPECT(cnncc_model_run_tensors(m, &in, 2, &out, 1), CNNCC_ERR_ARGUMENT, "wrong number of tensors");
    EXPECT(cnncc_model_run_tensors(m, &in, 1, &out, INT_MIN), CNNCC_ERR_ARGUMENT, "wrong number of tensors");
    t = in, t.data = NULL;
    EXPECT(cnncc_model_run_tensors(m, &t, 1, &out, 1), CNNCC_ERR_ARGUMENT, "has no data");
    t = in, t.dtype = CNNCC_INT64;
    EXPECT(cnncc_model_run_tensors(m, &t, 1, &out, 1), CNNCC_ERR_DTYPE, "wrong dtype");
    t = in, t.dtype = (cnncc_dtype)12345;
    EXPECT(cnncc_model_run_tensors(m, &t, 1, &out, 1), CNNCC_ERR_DTYPE, "wrong dtype");
    t = in, t.ndim = -1;
    EXPECT(cnncc_model_run_tensors(m, &t, 1, &out, 1), CNNCC_ERR_SHAPE, "wrong rank");
    t = in, t.ndim = ni + 1;
    EXPECT(cnncc_model_run_tensors(m, &t, 1, &out, 1), CNNCC_ERR_SHAPE, "wrong rank");
    t = in, t.shape = NULL;
    EXPECT(cnncc_model_run_tensors(m, &t, 1, &out, 1), CNNCC_ERR_SHAPE, "wrong rank");
    t = in, t.shape = wrong_shape;
    EXPECT(cnncc_model_run_tensors(m, &t, 1, &out, 1), CNNCC_ERR_SHAPE, "wrong shape");
    t = out, t.shape = wrong_shape;
    EXPECT(cnncc_model_run_tensors(m, &in, 1, &t, 1), CNNCC_ERR_SHAPE, "wrong");
    t = out, t.data = NULL;
    EXPECT(cnncc_model_run_tensors(m, &in, 1, &t, 1), CNNCC_ERR_ARGUMENT, "has no data");
    CHECK(cnncc_model_run_tensors(m, &in, 1, &out, 1) == CNNCC_OK, "run_tensors");
}

/* -- concurrent runs on one model: each thread's results equal the serial ones -- */
#define THREADS 4
#define INPUTS 8
#define CALLS 250

struct shared {
    cnncc_model *model;
    float *inputs[INPUTS], *want[INPUTS];
    int bad[THREADS];
};
struct job {
    struct shared *s;
    int id;
};

static void *hammer(void *arg) {
    struct job *j = arg;
    float *y = malloc(out_bytes());
    for (int i = 0; i < CALLS; i++) {
        int k = (j->id + i) % INPUTS;
        const void *in[] = {j->s->inputs[k]};
        void *out[] = {y};
        if (cnncc_model_run(j->s->model, in, out) != CNNCC_OK || memcmp(y, j->s->want[k], out_bytes()) != 0)
            j->s->bad[j->id]++;
    }
    free(y);
    return NULL;
}

static void check_concurrent_runs(cnncc_model *m) {
    struct shared s = {.model = m};
    for (int k = 0; k < INPUTS; k++) {
        s.inputs[k] = malloc(in_bytes());
        s.want[k] = malloc(out_bytes());
        for (int64_t e = 0; e < cnncc_input_numel(0); e++) s.inputs[k][e] = (float)((e * 7 + k * 13) % 23) * 0.1f - 1.0f;
        const void *in[] = {s.inputs[k]};
        void *out[] = {s.want[k]};
        CHECK(cnncc_model_run(m, in, out) == CNNCC_OK, "serial run");
    }
    pthread_t th[THREADS];
    struct job jobs[THREADS];
    for (int t = 0; t < THREADS; t++) {
        jobs[t] = (struct job){&s, t};
        pthread_create(&th[t], NULL, hammer, &jobs[t]);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        CHECK(s.bad[t] == 0, "concurrent runs equal serial runs");
    }
    for (int k = 0; k < INPUTS; k++) {
        free(s.inputs[k]);
        free(s.want[k]);
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s ARTIFACT_DIR SCRATCH_DIR\n", argv[0]);
        return 2;
    }
    check_create(argv[1], argv[2]);
    check_queries();
    cnncc_model *m = cnncc_model_create(NULL), *twin = cnncc_model_create(NULL);
    CHECK(m && twin && m != twin, "two independent model objects");
    if (!m || !twin) return 1;
    float *x = calloc(1, in_bytes()), *y = calloc(1, out_bytes()), *y2 = calloc(1, out_bytes());
    for (int64_t e = 0; e < cnncc_input_numel(0); e++) x[e] = (float)(e % 5) - 2.0f;
    check_threads(m);
    check_run(m, x, y);
    check_run_tensors(m, x, y);
    const void *in[] = {x};
    void *out[] = {y2};
    CHECK(cnncc_model_set_num_threads(twin, 1) == CNNCC_OK && cnncc_model_run(twin, in, out) == CNNCC_OK, "twin runs");
    CHECK(memcmp(y, y2, out_bytes()) == 0, "twin gives the same result");
    cnncc_model_destroy(twin);
    check_concurrent_runs(m);
    cnncc_model_destroy(m);
    free(x);
    free(y);
    free(y2);
    printf("%d failures\n", failures);
    return failures ? 1 : 0;
}
