// libpng and libjpeg-turbo (TurboJPEG API), for reading and writing images.
//
// Swift cannot call setjmp, and libpng reports errors by longjmp. So PNG *reading* goes through
// the small C functions below: each one sets its own jump target, calls libpng, and turns an
// error into a return code plus a message, so a bad file never aborts the process. They use
// libpng's classic API (not the simplified png_image_* one) because that one applies gAMA
// chunks and converts 16-bit data as if it were linear light, which neither PIL nor OpenCV
// does. PNG *writing* uses the simplified API (png_image_write_to_memory), which needs no
// setjmp. JPEG uses TurboJPEG (<turbojpeg.h>), which reports errors by return code.
#pragma once
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>
#include <turbojpeg.h>

/// State of one PNG decode from memory. Zero-initialise, then cam_png_begin, cam_png_finish,
/// and always cam_png_end.
typedef struct {
    png_structp png;
    png_infop info;
    const unsigned char *data;
    size_t size;
    size_t position;
    png_bytepp rows;
    char message[256];
} cam_png_reader;

static inline void cam_png_error_fn(png_structp png, png_const_charp message) {
    cam_png_reader *reader = (cam_png_reader *)png_get_error_ptr(png);
    snprintf(reader->message, sizeof reader->message, "%s", message ? message : "libpng error");
    png_longjmp(png, 1);
}

static inline void cam_png_warning_fn(png_structp png, png_const_charp message) {
    (void)png;
    (void)message; // warnings (e.g. iCCP profile notes) are not errors; keep stderr quiet
}

static inline void cam_png_read_fn(png_structp png, png_bytep out, size_t count) {
    cam_png_reader *reader = (cam_png_reader *)png_get_io_ptr(png);
    if (count > reader->size - reader->position) {
        png_error(png, "file is truncated");
    }
    memcpy(out, reader->data + reader->position, count);
    reader->position += count;
}

/// Reads the PNG header from `data` and sets up conversion to 8-bit RGB: palette expanded,
/// grey replicated into R, G and B, alpha dropped, 16-bit samples reduced to their high byte,
/// gAMA/sRGB/iCCP ignored (as PIL and OpenCV do). Returns 0 and the size, or -1 with
/// `reader->message` set.
static inline int cam_png_begin(cam_png_reader *reader, const unsigned char *data, size_t size,
                                unsigned int *width, unsigned int *height) {
    reader->data = data;
    reader->size = size;
    reader->position = 0;
    reader->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, reader, cam_png_error_fn, cam_png_warning_fn);
    if (!reader->png) {
        snprintf(reader->message, sizeof reader->message, "cannot create a libpng reader");
        return -1;
    }
    reader->info = png_create_info_struct(reader->png);
    if (!reader->info) {
        snprintf(reader->message, sizeof reader->message, "cannot create a libpng info struct");
        return -1;
    }
    if (setjmp(png_jmpbuf(reader->png))) {
        return -1;
    }
    png_set_read_fn(reader->png, reader, cam_png_read_fn);
    // The caller validates the size; keep libpng's own cap generous but finite.
    png_set_user_limits(reader->png, 0x7fffffff, 0x7fffffff);
    png_read_info(reader->png, reader->info);
    png_uint_32 w = 0, h = 0;
    int bitDepth = 0, colorType = 0, interlace = 0;
    png_get_IHDR(reader->png, reader->info, &w, &h, &bitDepth, &colorType, &interlace, NULL, NULL);
    if (colorType == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(reader->png);
    if (colorType == PNG_COLOR_TYPE_GRAY && bitDepth < 8) png_set_expand_gray_1_2_4_to_8(reader->png);
    if (bitDepth == 16) png_set_strip_16(reader->png);
    if (colorType & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(reader->png);
    if (colorType == PNG_COLOR_TYPE_GRAY || colorType == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(reader->png);
    (void)png_set_interlace_handling(reader->png);
    png_read_update_info(reader->png, reader->info);
    if (png_get_channels(reader->png, reader->info) != 3 || png_get_bit_depth(reader->png, reader->info) != 8) {
        snprintf(reader->message, sizeof reader->message, "unexpected PNG layout after conversion (%d channels, %d bits)",
                 (int)png_get_channels(reader->png, reader->info), (int)png_get_bit_depth(reader->png, reader->info));
        return -1;
    }
    *width = w;
    *height = h;
    return 0;
}

/// Decodes the pixels into `rgb` (height rows of width*3 bytes, tightly packed).
/// Returns 0, or -1 with `reader->message` set.
static inline int cam_png_finish(cam_png_reader *reader, unsigned char *rgb, size_t width, size_t height) {
    reader->rows = (png_bytepp)malloc(height * sizeof(png_bytep));
    if (!reader->rows) {
        snprintf(reader->message, sizeof reader->message, "out of memory");
        return -1;
    }
    for (size_t y = 0; y < height; y++) reader->rows[y] = rgb + y * width * 3;
    if (setjmp(png_jmpbuf(reader->png))) {
        return -1;
    }
    png_read_image(reader->png, reader->rows);
    return 0;
}

/// Frees everything cam_png_begin and cam_png_finish allocated. Safe after any failure.
static inline void cam_png_end(cam_png_reader *reader) {
    if (reader->png) {
        png_destroy_read_struct(&reader->png, reader->info ? &reader->info : NULL, NULL);
    }
    free(reader->rows);
    reader->rows = NULL;
    reader->png = NULL;
    reader->info = NULL;
}
