#ifndef IMAGEPREP_CGLIBCCOMPAT_H
#define IMAGEPREP_CGLIBCCOMPAT_H
// Nothing to import: glibc_compat.c only defines the __wrap_ functions the
// imageprep binary is linked with (see Package.swift).
#endif
