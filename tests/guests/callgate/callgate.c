/*
 * callgate.c - a far call through a call gate, which lilyvm does not
 * emulate yet: the VM must stop with one line naming the instruction, its
 * address and the function it is in (tests/guests/unemulated.sh). Under
 * QEMU the call goes through.
 */
#include "../lib/guest.h"

#define SEL_GATE 0x40		/* GDT 8: a 32-bit call gate to gate_target */

void gate_target(void);

__asm__(".text\n.type gate_target, @function\ngate_target:\n\tlret\n");

static void __attribute__((noinline)) call_through_gate(void)
{
	__asm__ volatile("lcall $0x40, $0" ::: "memory");
}

void guest_main(uint32_t magic, void *mbi)
{
	uint32_t target = (uint32_t)gate_target;

	guest_init();
	/*
	 * A call gate has the shape of a segment descriptor: the offset takes
	 * the limit bits, the flags nibble and base bits 24-31; the selector
	 * takes base bits 0-15; type 0xc, present, DPL 0.
	 */
	gdt_set(SEL_GATE >> 3, SEL_KCODE | (target & 0xff000000), (target & 0xfffff), 0x8c,
		(target >> 20) & 0xf);
	call_through_gate();
	check(1, "a far call through a call gate returns");
	finish();
}
