/*
 * demo.c - the bundled demo guest: counts timer ticks, enters ring 3 and
 * comes back through a system-call vector, then powers off.
 */
#include "../lib/guest.h"

#define TICKS 50
#define HZ 100

void user_return(void);

static volatile unsigned ticks;
static uint8_t user_stack[4096] __attribute__((aligned(16)));

static void on_timer(struct trap_frame *f)
{
	ticks++;
	pic_eoi(0);
}

/* Ring 3's only service: eax=1 prints the string at ebx, eax=0 leaves ring 3. */
static void on_syscall(struct trap_frame *f)
{
	if (f->eax == 1) {
		gprintf("%s", (const char *)f->ebx);
		return;
	}
	user_return();
}

static void user_main(void)
{
	static const char msg[] = "demo: hello from ring 3\n";

	__asm__ volatile("int $0x80" :: "a"(1), "b"(msg));
	__asm__ volatile("int $0x80" :: "a"(0));
}

void guest_main(uint32_t magic, void *mbi)
{
	uint16_t cs;

	guest_init();
	gprintf("demo: LilyVM demo guest, loader magic %x\n", magic);
	set_handler(VEC_IRQ0, on_timer);
	set_handler(VEC_SYSCALL, on_syscall);
	allow_user_int(VEC_SYSCALL);
	pic_init(1 << 0);
	pit_init(HZ);
	__asm__ volatile("sti");
	while (ticks < TICKS)
		__asm__ volatile("hlt");
	__asm__ volatile("cli");
	gprintf("demo: counted %u timer ticks at %u Hz\n", ticks, HZ);
	run_user(user_main, user_stack + sizeof(user_stack));
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	gprintf("demo: back in ring %u\n", cs & 3);
	gprintf("demo: powering off\n");
	poweroff();
}
