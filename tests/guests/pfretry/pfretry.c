/*
 * pfretry.c - a #PF handler that lets the same access fault five times
 * before it maps the page: legal guest behaviour (a kernel retrying a
 * fault), the same fault at the same EIP each time. A monitor must not take
 * the repeats for its own mapping going wrong.
 */
#include "../lib/paging.h"

#define TARGET 0x40000000u
#define TRIES 6

static uint32_t *pd, *frame;
static volatile unsigned faults;

static void on_page_fault(struct trap_frame *f)
{
	if (read_cr2() != TARGET) {
		gprintf("not ok - unexpected #PF at %x\n", read_cr2());
		poweroff();
	}
	if (++faults >= TRIES) {
		pg_map(pd, TARGET, (uint32_t)frame, PG_P | PG_RW);
		invlpg(TARGET);
	}
}

void guest_main(uint32_t magic, void *mbi)
{
	uint32_t v;

	guest_init();
	pd = pg_new_directory();
	frame = pg_alloc();
	frame[0] = 0x600d;
	pg_enable(pd);
	set_handler(VEC_PF, on_page_fault);
	v = *(volatile uint32_t *)TARGET;
	check(v == 0x600d && faults == TRIES, "the load went through after 6 faults");
	finish();
}
