#ifndef IMAGEPREP_CARCHIVE_SHIM_H
#define IMAGEPREP_CARCHIVE_SHIM_H
#include <archive.h>
#include <archive_entry.h>
#endif
