// libhdf5 (Debian's serial build, 1.10+) for the Keras importer.
//
// HDF5's constants (H5F_ACC_RDONLY, H5T_NATIVE_FLOAT, H5P_DEFAULT, …) are function-like
// macros that Swift cannot import; the static inline functions below expand them. HDF5 prints
// its error stack to stderr by default: cam_h5_silence() turns that off, and
// cam_h5_last_error() reads the stack so that failures become one-line CAMErrors instead.
#pragma once
#if __has_include(<hdf5/serial/hdf5.h>)
#include <hdf5/serial/hdf5.h>
#else
#include <hdf5.h>
#endif
#include <stdio.h>
#include <string.h>

static inline unsigned cam_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline hid_t cam_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t cam_h5p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t cam_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t cam_h5t_c_s1(void) { return H5T_C_S1; }
static inline size_t cam_h5t_variable(void) { return H5T_VARIABLE; }
static inline hid_t cam_h5s_all(void) { return H5S_ALL; }

/// Stops HDF5 from printing its error stack (errors are reported through return values).
static inline void cam_h5_silence(void) {
    (void)H5open();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

typedef struct {
    char text[480];
    int found;
} cam_h5_error_text;

static inline herr_t cam_h5_walk(unsigned n, const H5E_error2_t *err, void *data) {
    cam_h5_error_text *t = (cam_h5_error_text *)data;
    if (t->found || err == NULL) return 0;
    char minor[160] = {0};
    if (H5Eget_msg(err->min_num, NULL, minor, sizeof minor) < 0) minor[0] = 0;
    const char *desc = err->desc ? err->desc : "";
    if (desc[0] && minor[0]) snprintf(t->text, sizeof t->text, "%s (%s)", desc, minor);
    else snprintf(t->text, sizeof t->text, "%s", desc[0] ? desc : minor);
    t->found = t->text[0] != 0;
    (void)n;
    return 0;
}

/// The innermost message of the current thread's HDF5 error stack (where the failure was
/// detected), then clears the stack. Writes "" when the stack is empty.
static inline void cam_h5_last_error(char *out, size_t size) {
    cam_h5_error_text t;
    memset(&t, 0, sizeof t);
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, cam_h5_walk, &t);
    H5Eclear2(H5E_DEFAULT);
    if (size > 0) snprintf(out, size, "%s", t.text);
}

/// Frees the strings HDF5 allocated for a variable-length string read.
static inline void cam_h5_free_strings(char **strings, size_t count) {
    for (size_t i = 0; i < count; i++) {
        if (strings[i]) H5free_memory(strings[i]);
    }
}
