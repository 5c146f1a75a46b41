#ifndef CREDITDESK_CLIBPQ_SHIM_H
#define CREDITDESK_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
