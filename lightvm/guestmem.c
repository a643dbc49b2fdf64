/*
 * guestmem.c - the one checked way into guest memory.
 *
 * Guest-physical addresses go through gpa_ptr(), which refuses anything
 * outside RAM, so a guest can never make the monitor touch memory that is
 * not its own. Linear addresses are physical while paging is off; the
 * paging walk belongs to mmu-emu and arrives with it.
 */
#include <string.h>

#include "lightvm/cpu.h"

void *gpa_ptr(struct vm *vm, uint64_t gpa, size_t len)
{
	if (gpa > vm->ram_bytes || len > vm->ram_bytes - gpa)
		return NULL;
	return vm->ram + gpa;
}

/* Translate a linear address for an access of len bytes within one page. */
static void *linear_ptr(struct vm *vm, uint32_t lin, size_t len)
{
	if (vm->cpu.cr0 & 0x80000000u) {
		vm_fail(vm, "guest enabled paging, which needs mmu-emu (not built yet)");
		return NULL;
	}
	return gpa_ptr(vm, lin, len);
}

/* Split an access at page boundaries so each piece translates on its own. */
static int copy_linear(struct vm *vm, uint32_t lin, void *buf, size_t len, int write)
{
	uint8_t *b = buf;

	while (len) {
		size_t chunk = 4096 - (lin & 4095);
		uint8_t *p;

		chunk = chunk < len ? chunk : len;
		p = linear_ptr(vm, lin, chunk);
		if (!p) {
			if (!vm->stop)
				vm_fail(vm, "guest %s of %zu bytes at %#x is outside guest RAM",
					write ? "write" : "read", chunk, lin);
			return -1;
		}
		if (write)
			memcpy(p, b, chunk);
		else
			memcpy(b, p, chunk);
		lin += chunk;
		b += chunk;
		len -= chunk;
	}
	return 0;
}

int guest_read(struct vm *vm, uint32_t lin, void *buf, size_t len)
{
	return copy_linear(vm, lin, buf, len, 0);
}

int guest_write(struct vm *vm, uint32_t lin, const void *buf, size_t len)
{
	return copy_linear(vm, lin, (void *)buf, len, 1);
}
