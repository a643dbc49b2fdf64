/*
 * abuse.c - a guest that drives every I/O port with garbage: pseudo-random
 * bytes, words and dwords written to and read from all 65536 ports, with
 * interrupts on so that whatever the PIC, PIT, UART and RTC
 * make of it reaches the CPU. Only the ports that end the machine (reset and
 * power-off) are left alone. The monitor must come through it: the guest
 * then prints one line and powers off (tests/guests/abuse.sh).
 */
#include "../lib/guest.h"

#define ROUNDS 1

static uint32_t seed = 0x1234567;
static volatile unsigned interrupts;

static uint32_t next_random(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 17;
	seed ^= seed << 5;
	return seed;
}

static int ends_the_machine(uint16_t port)
{
	return port == 0x64 || port == 0x92 || (port >= 0x600 && port <= 0x607) ||
	       (port >= 0xcf8 && port <= 0xcff);
}

static void any_interrupt(struct trap_frame *f)
{
	interrupts++;
	outb(0x20, 0x20);
	outb(0xa0, 0x20);
}

static void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port));
}

static uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void hammer(uint16_t port)
{
	uint32_t r = next_random();

	switch (r & 3) {
	case 0: outb(port, r >> 8); break;
	case 1: outw(port, r >> 8); break;
	case 2: outl(port, next_random()); break;
	default: (void)inb(port); (void)inl(port); break;
	}
}

void guest_main(uint32_t magic, void *mbi)
{
	guest_init();
	for (unsigned v = 32; v < 48; v++)
		set_handler(v, any_interrupt);
	__asm__ volatile("sti");
	for (int round = 0; round < ROUNDS; round++)
		for (uint32_t port = 0; port < 0x10000; port++)
			if (!ends_the_machine(port))
				hammer(port);
	__asm__ volatile("cli");
	guest_init();		/* the console UART gets its settings back */
	gprintf("abuse: survived %u round(s) over every port\n", ROUNDS);
	poweroff();
}
