/*
 * linux.h - booting a stock Linux bzImage (--linux): its rewritten kernel,
 * cached, loaded by the Linux 32-bit boot protocol.
 */
#ifndef LIGHTVM_LINUX_H
#define LIGHTVM_LINUX_H

#include "lightvm/vm.h"

/* Load cfg.linux_bzimage (rewritten, cached), cfg.initrd and cfg.append; set the entry state. */
int linux_load(struct vm *vm, char *err, size_t errlen);

#endif
