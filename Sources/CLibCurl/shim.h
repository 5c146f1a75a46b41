#ifndef CREDITDESK_CLIBCURL_SHIM_H
#define CREDITDESK_CLIBCURL_SHIM_H
#include <curl/curl.h>

// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: these typed
// wrappers are the only way the Swift side sets an option or reads a result.
static inline CURLcode creditdesk_curl_set_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode creditdesk_curl_set_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode creditdesk_curl_set_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode creditdesk_curl_set_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}
typedef size_t (*creditdesk_curl_write_callback)(char *data, size_t size, size_t count, void *context);
static inline CURLcode creditdesk_curl_set_write_function(CURL *handle, creditdesk_curl_write_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
}
typedef size_t (*creditdesk_curl_read_callback)(char *buffer, size_t size, size_t count, void *context);
static inline CURLcode creditdesk_curl_set_read_function(CURL *handle, creditdesk_curl_read_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_READFUNCTION, callback);
}
static inline CURLcode creditdesk_curl_response_code(CURL *handle, long *code) {
    return curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, code);
}
#endif
