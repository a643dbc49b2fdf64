/*
 * net.h - starting and stopping the machine's network back end (net.c);
 * the services devices and back ends use are in device.h.
 */
#ifndef LIGHTVM_NET_H
#define LIGHTVM_NET_H

#include <stddef.h>

struct vm;

/* Create the back end spec names ("user,hostfwd=..."); -1 with a one-line reason in err. */
int net_start(struct vm *vm, const char *spec, char *err, size_t errlen);
/* Destroy the back end, if any. */
void net_stop(struct vm *vm);

#endif
