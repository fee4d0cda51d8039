/* model.h -- C API of a model compiled by cnncc (target llvm).
 *
 * Link with libmodel.so (cc app.c -I<dir> -L<dir> -lmodel -Wl,-rpath,<dir>). The weights
 * live in weights.bin next to libmodel.so; nothing else is needed at run time (no Python).
 *
 *   cnncc_model *m = cnncc_model_create(NULL);          // NULL: weights.bin beside the .so
 *   if (!m) { fprintf(stderr, "%s\n", cnncc_last_error()); return 1; }
 *   const void *in[]  = { image };                       // one buffer per input, in order
 *   void       *out[] = { scores };                      // one buffer per output, in order
 *   if (cnncc_model_run(m, in, out)) fprintf(stderr, "%s\n", cnncc_last_error());
 *   cnncc_model_destroy(m);
 *
 * Buffers are dense, C-contiguous (row-major) arrays of the declared dtype and shape; query
 * them with cnncc_input_* / cnncc_output_*. cnncc_model_run_tensors() takes shape- and
 * dtype-annotated tensors and checks them instead of trusting the caller.
 *
 * One export = one build: libmodel.so, weights.bin and meta.json carry the same build id
 * (cnncc_build_id()); cnncc_model_create() refuses a weights.bin of another build with
 * CNNCC_ERR_IO. A recompile replaces the folder's files by rename, so a process that has
 * the old library loaded keeps running on the old files.
 *
 * Concurrency: every function may be called from any thread. cnncc_model_run() and
 * cnncc_model_run_tensors() may run concurrently on the same model object: each run takes a
 * workspace of its own from the model's pool (which grows to the number of runs in flight;
 * a run that cannot allocate another waits for one to be released), so results are those of
 * serial runs. The caller must not write a run's input or read its outputs while it runs,
 * nor share one output buffer between concurrent runs. cnncc_model_set_num_threads() may
 * race with runs (a run uses the count it reads when it starts). cnncc_model_destroy()
 * must not be called while a run on that model is in flight, nor twice.
 *
 * Errors: functions that return int return CNNCC_OK (0) or one of the codes below;
 * cnncc_model_create() returns NULL; every failure (including a signature query with an
 * index out of range, which returns NULL, 0 or -1) leaves a message for
 * cnncc_last_error() in the calling thread.
 *
 * Precision: the library computes in the precision it was compiled for (cnncc --precision:
 * "fp32", or "bf16" on cpus with AMX or AVX512-BF16; cnncc_precision() says which); inputs
 * and outputs keep their declared dtypes either way (float32 stays float32). Code that uses
 * the AMX tile unit needs Linux's permission (arch_prctl ARCH_REQ_XCOMP_PERM): the first
 * cnncc_model_create() in the process asks for it, and fails with CNNCC_ERR_CPU and a message
 * naming why when the kernel refuses (no AMX on this cpu, a kernel without AMX support, a
 * thread's signal stack too small for the tile state).
 *
 * Threads: kernels split their work across an OpenMP (libgomp) team. The count comes from
 * $CNNCC_NUM_THREADS when the model is created (default, and 0: libgomp's own, i.e.
 * $OMP_NUM_THREADS or all cores; values above 4 per core, or above CNNCC_MAX_THREADS, are
 * clamped; unparsable ones mean the default) and can be changed with
 * cnncc_model_set_num_threads().
 *
 * Thread limits: libgomp ends the whole process when it cannot start a team thread (under
 * ulimit -u, a cgroup's pids.max, or ulimit -v for their stacks). So the first time a thread
 * runs with a larger count than it ran with before, the runtime starts that many threads
 * itself, counts those that start and ends them, and from then on that thread's runs use at
 * most that many: a limit means fewer threads, silently (cnncc_model_get_num_threads() still
 * returns the count set), never a dead process, for runs from one thread at a time. This
 * costs about 50 us per thread started, once per calling thread and larger count (libgomp
 * keeps a team per thread), and nothing after. The probe sees only the threads that exist
 * when it runs: under such a limit, runs from several threads at once (each has a team of
 * its own), threads the application starts later, or a limit lowered later can still exhaust
 * it; leave them room, or run with 1 thread (which starts none).
 *
 * Spinning: libgomp's idle threads spin ~300k iterations by
 * default; GOMP_SPINCOUNT=10000 (what the Python runtime sets) bridges the gaps between a
 * model's kernels and soon gives the core back. On machines whose cores are busy with other
 * work, OMP_WAIT_POLICY=passive avoids spinning idle threads costing whole scheduler ticks.
 */
