/*
 * triple.c - a guest that triple-faults: with an empty IDT, int3 cannot be
 * delivered, nor can the #GP that raises, nor the double fault after it.
 * Hardware resets; lilyvm must stop with one line saying why, the guest's
 * registers and a backtrace naming the functions on the guest's stack.
 */
#include "../lib/guest.h"

static void __attribute__((noinline)) break_idt(void)
{
	static const struct {
		uint16_t limit;
		uint32_t base;
	} __attribute__((packed)) empty = { 0, 0 };

	__asm__ volatile("lidt %0\n\tint3" :: "m"(empty));
}

static void __attribute__((noinline)) deeper(void)
{
	break_idt();
	__asm__ volatile("" ::: "memory");	/* keep the frame */
}

void guest_main(uint32_t magic, void *mbi)
{
	guest_init();
	gprintf("triple: about to triple-fault\n");
	deeper();
	gprintf("triple: still running, which hardware would not be\n");
	poweroff();
}
