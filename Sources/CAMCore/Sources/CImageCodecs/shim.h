// libpng and libjpeg-turbo, for reading and writing images.
#pragma once
#include <stdio.h>
#include <png.h>
#include <jpeglib.h>
