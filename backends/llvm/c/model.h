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
 * dtype-annotated tensors and checks them instead of trusting the caller. A model object
 * owns its workspace: use one model object per thread that runs concurrently.
 *
 * Threads: kernels split their work across an OpenMP (libgomp) team. The count comes from
 * $CNNCC_NUM_THREADS when the model is created (default: all cores) and can be changed
 * with cnncc_model_set_num_threads(). libgomp's idle threads spin ~300k iterations by
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
    CNNCC_ERR_ARGUMENT = 1, /* NULL pointer, wrong number of tensors */
    CNNCC_ERR_SHAPE = 2,    /* a tensor's shape differs from the compiled one */
    CNNCC_ERR_DTYPE = 3,    /* a tensor's element type differs */
    CNNCC_ERR_IO = 4,       /* weights file missing, unreadable or of the wrong size */
    CNNCC_ERR_MEMORY = 5,   /* out of memory */
    CNNCC_ERR_INDEX = 6     /* an input's values index outside a tensor (e.g. Gather indices):
                               the run stopped without reading out of bounds; outputs are
                               unspecified */
};

typedef struct cnncc_model cnncc_model;

typedef struct {
    void *data;            /* dense row-major elements */
    cnncc_dtype dtype;
    int32_t ndim;
    const int64_t *shape;  /* ndim entries */
} cnncc_tensor;

/* Load the weights (weights_path NULL: "weights.bin" in the directory of libmodel.so) and
 * allocate the workspace. NULL on failure: see cnncc_last_error(). */
cnncc_model *cnncc_model_create(const char *weights_path);
void cnncc_model_destroy(cnncc_model *model);

/* Run on raw buffers in declared order (no checks beyond NULL pointers). 0 on success. */
int cnncc_model_run(cnncc_model *model, const void *const *inputs, void *const *outputs);

/* Run on described tensors in declared order; checks count, dtype and shape. 0 on success. */
int cnncc_model_run_tensors(cnncc_model *model, const cnncc_tensor *inputs, int num_inputs,
                            const cnncc_tensor *outputs, int num_outputs);

/* Threads used by the next runs (0: all cores). */
void cnncc_model_set_num_threads(cnncc_model *model, int num_threads);
int cnncc_model_get_num_threads(const cnncc_model *model);

/* The model's signature. */
int cnncc_num_inputs(void);
int cnncc_num_outputs(void);
const char *cnncc_input_name(int i);
const char *cnncc_output_name(int i);
cnncc_dtype cnncc_input_dtype(int i);
cnncc_dtype cnncc_output_dtype(int i);
int cnncc_input_ndim(int i);
int cnncc_output_ndim(int i);
const int64_t *cnncc_input_shape(int i);   /* ndim entries */
const int64_t *cnncc_output_shape(int i);
int64_t cnncc_input_numel(int i);
int64_t cnncc_output_numel(int i);
int64_t cnncc_workspace_bytes(void);       /* the arena each model object allocates */
int64_t cnncc_weights_bytes(void);

/* Message of the last failure in this thread ("" if none). */
const char *cnncc_last_error(void);

#ifdef __cplusplus
}
#endif
#endif /* CNNCC_MODEL_H */
