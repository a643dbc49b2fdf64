/*
 * guestmem.c - the one checked way into guest memory.
 *
 * Guest-physical addresses go through gpa_ptr(), which refuses anything
 * outside RAM, so a guest can never make the monitor touch memory that is
 * not its own. Linear addresses are physical while paging is off; with
 * paging on they are translated by mmu-emu's walk, with the permission
 * checks and Accessed/Dirty updates the access would get on hardware. A
 * translation that fails records the #PF (vm->cpu.pf_*) and CR2; the caller
 * raises it, or turns it into a double fault while delivering an event.
 */
#include <string.h>

#include "lightvm/cpu.h"
#include "lightvm/paging.h"

void *gpa_ptr(struct vm *vm, uint64_t gpa, size_t len)
{
	if (gpa > vm->ram_bytes || len > vm->ram_bytes - gpa)
		return NULL;
	return vm->ram + gpa;
}

/* Host pointer for [lin, lin+len) within one page; NULL after recording a fault or failing. */
static uint8_t *linear_ptr(struct vm *vm, uint32_t lin, size_t len, unsigned access)
{
	static uint8_t open_bus[4096];
	uint64_t gpa;

	if (!(vm->cpu.cr0 & CR0_PG_BIT)) {
		uint8_t *p = gpa_ptr(vm, lin, len);

		if (!p)
			vm_fail(vm, "guest %s of %zu bytes at %#x is outside guest RAM",
				access & MMU_WRITE ? "write" : "read", len, lin);
		return p;
	}
	if (paging_translate(vm, lin, access, &gpa))
		return NULL;
	if (gpa_ptr(vm, gpa, len))
		return gpa_ptr(vm, gpa, len);
	/* Not RAM: reads see a floating bus, writes go nowhere. */
	memset(open_bus, 0xff, len);
	return open_bus;
}

/* Split an access at page boundaries so each piece translates on its own. */
static int copy_linear(struct vm *vm, uint32_t lin, void *buf, size_t len, unsigned access)
{
	uint8_t *b = buf;

	vm->cpu.pf_pending = 0;
	while (len) {
		size_t chunk = 4096 - (lin & 4095);
		uint8_t *p;

		chunk = chunk < len ? chunk : len;
		if (!(p = linear_ptr(vm, lin, chunk, access)))
			return -1;
		if (access & MMU_WRITE)
			memcpy(p, b, chunk);
		else
			memcpy(b, p, chunk);
		lin += chunk;
		b += chunk;
		len -= chunk;
	}
	return 0;
}

/* Accesses made by the instruction itself are user accesses at CPL 3. */
static unsigned by_cpl(const struct vm *vm)
{
	return vm->cpu.cpl == 3 ? MMU_USER : 0;
}

int guest_read(struct vm *vm, uint32_t lin, void *buf, size_t len)
{
	return copy_linear(vm, lin, buf, len, by_cpl(vm));
}

int guest_write(struct vm *vm, uint32_t lin, const void *buf, size_t len)
{
	return copy_linear(vm, lin, (void *)buf, len, by_cpl(vm) | MMU_WRITE);
}

int guest_read_sys(struct vm *vm, uint32_t lin, void *buf, size_t len)
{
	return copy_linear(vm, lin, buf, len, 0);
}

int guest_write_sys(struct vm *vm, uint32_t lin, const void *buf, size_t len)
{
	return copy_linear(vm, lin, (void *)buf, len, MMU_WRITE);
}
