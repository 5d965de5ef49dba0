// The release binary is built on Debian 12 (glibc 2.36, libstdc++ of GCC 12)
// and runs on CentOS Stream / RHEL 9 (glibc 2.34, libstdc++ of GCC 11). Three
// functions the Swift runtime and Foundation call gained a newer symbol version
// there, so the binary would not load: the linker wraps them (--wrap, see
// Package.swift) and these wrappers call the older versions, which every glibc
// and libstdc++ since still exports with the same behaviour. The older version
// is looked up once with dlvsym: a versioned reference in this file would be
// wrapped as well and call itself.
#define _GNU_SOURCE 1 // dlvsym
#if defined(__linux__)
#include <features.h>
#endif
#if defined(__linux__) && defined(__GLIBC__) && (defined(__x86_64__) || defined(__aarch64__))

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(__x86_64__)
#define IMAGEPREP_GLIBC_BASE "GLIBC_2.2.5"
#else
#define IMAGEPREP_GLIBC_BASE "GLIBC_2.17"
#endif

static void *imageprep_compat_lookup(_Atomic(void *) *cache, const char *name, const char *version) {
    void *function = atomic_load_explicit(cache, memory_order_acquire);
    if (function) return function;
    function = dlvsym(RTLD_DEFAULT, name, version);
    if (!function) {
        fprintf(stderr, "imageprep: %s@%s not found in the C or C++ runtime\n", name, version);
        abort();
    }
    atomic_store_explicit(cache, function, memory_order_release);
    return function;
}

// hypot, hypotf: GLIBC_2.35 (errno handling reworked) beside the original version.
double __wrap_hypot(double x, double y) {
    static _Atomic(void *) cache;
    double (*hypot_base)(double, double) = imageprep_compat_lookup(&cache, "hypot", IMAGEPREP_GLIBC_BASE);
    return hypot_base(x, y);
}

float __wrap_hypotf(float x, float y) {
    static _Atomic(void *) cache;
    float (*hypotf_base)(float, float) = imageprep_compat_lookup(&cache, "hypotf", IMAGEPREP_GLIBC_BASE);
    return hypotf_base(x, y);
}

// std::condition_variable::wait(std::unique_lock<std::mutex>&): GLIBCXX_3.4.30
// beside GLIBCXX_3.4.11. A member function: `this`, then the lock.
void __wrap__ZNSt18condition_variable4waitERSt11unique_lockISt5mutexE(void *condition, void *lock) {
    static _Atomic(void *) cache;
    void (*wait_base)(void *, void *) = imageprep_compat_lookup(
        &cache, "_ZNSt18condition_variable4waitERSt11unique_lockISt5mutexE", "GLIBCXX_3.4.11");
    wait_base(condition, lock);
}

#endif
