#ifndef CREDITDESK_CLIBCRYPTO_SHIM_H
#define CREDITDESK_CLIBCRYPTO_SHIM_H
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/rand.h>
#include <openssl/hmac.h>
#endif
