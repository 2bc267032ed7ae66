#ifndef RECEPTION_CLIBPQ_SHIM_H
#define RECEPTION_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