#ifndef CNNCC_MODEL_H
#define CNNCC_MODEL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* element types: the ONNX TensorProto codes */
typedef enum {
    CNNCC_FLOAT32 = 1,
    CNNCC_INT32 = 6,
    CNNCC_INT64 = 7,
    CNNCC_BOOL = 9
} cnncc_dtype;

/* return codes */
enum {
    CNNCC_OK = 0,
    CNNCC_ERR_ARGUMENT = 1, /* NULL pointer, wrong number of tensors, value out of range */
    CNNCC_ERR_SHAPE = 2,    /* a tensor's shape differs from the compiled one */
    CNNCC_ERR_DTYPE = 3,    /* a tensor's element type differs */
    CNNCC_ERR_IO = 4,       /* weights file missing, unreadable, not a regular file, of the
                               wrong size or of another build */
    CNNCC_ERR_MEMORY = 5,   /* out of memory */
    CNNCC_ERR_INDEX = 6,    /* an input's values index outside a tensor (e.g. Gather indices):
                               the run stopped without reading out of bounds; outputs are
                               unspecified */
    CNNCC_ERR_CPU = 7       /* the cpu or the OS lacks what the code needs: the kernel refused
                               the AMX tile state (cnncc_model_create() fails with it) */
};

/* the largest thread count cnncc_model_set_num_threads() accepts */
#define CNNCC_MAX_THREADS 256

typedef struct cnncc_model cnncc_model;

typedef struct {
    void *data;            /* dense row-major elements */
    cnncc_dtype dtype;
    int32_t ndim;
    const int64_t *shape;  /* ndim entries */
} cnncc_tensor;

/* Load the weights (weights_path NULL: "weights.bin" in the directory of libmodel.so) and
 * allocate a workspace. NULL on failure: see cnncc_last_error(). Each call makes an
 * independent model object. */
cnncc_model *cnncc_model_create(const char *weights_path);
/* NULL is a no-op. */
void cnncc_model_destroy(cnncc_model *model);

/* Run on raw buffers in declared order (no checks beyond NULL pointers). 0 on success. */
int cnncc_model_run(cnncc_model *model, const void *const *inputs, void *const *outputs);

/* Run on described tensors in declared order; checks count, dtype and shape. 0 on success. */
int cnncc_model_run_tensors(cnncc_model *model, const cnncc_tensor *inputs, int num_inputs,
                            const cnncc_tensor *outputs, int num_outputs);

/* Threads used by the next runs (0: libgomp's default, all cores; 0..CNNCC_MAX_THREADS, else
 * CNNCC_ERR_ARGUMENT and the count is unchanged; accepted counts above 4 per core are
 * clamped to that; a run uses no more than its thread can start, see "Thread limits" above).
 * get: the count set (-1 for a NULL model). */
int cnncc_model_set_num_threads(cnncc_model *model, int num_threads);
int cnncc_model_get_num_threads(const cnncc_model *model);

/* The model's signature. Indices run from 0 to cnncc_num_inputs() / cnncc_num_outputs() - 1. */
int cnncc_num_inputs(void);
int cnncc_num_outputs(void);
const char *cnncc_input_name(int i);       /* UTF-8, the ONNX name */
const char *cnncc_output_name(int i);
cnncc_dtype cnncc_input_dtype(int i);
cnncc_dtype cnncc_output_dtype(int i);
int cnncc_input_ndim(int i);
int cnncc_output_ndim(int i);
const int64_t *cnncc_input_shape(int i);   /* ndim entries */
const int64_t *cnncc_output_shape(int i);
int64_t cnncc_input_numel(int i);
int64_t cnncc_output_numel(int i);
int64_t cnncc_workspace_bytes(void);       /* one workspace; a model object has one per concurrent run */
int64_t cnncc_weights_bytes(void);         /* the blob the kernels read (weights.bin adds a 64-byte trailer) */

/* The build this library belongs to (hex; the same string as "build_id" in meta.json). */
const char *cnncc_build_id(void);

/* What the kernels compute in: "fp32" or "bf16" (the same string as "precision" in meta.json). */
const char *cnncc_precision(void);

/* Message of the last failure in this thread ("" if none). Never NULL. */
const char *cnncc_last_error(void);

#ifdef __cplusplus
}
#endif
#endif /* CNNCC_MODEL_H */
