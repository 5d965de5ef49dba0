#ifndef IMAGEPREP_CCURL_SHIM_H
#define IMAGEPREP_CCURL_SHIM_H

#include <curl/curl.h>

// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call:
// these typed wrappers are the only way the Swift side sets options or reads info.

typedef size_t (*imageprep_curl_data_callback)(char *buffer, size_t size, size_t count, void *userdata);
typedef int (*imageprep_curl_xferinfo_callback)(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                                                curl_off_t ultotal, curl_off_t ulnow);

static inline CURLcode imageprep_curl_global_init(void) {
    return curl_global_init(CURL_GLOBAL_ALL);
}

static inline CURLcode imageprep_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode imageprep_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode imageprep_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode imageprep_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode imageprep_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode imageprep_curl_setopt_data_callback(CURL *handle, CURLoption option,
                                                           imageprep_curl_data_callback callback) {
    return curl_easy_setopt(handle, option, callback);
}

static inline CURLcode imageprep_curl_setopt_xferinfo_callback(CURL *handle,
                                                               imageprep_curl_xferinfo_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, callback);
}

static inline CURLcode imageprep_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode imageprep_curl_getinfo_string(CURL *handle, CURLINFO info, char **value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline size_t imageprep_curl_readfunc_abort(void) { return CURL_READFUNC_ABORT; }

static inline long imageprep_curl_proto_http_https(void) { return CURLPROTO_HTTP | CURLPROTO_HTTPS; }

static inline size_t imageprep_curl_error_size(void) { return CURL_ERROR_SIZE; }

#endif
